"""Reading only the audio a crop needs equals the whole-file path (music_tagger.audio.reading).

Long files of every writable format are generated once per module (36 s: the
centre crop of 29.12 s plus the resampler's margins leaves several seconds
unread on each side).
"""

import tracemalloc
from functools import partial

import numpy as np
import pytest
import soundfile as sf

from music_tagger import audio
from music_tagger.audio import reading
from music_tagger.datasets import synth
from music_tagger.errors import ParameterError
from music_tagger.registry import example_names
from music_tagger.tagging.tagger import get_model
from music_tagger.tagging.taggram import taggram_starts

# (name, rate, channels, gapless header): every format and a spread of rates,
# MP3 with the LAME header libsndfile writes and without one (decoder delay rule)
FILES = [
    ("stereo.wav", 44100, 2, True),
    ("mono.flac", 48000, 1, True),
    ("stereo.ogg", 22050, 2, True),
    ("gapless.mp3", 32000, 1, True),
    ("plain.mp3", 44100, 1, False),
    ("mpeg2.mp3", 22050, 2, True),  # MPEG-2: one read up to the window's end
]


@pytest.fixture(scope="module")
def long_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("long")
    return {
        name: str(synth.write_track(root / name, 36, sr, channels=ch, seed=i, gapless_header=gl))
        for i, (name, sr, ch, gl) in enumerate(FILES)
    }


@pytest.mark.slow
def test_generated_files_cover_both_mp3_cases(long_files):
    assert audio.mp3_has_gapless_header(long_files["gapless.mp3"])
    assert not audio.mp3_has_gapless_header(long_files["plain.mp3"])
    assert reading.exact_length(long_files["plain.mp3"]).delay == audio.MP3_DECODER_DELAY
    assert reading.exact_length(long_files["gapless.mp3"]).delay == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", [f[0] for f in FILES])
def test_exact_length_is_the_decoded_length(long_files, name):
    info = reading.exact_length(long_files[name])
    assert info.frames == len(sf.read(long_files[name])[0])


@pytest.fixture(scope="module")
def whole_and_window(long_files):
    """Each file's centre crop by the whole-file path and by the windowed reader."""
    out = {}
    for name, path in long_files.items():
        x, starts, n = reading.read_melgrams(path, 1)
        out[name] = (audio.compute_melgram(path), x, starts, n, len(audio.load_audio(path)))
    return out


@pytest.mark.slow
@pytest.mark.parametrize("name", [f[0] for f in FILES])
def test_faithful_window_equals_the_whole_file_path(whole_and_window, name):
    whole, x, starts, n, n_whole = whole_and_window[name]
    assert x.shape == (1, 96, 1366) and n == n_whole
    assert starts[0] == (n - audio.N_SAMPLES) // 2  # the centre crop's start
    # measured: bit for bit; allow float reordering of the matrix products
    assert np.abs(x[0] - whole).max() <= 1e-3


@pytest.mark.reference
@pytest.mark.parametrize("clip", example_names())
def test_faithful_window_of_the_example_clips(reference_data, clip):
    path = reference_data / f"{clip}.mp3"
    x, _, _ = reading.read_melgrams(path, 1)
    assert np.abs(x[0] - audio.compute_melgram(path)).max() <= 1e-3


@pytest.mark.slow
def test_scores_of_the_window_equal_the_whole_file_scores(whole_and_window):
    """The acceptance bound: max abs score difference <= 1e-6, every format."""
    model = get_model("crnn")
    whole = np.stack([w[0] for w in whole_and_window.values()])
    window = np.stack([w[1][0] for w in whole_and_window.values()])
    a = model.predict_on_batch(whole[..., None])
    b = model.predict_on_batch(window[..., None])
    assert np.abs(np.asarray(a) - np.asarray(b)).max() <= 1e-6


@pytest.mark.slow
def test_soxr_windows_are_close_to_the_whole_file(long_files):
    # 4 crops of 29 s over 40 s overlap: one merged window; vs separate windows
    # of a longer track, soxr's block edges move values by float rounding only
    # mpeg2.mp3: read in blocks for soxr, though their ends are not where a whole-file
    # decode's are (measured: 1.7e-3 dB at most in quiet bins, scores unchanged)
    for name in ("stereo.ogg", "plain.mp3", "mpeg2.mp3"):
        path = long_files[name]
        x, _, _ = reading.read_melgrams(path, 4, resampler="soxr_hq")
        ref = audio.compute_melgrams(path, 4, resampler="soxr_hq")
        assert x.shape == ref.shape
        assert np.abs(x - ref).max() <= 1e-2


@pytest.mark.slow
@pytest.mark.parametrize("name", ["stereo.wav", "mono.flac", "stereo.ogg"])
def test_formats_listed_as_exact_seek_really_are(long_files, name):
    path = long_files[name]
    info = reading.exact_length(path)
    assert info.seeks_exactly
    full = sf.read(path, dtype="float64", always_2d=True)[0]
    for start in np.random.default_rng(0).integers(0, len(full) - 5000, 8):
        with sf.SoundFile(path) as f:
            f.seek(int(start))
            np.testing.assert_array_equal(f.read(4000, dtype="float64", always_2d=True), full[start : start + 4000])


