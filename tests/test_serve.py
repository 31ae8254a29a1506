"""``music-tagger serve`` against a live server on 127.0.0.1: the API's answers equal the
library's, the audio stays inside the library, caps hold, a restart or a SIGKILL loses
and repeats nothing, and TensorFlow is never imported."""

from __future__ import annotations

import csv
import http.client
import io
import json
import os
import shutil
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import numpy as np
import pytest

pytest.importorskip("starlette", reason="needs music_tagger[serve]")  # installed by the README's test command
from live_server import LiveServer, make_library

from music_tagger.registry import TAGS, example
from music_tagger.tagging.records import read_records

pytestmark = pytest.mark.reference
#: calibrated thresholds of the module's server (the other tags never pass)
THRESHOLDS = {"jazz": 0.25, "Hip-Hop": 0.1, "electronic": 0.05}


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("serve")
    library = make_library(base / "library")
    outside = base / "outside"
    outside.mkdir()
    shutil.copyfile(example("bensound-cute"), outside / "secret.mp3")
    (library / "sub" / "escape.mp3").symlink_to(outside / "secret.mp3")  # a symlink leading out
    (library / "outlink").symlink_to(outside, target_is_directory=True)
    return library, outside


@pytest.fixture(scope="module")
def server(roots, tmp_path_factory):
    folder = tmp_path_factory.mktemp("index")
    (folder / "thresholds.json").write_text(json.dumps({"thresholds": THRESHOLDS}))
    live = LiveServer(
        roots[0], folder / "library.sqlite", "--upload-cap", "2", "--thresholds", folder / "thresholds.json"
    )
    live.wait_done()
    yield live
    assert "HEAVY []" in live.stop(), "the server imported TensorFlow or Keras"


def _records(server) -> list[dict]:
    return read_records(str(server.index) + ".records.jsonl")


def test_the_library_is_tagged_and_nothing_outside_it(server, roots):
    status = server.json("/v1/status")
    assert (status["state"], status["done"], status["total"], status["errors"]) == ("done", 4, 4, 0)
    listed = server.json("/v1/tracks?limit=1000")
    paths = sorted(t["path"] for t in listed["tracks"])
    assert listed["total"] == 4 and all(p.startswith(str(roots[0])) and "escape" not in p for p in paths)
    assert paths == sorted(r["path"] for r in _records(server))


def test_model_names_runtime_weights_tags_and_thresholds(server):
    model = server.json("/v1/model")
    assert model["runtime"] == "onnx" and model["tags"] == list(TAGS)
    assert len(model["weights_sha256"]) == 64 and model["calibrated"]
    assert model["thresholds"] == {t: THRESHOLDS.get(t, 1.0) for t in TAGS}


@pytest.mark.slow
def test_posted_audio_gets_the_scores_of_tag(server):
    from music_tagger import tag

    clip = example("bensound-dubstep")
    body = clip.read_bytes()
    for query, options in [("top_n=3", {}), ("faithful=true", {"faithful": True}),
                           ("taggram=true&hop=10", {"taggram": True, "hop": 10.0})]:  # fmt: skip
        got = server.json(f"/v1/tag?{query}", data=body)
        want = tag([clip], runtime="onnx", workers=0, top_n=None, **options)[0]
        np.testing.assert_allclose([got["scores"][t] for t in TAGS], want.scores, rtol=0, atol=1e-5)
        assert [t for t, _ in got["top"]] == [t for t, _ in want.top[: len(got["top"])]]
        assert got["timings"]["tag_s"] > 0
        assert got["passed"] == [t for t, s in want.top if s >= THRESHOLDS.get(t, float("inf"))]
        if options.get("taggram"):
            np.testing.assert_allclose(got["taggram"]["scores"], want.taggram.scores, rtol=0, atol=1e-5)
            np.testing.assert_allclose(got["taggram"]["start"], want.taggram.start)


