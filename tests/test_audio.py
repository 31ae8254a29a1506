"""The 2016 preprocessing: each step pinned against the original spectrograms.

The four ``bensound-*.npy`` files are the 2016 code's output. Every step of
:mod:`music_tagger.audio` is shown to be needed by leaving it out and watching the
error against them grow.
"""

import importlib
import math
import os
import shutil

import numpy as np
import pytest
import soundfile as sf

from music_tagger import audio
from music_tagger.audio.decode import _decode, _signal
from music_tagger.audio.mp3 import parse_frame_header
from music_tagger.audio.resample import (
    _kaiser_best_2016_window,
    _resample_kaiser_best_2016,
    _time_registers,
)
from music_tagger.registry import example_names

CLIPS = example_names()
# the module, not the function music_tagger.audio.resample that shadows it
resample_module = importlib.import_module("music_tagger.audio.resample")

# Measured on the four clips (kaiser_best_2016: mean 1.1e-5..3.2e-5 dB, max
# 6.0e-4..1.17e-3 dB; soxr_hq: mean 0.030..0.052 dB, max 5.4..9.0 dB).
FAITHFUL_MEAN_DB, FAITHFUL_MAX_DB = 5e-5, 2e-3
SOXR_MEAN_DB, SOXR_MAX_DB = 0.07, 12.0


# ----------------------------------------------------------------------------- helpers


