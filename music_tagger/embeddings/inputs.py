"""What the feature extractor reads: spectrogram arrays, raw audio arrays, stores, audio files.

:func:`batches` turns any input of :func:`music_tagger.embeddings.extract.features` into
batches of network inputs with the row each belongs to: log-mel spectrograms
``(96, 1366)`` for the CRNN and the CNN (arrays, a prepared store, or audio files through
:func:`music_tagger.audio.compute_melgrams`), raw 12 kHz crops for the compact convnet
(arrays, or audio files through :func:`music_tagger.audio.load_crops`).

Examples
--------
>>> import numpy as np
>>> from music_tagger.embeddings.inputs import batches, n_rows
>>> x = np.zeros((3, 96, 1366), "float32")
>>> n_rows(x), [owner.tolist() for _, owner in batches(x, 1, "soxr_hq", 2)]
(3, [[0, 1], [2]])
"""

from __future__ import annotations

import os
from typing import Any, Iterator

import numpy as np

from .. import audio
from ..errors import AudioError, ParameterError

#: The spectrogram the pretrained CRNN and CNN take: (mel bands, frames).
MELGRAM = (audio.N_MELS, audio.N_FRAMES)


def check_audio(x: Any, samples: int) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim != 2 or x.shape[1] != samples:
        raise ParameterError(f"expected raw 12 kHz audio of shape (n, {samples}), got an array of shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ParameterError("the audio holds NaN or infinite values")
    return x


def check_melgrams(x: Any) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim != 3 or x.shape[1:] != MELGRAM:
        raise ParameterError(
            f"expected log-mel spectrograms of shape (n, {MELGRAM[0]}, {MELGRAM[1]}) or "
            f"(n, {MELGRAM[0]}, {MELGRAM[1]}, 1), got an array of shape {x.shape}"
        )
    if not np.all(np.isfinite(x)):
        raise ParameterError("the spectrograms hold NaN or infinite values")
    return x


def is_array(inputs: Any) -> bool:
    """Whether ``inputs`` are arrays (spectrograms or raw audio), not paths."""
    return (isinstance(inputs, np.ndarray) and inputs.dtype.kind == "f") or (
        isinstance(inputs, list) and bool(inputs) and isinstance(inputs[0], np.ndarray)
    )


def is_store(path: Any) -> bool:
    return isinstance(path, (str, os.PathLike)) and str(path).endswith(".h5") and os.path.isfile(path)


def batches(
    inputs: Any,
    crops: int,
    resampler: str,
    batch_size: int,
    failures: list | None = None,
    samples: int | None = None,
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """``(melgrams, owner)`` batches (``owner[i]``: crop i's input row); with a ``failures``
    list, an unreadable audio file goes there as ``(row, message)`` instead of raising.
    With ``samples`` (a network on raw audio), crops of that many 12 kHz samples instead."""
    from ..audio.files import expand_paths
    from ..datasets.store import iter_batches

    if is_array(inputs):
        x = check_melgrams(inputs) if samples is None else check_audio(inputs, samples)
        for start in range(0, len(x), batch_size):
            yield x[start : start + batch_size], np.arange(start, min(start + batch_size, len(x)))
        return
    if is_store(inputs):
        if crops != 1:
            raise ParameterError(f"a prepared store holds one crop per clip; crops must be 1, got {crops}")
        if samples is not None:
            raise ParameterError(f"{inputs} holds spectrograms; the compact convnet takes audio files")
        yield from iter_batches(inputs, batch_size, frames=MELGRAM[1])
        return
    paths = expand_paths(inputs)
    pending: list[np.ndarray] = []
    owners: list[int] = []
    for row, path in enumerate(paths):
        try:
            if samples is None:
                x = audio.compute_melgrams(path, crops, resampler=resampler)
            else:
                x = audio.load_crops(path, crops, samples, resampler=resampler)
        except AudioError as err:
            if failures is None:
                raise
            failures.append((row, str(err)))
            continue
        pending.extend(x)
        owners.extend([row] * len(x))
        while len(pending) >= batch_size:
            yield np.stack(pending[:batch_size]), np.array(owners[:batch_size])
            pending, owners = pending[batch_size:], owners[batch_size:]
    if pending:
        yield np.stack(pending), np.array(owners)


def n_rows(inputs: Any) -> int:
    """How many feature rows :func:`~music_tagger.embeddings.extract.features` returns for ``inputs``."""
    from ..audio.files import expand_paths
    from ..datasets import cache

    if is_array(inputs):
        return len(inputs)
    if is_store(inputs):
        return cache.load_store(inputs).n
    return len(expand_paths(inputs))