def test_two_tag_filter_equals_the_same_filter_on_the_records(server):
    records = _records(server)
    scores = {r["path"]: dict(r["tags"]) for r in records}

    def expected(*filters):
        return sorted(p for p, s in scores.items() if all(s[t] >= low for t, low in filters))

    both = expected(("jazz", 0.1), ("instrumental", 0.08))
    assert 0 < len(both) < len(expected(("jazz", 0.1)))  # the second tag removes some
    got = server.json("/v1/tracks?tag=jazz&min=0.1&tag=instrumental&min=0.08&limit=1000")
    assert got["total"] == len(both) and sorted(t["path"] for t in got["tracks"]) == both
    ranked = server.json("/v1/tracks?tag=jazz&min=0&sort=jazz&scores=true")["tracks"]
    assert [t["path"] for t in ranked] == sorted(scores, key=lambda p: -scores[p]["jazz"])
    paged = server.json("/v1/tracks?sort=path&limit=2&offset=2")
    assert [t["path"] for t in paged["tracks"]] == sorted(scores)[2:4] and paged["total"] == 4
    assert [t["path"] for t in server.json("/v1/tracks?q=SUB/")["tracks"]] == sorted(p for p in scores if "/sub/" in p)
    table = list(
        csv.DictReader(
            io.StringIO(server.request("/v1/tracks.csv?tag=jazz&min=0.1&tag=instrumental&min=0.08")[2].decode())
        )
    )
    assert sorted(row["path"] for row in table) == both
    assert all(float(row["jazz"]) == scores[row["path"]]["jazz"] for row in table)
    playlist = server.request("/v1/playlist.m3u8?tag=jazz&min=0.1&tag=instrumental&min=0.08")[2].decode()
    assert playlist.startswith("#EXTM3U") and playlist.count("/audio") == len(both)
    counts = {c["tag"]: c["count"] for c in server.json("/v1/tags?min=0.1")["tags"]}
    assert counts["jazz"] == len(expected(("jazz", 0.1)))
    # a tag without its min: its calibrated threshold
    calibrated = server.json("/v1/tracks?tag=jazz&tag=electronic&min=0.01&limit=1000")  # the min is electronic's
    assert sorted(t["path"] for t in calibrated["tracks"]) == expected(("jazz", 0.25), ("electronic", 0.01))
    assert sorted(t["path"] for t in server.json("/v1/tracks?tag=jazz")["tracks"]) == expected(("jazz", 0.25))
    counts = {c["tag"]: c["count"] for c in server.json("/v1/tags")["tags"]}
    assert counts == {t: len(expected((t, THRESHOLDS.get(t, 1.0)))) for t in TAGS}


def test_track_details_and_its_taggram(server):
    track = server.json("/v1/tracks?limit=1")["tracks"][0]
    detail = server.json(f"/v1/tracks/{track['id']}")
    record = {r["path"]: r for r in _records(server)}[detail["path"]]
    assert detail["scores"] == dict(record["tags"]) and detail["taggram"] == record["taggram"]
    status, headers, png = server.request(f"/v1/tracks/{track['id']}/taggram.png")
    assert status == 200 and headers["content-type"] == "image/png" and png.startswith(b"\x89PNG")


def test_range_requests_give_206_and_the_right_bytes(server):
    track = server.json("/v1/tracks?limit=1")["tracks"][0]
    with open(track["path"], "rb") as f:
        data = f.read()
    for ask, want in [("bytes=0-99", data[:100]), ("bytes=1000-1999", data[1000:2000]), ("bytes=-50", data[-50:])]:
        status, headers, body = server.request(f"/v1/tracks/{track['id']}/audio", headers={"Range": ask})
        assert status == 206 and body == want, ask
        assert headers["content-range"].startswith("bytes ")
    status, _, body = server.request(f"/v1/tracks/{track['id']}/audio")
    assert status == 200 and body == data