def slow_resample(x, sr_orig, sr_new, periodic=False):
    """resampy 0.1's cython loop, transcribed literally (with librosa 0.4's fix_length)."""
    x = np.asarray(x, np.float64)
    ratio = float(sr_new) / sr_orig
    n_orig = len(x)
    n_out = int(n_orig * ratio)
    interp_win = np.array(_kaiser_best_2016_window(periodic))
    if ratio < 1:
        interp_win *= ratio
    interp_delta = np.zeros_like(interp_win)
    interp_delta[:-1] = np.diff(interp_win)
    num_table = 512
    nwin = len(interp_win)
    scale = min(1.0, ratio)
    time_increment = 1.0 / ratio
    index_step = int(scale * num_table)
    y = np.zeros(n_out)
    time_register = 0.0
    for t in range(n_out):
        n = int(time_register)
        frac = scale * (time_register - n)
        index_frac = frac * num_table
        offset = int(index_frac)
        eta = index_frac - offset
        i_max = min(n + 1, (nwin - offset) // index_step)
        for i in range(i_max):
            j = offset + i * index_step
            y[t] += (interp_win[j] + eta * interp_delta[j]) * x[n - i]
        frac = scale - frac
        index_frac = frac * num_table
        offset = int(index_frac)
        eta = index_frac - offset
        k_max = min(n_orig - n - 1, (nwin - offset) // index_step)
        for k in range(k_max):
            j = offset + k * index_step
            y[t] += (interp_win[j] + eta * interp_delta[j]) * x[n + k + 1]
        time_register += time_increment
    n_fix = int(math.ceil(n_orig * ratio))
    return np.concatenate([y, np.zeros(n_fix - n_out)])


@pytest.fixture(scope="module")
def clips(reference_data):
    """Per clip: the reference spectrogram and today's raw decode (float64, file rate)."""
    out = {}
    for name in CLIPS:
        data, rate, _ = _decode(reference_data / f"{name}.mp3")  # the library's decode
        ref = np.load(reference_data / f"{name}.npy")
        assert ref.shape == (1, 1, 96, 1366)
        out[name] = (ref[0, 0], data, rate)
    return out


def pipeline(data, rate, *, pcm16=True, shift=529, periodic=False, times=True, pad="reflect"):
    """The library's faithful steps after decoding, with switches to leave one out."""
    y = _signal(
        data, rate, audio.SR, resampler=audio.KAISER_BEST_2016, delay=shift, pcm16=pcm16,
        periodic=periodic, accumulated_times=times,
    )  # fmt: skip
    return audio.log_melgram(audio.center_crop(y), pad_mode=pad)


def err(x, ref):
    d = np.abs(np.asarray(x, np.float64) - ref)
    return d.mean(), d.max()


@pytest.fixture(scope="module")
def faithful(clips, reference_data):
    return {name: audio.compute_melgram(reference_data / f"{name}.mp3") for name in CLIPS}


# ----------------------------------------------------------------------------- the .npy files


@pytest.mark.parametrize("name", CLIPS)
def test_compute_melgram_matches_2016_spectrogram(name, clips, faithful):
    ref = clips[name][0]
    x = faithful[name]
    assert x.shape == (audio.N_MELS, audio.N_FRAMES) and x.dtype == np.float32
    mean, worst = err(x, ref)
    assert mean < FAITHFUL_MEAN_DB and worst < FAITHFUL_MAX_DB, (mean, worst)


@pytest.mark.parametrize("name", CLIPS)
def test_soxr_hq_is_close_but_looser(name, clips, faithful, reference_data):
    ref = clips[name][0]
    x = audio.compute_melgram(reference_data / f"{name}.mp3", resampler="soxr_hq")
    assert x.shape == (96, 1366) and x.dtype == np.float32
    mean, worst = err(x, ref)
    assert mean < SOXR_MEAN_DB and worst < SOXR_MAX_DB, (mean, worst)
    # the rebuilt 2016 filter wins overall and at the top mel bands
    top_soxr = np.abs(x[80:] - ref[80:]).mean()
    top_faithful = np.abs(faithful[name][80:] - ref[80:]).mean()
    assert top_faithful * 100 < top_soxr, (top_faithful, top_soxr)
    assert err(faithful[name], ref)[0] * 100 < mean


# ----------------------------------------------------------------------------- each step pinned


@pytest.mark.parametrize("name", CLIPS)
def test_mp3_decoder_delay_is_529_samples(name, clips, reference_data):
    ref, data, rate = clips[name]
    assert not audio.mp3_has_gapless_header(reference_data / f"{name}.mp3")
    base = err(pipeline(data, rate), ref)[0]
    unshifted = err(pipeline(data, rate, shift=0), ref)[0]
    assert unshifted > 1.5 and unshifted > 10000 * base  # about 2-4.4 dB mean
    for off_by_one in (528, 530):
        assert err(pipeline(data, rate, shift=off_by_one), ref)[0] > 100 * base


@pytest.mark.parametrize("name", CLIPS)
def test_16_bit_decode_step(name, clips):
    ref, data, rate = clips[name]
    base = err(pipeline(data, rate), ref)
    skipped = err(pipeline(data, rate, pcm16=False), ref)
    assert skipped[0] > 3 * base[0] and skipped[1] > 2 * base[1], (base, skipped)


def test_16_bit_decode_clips_loud_peaks(clips):
    # dubstep peaks above full scale in float decoding: the 2016 decoder clipped them
    ref, data, rate = clips["bensound-dubstep"]
    assert np.abs(data).max() > 1.05
    assert err(pipeline(data, rate, pcm16=False), ref)[1] > 0.1


@pytest.mark.parametrize("name", CLIPS)
def test_reflect_padding_at_the_edges(name, clips, faithful):
    ref, data, rate = clips[name]
    edges = [0, 1, -2, -1]
    base = np.abs(faithful[name][:, edges] - ref[:, edges]).mean()
    constant = pipeline(data, rate, pad="constant")
    bad = np.abs(constant[:, edges] - ref[:, edges]).mean()
    assert bad > 0.5 and bad > 1000 * base, (base, bad)
    # the inner frames do not see the padding
    np.testing.assert_allclose(constant[:, 2:-2], faithful[name][:, 2:-2], atol=1e-3)


@pytest.mark.parametrize("name", ["bensound-cute", "bensound-actionable"])
def test_accumulated_float_times_of_resampy(name, clips, faithful):
    # exact rational output times differ from resampy's summed float times on ~1% of
    # the outputs, which costs an order of magnitude in the worst bin
    ref, data, rate = clips[name]
    exact = err(pipeline(data, rate, times=False), ref)
    base = err(faithful[name], ref)
    assert exact[1] > 5 * base[1] and exact[0] > base[0], (base, exact)


def test_symmetric_kaiser_taper(clips, faithful):
    # the 2016 table used a symmetric Kaiser taper: a periodic one is slightly worse on
    # every clip
    for name in CLIPS:
        ref, data, rate = clips[name]
        periodic = err(pipeline(data, rate, periodic=True), ref)[0]
        assert err(faithful[name], ref)[0] < periodic, name


# ----------------------------------------------------------------------------- resampler


# 44.1 kHz: 326 outputs, past output 200 where resampy's summed time first drifts
# below an integer; 44100 -> 12001 has too many phases and takes the grouped path
@pytest.mark.parametrize(
    "sr_orig, sr_new, n",
    [
        (44100, 12000, 1200),
        (22050, 12000, 900),
        (48000, 12000, 1200),
        (8000, 12000, 300),
        (11025, 12000, 250),
        (44100, 12001, 400),
    ],
)
def test_vectorised_resampler_equals_loop(sr_orig, sr_new, n):
    x = np.random.default_rng(sr_orig + n).standard_normal(n)
    expected = slow_resample(x, sr_orig, sr_new)
    got = audio.resample_kaiser_best_2016(x, sr_orig, sr_new)
    assert got.shape == expected.shape == (math.ceil(n * sr_new / sr_orig),)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)


def test_generic_path_equals_loop(monkeypatch):
    # rate pairs with too many phases for the polyphase matrix take the grouped path
    monkeypatch.setattr(resample_module, "_MAX_PHASES", 0)
    x = np.random.default_rng(1).standard_normal(500)
    for sr_orig, sr_new in [(44100, 12000), (8000, 12000)]:
        np.testing.assert_allclose(
            audio.resample_kaiser_best_2016(x, sr_orig, sr_new),
            slow_resample(x, sr_orig, sr_new),
            rtol=0,
            atol=1e-12,
        )


def test_resampler_follows_accumulated_times(monkeypatch):
    # resampy summed its output time in float64; from output 200 on (44.1 -> 12 kHz)
    # it lands just below an integer every 40 outputs, where the exact rational time
    # picks the next input sample and another table offset
    x = np.random.default_rng(2).standard_normal(44100 * 3)
    n_out = int(len(x) * 12000 / 44100)
    times = _time_registers(n_out, 12000 / 44100)
    drifted = np.flatnonzero(times.astype(np.int64) != (np.arange(n_out) * 147) // 40)
    assert len(drifted) > 100 and drifted[0] == 200
    fast = audio.resample_kaiser_best_2016(x, 44100, 12000)
    exact_times = _resample_kaiser_best_2016(x, 44100, 12000, accumulated_times=False)
    assert np.abs(fast - exact_times)[drifted].min() > 1e-6
    others = np.setdiff1d(np.arange(n_out), drifted)
    np.testing.assert_allclose(fast[others], exact_times[others], rtol=0, atol=1e-9)
    # the grouped path computes every output from its own summed time, including the
    # slow drift of the interpolation weight that the polyphase path leaves out
    monkeypatch.setattr(resample_module, "_MAX_PHASES", 0)
    exact = audio.resample_kaiser_best_2016(x, 44100, 12000)
    np.testing.assert_allclose(exact, fast, rtol=0, atol=2e-7)


def test_resampler_dtype_and_identity():
    y = np.ones(100, np.float32)
    assert audio.resample_kaiser_best_2016(y, 44100, 12000).dtype == np.float32
    assert audio.resample_kaiser_best_2016(y.astype(int), 44100, 12000).dtype == np.float64
    np.testing.assert_array_equal(audio.resample_kaiser_best_2016(y, 12000, 12000), y)
    assert audio.resample_kaiser_best_2016(np.zeros(0), 44100, 12000).shape == (0,)
    with pytest.raises(ValueError):
        audio.resample_kaiser_best_2016(np.zeros((2, 10)), 44100, 12000)
    with pytest.raises(ValueError):
        audio.resample_kaiser_best_2016(y, 0, 12000)


def test_sine_passes_and_alias_is_rejected():
    sr = 44100
    t = np.arange(sr) / sr
    tone = np.sin(2 * np.pi * 1000 * t)
    alias = np.sin(2 * np.pi * 15000 * t)  # above the new Nyquist of 6 kHz
    a = audio.resample_kaiser_best_2016(tone, sr, 12000)[2000:-2000]
    b = audio.resample_kaiser_best_2016(alias, sr, 12000)[2000:-2000]
    assert abs(np.sqrt(np.mean(a**2)) / np.sqrt(0.5) - 1) < 5e-3  # passband ripple
    assert np.sqrt(np.mean(b**2)) < 1e-4


# ----------------------------------------------------------------------------- MP3 headers


def _frame(header: bytes, tag: bytes = b"", at: int = 0) -> bytes:
    info = parse_frame_header(header)
    body = bytearray(info["length"] - 4)
    body[at : at + len(tag)] = tag
    return header + bytes(body)


def _id3v2(payload: bytes) -> bytes:
    n = len(payload)
    size = bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])
    return b"ID3\x03\x00\x00" + size + payload


