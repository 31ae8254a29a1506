"""The pipeline: worker processes give the in-process results, in order, errors per file."""

import numpy as np
import pytest
import soundfile as sf

from music_tagger.tagging.pipeline import run
from music_tagger.tagging.tagger import get_model


def test_workers_give_the_in_process_results_in_order(tmp_path):
    rng = np.random.default_rng(0)
    files = []
    for i in range(4):
        path = tmp_path / f"c{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(12000 * (2 + 15 * i)), 12000)
        files.append(str(path))
    (tmp_path / "bad.wav").write_text("not audio")
    files.insert(2, str(tmp_path / "bad.wav"))
    files.append(str(tmp_path))  # a folder
    model = get_model("crnn")
    # batch 3: batches mix files, a file's crops span two batches, the last is padded
    alone = list(run(files, model, crops=2, resampler="soxr_hq", batch_size=3, workers=0))
    pooled = list(run(files, model, crops=2, resampler="soxr_hq", batch_size=3, workers=2))
    assert [r.path for r in pooled] == files == [r.path for r in alone]
    assert [r.index for r in pooled] == list(range(len(files)))
    for a, b in zip(alone, pooled):
        assert (a.error is None) == (b.error is None) and a.n_crops == b.n_crops
        if a.error is None:
            np.testing.assert_allclose(b.scores, a.scores, atol=1e-6, rtol=0)
    assert [r.n_crops for r in pooled] == [1, 1, 0, 2, 2, 0]  # shorter than a crop: one
    assert "bad.wav" in pooled[2].error and "is a directory" in pooled[5].error


def test_read_modules_are_all_a_read_imports(tmp_path):
    """Workers fork after READ_MODULES are imported; a read must need no other
    module, or every worker pays for importing it (librosa loads lazily)."""
    import subprocess
    import sys

    path = tmp_path / "c.ogg"
    rng = np.random.default_rng(0)
    sf.write(path, 0.1 * rng.standard_normal((44100 * 3, 2)), 44100)
    code = (
        "import importlib, sys\n"
        "from music_tagger.audio.reading import READ_MODULES, read_melgrams\n"
        "for m in READ_MODULES: importlib.import_module(m)\n"
        "before = set(sys.modules)\n"
        "for r in ('kaiser_best_2016', 'soxr_hq'): read_melgrams(sys.argv[1], 2, resampler=r)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"a read imported more than READ_MODULES: {out}"


@pytest.mark.slow
def test_a_long_taggram_streams_from_the_workers_in_chunks(tmp_path):
    """Chunks of 3 crops from 2 workers give the scores of the in-process read of
    every crop at once (a file's crops span chunks and batches)."""
    from functools import partial

    from music_tagger.tagging.taggram import taggram_starts

    rng = np.random.default_rng(1)
    files = []
    for i, seconds in enumerate((45, 33, 51)):
        path = tmp_path / f"t{i}.wav"
        sf.write(path, 0.1 * rng.standard_normal(22050 * seconds), 22050)
        files.append(str(path))
    every_2_s = partial(taggram_starts, hop=2 * 12000)
    model = get_model("crnn")
    kwargs = dict(resampler="soxr_hq", starts=every_2_s, batch_size=4, keep_crops=True)
    whole = list(run(files, model, workers=0, chunk=1000, **kwargs))
    chunked = list(run(files, model, workers=2, chunk=3, **kwargs))
    assert [r.n_crops for r in chunked] == [r.n_crops for r in whole] == [8, 2, 11]
    for a, b in zip(whole, chunked):
        np.testing.assert_array_equal(a.starts, b.starts)
        np.testing.assert_allclose(b.crop_scores, a.crop_scores, atol=1e-6, rtol=0)
        np.testing.assert_allclose(b.scores, a.scores, atol=1e-6, rtol=0)


def test_a_file_failing_after_its_first_chunk_is_an_error_entry(tmp_path, monkeypatch):
    from music_tagger import audio
    from music_tagger.audio import reading

    real = reading.iter_melgrams

    def fails_midway(path, *args, **kwargs):
        for k, item in enumerate(real(path, *args, **kwargs)):
            if "bad" in str(path) and k == 1:
                raise audio.AudioError(f"{path}: ends before its header says")
            yield item

    monkeypatch.setattr(reading, "iter_melgrams", fails_midway)
    rng = np.random.default_rng(2)
    files = []
    for name in ("a.wav", "bad.wav", "c.wav"):
        sf.write(tmp_path / name, 0.1 * rng.standard_normal(12000 * 40), 12000)
        files.append(str(tmp_path / name))
    out = list(run(files, get_model("crnn"), crops=4, resampler="soxr_hq", workers=0, chunk=2, batch_size=3))
    assert [r.error is None for r in out] == [True, False, True]
    assert "ends before its header says" in out[1].error and out[1].n_crops == 0
    assert out[0].n_crops == out[2].n_crops == 4


def test_a_dead_worker_is_an_error_not_a_hang(tmp_path):
    import functools
    import os

    import pytest

    from music_tagger.tagging.pipeline import read_chunks

    path = tmp_path / "c.wav"
    sf.write(path, np.zeros(12000 * 5), 12000)
    with pytest.raises(RuntimeError, match="worker process died"):
        list(read_chunks([str(path)] * 3, starts=functools.partial(os._exit), workers=2))


def test_a_worker_killed_half_way_through_a_send_is_an_error_not_a_hang(tmp_path):
    # a chunk of 4 log-mels is 2 MB, far more than a pipe holds: while nobody reads,
    # the worker blocks inside its send with part of the message written; killed
    # there, the run must end with an error (a shared queue read the rest for ever)
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from music_tagger.tagging.pipeline import read_chunks

    path = tmp_path / "long.wav"
    sf.write(path, 0.1 * np.random.default_rng(0).standard_normal(12000 * 120), 12000)
    before = set(multiprocessing.active_children())
    stream = read_chunks([str(path)] * 2, crops=8, chunk=4, workers=1)
    first = next(stream)
    assert first[3].shape == (4, 96, 1366)
    [worker] = [p.pid for p in set(multiprocessing.active_children()) - before]
    time.sleep(3)  # the worker is blocked in the send of its next chunk
    os.kill(worker, signal.SIGKILL)
    outcome = []

    def drain():
        try:
            list(stream)
        except RuntimeError as err:
            outcome.append(str(err))

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive(), "the run hangs after its worker was killed mid-send"
    assert outcome and "worker process died (exit code -9)" in outcome[0]


def test_crops_with_starts_is_an_error_not_ignored(tmp_path):
    from functools import partial

    from music_tagger.errors import ParameterError
    from music_tagger.tagging.taggram import taggram_starts

    with pytest.raises(ParameterError, match="crops must be 1"):
        list(run([str(tmp_path / "a.wav")], get_model("crnn"), crops=4, starts=partial(taggram_starts, hop=12000)))
