"""The beets plugin of music_tagger: tag a library's items, keep the scores as flexible attributes.

Install with ``pip install "music_tagger[beets]"`` and enable it in beets' config::

    plugins: musictagger
    musictagger:
        auto: no          # also tag the items of each import
        model: crnn       # crnn or cnn
        crops: null       # crops averaged per file (null: the package's default, 8)
        workers: null     # worker processes that read audio (null: the cores)
        runtime: onnx     # onnx (no TensorFlow) or tf
        thresholds: null  # a thresholds file of music-tagger calibrate
        min_score: null   # mt_tags: tags scoring at least this (null: thresholds, else 0.2)
        write: no         # write the fields below into the files (beets' own write)
        fields: [tags, model]   # of tags, model, scores: MUSIC_TAGGER_TAGS, _MODEL, _SCORES

``beet musictagger [-f] [-w] [QUERY]`` tags the matching items that are not tagged by
the same model yet (``-f``: all of them) and stores, on each item:

``mt_<tag>`` (float)
    each of the 50 tags' score, the name lower-cased with anything but letters and
    digits as ``_`` (``mt_jazz``, ``mt_hip_hop``, ``mt_female_vocalists``): query
    ranges with ``beet ls 'mt_jazz:0.3..'``;
``mt_tags`` (text)
    the item's tags, ``; ``-separated, best first: ``beet ls mt_tags:jazz`` (beets'
    substring match: ``mt_tags:rock`` also lists ``indie rock``; a regular
    expression ``'mt_tags::(^|; )rock(;|$)'`` matches the tag alone);
``mt_model`` (text)
    the network and its weights' sha256, to tell which items are tagged.

With ``-w`` (or ``write: yes``) the items are written through beets' own ``write``, so
that beets' rules apply; the attributes of ``fields`` (``mt_tags``, ``mt_model``, and
``mt_scores``, ``jazz=0.4441; ...``, kept only when named) go to the files' fields
``MUSIC_TAGGER_TAGS``, ``MUSIC_TAGGER_MODEL`` and ``MUSIC_TAGGER_SCORES``, the ones
``music-tagger write`` writes (docs/library.md); beets' own ``write`` writes them too.

Examples
--------
>>> from beetsplug.musictagger import attribute
>>> attribute("Hip-Hop"), attribute("female vocalists")
('mt_hip_hop', 'mt_female_vocalists')
"""

from __future__ import annotations

import os
import re
from typing import Any, ClassVar, Iterable

from beets import plugins, ui
from beets.dbcore import types

from music_tagger.registry import TAGS

__all__ = ["FILE_FIELDS", "MusicTaggerPlugin", "attribute"]


#: ``fields:`` of the config: the attributes written into the files, and their fields there.
FILE_FIELDS = {"tags": "MUSIC_TAGGER_TAGS", "model": "MUSIC_TAGGER_MODEL", "scores": "MUSIC_TAGGER_SCORES"}


def attribute(tag: str) -> str:
    """The flexible attribute that holds ``tag``'s score: ``mt_`` + its name as a field name."""
    return "mt_" + re.sub(r"[^a-z0-9]+", "_", tag.lower()).strip("_")


def _media_field(name: str) -> Any:
    """A mediafile field stored as ``name`` in each format (as music-tagger write stores it)."""
    from mediafile import ASFStorageStyle, MediaField, MP3DescStorageStyle, MP4StorageStyle, StorageStyle

    return MediaField(
        MP3DescStorageStyle(name), MP4StorageStyle(f"----:com.apple.iTunes:{name}"),
        StorageStyle(name), ASFStorageStyle(name),
    )  # fmt: skip