def test_path_escapes_never_give_a_byte_outside_the_roots(server, roots):
    outside = roots[1]
    secret = (outside / "secret.mp3").read_bytes()
    attempts = ["/../../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2f..%2fetc%2fpasswd",
                "/v1/tracks/..%2f..%2fetc%2fpasswd/audio", "/v1/tracks/%2Fetc%2Fpasswd/audio",
                "//etc/passwd", "/v1/tracks//etc/passwd/audio", "/app.js/..%2f..%2f..%2fetc%2fpasswd",
                f"/v1/tracks/{outside / 'secret.mp3'}/audio", "/v1/tracks/1/audio/..%2f..%2foutside%2fsecret.mp3",
                "/static/..%2f..%2fsecret.mp3"]  # fmt: skip
    for path in attempts:
        status, _, body = server.request(path)
        assert status in (403, 404), path
        assert b"root:" not in body and secret[:4096] not in body, path
        assert json.loads(body)["error"], path
    # a track's file replaced by a symlink out of the root after it was tagged
    track = server.json("/v1/tracks?limit=1")["tracks"][0]
    kept = track["path"] + ".kept"
    os.rename(track["path"], kept)
    try:
        os.symlink(outside / "secret.mp3", track["path"])
        status, _, body = server.request(f"/v1/tracks/{track['id']}/audio")
        assert status == 403 and secret[:4096] not in body
    finally:
        os.remove(track["path"])
        os.rename(kept, track["path"])


def test_a_body_over_the_cap_gives_413_and_the_server_stays_up(server):
    big = os.urandom(3 * 2**20)  # the server was started with --upload-cap 2 (MB)
    for _ in range(5):  # the client is still sending when the answer comes: it gets the answer, not a reset
        status, _, body = server.request("/v1/tag", data=big)
        assert status == 413 and "cap" in json.loads(body)["error"]
    # no Content-Length (chunked): the cap holds while the body streams in
    host = urlsplit(server.url)
    conn = http.client.HTTPConnection(host.hostname, host.port, timeout=60)
    conn.request("POST", "/v1/tag", body=iter([big[i : i + 65536] for i in range(0, len(big), 65536)]),
                 encode_chunked=True)  # fmt: skip
    response = conn.getresponse()
    assert response.status == 413 and "cap" in json.loads(response.read())["error"]
    conn.close()
    assert server.request("/v1/tag", data=os.urandom(2**20 + 5))[0] == 422  # under the cap: read
    assert server.json("/v1/model")["runtime"] == "onnx"


@pytest.mark.parametrize("body", [b"garbage " * 1000, b"ID3" + b"\0" * 5000, b"RIFF" + os.urandom(4000)],
                         ids=["text", "id3-only", "riff-noise"])  # fmt: skip
def test_garbage_audio_gives_422_with_one_line(server, body):
    status, _, answer = server.request("/v1/tag", data=body)
    error = json.loads(answer)["error"]
    assert status == 422 and "\n" not in error and error.startswith("the uploaded audio")
    assert "Traceback" not in error and "/tmp/" not in error and "music-tagger-upload" not in error


