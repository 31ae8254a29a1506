"""What is written into a file from its tagging record: field names, values, the genre table.

A record (``music-tagger tag --output tags.jsonl``) holds a file's best tags with their
scores, and with ``--thresholds`` the tags that passed. The fields, chosen by name:

=========  ===========================  =================================================
name       field                        value
=========  ===========================  =================================================
tags       ``MUSIC_TAGGER_TAGS``        the file's tags (:func:`record_tags`), ``; ``-separated
model      ``MUSIC_TAGGER_MODEL``       the network and its weights' sha256, e.g.
                                        ``crnn msd sha256:ab12cd34ef56``
scores     ``MUSIC_TAGGER_SCORES``      every tag of the record with its score,
                                        ``jazz=0.4441; instrumental=0.1510``
genre      ``GENRE``                    the file's tags through :data:`GENRE_MOOD` ``["genre"]``
mood       ``MOOD``                     the file's tags through :data:`GENRE_MOOD` ``["mood"]``
=========  ===========================  =================================================

``GENRE`` and ``MOOD`` are the user's fields: they are written only when asked, only
where the file has none or has the one the package wrote, and the value written is
kept beside them (``MUSIC_TAGGER_GENRE``, ``MUSIC_TAGGER_MOOD``) so that a removal
takes them away only while they still hold it.

Examples
--------
>>> from music_tagger.library.fields import field_values, record_tags
>>> record = {"path": "a.mp3", "tags": [["jazz", 0.62], ["rock", 0.1]], "error": None}
>>> record_tags(record)
['jazz']
>>> field_values(record, ["tags", "genre"], model="crnn")
{'MUSIC_TAGGER_TAGS': 'jazz', 'GENRE': 'Jazz', 'MUSIC_TAGGER_GENRE': 'Jazz'}
"""

from __future__ import annotations

import os
from typing import Any, Mapping, Sequence

from ..errors import DataError, ParameterError
from ..util.checks import probability, read_json

__all__ = [
    "DEFAULT_FIELDS", "DEFAULT_MIN_SCORE", "FIELDS", "GENRE_MOOD", "NAMESPACE", "field_values",
    "load_table", "model_identity", "record_scores", "record_tags",
]  # fmt: skip

#: The prefix of every field the package owns.
NAMESPACE = "MUSIC_TAGGER_"
#: Field names that ``fields=`` / ``--fields`` accept.
FIELDS = ("tags", "model", "scores", "genre", "mood")
#: Written when no fields are named: only the package's own.
DEFAULT_FIELDS = ("tags", "model")
#: A record without thresholds ("passed") has the tags scoring at least this.
DEFAULT_MIN_SCORE = 0.2
#: Fields of the user's that the package may write when asked, each with its shadow.
USER_FIELDS = {"genre": "GENRE", "mood": "MOOD"}

#: The default table from the 50 MSD tags to genres and moods (tags not named map to
#: nothing: decades, vocalists, instruments). ``--map FILE`` replaces it with a JSON
#: object of the same shape.
GENRE_MOOD: dict[str, dict[str, str]] = {
    "genre": {
        "rock": "Rock", "pop": "Pop", "alternative": "Alternative", "indie": "Indie",
        "electronic": "Electronic", "dance": "Dance", "alternative rock": "Alternative Rock",
        "jazz": "Jazz", "metal": "Metal", "classic rock": "Classic Rock", "soul": "Soul",
        "indie rock": "Indie Rock", "electronica": "Electronica", "folk": "Folk", "punk": "Punk",
        "blues": "Blues", "hard rock": "Hard Rock", "ambient": "Ambient",
        "experimental": "Experimental", "Hip-Hop": "Hip-Hop", "country": "Country",
        "easy listening": "Easy Listening", "funk": "Funk", "electro": "Electro",
        "heavy metal": "Heavy Metal", "Progressive rock": "Progressive Rock", "rnb": "R&B",
        "indie pop": "Indie Pop", "House": "House",
    },
    "mood": {
        "beautiful": "Beautiful", "chillout": "Chill", "chill": "Chill", "Mellow": "Mellow",
        "party": "Party", "sexy": "Sexy", "catchy": "Catchy", "sad": "Sad", "happy": "Happy",
    },
}  # fmt: skip


def load_table(path: str | os.PathLike | None, tags: Sequence[str]) -> dict[str, dict[str, str]]:
    """The genre and mood table: :data:`GENRE_MOOD`, or the JSON file ``path``.

    The file is ``{"genre": {tag: genre, ...}, "mood": {tag: mood, ...}}``; a tag the
    model does not have, or a value that is not a non-empty string, is an error.

    Raises
    ------
    MissingFileError, DataError
        No such file; not such a JSON object.
    """
    if path is None:
        return GENRE_MOOD
    data = read_json(path, "genre and mood table")
    table = {}
    for kind in USER_FIELDS:
        part = data.get(kind, {})
        if not isinstance(part, dict):
            raise DataError(f'{path}: "{kind}" must be an object of tag: {kind}')
        unknown = sorted(set(part) - set(tags))
        if unknown:
            raise DataError(f"{path}: tags the model does not have: {', '.join(unknown)}")
        bad = [t for t, v in part.items() if not isinstance(v, str) or not v.strip() or "\n" in v]
        if bad:
            raise DataError(f"{path}: the {kind} of {bad[0]!r} must be a one-line, non-empty string")
        table[kind] = dict(part)
    return table