@pytest.mark.parametrize(
    "header, side",
    [
        (b"\xff\xfb\x90\xc4", 17),
        (b"\xff\xfb\x90\x64", 32),  # MPEG-1 mono, joint stereo
        (b"\xff\xf3\x80\xc4", 9),
        (b"\xff\xf3\x80\x64", 17),
    ],  # MPEG-2 mono, joint stereo
)
@pytest.mark.parametrize("tag", [b"Xing", b"Info"])
def test_gapless_header_at_side_info_offset(tmp_path, header, side, tag):
    # the ID3v2 payload holds a fake frame sync that must be skipped
    junk = _id3v2(b"\xff\xfb\x90\xc4" + b"\x00" * 60)
    good = tmp_path / "good.mp3"
    good.write_bytes(junk + _frame(header, tag, side) + _frame(header) * 3)
    assert audio.mp3_has_gapless_header(good)
    wrong = tmp_path / "wrong.mp3"  # tag at the other mode's offset: not a header
    wrong.write_bytes(junk + _frame(header, tag, side + 4) + _frame(header) * 3)
    assert not audio.mp3_has_gapless_header(wrong)


def test_vbri_header_and_plain_frames(tmp_path):
    h = b"\xff\xfb\x90\x64"
    vbri = tmp_path / "vbri.mp3"
    vbri.write_bytes(_frame(h, b"VBRI", 32) + _frame(h) * 2)
    assert audio.mp3_has_gapless_header(vbri)
    plain = tmp_path / "plain.mp3"
    plain.write_bytes(b"\x00" * 100 + _frame(h) * 3)
    assert not audio.mp3_has_gapless_header(plain)
    text = tmp_path / "text.mp3"
    text.write_bytes(b"not an mp3 \xff\xff at all")
    assert not audio.mp3_has_gapless_header(text)