def test_bad_requests_get_json_errors_of_one_shape(server):
    cases = [("/v1/tracks?limit=abc", 400), ("/v1/tracks?tag=nope", 400), ("/v1/tracks?tag=jazz&min=2", 400),
             ("/v1/tracks?tag=jazz&min=nan", 400), ("/v1/tracks?sort=evil;DROP", 400), ("/v1/tracks/999999", 404),
             ("/v1/tracks/1/taggram.png?x=1", 200), ("/nothing", 404), ("/v1/tag?top_n=0", 405),
             ("/v1/tracks?order=sideways", 400), ("/v1/tracks/99999999999999999999", 404),
             ("/v1/tracks?offset=99999999999999999999", 400), ("/v1/tracks?" + "&".join(["tag=jazz"] * 1200), 400),
             ("/v1/tracks?limit=-1", 400), ("/v1/tags?min=inf", 400), ("/v1/tracks?min=0.3&tag=jazz", 400),
             ("/v1/tracks?tag=jazz&min=0.3&min=0.4", 400)]  # fmt: skip
    for path, want in cases:
        status, headers, body = server.request(path)
        assert status == want, (path, status, body[:200])
        if want >= 400:
            assert headers["content-type"] == "application/json" and set(json.loads(body)) == {"error"}, path
    status, _, body = server.request("/v1/tag?top_n=0", data=b"x")
    assert status == 400 and "top_n" in json.loads(body)["error"]
    status, _, body = server.request("/v1/tag?crops=3&faithful=true", data=b"x")
    assert status == 400 and "faithful" in json.loads(body)["error"]
    for query, word in [("crops=65", "crops"), ("taggram=true&hop=0.5", "hop"), ("hop=5", "taggram")]:
        status, _, body = server.request(f"/v1/tag?{query}", data=b"x")
        assert status == 400 and word in json.loads(body)["error"], query
    status, _, body = server.request("/v1/tag", data=b"")
    assert status == 400 and "empty" in json.loads(body)["error"]


def test_openapi_document_names_every_route(server):
    spec = server.json("/v1/openapi.json")
    assert spec["openapi"].startswith("3.")
    for path in ("/v1/model", "/v1/tag", "/v1/tracks", "/v1/tracks/{id}/audio", "/v1/status/events"):
        assert path in spec["paths"], path
    assert "413" in spec["paths"]["/v1/tag"]["post"]["responses"]


def test_status_is_also_server_sent_events(server):
    status, headers, body = server.request("/v1/status/events")  # the job is done: one event, then the end
    assert status == 200 and headers["content-type"].startswith("text/event-stream")
    assert json.loads(body.decode().split("data: ", 1)[1])["state"] == "done"


def test_the_page_and_its_files_are_served(server):
    for path, kind in [("/", "text/html"), ("/app.js", "javascript"), ("/style.css", "text/css")]:
        status, headers, body = server.request(path)
        assert status == 200 and kind in headers["content-type"] and body, path


@pytest.mark.slow
def test_memory_after_500_requests_is_within_10_percent_of_after_50(server):
    ids = [t["id"] for t in server.json("/v1/tracks?limit=10")["tracks"]]
    clip = example("bensound-cute").read_bytes()
    paths = [f"/v1/tracks/{ids[3]}", f"/v1/tracks/{ids[1]}", "/v1/tracks?tag=jazz&min=0.1&q=sub",
             "/v1/tags", f"/v1/tracks/{ids[2]}/audio", "/v1/status", "/v1/tracks.csv", "/v1/model"]  # fmt: skip

    def run(n: int) -> None:  # one upload and one drawn taggram in 50 requests, the rest cheap
        for i in range(n):
            if i % 50 == 0:
                assert server.request("/v1/tag?faithful=true", data=clip)[0] == 200
            elif i % 50 == 25:
                assert server.request(f"/v1/tracks/{ids[0]}/taggram.png")[0] == 200
            else:
                assert server.request(paths[i % len(paths)])[0] == 200

    run(50)
    after_50 = server.rss_kb()
    run(450)
    after_500 = server.rss_kb()
    assert after_500 <= 1.10 * after_50, (after_50, after_500)


