"""The HTTP API and the web page of ``music-tagger serve``, as one Starlette app.

:func:`create_app` gives an ASGI application (run it with uvicorn, hypercorn or
behind Ray Serve) for a :class:`music_tagger.serve.library.Library`. Routes are
under ``/v1`` (described by :func:`music_tagger.serve.openapi.openapi` at
``/v1/openapi.json``); the page is ``/``. Every error is ``{"error": "..."}``
with its status; an unexpected one is logged with its traceback on the server's
stderr and answered 500 without it. The model runs on onnxruntime: nothing here
imports TensorFlow or Keras.

Examples
--------
>>> from music_tagger.serve import Library, create_app
>>> app = create_app(Library(["/music"]))            # doctest: +SKIP
>>> import uvicorn; uvicorn.run(app, port=8000)      # doctest: +SKIP
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import mimetypes
import os
import tempfile
import time
from functools import partial
from importlib import resources
from typing import Any, Mapping

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from ..errors import MusicTaggerError
from ..registry import TAGS, registry
from ..tagging.readback import csv_text
from ..util.checks import positive_int
from ..util.workers import threads
from ..vocabulary import MSD_NETWORKS
from .library import Library, inside
from .openapi import openapi
from .requests import (
    ApiError,
    drain,
    flag,
    number,
    read_upload,
    tag_filters,
    tag_options,
)
from .teaching import TAUGHT_THRESHOLD, TeachError

__all__ = ["DEFAULT_THRESHOLD", "DEFAULT_UPLOAD_CAP", "create_app"]

#: Threshold of every tag when no calibrated thresholds are given: the CRNN's scores
#: are low (the jazz example's best is 0.44), so 0.5 would pass almost nothing.
DEFAULT_THRESHOLD = 0.2
#: Largest ``POST /v1/tag`` body: 64 MB, a 4 minute WAV at 44.1 kHz stereo is 42 MB.
DEFAULT_UPLOAD_CAP = 64 * 2**20
#: Longest ``q`` (search) of ``/v1/tracks``: a path is at most 4096 bytes on Linux.
MAX_SEARCH = 4096
#: Largest ``POST /v1/teach`` body (a list of ids: 1 MB is 100,000 of them).
TEACH_CAP = 2**20
#: Seconds an upload may take to arrive.
UPLOAD_TIMEOUT = 120.0
_STATIC = {"/": "index.html", "/app.js": "app.js", "/style.css": "style.css"}
_LOG = logging.getLogger("music_tagger.serve")


def _json(data: Any, status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status)


def _error(status: int, message: str) -> JSONResponse:
    return _json({"error": message}, status)


def create_app(library: Library, *, thresholds: Mapping[str, float] | str | os.PathLike | None = None,
               upload_cap: int = DEFAULT_UPLOAD_CAP, tag_slots: int = 1, start: bool = True) -> Starlette:  # fmt: skip
    """The ASGI app serving ``library``.

    Parameters
    ----------
    library : Library
    thresholds : mapping or path, optional
        Calibrated thresholds, as :func:`music_tagger.tagging.load_thresholds` reads
        them (a tag left out never passes): ``passed`` of ``POST /v1/tag``, and where
        filters and the page's sliders start. Default: :data:`DEFAULT_THRESHOLD` for all.
    upload_cap : int
        Largest ``POST /v1/tag`` body in bytes (413 above).
    tag_slots : int
        ``POST /v1/tag`` requests tagged at once (others wait their turn), beside
        the background job.
    start : bool
        Start the library's background job with the app (and stop it with it).
    """
    from ..tagging.thresholds import load_thresholds

    upload_cap, tag_slots = positive_int(upload_cap, "upload_cap"), positive_int(tag_slots, "tag_slots")
    calibrated = thresholds is not None
    passes = load_thresholds(thresholds, TAGS) if calibrated else dict.fromkeys(TAGS, DEFAULT_THRESHOLD)
    threshold = {t: min(v, 1.0) for t, v in passes.items()}  # a tag that never passes (inf): 1 on a slider

    # uploads are tagged on threads of their own, at most tag_slots at once: the same
    # few threads, so that their buffers are reused (fresh threads each get a malloc arena)
    uploads = threads(tag_slots, "upload")
    drawing = threads(1, "draw")
    # index reads off the event loop (a page of 100,000 tracks takes up to 0.3 s)
    reading = threads(2, "read")
    fitting = threads(1, "fit")  # POST /v1/teach fits here; the library is scored on the teacher's own thread
    teacher = library.teacher

    def limits() -> dict[str, float]:
        """The threshold of every tag, the taught ones included (their probe's 0.5)."""
        return {**threshold, **dict.fromkeys(library.index.taught_tags(), TAUGHT_THRESHOLD)}

    async def read(fn, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(reading, partial(fn, *args, **kwargs))

    async def page(request: Request) -> Response:
        name = _STATIC[request.url.path]
        data = resources.files(__package__).joinpath("static", name).read_bytes()
        kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
        return Response(data, media_type=kind, headers={"Cache-Control": "no-cache"})

    async def model(request: Request) -> Response:
        weights = registry()["weights"][MSD_NETWORKS["crnn"].weights["theano"]]
        return _json({"model": "crnn", "runtime": "onnx",
                      "weights": os.path.basename(weights["path"]), "weights_sha256": weights["sha256"],
                      "tags": list(TAGS), "thresholds": threshold, "calibrated": calibrated,
                      "hop": library.hop, "upload_cap": upload_cap})  # fmt: skip

    async def tag_file(request: Request) -> Response:
        options = tag_options(request.query_params)
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > upload_cap:
            await drain(request.stream())
            return _error(413, f"the audio is over the upload cap of {upload_cap} bytes")
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="music-tagger-upload-") as folder:
            path = await read_upload(request.stream(), folder, cap=upload_cap, timeout=UPLOAD_TIMEOUT)
            received = time.perf_counter()
            result = await asyncio.get_running_loop().run_in_executor(uploads, _tag_one, path, options)
        if result.error is not None:
            return _error(422, result.error.replace(path, "the uploaded audio"))
        ranked = sorted(zip(result.tags, map(float, result.scores)), key=lambda p: -p[1])
        body = {"scores": dict(ranked), "top": [[t, s] for t, s in result.top],
                "passed": [t for t, s in ranked if s >= passes[t]], "n_crops": result.n_crops,
                "timings": {"upload_s": received - started, "tag_s": time.perf_counter() - received}}  # fmt: skip
        if result.taggram is not None:
            body["taggram"] = {"tags": list(result.taggram.tags), **result.taggram.to_dict()}
        return _json(body)

    def filters(request: Request) -> dict[str, Any]:
        pairs = list(request.query_params.multi_items())
        sort = request.query_params.get("sort", "path")
        search = request.query_params.get("q") or None
        if search is not None and len(search) > MAX_SEARCH:  # SQLite refuses a LIKE of 50,000
            raise ApiError(400, f"q must be at most {MAX_SEARCH} characters (no path is longer), got {len(search)}")
        return {"filters": tag_filters(pairs, limits()), "search": search,
                "sort": sort, "descending": request.query_params.get("order", "asc" if sort == "path" else "desc") == "desc"}  # fmt: skip

    async def query(request: Request, limit: int | None = None, **extra: Any) -> tuple[int, list]:
        params = request.query_params
        limit = min(number(params, "limit", "int", 50), 1000) if limit is None else limit
        if params.get("order", "asc") not in ("asc", "desc"):
            raise ApiError(400, "order must be asc or desc")
        try:
            return await read(library.index.query, **filters(request), limit=limit,
                              offset=number(params, "offset", "offset", 0), **extra)  # fmt: skip
        except MusicTaggerError as err:
            raise ApiError(400, str(err)) from None

    async def tracks(request: Request) -> Response:
        total, rows = await query(request, scores=flag(request.query_params, "scores"))
        return _json({"total": total, "tracks": rows})

    async def tracks_csv(request: Request) -> Response:
        _, rows = await query(request, limit=10**9, scores=True)
        names = [*TAGS, *library.index.taught_tags()]  # a track not scored yet by a taught tag: empty
        table = [["id", "path", *names]] + [[r["id"], r["path"], *(repr(r["scores"].get(t)) if r["scores"].get(t) is not None
                                                                   else "" for t in names)] for r in rows]  # fmt: skip
        return Response(csv_text(table), media_type="text/csv")

    async def playlist(request: Request) -> Response:
        _, rows = await query(request, limit=10**9)
        base = str(request.base_url).rstrip("/")
        lines = ["#EXTM3U"]
        for r in rows:
            name = "".join(c if c.isprintable() else " " for c in os.path.basename(r["path"]))  # one line each
            lines += [f"#EXTINF:-1,{name}", f"{base}/v1/tracks/{r['id']}/audio"]
        return Response("\n".join(lines) + "\n", media_type="application/vnd.apple.mpegurl")

    async def known(request: Request) -> dict[str, Any]:
        track = (
            None if request.path_params["id"] >= 2**63 else await read(library.index.track, request.path_params["id"])
        )
        if track is None:
            raise ApiError(404, f"no track {request.path_params['id']}")
        return track

    async def track(request: Request) -> Response:
        return _json(await known(request))

    async def audio(request: Request) -> Response:
        path = (await known(request))["path"]
        if not inside(path, library.roots) or not os.path.isfile(path):
            raise ApiError(403 if os.path.exists(path) else 404, "the track's file is not inside the library")
        return FileResponse(os.path.realpath(path), media_type=mimetypes.guess_type(path)[0] or "audio/mpeg")

    async def taggram_png(request: Request) -> Response:
        data = (await known(request))["taggram"]
        if data is None:
            raise ApiError(404, "the track has no taggram")
        png = await asyncio.get_running_loop().run_in_executor(drawing, _png, data)
        return Response(png, media_type="image/png")

    async def tags(request: Request) -> Response:
        low = number(request.query_params, "min", "prob")
        lows = {t: v if low is None else low for t, v in limits().items()}
        counts = await read(library.index.counts, lows)
        return _json({"tags": [{"tag": t, "min": lows[t], "count": counts[t], **({"taught": True} if t not in threshold else {})}
                               for t in lows]})  # fmt: skip

    async def teach(request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > TEACH_CAP:
                raise ApiError(413, f"the body is over {TEACH_CAP} bytes")
        try:
            data = json.loads(body)
        except ValueError:
            raise ApiError(400, 'the body is not JSON: {"tag": NAME, "yes": [track ids], "no": [track ids]}') from None
        try:
            job = await asyncio.get_running_loop().run_in_executor(fitting, teacher.teach, data)
        except TeachError as err:
            raise ApiError(err.status, err.message) from None
        return _json(job, 202)

    async def taught(request: Request) -> Response:
        return _json({"taught": await read(teacher.status)})

    async def forget(request: Request) -> Response:
        tag = request.path_params["tag"]
        try:
            known = await read(teacher.delete, tag)
        except TeachError as err:
            raise ApiError(err.status, err.message) from None
        if not known:
            raise ApiError(404, f"no taught tag {tag[:60]!r}")
        return _json({"deleted": tag})

    async def status(request: Request) -> Response:
        return _json(library.status())

    async def events(request: Request) -> Response:
        async def stream():
            while True:
                now = library.status()
                yield f"data: {json.dumps(now)}\n\n"
                if now["state"] in ("done", "failed", "stopped") or await request.is_disconnected():
                    return
                await asyncio.sleep(1.0)

        return StreamingResponse(stream(), media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    async def spec(request: Request) -> Response:
        return _json(openapi())

    async def api_error(request: Request, exc: ApiError) -> Response:
        return _error(exc.status, exc.message)

    async def http_error(request: Request, exc: HTTPException) -> Response:
        return _error(exc.status_code, exc.detail if exc.status_code != 404 else f"no such page: {request.url.path}")

    async def crash(request: Request, exc: Exception) -> Response:
        _LOG.exception("unexpected error on %s %s", request.method, request.url.path)
        return _error(500, "internal error (the server's log has the details)")

    routes = [Route(p, page) for p in _STATIC] + [
        Route("/v1/openapi.json", spec), Route("/v1/model", model),
        Route("/v1/tag", tag_file, methods=["POST"]), Route("/v1/tags", tags),
        Route("/v1/tracks", tracks), Route("/v1/tracks.csv", tracks_csv), Route("/v1/playlist.m3u8", playlist),
        Route("/v1/tracks/{id:int}", track), Route("/v1/tracks/{id:int}/audio", audio),
        Route("/v1/tracks/{id:int}/taggram.png", taggram_png),
        Route("/v1/status", status), Route("/v1/status/events", events),
        Route("/v1/teach", teach, methods=["POST"]), Route("/v1/taught", taught),
        Route("/v1/taught/{tag:path}", forget, methods=["DELETE"]),
    ]  # fmt: skip

    def lifespan(app: Starlette):
        return _Lifespan(library, start, [uploads, drawing, reading, fitting])

    return Starlette(routes=routes, lifespan=lifespan,
                     exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: crash})  # fmt: skip


class _Lifespan:
    """Start the library's job with the app and stop it after."""

    def __init__(self, library: Library, start: bool, pools: list[Any]):
        self.library, self.start, self.pools = library, start, pools

    async def __aenter__(self) -> None:
        if self.start:
            self.library.start()

    async def __aexit__(self, *exc: Any) -> None:
        await anyio.to_thread.run_sync(self.library.stop)
        self.library.teacher.close()
        for pool in self.pools:
            pool.shutdown(wait=False, cancel_futures=True)


def _tag_one(path: str, options: dict[str, Any]):
    from ..tagging import iter_tag

    return next(iter(iter_tag([path], runtime="onnx", workers=0, progress=False, **options)))


def _png(data: dict[str, Any]) -> bytes:
    from ..tagging.taggram import Taggram, plot_taggram

    buf = io.BytesIO()
    plot_taggram(Taggram.from_dict(data), top_n=10, dpi=80).savefig(buf, format="png")
    return buf.getvalue()
