"""The resamplers on a window: a span of a signal's output from the input samples it needs.

The whole-file resamplers are in :mod:`music_tagger.audio.resample`; here the same
outputs are computed from a window of the input: :func:`input_span` says which input
samples an output span depends on, :func:`resample_window` computes it, with the
whole signal's output times (the 2016 resampler's accumulated float times included).
Used by :mod:`music_tagger.audio.reading` to read only the audio a crop needs."""

from __future__ import annotations

import math

import numpy as np

from .decode import SR
from .resample import (
    _KB_PRECISION,
    _MAX_PHASES,
    KAISER_BEST_2016,
    _filter_tables,
    _resample_grouped,
    _resample_polyphase,
)

#: Input samples of margin around a window for the soxr resampler.
SOXR_MARGIN = 4096


# --------------------------------------------------------------------------- spans


def _kaiser_reach(rate: int) -> int:
    """Most input samples one 2016-resampler output reads on either side of its time."""
    ratio = SR / rate
    scale = min(1.0, ratio)
    win, _ = _filter_tables(ratio)
    return len(win) // int(scale * 2**_KB_PRECISION) + 2


def input_span(start: int, stop: int, rate: int, n_in: int, resampler: str) -> tuple[int, int]:
    """Input samples ``[lo, hi)`` that outputs ``[start, stop)`` at 12 kHz depend on.

    Parameters
    ----------
    start, stop : int
        Output samples at :data:`music_tagger.SR`.
    rate : int
        The file's sample rate.
    n_in : int
        The file's length in samples (the span is clipped to ``[0, n_in)``).
    resampler : {"kaiser_best_2016", "soxr_hq"}

    Returns
    -------
    (int, int)

    Examples
    --------
    >>> from music_tagger.audio.windowed import input_span
    >>> input_span(1000, 2000, 12000, 10**6, "soxr_hq")
    (1000, 2000)
    """
    if rate == SR:
        return max(0, start), min(n_in, stop)
    reach = _kaiser_reach(rate) if resampler == KAISER_BEST_2016 else SOXR_MARGIN
    g = math.gcd(rate, SR)
    p, q = SR // g, rate // g
    if resampler == KAISER_BEST_2016:
        k = -(-32 // p)
        p, q = k * p, k * q  # the polyphase blocks of the whole-file resampler
        blocks = -(-reach // q) + 1
    else:
        blocks = -(-reach // q)
    first = max(0, start // p - blocks) * q  # a block start: on the output grid
    last = (-(-stop // p) + blocks) * q + reach
    return first, min(n_in, last)


# --------------------------------------------------------------------------- resampling


def _accumulated_times(first: int, count: int, ratio: float) -> np.ndarray:
    """``_time_registers(n, ratio)[first:first + count]`` in bounded memory.

    The 2016 loop summed ``1 / ratio`` sequentially from 0.0; the running sum is
    carried from chunk to chunk, so every value is the same float64 addition.
    """
    inc = 1.0 / ratio
    chunk = 1 << 20
    before: float | None = None  # time of output i0 - 1
    i0 = 0

    def run(n: int) -> np.ndarray:
        if before is None:
            seq = np.full(n, inc)
            seq[0] = 0.0
            return np.cumsum(seq)
        seq = np.full(n + 1, inc)
        seq[0] = before
        return np.cumsum(seq)[1:]

    while i0 + chunk <= first:
        before = float(run(chunk)[-1])
        i0 += chunk
    return run(first + count - i0)[first - i0 :]


def _kaiser_window(x: np.ndarray, lo: int, n_in: int, rate: int, start: int, stop: int) -> np.ndarray:
    """Outputs ``[start, stop)`` of ``resample_kaiser_best_2016(full, rate, SR)``.

    ``x`` holds the full signal's samples ``[lo, lo + len(x))``, covering every
    sample those outputs read (zeros are assumed only beyond the file's ends).
    The polyphase blocks are those of the whole-file call, started a few blocks
    early so that the first kept block sees its real left context; outputs whose
    accumulated float time differs from the exact one are recomputed from it, as
    in :func:`music_tagger.audio.resample_kaiser_best_2016`.
    """
    ratio = float(SR) / rate
    n_out = int(n_in * ratio)  # outputs of the resampler; the rest is fix_length's zeros
    out = np.zeros(stop - start)
    stop_r = min(stop, n_out)
    if stop_r <= start:
        return out
    num_table = 2**_KB_PRECISION
    scale = min(1.0, ratio)
    win, delta = _filter_tables(ratio)
    g = math.gcd(rate, SR)
    p, q = SR // g, rate // g
    times = _accumulated_times(start, stop_r - start, ratio)
    n = times.astype(np.int64)
    frac = scale * (times - n)
    if p <= _MAX_PHASES:
        k = -(-32 // p)
        big_p, big_q = k * p, k * q
        reach = _kaiser_reach(rate)
        m0 = max(0, start // big_p - (-(-reach // big_q) + 1))
        first = m0 * big_p  # first output computed (a block start)
        seg = x[m0 * big_q - lo :]  # input_span started the window at this block
        got = _resample_polyphase(seg, big_p, big_q, stop_r - first, win, delta, scale, num_table)[start - first :]
        t = np.arange(start, stop_r)
        n_exact = (t * q) // p
        frac_exact = scale * ((t * q) % p) / p
        bad = n != n_exact
        for a, b in ((frac, frac_exact), (scale - frac, scale - frac_exact)):
            bad |= (a * num_table).astype(np.int64) != (b * num_table).astype(np.int64)
        if bad.any():
            idx = np.flatnonzero(bad)
            got[idx] = _grouped(x, lo, n[idx], frac[idx], win, delta, scale, num_table)
    else:
        got = _grouped(x, lo, n, frac, win, delta, scale, num_table)
    out[: stop_r - start] = got
    return out


def _grouped(x, lo, n, frac, win, delta, scale, num_table) -> np.ndarray:
    """resampy's per-output sum for outputs reading around ``n`` (absolute indices)."""
    return _resample_grouped(x, n - lo, frac, win, delta, scale, num_table)


def _soxr_window(x: np.ndarray, lo: int, rate: int, n_in: int, start: int, stop: int) -> np.ndarray:
    """Outputs ``[start, stop)`` of soxr_hq on the whole file, from ``x = full[lo:hi]``.

    ``lo`` is on the output grid (``lo * SR / rate`` is an integer), so output ``j``
    of the window is output ``lo * SR / rate + j`` of the whole file.
    """
    import soxr

    g = math.gcd(rate, SR)
    offset = lo * (SR // g) // (rate // g)
    hi = lo + len(x)
    n_fix = int(math.ceil(hi * (float(SR) / rate))) - offset if hi == n_in else None
    y = soxr.resample(x.astype(np.float32, copy=False), rate, SR, quality="soxr_hq")
    if n_fix is not None:  # the window reaches the file's end: librosa's fix_length
        y = np.pad(y, (0, max(0, n_fix - len(y))))[:n_fix]
    out = y[start - offset : stop - offset]
    return np.pad(out, (0, stop - start - len(out)))


def resample_window(x: np.ndarray, lo: int, rate: int, n_in: int, resampler: str, start: int, stop: int) -> np.ndarray:
    """Outputs ``[start, stop)`` at 12 kHz of a whole signal of ``n_in`` samples at
    ``rate``, from its samples ``x = full[lo:]`` (enough of them: :func:`input_span`).

    Examples
    --------
    >>> import numpy as np
    >>> y = resample_window(np.zeros(48000, np.float32), 0, 24000, 48000, "soxr_hq", 0, 100)
    >>> y.shape
    (100,)
    """
    if rate == SR:
        return x[start - lo : stop - lo]
    if resampler == KAISER_BEST_2016:
        return _kaiser_window(x.astype(np.float64), lo, n_in, rate, start, stop).astype(np.float32)
    return _soxr_window(x, lo, rate, n_in, start, stop)