@pytest.mark.slow
def test_a_restart_tags_only_new_and_changed_files(tmp_path):
    library = make_library(tmp_path / "library")
    for extra in list(library.rglob("*.mp3"))[2:]:
        extra.unlink()  # two files
    index = tmp_path / "index.sqlite"
    first = LiveServer(library, index)
    assert first.wait_done()["total"] == 2
    assert "HEAVY []" in first.stop()
    odd = library / 'new "odd",\nname #1?.mp3'  # quotes, a comma, a newline, URL characters
    shutil.copyfile(example("bensound-dubstep"), odd)
    changed = sorted(library.rglob("*.mp3"))[0]
    os.utime(changed, (time.time(), os.stat(changed).st_mtime + 10))
    second = LiveServer(library, index)
    try:
        status = second.wait_done()
        assert (status["total"], status["skipped"], status["done"]) == (2, 1, 2)
        assert second.json("/v1/tracks")["total"] == 3
        table = list(csv.DictReader(io.StringIO(second.request("/v1/tracks.csv")[2].decode())))
        assert str(odd) in [row["path"] for row in table]
        playlist = second.request("/v1/playlist.m3u8?tag=rock&min=0")[2].decode().splitlines()
        assert len(playlist) == 1 + 2 * 3 and all(line.startswith(("#EXT", "http://")) for line in playlist)
        (odd_row,) = [t for t in second.json("/v1/tracks?q=odd")["tracks"]]
        assert second.request(f"/v1/tracks/{odd_row['id']}/audio")[2] == odd.read_bytes()
    finally:
        assert "HEAVY []" in second.stop()
    tagged = [r["path"] for r in read_records(str(index) + ".records.jsonl")]
    assert sorted(tagged) == sorted(map(str, [*library.rglob("*.mp3"), changed]))  # the changed file twice


@pytest.mark.slow
def test_sigkill_during_the_job_then_restart_under_load(tmp_path):
    library = make_library(tmp_path / "library", copies=2)
    files = sorted(map(str, library.rglob("*.mp3")))
    index = tmp_path / "index.sqlite"
    first = LiveServer(library, index)
    deadline = time.monotonic() + 120
    while first.json("/v1/status")["done"] < 2:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    first.stop(signal.SIGKILL)
    assert first.proc.returncode == -signal.SIGKILL
    second = LiveServer(library, index)
    try:
        running = second.json("/v1/status")  # the 6 files left take about 1 s here: it may be done already
        assert running["state"] in ("scanning", "tagging", "done") and running["skipped"] + running["total"] in (0, 8)
        answers = _load(second, requests=200, clients=8)
        assert len(answers) == 200 and not [a for a in answers if a >= 500], answers
        assert second.json("/v1/status")["done"] >= 0
        status = second.wait_done()
        assert status["skipped"] >= 2 and status["skipped"] + status["done"] == 8 and status["errors"] == 0
        records = read_records(str(index) + ".records.jsonl")
        assert sorted(r["path"] for r in records) == files  # none lost, none twice
        rows = second.json("/v1/tracks?limit=1000&scores=true")["tracks"]
        by_path = {r["path"]: dict(r["tags"]) for r in records}
        assert {t["path"]: t["scores"] for t in rows} == by_path
    finally:
        assert "HEAVY []" in second.stop()


def _load(server, *, requests: int, clients: int) -> list[int]:
    """Statuses of ``requests`` GETs from ``clients`` threads (a bounded loop)."""
    paths = ["/v1/tracks?tag=jazz&min=0.1", "/v1/status", "/v1/tags", "/v1/model", "/v1/tracks?q=sub&sort=rock",
             "/v1/tracks/1", "/v1/tracks/1/audio", "/v1/tracks/2", "/", "/v1/tracks/1/taggram.png"]  # fmt: skip
    lock, answers = threading.Lock(), []

    def one(i: int) -> None:
        status = server.request(paths[i % len(paths)], timeout=60)[0]
        with lock:
            answers.append(status)

    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(one, range(requests)))
    return answers


