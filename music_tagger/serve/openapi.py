"""The OpenAPI 3.1 document of the HTTP API (``GET /v1/openapi.json``).

Written from one table, :data:`ENDPOINTS`: each route's method, summary, query
parameters and answers, so that the document and the routes of
:mod:`music_tagger.serve.app` are read side by side.

Examples
--------
>>> sorted(openapi()["paths"])[:2]
['/v1/model', '/v1/openapi.json']
"""

from __future__ import annotations

from typing import Any

__all__ = ["ENDPOINTS", "openapi"]

_FILTERS = [
    ("tag", "string", "a tag to filter on (repeat for several: all must hold)"),
    ("min", "number", "the score the tag before it must reach (default: its threshold in force)"),
    ("q", "string", "a piece of the path (case-insensitive, at most 4096 characters)"),
    ("sort", "string", "path, id or a tag (by its score)"),
    ("order", "string", "asc or desc (default: asc by path, desc by a score)"),
]
_PAGE = [("limit", "integer", "rows per page (default 50, at most 1000)"), ("offset", "integer", "rows skipped")]
_TAG = [
    ("top_n", "integer", "tags in top (default 10)"), ("crops", "integer", "crops averaged (default 8, at most 64)"),
    ("faithful", "boolean", "the original single centre crop"), ("taggram", "boolean", "also every crop's scores"),
    ("hop", "number", "seconds between taggram crops (at least 1)"),
]  # fmt: skip
_ID = [("id", "integer", "the track's id")]

#: ``(method, path, summary, query parameters, {status: meaning})`` of every route.
ENDPOINTS: list[tuple[str, str, str, list, dict[int, str]]] = [
    ("get", "/v1/openapi.json", "this document", [], {200: "OpenAPI 3.1"}),
    ("get", "/v1/model", "model, runtime, weights sha256, tags and thresholds in force", [], {200: "the model"}),
    ("post", "/v1/tag", "tag the audio file sent as the raw body", _TAG,
     {200: "scores, top, passed, taggram, timings", 400: "bad option or empty body", 408: "upload too slow",
      413: "body over the upload cap", 422: "not audio the decoders read"}),
    ("get", "/v1/tags", "each tag with the tracks whose score reaches min", [("min", "number", "default: thresholds")],
     {200: "tags and counts"}),
    ("get", "/v1/tracks", "tracks, filtered, searched, sorted and paged",
     _FILTERS + _PAGE + [("scores", "boolean", "every score of each row")], {200: "total and tracks", 400: "bad filter"}),
    ("get", "/v1/tracks.csv", "the filtered tracks with every score, as CSV", _FILTERS, {200: "text/csv"}),
    ("get", "/v1/playlist.m3u8", "the filtered tracks as an M3U8 playlist of audio URLs", _FILTERS, {200: "M3U8"}),
    ("get", "/v1/tracks/{id}", "one track: scores, top tags, taggram", _ID, {200: "the track", 404: "no such track"}),
    ("get", "/v1/tracks/{id}/audio", "the track's file (byte ranges: 206)", _ID,
     {200: "the file", 206: "a range", 403: "the file is not inside the library", 404: "no such track"}),
    ("get", "/v1/tracks/{id}/taggram.png", "the track's taggram drawn", _ID, {200: "PNG", 404: "no taggram"}),
    ("get", "/v1/status", "the background tagging job", [], {200: "state, done, total, errors, files_per_second, eta_s, left_out"}),
    ("get", "/v1/status/events", "the job's status as server-sent events, every second until it ends", [],
     {200: "text/event-stream"}),
    ("post", "/v1/teach", 'teach a tag of your own from the JSON body {"tag": NAME, "yes": [ids], "no": [ids]}: '
     "fitted at once, then the library is scored in the background (GET /v1/taught)", [],
     {202: "the tag's job: state scoring, done of total", 400: "bad name, too few, one-sided, a track on both sides, "
      "unknown ids", 409: "another tag is being taught", 413: "body over 1 MB", 422: "a marked track's audio is unreadable"}),
    ("get", "/v1/taught", "each taught tag: state (scoring, done, failed), done of total, examples", [],
     {200: "the taught tags"}),
    ("delete", "/v1/taught/{tag}", "forget a taught tag: its probe and its scores",
     [("tag", "string", "the taught tag")], {200: "deleted", 404: "no such taught tag", 409: "being taught"}),
]  # fmt: skip

_ERROR = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


def openapi() -> dict[str, Any]:
    """The OpenAPI document of :data:`ENDPOINTS`."""
    from .. import __version__

    paths: dict[str, Any] = {}
    for method, path, summary, params, answers in ENDPOINTS:
        parameters = [{"name": n, "in": "path" if f"{{{n}}}" in path else "query", "required": f"{{{n}}}" in path,
                       "description": d, "schema": {"type": t}} for n, t, d in params]  # fmt: skip
        operation: dict[str, Any] = {"summary": summary, "parameters": parameters, "responses": {
            str(code): {"description": meaning, **({"content": {"application/json": {"schema": _ERROR}}}
                                                   if code >= 400 else {})}
            for code, meaning in answers.items()}}  # fmt: skip
        if method == "post":
            kind = "application/json" if path == "/v1/teach" else "application/octet-stream"
            operation["requestBody"] = {"required": True, "content": {kind: {}}}
        paths.setdefault(path, {})[method] = operation
    return {"openapi": "3.1.0", "info": {"title": "music-tagger serve", "version": __version__}, "paths": paths}