class MusicTaggerPlugin(plugins.BeetsPlugin):
    """``beet musictagger``: music_tagger's scores and tags as flexible attributes."""

    item_types: ClassVar[dict[str, types.Type]] = {
        **{attribute(t): types.Float(6) for t in TAGS},
        "mt_tags": types.STRING,
        "mt_model": types.STRING,
        "mt_scores": types.STRING,
    }

    def __init__(self) -> None:
        super().__init__()
        self.config.add({
            "auto": False, "model": "crnn", "crops": None, "workers": None, "runtime": "onnx",
            "thresholds": None, "min_score": None, "write": False, "fields": ["tags", "model"],
        })  # fmt: skip
        self.fields = self.config["fields"].as_str_seq()
        unknown = sorted(set(self.fields) - set(FILE_FIELDS))
        # an error raised here is a traceback and a missing command; it is said at use instead
        self.config_error = (
            f"musictagger: fields are {', '.join(FILE_FIELDS)}, not {', '.join(unknown)}" if unknown else None
        )
        self.fields = [f for f in self.fields if f in FILE_FIELDS]
        for name in self.fields:
            self.add_media_field(f"mt_{name}", _media_field(FILE_FIELDS[name]))
        if self.config["auto"].get(bool):
            self.import_stages = [self.imported]

    def commands(self) -> list[ui.Subcommand]:
        """The ``musictagger`` subcommand."""
        cmd = ui.Subcommand("musictagger", help="tag items with music_tagger (scores as mt_* attributes)")
        cmd.parser.add_option("-f", "--force", action="store_true", default=False,
                              help="tag also items already tagged by the same model")  # fmt: skip
        cmd.parser.add_option("-w", "--write", action="store_true", default=None,
                              help="write the attributes of 'fields' into the files (beets' write)")  # fmt: skip

        def func(lib: Any, opts: Any, args: list[str]) -> None:
            write = self.config["write"].get(bool) if opts.write is None else opts.write
            self.tag_items(lib.items(args), force=opts.force, write=write)

        cmd.func = func
        return [cmd]

    def imported(self, session: Any, task: Any) -> None:
        """Import stage (``auto: yes``): tag the items just imported."""
        self.tag_items(task.imported_items(), force=False, write=self.config["write"].get(bool))

    def tag_items(self, items: Iterable[Any], *, force: bool = False, write: bool = False) -> int:
        """Tag ``items`` (those not tagged by this model unless ``force``); return how many.

        Each item's scores, tags and model are stored (``item.store()``) as soon as
        it is tagged, so that a run killed half way keeps the items it did (the next
        skips them); a file that cannot be tagged is logged and left as it was.
        """
        from music_tagger.errors import MusicTaggerError
        from music_tagger.library.fields import model_identity, record_tags
        from music_tagger.tagging.tagger import iter_tag
        from music_tagger.util.checks import probability

        if self.config_error is not None:
            raise ui.UserError(self.config_error)
        cfg = self.config
        model = cfg["model"].as_choice(["crnn", "cnn"])
        identity = model_identity(model)
        todo = [item for item in items if force or item.get("mt_model") != identity]
        if not todo:
            self._log.info("nothing to tag: every item is tagged by {}", identity)
            return 0
        thresholds = cfg["thresholds"].get()
        try:  # a bad value of the config is one line (beets' UserError), before any tagging
            min_score = cfg["min_score"].get()
            min_score = None if min_score is None else probability(min_score, "min_score")
            results = iter_tag(  # each item stored as soon as it is tagged: a kill keeps those done
                [os.fsdecode(item.path) for item in todo], model=model, top_n=None,
                crops=cfg["crops"].get(), workers=cfg["workers"].get(), runtime=cfg["runtime"].as_choice(["onnx", "tf"]),
                thresholds=thresholds, progress=False,
            )  # fmt: skip
        except MusicTaggerError as err:
            raise ui.UserError(f"musictagger: {err}") from None
        done = 0
        try:
            for item, result in zip(todo, results, strict=True):
                if result.error is not None:
                    self._log.warning("{}: {}", item, result.error)
                    continue
                for name, score in zip(result.tags, result.scores, strict=True):
                    item[attribute(name)] = float(score)
                item["mt_tags"] = "; ".join(record_tags(result.to_dict(), min_score))
                if "scores" in self.fields:
                    item["mt_scores"] = "; ".join(f"{t}={s:.4f}" for t, s in result.top)
                item["mt_model"] = identity
                item.store()
                if write:
                    item.try_write()
                done += 1
        finally:
            results.close()  # stops the worker processes on Ctrl-C too
        self._log.info("tagged {} of {} items with {}", done, len(todo), identity)
        return done