def test_the_curl_examples_of_the_docs_work(server, tmp_path):
    import re
    import subprocess
    from pathlib import Path

    text = (Path(__file__).parent.parent / "docs" / "serve.md").read_text()
    block = text.split("These commands are run by", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("curl ")]
    assert len(commands) >= 8
    shutil.copyfile(example("bensound-cute"), tmp_path / "song.mp3")
    for command in commands:
        command = command.replace("http://127.0.0.1:8000", server.url).replace("curl -s", "curl -sS --fail", 1)
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
        assert proc.returncode == 0, (command, proc.stderr)
        written = re.search(r"-o (\S+)", command)
        out = (tmp_path / written.group(1)).read_bytes() if written else proc.stdout
        assert out, command
        if not written and "events" not in command:
            json.loads(out)


def test_the_command_fails_in_one_line_and_warns_off_this_machine(tmp_path, capsys):
    import socket

    from music_tagger import cli

    (tmp_path / "bad.sqlite").write_text("not sqlite")
    busy = socket.socket()
    busy.bind(("0.0.0.0", 0))
    busy.listen(1)
    port = str(busy.getsockname()[1])
    cases = [(["serve", str(tmp_path / "missing")], "no library folder"),
             (["serve", "--index", str(tmp_path / "bad.sqlite")], "is not an index"),
             (["serve", "--index", str(tmp_path)], "is a folder"),
             (["serve", "--index", str(tmp_path / "i.sqlite"), "--host", "0.0.0.0", "--port", port], "cannot listen")]  # fmt: skip
    try:
        for argv, message in cases:
            assert cli.main(argv) == 1, argv
            err = capsys.readouterr().err
            assert message in err and "Traceback" not in err and err.count("error:") == 1, err
        assert "warning: listening on 0.0.0.0" in err  # the last case: another host than this machine
    finally:
        busy.close()
    assert cli.main(["serve", "--port", "70000"]) == 2
    assert cli.main(["serve", "--help"]) == 0
    out = capsys.readouterr().out
    assert all(
        option in out for option in ["--host", "--port", "--index", "--workers", "--upload-cap", "docs/serve.md"]
    )


def test_the_index_keeps_the_latest_record_of_a_path_and_its_id(tmp_path):
    from music_tagger.errors import DataError
    from music_tagger.serve.index import Index

    def record(path, jazz, error=None):
        tags = [] if error else [["jazz", jazz], ["rock", 1 - jazz]]
        return {"path": path, "tags": tags, "error": error, "size": 1, "mtime": 2.0}

    index = Index(str(tmp_path / "i.sqlite"), ["jazz", "rock"])
    index.upsert([record("/m/a%_b.mp3", 0.9), record("/m/axyb.mp3", 0.2), record("/m/bad.mp3", 0, "unreadable")],
                 records_size=10)  # fmt: skip
    ids = {t["path"]: t["id"] for t in index.query(limit=10)[1]}
    assert sorted(ids) == ["/m/a%_b.mp3", "/m/axyb.mp3"]  # the failed file is not listed
    assert [t["path"] for t in index.query(search="%_")[1]] == ["/m/a%_b.mp3"]  # wildcards match themselves
    index.rebuild([record("/m/axyb.mp3", 0.2), record("/m/a%_b.mp3", 0.9), record("/m/axyb.mp3", 0.7)], records_size=20)
    total, rows = index.query([("jazz", 0.5)], sort="jazz", descending=True, scores=True)
    assert total == 2 and [(t["path"], t["scores"]["jazz"]) for t in rows] == [
        ("/m/a%_b.mp3", 0.9),
        ("/m/axyb.mp3", 0.7),
    ]
    assert {t["path"]: t["id"] for t in rows} == ids and index.records_size == 20
    assert index.track(ids["/m/axyb.mp3"])["scores"] == {"jazz": 0.7, "rock": 1 - 0.7}
    assert index.remove_missing({"/m/axyb.mp3"}) == 1 and index.query()[0] == 1
    with pytest.raises(DataError, match="other tags"):
        Index(str(tmp_path / "i.sqlite"), ["rock", "jazz"])


