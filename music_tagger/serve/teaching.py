"""Tags taught from the page: marked tracks in, a probe saved and the library scored.

:class:`Teacher` serves ``POST /v1/teach``: it checks the request (a new tag's
name, track ids marked yes and no), fits the tag at once with
:func:`music_tagger.embeddings.few_shot.teach` on the marked tracks (a few seconds:
one forward pass per file not in the feature cache), saves the probe beside the index
(``<index>.taught/<hash of the tag>/probe.npz`` + ``probe.json``), then scores every
track of the library in the background (:func:`~music_tagger.embeddings.few_shot.score`:
one forward pass per track whose features are not cached yet, then nothing) and
stores the scores in the index, where the tag filters and sorts like a model's tag.
Features are computed on onnxruntime (``runtime="onnx"``), never TensorFlow, and
cached in ``<index>.features/``.

Saved probes are the truth: at the end of every tagging job (so at each start, and
after new files) each is scored again on the tracks without its score, from the
cache, so a taught tag survives a restart, a rebuilt index and new files.

Examples
--------
>>> teacher = Teacher(library)                                       # doctest: +SKIP
>>> teacher.teach("my rain", [1, 2, 3], [4, 5, 6])["state"]          # doctest: +SKIP
'scoring'
"""

from __future__ import annotations

import hashlib
import os
import shutil
import threading
from typing import Any

from ..errors import AudioError, MusicTaggerError, ParameterError
from ..util.checks import non_negative_int
from ..util.workers import threads

__all__ = ["MAX_MARKS", "MAX_NAME", "TAUGHT_THRESHOLD", "TeachError", "Teacher"]

#: Where a taught tag's filter starts: its probe's probability, 0.5 the even odds.
TAUGHT_THRESHOLD = 0.5
#: Longest tag name, in characters.
MAX_NAME = 60
#: Most tracks marked on a side: the request fits at once, a forward pass per track not
#: cached yet (0.3 s each on 2 busy cores: 400 marks take 2 minutes at worst); more
#: than 20 a side barely helps (docs/quality.md).
MAX_MARKS = 200
#: Tracks scored between two progress updates.
STEP = 32


