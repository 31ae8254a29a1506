"""The exception family of music_tagger: everything the package raises on purpose.

Every error a user can cause (a bad argument, unreadable audio, a corrupt weight
file, a malformed dataset) is a :class:`MusicTaggerError`, so that a caller (and the
``music-tagger`` command, which prints these as one line) can tell them apart from
bugs. Each class also keeps the builtin base that callers caught before the family
existed (``ValueError``, ``FileNotFoundError``, ``FileExistsError``).

==========================  ==========================================================
class                       raised when
==========================  ==========================================================
:class:`ParameterError`     an argument has a bad value or a bad combination
:class:`UsageError`         a command-line option combination is wrong (exit 2)
:class:`AudioError`         an audio file is missing, unreadable or too short
:class:`WeightsError`       a weight file is missing, corrupt or does not fit
:class:`DataError`          a dataset, feature store or results file is malformed
:class:`MissingFileError`   an input file or folder does not exist
:class:`OutputExistsError`  an output exists and would be overwritten
:class:`OutputLockedError`  another run is writing the same output
==========================  ==========================================================

Examples
--------
>>> from music_tagger.errors import MusicTaggerError, ParameterError
>>> issubclass(ParameterError, (MusicTaggerError, ValueError))
True
"""


class MusicTaggerError(Exception):
    """Base class of every error music_tagger raises on purpose."""


class ParameterError(MusicTaggerError, ValueError):
    """An argument has a bad value, or arguments a bad combination."""


class UsageError(ParameterError):
    """A bad combination of command-line options (``music-tagger`` exits with 2)."""


class AudioError(MusicTaggerError, ValueError):
    """An audio file is missing, cannot be decoded, or is too short."""


class WeightsError(MusicTaggerError, ValueError):
    """A weight file is missing, corrupt, or does not match the architecture."""


class DataError(MusicTaggerError, ValueError):
    """A dataset, a feature store or a results file is malformed or inconsistent."""


class MissingFileError(MusicTaggerError, FileNotFoundError):
    """An input file or folder does not exist."""


class OutputExistsError(MusicTaggerError, FileExistsError):
    """An output already exists and would be overwritten."""


class OutputLockedError(MusicTaggerError, BlockingIOError):
    """Another run holds the lock of an output it is writing."""
