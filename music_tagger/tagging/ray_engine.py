"""Tagging on a Ray cluster: the same per-file work as the local pipeline, on Ray Data.

Install the extra: ``pip install "music_tagger[ray]"``. :func:`iter_tag_ray`
makes a dataset of the files and runs :class:`RayTagger`, a callable class, with
``Dataset.map_batches``: each Ray actor builds the model once, then reads and
scores batches of files with exactly the code of the local engine
(:func:`music_tagger.tagging.pipeline.run` in the actor's process), so the records are
the local engine's. The driver receives the results in input order and builds the
same :class:`~music_tagger.tagging.tagger.TagResult` records (``music-tagger tag
--engine ray`` writes them like the local engine does).

Ray is connected to as usual: a running ``ray.init(...)`` in the caller, else
``RAY_ADDRESS``, else a local Ray started on first use. The actors need the
package and the weights: on a cluster, give them through a ``runtime_env`` (e.g.
``ray.init(runtime_env={"pip": ["music_tagger"], "env_vars":
{"MUSIC_TAGGER_WEIGHTS_DIR": ...}})``); ``MUSIC_TAGGER_WEIGHTS_DIR`` of the
driver is passed to the actors when it is set.

Examples
--------
>>> import ray
>>> from music_tagger.tagging.ray_engine import iter_tag_ray
>>> ray.init(num_cpus=8)                                 # doctest: +SKIP
>>> for r in iter_tag_ray(["/music"], workers=4):         # doctest: +SKIP
...     print(r.path, r.top[:3])
"""

from __future__ import annotations

import os
import pickle
import warnings
from typing import Any, Iterator, Sequence

import numpy as np

from ..errors import ParameterError

__all__ = ["RayTagger", "iter_tag_ray", "tag_ray"]


class RayTagger:
    """Ray Data callable class: builds the model once, then tags batches of files.

    Parameters
    ----------
    model : "crnn", "cnn" or keras.Model
    run_options : dict
        Keyword arguments of :func:`music_tagger.tagging.pipeline.run` (``crops``,
        ``resampler``, ``starts``, ``batch_size``, ``keep_crops``).

    A batch is ``{"index": int array, "path": str array}``; the output adds
    ``"result"``: each file's pickled :class:`music_tagger.tagging.pipeline.FileScores`.
    """

    def __init__(self, model: Any, run_options: dict[str, Any]):
        from .tagger import get_model

        self.model = get_model(model)
        self.options = dict(run_options, workers=0)  # read in the actor itself

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        from .pipeline import run

        paths = [str(p) for p in batch["path"]]
        results = list(run(paths, self.model, **self.options))
        payload = np.empty(len(results), dtype=object)
        payload[:] = [pickle.dumps(r) for r in results]
        return {"index": np.asarray(batch["index"]), "path": np.asarray(paths), "result": payload}


def iter_tag_ray(
    paths: Any,
    model: Any = "crnn",
    top_n: int | None = 10,
    crops: int | None = None,
    faithful: bool = False,
    batch_size: int = 8,
    *,
    resampler: str | None = None,
    tags: Sequence[str] | None = None,
    taggram: bool = False,
    hop: float | None = None,
    thresholds: Any = None,
    files_per_batch: int = 4,
    workers: int | None = None,
    actors: int | None = None,
) -> Iterator:
    """:func:`music_tagger.tagging.tagger.iter_tag` on Ray Data: the same results, in input order.

    Parameters
    ----------
    paths, model, top_n, crops, faithful, batch_size, resampler, tags, taggram, hop, thresholds
        As for :func:`music_tagger.tagging.tagger.tag` (checked before Ray starts).
    files_per_batch : int
        Files per ``map_batches`` batch (one call of an actor).
    workers : int, optional
        Ray actors, each with its own model and 1 CPU (``tag --engine ray --workers``);
        default: the cluster's CPUs.
    actors : int, optional
        The old name of ``workers``, still accepted (DeprecationWarning).

    Yields
    ------
    music_tagger.tagging.tagger.TagResult
    """
    import ray

    from ..audio.files import expand_paths
    from ..util.checks import positive_int
    from .tagger import _result, prepare_run

    files_per_batch = positive_int(files_per_batch, "files_per_batch")
    if actors is not None:
        if workers is not None:
            raise ParameterError("give workers, not also actors (its old name)")
        warnings.warn("iter_tag_ray(actors=N) is now workers=N", DeprecationWarning, stacklevel=2)
        workers = actors
    workers = positive_int(workers, "workers", allow_none=True)
    options, tags, top_n, threshold_of = prepare_run(
        model, top_n, crops, faithful, batch_size, resampler=resampler, tags=tags,
        taggram=taggram, hop=hop, thresholds=thresholds,
    )  # fmt: skip
    files = expand_paths(paths)
    if not files:
        return iter(())
    if not ray.is_initialized():
        ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False, log_to_driver=False)
    if workers is None:
        workers = max(1, int(ray.cluster_resources().get("CPU", 1)))
    remote_args: dict[str, Any] = {}
    if os.environ.get("MUSIC_TAGGER_WEIGHTS_DIR"):
        weights_dir = os.path.abspath(os.environ["MUSIC_TAGGER_WEIGHTS_DIR"])
        remote_args["runtime_env"] = {"env_vars": {"MUSIC_TAGGER_WEIGHTS_DIR": weights_dir}}
    ctx = ray.data.DataContext.get_current()
    ctx.execution_options.preserve_order = True
    dataset = ray.data.from_items([{"index": i, "path": os.path.abspath(f)} for i, f in enumerate(files)])
    dataset = dataset.map_batches(
        RayTagger,
        fn_constructor_args=(model, options),
        batch_size=files_per_batch,
        batch_format="numpy",
        concurrency=min(workers, len(files)),
        num_cpus=1,
        **remote_args,
    )

    def results() -> Iterator:
        for row in dataset.iter_rows():
            scores = pickle.loads(row["result"])
            scores.path = files[int(row["index"])]  # as given, like the local engine
            yield _result(scores, tags, top_n, taggram, threshold_of)

    return results()


def tag_ray(paths: Any, *args: Any, **kwargs: Any) -> list:
    """:func:`iter_tag_ray` as a list (like :func:`music_tagger.tag`)."""
    return list(iter_tag_ray(paths, *args, **kwargs))