@pytest.mark.slow
def test_mp3_is_decoded_from_the_start(long_files):
    assert not reading.exact_length(long_files["plain.mp3"]).seeks_exactly


@pytest.mark.slow
def test_a_broken_frame_chain_falls_back_to_the_whole_file(long_files, tmp_path):
    data = open(long_files["plain.mp3"], "rb").read()
    broken = tmp_path / "broken.mp3"
    middle = len(data) // 2
    broken.write_bytes(data[:middle] + b"\x00" * 7 + data[middle:])  # junk mid-stream
    assert reading.exact_length(broken) is None
    x, _, n = reading.read_melgrams(broken, 1)
    np.testing.assert_array_equal(x[0], audio.compute_melgram(broken))


def test_a_long_file_costs_only_its_window(tmp_path):
    """An hour of 8 kHz audio: the whole-file path holds 230 MB of float64 samples
    and 350 MB once resampled; the window needs a constant amount (measured 86 MB,
    most of it the 2016 resampler's per-output work on the crop)."""
    path = tmp_path / "hour.wav"
    rate, minute = 8000, 8000 * 60
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(minute) / rate)).astype(np.float32)
    with sf.SoundFile(path, "w", rate, 1, subtype="PCM_16") as f:
        for _ in range(60):
            f.write(tone)
    tracemalloc.start()
    try:
        x, starts, n = reading.read_melgrams(path, 1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert n == 3600 * audio.SR and x.shape == (1, 96, 1366)
    assert peak < 150e6, peak / 1e6


def _backwards(n: int, hop: int) -> np.ndarray:
    return taggram_starts(n, hop)[::-1]


@pytest.mark.slow
@pytest.mark.parametrize("name", [f[0] for f in FILES])
def test_chunks_are_the_crops_of_one_read(long_files, name):
    """A taggram read 3 crops at a time (overlapping crops every second, so chunk
    windows overlap) equals the read of all crops at once; in reverse time order
    too (a sequential decode then starts again)."""
    path = long_files[name]
    for order in (taggram_starts, _backwards):
        starts = partial(order, hop=audio.SR)
        x, at, n = reading.read_melgrams(path, starts=starts)
        chunks = list(reading.iter_melgrams(path, starts=starts, chunk=3))
        assert len(x) == 7 and [c[0] for c in chunks] == [0, 3, 6]
        assert all(np.array_equal(c[2], at) and c[3] == n for c in chunks)
        # measured: bit for bit; allow float reordering of the matrix products
        assert np.abs(np.concatenate([c[1] for c in chunks]) - x).max() <= 1e-3


def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.slow
@pytest.mark.parametrize(
    "kind, rate, minutes", [("wav", 22050, (3, 10)), ("mp3", 32000, (2, 6)), ("mp3", 22050, (2, 6))]
)  # MPEG-1 and MPEG-2 (whose read ends are unknown: blocks for soxr all the same)
def test_a_taggram_of_a_long_file_costs_one_chunk(tmp_path, kind, rate, minutes):
    """A crop every 5 s: read 8 crops at a time, the peak is the same for a file
    three times as long (WAV 29 MB, MP3 46-54 MB measured), by seeking (WAV) or by
    decoding on and keeping only the frames still needed (MP3); every crop and
    sample at once grows with the length (10-minute WAV: 219 MB)."""
    rng = np.random.default_rng(0)
    starts = partial(taggram_starts, hop=5 * audio.SR)
    peaks = []
    for m in minutes:
        path = tmp_path / f"{m}.{kind}"
        sf.write(path, 0.1 * rng.standard_normal(rate * 60 * m), rate)
        read = partial(reading.iter_melgrams, path, resampler="soxr_hq", starts=starts)
        n = (60 * m * audio.SR - audio.N_SAMPLES) // (5 * audio.SR) + 1
        counts = []
        peaks.append((_peak_bytes(lambda: counts.extend(len(c[1]) for c in read(chunk=8))),
                      _peak_bytes(lambda: list(read(chunk=None)))))  # fmt: skip
        assert sum(counts) == n and max(counts) == 8
    (short, short_at_once), (long, long_at_once) = peaks
    assert long <= 1.1 * short and long < 60e6, peaks
    assert long_at_once > 1.5 * short_at_once and long_at_once > 3 * long, peaks


@pytest.mark.slow
def test_chunk_is_checked(long_files):
    with pytest.raises(ParameterError, match="chunk"):
        next(reading.iter_melgrams(long_files["stereo.wav"], chunk=0))


def test_errors_are_audio_errors(tmp_path):
    with pytest.raises(audio.AudioError, match="no such file"):
        reading.read_melgrams(tmp_path / "missing.ogg")
    text = tmp_path / "notes.flac"
    text.write_text("not audio\n" * 50)
    with pytest.raises(audio.AudioError, match="notes.flac"):
        reading.read_melgrams(text)
