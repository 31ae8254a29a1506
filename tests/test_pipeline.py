"""The pipeline: worker processes give the in-process results, in order, errors per file."""
import numpy as np
import soundfile as sf

from music_tagger.pipeline import run
from music_tagger.tagging import get_model


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
    alone = list(run(files, model, crops=2, resampler="soxr_hq", batch_size=3, workers=1))
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
        "from music_tagger.reading import READ_MODULES, read_melgrams\n"
        "for m in READ_MODULES: importlib.import_module(m)\n"
        "before = set(sys.modules)\n"
        "for r in ('kaiser_best_2016', 'soxr_hq'): read_melgrams(sys.argv[1], 2, resampler=r)\n"
        "print(sorted(set(sys.modules) - before))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]", f"a read imported more than READ_MODULES: {out}"