def record_scores(record: Mapping[str, Any]) -> list[tuple[str, float]]:
    """The ``(tag, score)`` pairs of a record, each checked: a name and a number in [0, 1].

    Raises
    ------
    DataError
        An entry that is not ``[name, score]``, or a score that is NaN, infinite or
        outside [0, 1] (one line naming the file).

    Examples
    --------
    >>> record_scores({"path": "a.mp3", "tags": [["jazz", 0.5]]})
    [('jazz', 0.5)]
    """
    out, seen = [], set()
    for entry in record.get("tags") or ():
        ok = isinstance(entry, (list, tuple)) and len(entry) == 2 and isinstance(entry[0], str)
        try:
            score = probability(entry[1] if ok else None, "a score")
        except ParameterError:
            ok = False
        if not ok:
            raise DataError(f"the record of {_where(record)} holds {_short(entry)}, not [tag, score in [0, 1]]")
        _check_name(entry[0], record)
        if entry[0] in seen:  # written twice into the file otherwise
            raise DataError(f"the record of {_where(record)} lists the tag {entry[0]!r} twice")
        seen.add(entry[0])
        out.append((entry[0], score))
    return out


#: The longest tag name a record may hold (the model's longest is 18 characters).
MAX_TAG_NAME = 100


def _where(record: Mapping[str, Any]) -> str:
    from .formats import show_path

    path = record.get("path")
    return show_path(path) if isinstance(path, (str, os.PathLike)) else repr(path)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _check_name(name: Any, record: Mapping[str, Any]) -> str:
    """A tag name that can be a field's item: one line, no ``;`` or ``=`` (the fields'
    separators), not empty, at most :data:`MAX_TAG_NAME` characters."""
    if not (isinstance(name, str) and name.strip() and len(name) <= MAX_TAG_NAME and name.isprintable()
            and ";" not in name and "=" not in name):  # fmt: skip
        raise DataError(f"the record of {_where(record)} holds the tag {_short(name)}, not a tag name "
                        f"(one line of at most {MAX_TAG_NAME} characters, no ';' or '=')")  # fmt: skip
    return name


def record_tags(record: Mapping[str, Any], min_score: float | None = None) -> list[str]:
    """The tags a record gives its file, best first.

    Parameters
    ----------
    record : mapping
        A tagging record (``{"path", "tags": [[tag, score], ...], "error"}``).
    min_score : float, optional
        Tags of the record scoring at least this. None: the record's ``passed`` tags
        when it was tagged with thresholds, else :data:`DEFAULT_MIN_SCORE`.

    Examples
    --------
    >>> record_tags({"tags": [["jazz", 0.5], ["rock", 0.4]], "passed": ["rock"]})
    ['rock']
    >>> record_tags({"tags": [["jazz", 0.5], ["rock", 0.4]], "passed": ["rock"]}, 0.45)
    ['jazz']
    """
    if min_score is None and record.get("passed") is not None:
        passed = record["passed"]
        if not isinstance(passed, (list, tuple)):
            raise DataError(f"the record of {_where(record)} has passed={_short(passed)}, not a list of tags")
        names = [_check_name(t, record) for t in passed]
        return list(dict.fromkeys(names))
    floor = DEFAULT_MIN_SCORE if min_score is None else probability(min_score, "min_score")
    return [t for t, s in record_scores(record) if s >= floor]


def model_identity(model: str) -> str:
    """``"<model> msd sha256:<12 hex>"``: the network and the weights that tagged.

    Examples
    --------
    >>> model_identity("crnn")[:22]
    'crnn msd sha256:783d81'
    """
    from ..registry import registry
    from ..util.checks import pretrained_name
    from ..vocabulary import MSD_NETWORKS

    key = pretrained_name(model)
    return f"{key} msd sha256:{registry()['weights'][MSD_NETWORKS[key].weights['theano']]['sha256'][:12]}"


def field_values(
    record: Mapping[str, Any],
    fields: Sequence[str] = DEFAULT_FIELDS,
    *,
    model: str = "crnn",
    min_score: float | None = None,
    table: Mapping[str, Mapping[str, str]] = GENRE_MOOD,
) -> dict[str, str]:
    """``{field name: value}`` to write into the file of ``record``.

    A user field (``GENRE``, ``MOOD``) comes with its shadow ``MUSIC_TAGGER_<NAME>``,
    and is left out when none of the file's tags maps to one.

    Raises
    ------
    ParameterError
        A field name not in :data:`FIELDS`, or a record of a file that failed.
    """
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise ParameterError(f"unknown field {unknown[0]!r}: fields are {', '.join(FIELDS)}")
    if record.get("error") is not None:
        why = (str(record["error"]).splitlines() or [""])[0][:200]
        raise ParameterError(f"{_where(record)} was not tagged ({why})")
    tags = record_tags(record, min_score)
    out: dict[str, str] = {}
    for name in fields:
        if name == "tags":
            out[NAMESPACE + "TAGS"] = "; ".join(tags)
        elif name == "model":
            out[NAMESPACE + "MODEL"] = model_identity(model)
        elif name == "scores":
            out[NAMESPACE + "SCORES"] = "; ".join(f"{t}={s:.4f}" for t, s in record_scores(record))
        else:
            mapped = list(dict.fromkeys(table[name][t] for t in tags if t in table.get(name, {})))
            if mapped:
                out[USER_FIELDS[name]] = out[NAMESPACE + USER_FIELDS[name]] = "; ".join(mapped)
    return out