class TeachError(Exception):
    """A refused teaching: ``status`` and a one-line ``message``."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


class Teacher:
    """The taught tags of a :class:`~music_tagger.serve.library.Library`."""

    def __init__(self, library: Any):
        self.library = library
        self.folder = library.index_path + ".taught"
        self.cache = library.index_path + ".features"
        self._jobs: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._pool = threads(1, "teach")  # one scoring at a time, in order

    # ----------------------------------------------------------------- probes

    def _probe_folder(self, tag: str) -> str:
        return os.path.join(self.folder, hashlib.sha256(tag.encode()).hexdigest()[:16])

    def probes(self) -> dict[str, Any]:
        """``{tag: probe}`` of the saved probes (a damaged one is left out)."""
        from ..embeddings.linear_probe import load_probe

        found = {}
        for name in sorted(os.listdir(self.folder)) if os.path.isdir(self.folder) else []:
            try:
                probe = load_probe(os.path.join(self.folder, name))
            except (MusicTaggerError, OSError, ValueError, KeyError):
                continue
            found[probe.tags[0]] = probe
        return found

    def status(self) -> list[dict[str, Any]]:
        """Each taught tag: ``tag``, ``state`` (scoring, done, failed), ``done`` of
        ``total`` tracks, ``error``, ``yes`` and ``no`` (how many examples)."""
        with self._lock:
            jobs = {t: dict(j) for t, j in self._jobs.items()}
        for tag, probe in self.probes().items():
            taught = (probe.feature_meta or {}).get("taught", {})
            jobs.setdefault(tag, {"tag": tag, "state": "done", "done": 0, "total": 0, "error": None})
            jobs[tag].update(yes=len(taught.get("positives", [])), no=len(taught.get("negatives", [])))
        return [jobs[t] for t in sorted(jobs)]

    # ----------------------------------------------------------------- teaching

    def check(self, body: Any) -> tuple[str, list[int], list[int]]:
        """The tag and the ids of a ``POST /v1/teach`` body; TeachError 400 if wrong."""
        from ..embeddings.few_shot import MIN_EXAMPLES, check_tag_name

        if not isinstance(body, dict) or not {"tag", "yes", "no"} <= set(body):
            raise TeachError(400, 'the body is JSON {"tag": NAME, "yes": [track ids], "no": [track ids]}')
        tag = body["tag"]
        if not isinstance(tag, str) or len(tag.strip()) > MAX_NAME or not tag.strip().isprintable():
            raise TeachError(400, f"the tag must be a printable name of 1 to {MAX_NAME} characters")
        try:
            tag = check_tag_name(tag)
        except ParameterError as err:
            raise TeachError(400, str(err)) from None
        sides = []
        for side in ("yes", "no"):
            ids = body[side]
            try:
                if not isinstance(ids, list):
                    raise ParameterError(side)
                ids = [non_negative_int(i, "a track id") for i in ids]
            except ParameterError:
                raise TeachError(400, f"{side} must be a list of track ids (integers)") from None
            sides.append(list(dict.fromkeys(ids)))
        yes, no = sides
        both = sorted(set(yes) & set(no))
        if both:
            raise TeachError(400, f"track {both[0]} is marked both yes and no ({len(both)} track(s) on both sides)")
        if len(yes) < MIN_EXAMPLES or len(no) < MIN_EXAMPLES:
            raise TeachError(400, f"mark at least {MIN_EXAMPLES} tracks yes and {MIN_EXAMPLES} no (10 or more "
                                  f"work well); got {len(yes)} yes and {len(no)} no")  # fmt: skip
        if max(len(yes), len(no)) > MAX_MARKS:
            raise TeachError(400, f"mark at most {MAX_MARKS} tracks on each side (20 work about as well); "
                                  f"got {len(yes)} yes and {len(no)} no")  # fmt: skip
        return tag, yes, no

    def teach(self, body: Any) -> dict[str, Any]:
        """Fit, save and start scoring the tag of ``body``; its status (state "scoring").

        Raises TeachError: 400 a bad request, 409 a tag is being scored, 422 unreadable audio.
        """
        from ..embeddings.few_shot import teach

        tag, yes, no = self.check(body)
        paths = {i: p for p, i in self.library.index.ids().items()}
        unknown = [i for i in yes + no if i not in paths]
        if unknown:
            raise TeachError(400, f"no tagged track {unknown[0]} ({len(unknown)} unknown id(s))")
        with self._lock:
            busy = [t for t, j in self._jobs.items() if j["state"] == "scoring"]
            if busy:
                raise TeachError(409, f"the tag {busy[0]!r} is being taught; try again when it is done")
            self._jobs[tag] = {"tag": tag, "state": "fitting", "done": 0, "total": 0, "error": None}
        try:
            probe = teach(tag, [paths[i] for i in yes], [paths[i] for i in no], cache_dir=self.cache,
                          runtime="onnx")  # fmt: skip
            probe.save(self._probe_folder(tag))
        except (AudioError, ParameterError) as err:
            with self._lock:
                self._jobs.pop(tag, None)
            status = 422 if isinstance(err, AudioError) else 400
            raise TeachError(status, str(err)) from None
        except BaseException:
            with self._lock:
                self._jobs.pop(tag, None)
            raise
        self.library.index.drop_taught(tag)  # a tag taught again: its old scores go
        self._set(tag, state="scoring")
        self._pool.submit(self._score, tag, probe, False)
        return dict(self._jobs[tag], yes=len(yes), no=len(no))

    def delete(self, tag: str) -> bool:
        """Forget a taught tag (its probe and scores); False if there is none."""
        folder = self._probe_folder(tag)
        with self._lock:
            if self._jobs.get(tag, {}).get("state") in ("fitting", "scoring"):
                raise TeachError(409, f"the tag {tag!r} is being taught; delete it when it is done")
            self._jobs.pop(tag, None)
        known = os.path.isdir(folder)
        shutil.rmtree(folder, ignore_errors=True)
        self.library.index.drop_taught(tag)
        return known

    def refresh(self) -> None:
        """Score each saved probe on the tracks that lack its score (in the background)."""
        for tag, probe in self.probes().items():
            self._pool.submit(self._score, tag, probe, True)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    # ----------------------------------------------------------------- scoring

    def _set(self, tag: str, **changes: Any) -> None:
        with self._lock:
            self._jobs.setdefault(tag, {"tag": tag, "done": 0, "total": 0, "error": None}).update(changes)

    def _score(self, tag: str, probe: Any, missing_only: bool) -> None:
        from ..embeddings.few_shot import score

        try:
            index = self.library.index
            tracks = index.ids()
            if missing_only:
                have = set(index.taught_scores(tag))
                tracks = {p: i for p, i in tracks.items() if i not in have}
                if not tracks:
                    return
            paths = sorted(tracks)
            self._set(tag, state="scoring", done=0, total=len(paths), error=None)
            scores: dict[int, float] = dict(index.taught_scores(tag)) if missing_only else {}
            for start in range(0, len(paths), STEP):
                values, read, _ = score(probe, paths[start : start + STEP], cache_dir=self.cache)
                scores.update((tracks[p], float(v)) for p, v in zip(read, values[:, 0]))
                self._set(tag, done=min(start + STEP, len(paths)))
            if os.path.isdir(self._probe_folder(tag)):  # not deleted meanwhile
                index.set_taught(tag, scores)
            self._set(tag, state="done")
        except Exception as err:  # the server stays up and says why in /v1/taught
            self._set(tag, state="failed", error=f"{type(err).__name__}: {err}".splitlines()[0])
