"""Audio in, log-mel spectrogram out, as the original 2016 tagger computed it.

The pipeline, one module per step:

==============================================  ====================================
module                                          what it owns
==============================================  ====================================
:mod:`music_tagger.audio.files`                 which files are audio, folders
                                                expanded into files
:mod:`music_tagger.audio.mp3`                   MP3 frame headers, gapless headers
                                                (2016 decoder delay), exact lengths
:mod:`music_tagger.audio.decode`                decoding to 16-bit PCM mono, the
                                                centre crop and crop positions
:mod:`music_tagger.audio.resample`              the 2016 ``kaiser_best`` resampler
                                                rebuilt in numpy, and soxr
:mod:`music_tagger.audio.windowed`              the same resamplers on a window of
                                                the input
:mod:`music_tagger.audio.spectrogram`           the log-mel spectrogram (power 4,
                                                dB, top 80 dB) from arrays or files
:mod:`music_tagger.audio.reading`               only the audio the crops need, a
                                                chunk of crops at a time
==============================================  ====================================

With the default ``resampler="kaiser_best_2016"`` the four example clips of the
original repository are matched to 1.1e-5 to 3.2e-5 dB (mean); ``resampler="soxr_hq"``
is faster and lands about 0.03 dB (mean) away. Every public name is available
here (``from music_tagger.audio import compute_melgram``).

Examples
--------
>>> from music_tagger.audio import RESAMPLERS, compute_melgram
>>> RESAMPLERS
('kaiser_best_2016', 'soxr_hq')
>>> compute_melgram("song.mp3").shape               # doctest: +SKIP
(96, 1366)
"""

from ..errors import AudioError
from .decode import (
    DURATION,
    N_SAMPLES,
    SR,
    center_crop,
    crop_starts,
    load_audio,
    load_crops,
    pcm16_mono,
    read_dtype,
)
from .mp3 import MP3_DECODER_DELAY, mp3_has_gapless_header
from .resample import (
    KAISER_BEST_2016,
    RESAMPLERS,
    SOXR_HQ,
    check_resampler,
    resample,
    resample_kaiser_best_2016,
)
from .spectrogram import (
    AMIN,
    HOP_LENGTH,
    N_FFT,
    N_FRAMES,
    N_MELS,
    TOP_DB,
    compute_melgram,
    compute_melgram_from_array,
    compute_melgrams,
    log_melgram,
)

__all__ = [
    "SR",
    "N_FFT",
    "HOP_LENGTH",
    "N_MELS",
    "N_FRAMES",
    "DURATION",
    "N_SAMPLES",
    "AMIN",
    "TOP_DB",
    "MP3_DECODER_DELAY",
    "KAISER_BEST_2016",
    "SOXR_HQ",
    "RESAMPLERS",
    "check_resampler",
    "AudioError",
    "load_audio",
    "load_crops",
    "resample",
    "resample_kaiser_best_2016",
    "mp3_has_gapless_header",
    "pcm16_mono",
    "read_dtype",
    "center_crop",
    "crop_starts",
    "log_melgram",
    "compute_melgram_from_array",
    "compute_melgram",
    "compute_melgrams",
]