def _click_mp3(path, rate=44100, channels=2):
    y = np.zeros((rate * 2, channels))
    y[10000] = 0.9
    sf.write(path, y, rate, format="MP3")


def test_no_shift_for_gapless_mp3_but_shift_without(tmp_path):
    # libsndfile's LAME writes a Xing header, and its decoder then trims the delays
    path = tmp_path / "click.mp3"
    _click_mp3(path)
    assert audio.mp3_has_gapless_header(path)
    raw, rate = sf.read(path, dtype="float64", always_2d=True)
    pcm = (np.clip(np.round(raw * 32768), -32768, 32767) / 32768).astype(np.float32).mean(1)
    y = audio.load_audio(path, sr=None)
    np.testing.assert_array_equal(y, pcm)
    assert np.argmax(np.abs(y)) == 10000
    # the same stream with its Xing tag blanked: the 2016 decoder delay rule applies
    data = path.read_bytes()
    stripped = tmp_path / "stripped.mp3"
    stripped.write_bytes(data.replace(b"Xing", b"\x00" * 4, 1))
    assert not audio.mp3_has_gapless_header(stripped)
    raw, _ = sf.read(stripped, dtype="float64", always_2d=True)
    pcm = (np.clip(np.round(raw * 32768), -32768, 32767) / 32768).astype(np.float32).mean(1)
    y = audio.load_audio(stripped, sr=None)
    assert len(y) == len(pcm)
    np.testing.assert_array_equal(y[:-529], pcm[529:])
    assert not y[-529:].any()