def test_a_file_name_that_is_not_utf8_is_left_out_in_one_line_and_the_job_goes_on(tmp_path, caplog):
    from music_tagger.serve.library import Library

    library = tmp_path / "library"
    library.mkdir()
    shutil.copyfile(example("bensound-cute"), library / "b.mp3")
    latin1 = os.fsencode(library) + b"/caf\xe9.mp3"  # a name from a Latin-1 machine
    shutil.copyfile(example("bensound-cute"), latin1)
    lib = Library([library], tmp_path / "index.sqlite", workers=0)
    with caplog.at_level("WARNING", logger="music_tagger.serve"):
        lib._run()  # the background job, in this thread
    status = lib.status()
    assert status["state"] == "done" and status["error"] is None, status
    assert (status["done"], status["left_out"]) == (1, 1)
    assert [t["path"] for t in lib.index.query()[1]] == [str(library / "b.mp3")]
    (line,) = [r.getMessage() for r in caplog.records if "not UTF-8" in r.getMessage()]
    assert "caf\\xe9.mp3" in line and "\n" not in line


def test_a_file_that_vanishes_after_the_listing_does_not_stop_the_job(tmp_path):
    from music_tagger.serve.library import Library

    class Vanishing(Library):
        def files(self):  # a file removed between the listing and its stat
            return super().files() + [str(tmp_path / "library" / "gone.mp3")]

    (tmp_path / "library").mkdir()
    shutil.copyfile(example("bensound-cute"), tmp_path / "library" / "b.mp3")
    lib = Vanishing([tmp_path / "library"], tmp_path / "index.sqlite", workers=0)
    lib._run()
    status = lib.status()
    assert status["state"] == "done" and (status["done"], status["total"]) == (1, 1), status
    assert [t["path"] for t in lib.index.query()[1]] == [str(tmp_path / "library" / "b.mp3")]


def test_a_search_longer_than_any_path_is_400_not_a_crash(server):
    from urllib.parse import quote

    assert server.json("/v1/tracks?q=" + "a" * 4096) == {"total": 0, "tracks": []}
    # 10,000 characters: past the app's cap (no path is longer than 4096) and still
    # inside uvicorn's request-line limit, so that the answer is the app's; SQLite
    # refuses a LIKE pattern of 50,000 ("LIKE pattern too complex")
    for path in ("/v1/tracks", "/v1/tracks.csv", "/v1/playlist.m3u8"):
        status, _, body = server.request(path + "?q=" + quote("a" * 10_000))
        assert status == 400 and "at most 4096" in json.loads(body)["error"], (path, body[:200])


def test_one_folder_typed_twice_or_inside_another_root_is_tagged_once(tmp_path, monkeypatch):
    from music_tagger.serve.library import Library

    library = tmp_path / "library"
    (library / "sub").mkdir(parents=True)
    shutil.copyfile(example("bensound-cute"), library / "a.mp3")
    shutil.copyfile(example("bensound-cute"), library / "sub" / "b.mp3")
    monkeypatch.chdir(tmp_path)
    lib = Library(["library", "library/", "./library/../library", str(library / "sub")], "index.sqlite", workers=0)
    assert lib.files() == [str(library / "a.mp3"), str(library / "sub" / "b.mp3")]
    lib._run()
    assert lib.status()["done"] == 2
    assert len(read_records(str(tmp_path / "index.sqlite.records.jsonl"))) == 2  # not 6


def test_a_client_gone_during_the_upload_is_a_400_not_an_unexpected_error(tmp_path):
    import asyncio

    from starlette.requests import ClientDisconnect

    from music_tagger.serve.requests import ApiError, read_upload

    async def chunks():
        yield b"RIFF" + b"\0" * 1000
        raise ClientDisconnect()  # what request.stream() raises when curl is killed

    with pytest.raises(ApiError) as err:
        asyncio.run(read_upload(chunks(), str(tmp_path), cap=2**20, timeout=10))
    assert err.value.status == 400 and "went away" in err.value.message