@pytest.mark.parametrize("channels", [1, 2, 3, 4, 6, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pcm16_mono_is_the_2016_formula_bit_for_bit(channels, dtype):
    rng = np.random.default_rng(channels)
    data = np.clip(rng.normal(0, 0.4, (20000, channels)), -1.3, 1.3)
    data[:2000] = (np.round(data[:2000] * 32768) + 0.5) / 32768  # ties: round half to even
    data = data.astype(dtype)
    written = (np.clip(np.round(data * 32768.0), -32768, 32767) / 32768.0).astype(np.float32)
    written = written.mean(axis=1, dtype=np.float32)
    y = audio.pcm16_mono(data)
    assert y.dtype == np.float32
    np.testing.assert_array_equal(y, written)
    # the test can fail: without the rounding, or with another channel weighting
    assert not np.array_equal(data.astype(np.float32).mean(axis=1, dtype=np.float32), written)


@pytest.mark.parametrize(
    "fmt, subtype",
    [("WAV", "PCM_16"), ("WAV", "PCM_24"), ("WAV", "FLOAT"), ("WAV", "PCM_U8"), ("FLAC", "PCM_16"),
     ("FLAC", "PCM_24"), ("OGG", "VORBIS"), ("MP3", "MPEG_LAYER_III"), ("WAV", "PCM_32")],
)  # fmt: skip
def test_float32_reads_are_exact_where_chosen(tmp_path, fmt, subtype):
    """Subtypes read as float32 give the float64 read's values; PCM_32 would not."""
    rng = np.random.default_rng(0)
    path = tmp_path / f"x.{fmt.lower()}"
    sf.write(path, np.clip(rng.normal(0, 0.3, (30000, 2)), -1, 1), 44100, format=fmt, subtype=subtype)
    wide = sf.read(path, dtype="float64", always_2d=True)[0]
    narrow = sf.read(path, dtype="float32", always_2d=True)[0].astype(np.float64)
    exact = np.array_equal(wide, narrow)
    assert audio.read_dtype(subtype) == ("float32" if exact else "float64")
    assert exact == (subtype != "PCM_32")


def test_wav_is_not_shifted_and_is_quantised(tmp_path):
    y = np.zeros((4000, 2))
    y[1000] = [0.5, 0.25]
    y[2000] = [1.2, 1.2]  # above full scale: clipped like 16-bit PCM
    y[3000] = [0.1234567, -0.1]
    path = tmp_path / "x.wav"
    sf.write(path, y, 8000, subtype="FLOAT")
    out = audio.load_audio(path, sr=None)
    assert out.dtype == np.float32 and out.shape == (4000,)
    assert out[1000] == np.float32(0.375)
    assert out[2000] == np.float32(32767 / 32768)
    assert out[3000] == np.float32((round(0.1234567 * 32768) - round(0.1 * 32768)) / 2 / 32768)
    up = audio.load_audio(path)  # 8 kHz -> 12 kHz
    assert up.shape == (6000,) and up.dtype == np.float32


# ----------------------------------------------------------------------------- crops


def test_center_crop_and_padding():
    np.testing.assert_array_equal(audio.center_crop(np.arange(10), 4), [3, 4, 5, 6])
    np.testing.assert_array_equal(audio.center_crop(np.arange(9), 4), [2, 3, 4, 5])
    np.testing.assert_array_equal(audio.center_crop(np.arange(1, 4), 5), [1, 2, 3, 0, 0])
    assert audio.center_crop(np.ones(5), 5).shape == (5,)
    assert audio.center_crop(np.ones(10)).shape == (audio.N_SAMPLES,)


def test_short_audio_is_zero_padded_at_the_end():
    sr = audio.SR
    y = 0.1 * np.random.default_rng(3).standard_normal(sr * 5).astype(np.float32)
    x = audio.compute_melgram_from_array(y, sr)
    assert x.shape == (96, 1366) and x.dtype == np.float32
    padded = audio.log_melgram(np.concatenate([y, np.zeros(audio.N_SAMPLES - len(y), np.float32)]))
    np.testing.assert_array_equal(x, padded)
    # the padded tail sits on the 80 dB floor, the start is signal
    assert np.all(x[:, -100:] == x.min()) and x[:, :100].mean() > x.min() + 20


def test_crop_starts():
    n, s = 1_000_000, audio.N_SAMPLES
    assert audio.crop_starts(n, 1)[0] == (n - s) // 2
    for n_odd in (s + 1, s + 7, 999_999):
        y = np.arange(n_odd)
        assert audio.center_crop(y)[0] == audio.crop_starts(n_odd, 1)[0]
    starts = audio.crop_starts(n, 5)
    assert len(starts) == 5 and np.all(np.diff(starts) > 0)
    assert starts[0] >= 0 and starts[-1] + s <= n
    assert starts[2] == (n - s) // 2  # odd counts keep the centre crop
    np.testing.assert_array_equal(audio.crop_starts(s - 1, 4), [0])
    np.testing.assert_array_equal(audio.crop_starts(s, 4), [0])
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError):
            audio.crop_starts(n, bad)


def test_compute_melgrams(reference_data, faithful):
    path = reference_data / "bensound-cute.mp3"
    one = audio.compute_melgrams(path, 1)
    assert one.shape == (1, 96, 1366) and one.dtype == np.float32
    np.testing.assert_array_equal(one[0], faithful["bensound-cute"])
    many = audio.compute_melgrams(path, 3, resampler="soxr_hq")
    assert many.shape == (3, 96, 1366)
    y = audio.load_audio(path, resampler="soxr_hq")
    starts = audio.crop_starts(len(y), 3)
    np.testing.assert_array_equal(many[1], audio.compute_melgram(path, resampler="soxr_hq"))
    first = y[starts[0] : starts[0] + audio.N_SAMPLES]
    np.testing.assert_array_equal(many[0], audio.log_melgram(first))
    assert not np.array_equal(many[0], many[2])


def test_compute_melgrams_short_track(tmp_path):
    path = tmp_path / "short.wav"
    sf.write(path, 0.1 * np.random.default_rng(4).standard_normal(12000 * 3), 12000)
    x = audio.compute_melgrams(path, 4)
    assert x.shape == (1, 96, 1366)
    np.testing.assert_array_equal(x[0], audio.compute_melgram(path))


# ----------------------------------------------------------------------------- arrays


def test_compute_melgram_from_array_resamples_and_means_channels():
    rng = np.random.default_rng(5)
    y = (0.1 * rng.standard_normal((2, 44100 * 31))).astype(np.float32)
    x = audio.compute_melgram_from_array(y, 44100)
    mono = audio.compute_melgram_from_array(y.mean(axis=0), 44100)
    np.testing.assert_allclose(x, mono, atol=1e-4)
    fast = audio.compute_melgram_from_array(y, 44100, resampler="soxr_hq")
    assert np.abs(fast - x).mean() < 0.5


def test_log_melgram_scaling():
    # power 4 in dB: scaling the signal by 10 adds 40 dB
    y = 0.01 * np.random.default_rng(6).standard_normal(audio.N_SAMPLES).astype(np.float32)
    a, b = audio.log_melgram(y), audio.log_melgram(10 * y)
    mask = a > -90  # clear of amin (1e-10, i.e. -100 dB)
    np.testing.assert_allclose((b - a)[mask], 40.0, atol=1e-3)
    assert a.max() - a.min() <= 80.0 + 1e-4


@pytest.mark.parametrize(
    "y, sr",
    [
        (np.zeros((2, 3, 100)), 12000),
        (np.zeros(0), 12000),
        (np.array([0.0, np.nan]), 12000),
        (np.array([0.0, np.inf]), 12000),
        (np.zeros(100), 0),
        (np.zeros(100), -5),
        (np.array(["a", "b"]), 12000),
        (np.zeros((44100, 2)), 44100),
    ],
)
def test_compute_melgram_from_array_validates(y, sr):
    with pytest.raises(ValueError):
        audio.compute_melgram_from_array(y, sr)


def test_unknown_resampler():
    with pytest.raises(ValueError, match="resampler"):
        audio.compute_melgram_from_array(np.zeros(100), 12000, resampler="scipy")
    with pytest.raises(ValueError, match="resampler"):
        audio.load_audio("whatever.wav", resampler="kaiser_best")


# ----------------------------------------------------------------------------- file errors


def test_missing_file(tmp_path):
    path = tmp_path / "nope.mp3"
    with pytest.raises(audio.AudioError, match="nope.mp3") as info:
        audio.compute_melgram(path)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, FileNotFoundError)


def test_text_file_renamed_mp3(tmp_path):
    path = tmp_path / "notes.mp3"
    path.write_text("these are not the sounds you are looking for\n" * 20)
    with pytest.raises(audio.AudioError, match="notes.mp3.*not an audio file") as info:
        audio.load_audio(path)
    assert info.value.__cause__ is not None


def test_empty_and_directory(tmp_path):
    empty = tmp_path / "empty.wav"
    sf.write(empty, np.zeros((0, 1)), 12000)
    with pytest.raises(audio.AudioError, match="empty.wav.*no audio"):
        audio.load_audio(empty)
    with pytest.raises(audio.AudioError, match="directory"):
        audio.load_audio(tmp_path)


def test_example_clip_copy_is_read_like_the_original(tmp_path, reference_data, faithful):
    # the result does not depend on the file's name or folder
    copy = tmp_path / "copy.mp3"
    shutil.copy(reference_data / "bensound-thejazzpiano.mp3", copy)
    x = audio.compute_melgram(os.fspath(copy))
    np.testing.assert_array_equal(x, faithful["bensound-thejazzpiano"])
