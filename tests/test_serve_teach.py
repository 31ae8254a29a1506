"""Teaching a tag through ``music-tagger serve``: ``POST /v1/teach`` fits it on the
marked tracks, the library's scores of it are those of the saved probe, it filters,
sorts, counts, exports and survives a restart like a model's tag, refusals are one
line with their status, and TensorFlow is never imported."""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from urllib.parse import quote

import numpy as np
import pytest

pytest.importorskip("starlette", reason="needs music_tagger[serve]")
from live_server import LiveServer, make_library

pytestmark = pytest.mark.reference
TAG = "my favourites / 90s"  # a slash too: DELETE /v1/taught/{tag} takes it


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """A library of two copies of each example clip (8 tracks), tagged."""
    base = tmp_path_factory.mktemp("teach")
    library = make_library(base / "library", copies=2)
    live = LiveServer(library, base / "index.sqlite")
    live.wait_done()
    yield live, library, base
    assert "HEAVY []" in live.stop(), "the server imported TensorFlow or Keras"


def _post(server, body) -> tuple[int, dict]:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, answer = server.request("/v1/teach", data, {"Content-Type": "application/json"}, method="POST")
    return status, json.loads(answer)


def _wait_taught(server, timeout: float = 120) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        taught = server.json("/v1/taught")["taught"]
        if all(t["state"] not in ("fitting", "scoring") for t in taught):
            return taught
        assert time.monotonic() < deadline, taught
        time.sleep(0.1)


def _ids(server) -> dict[str, int]:
    return {Path(t["path"]).name: t["id"] for t in server.json("/v1/tracks?limit=1000")["tracks"]}


def test_refusals_are_one_line_with_their_status(setup):
    server = setup[0]
    ids = sorted(_ids(server).values())
    cases = [
        ({"tag": TAG, "yes": ids[:2], "no": ids[2:5]}, 400, "at least 3"),
        ({"tag": TAG, "yes": ids[:3], "no": []}, 400, "at least 3"),
        ({"tag": TAG, "yes": ids[:3], "no": ids[2:5]}, 400, "both yes and no"),
        ({"tag": "Jazz", "yes": ids[:3], "no": ids[3:6]}, 400, "shadows the MSD tag"),
        ({"tag": TAG, "yes": ids[:3], "no": [ids[3], ids[4], 99999]}, 400, "no tagged track 99999"),
        ({"tag": TAG, "yes": ["1", 2, 3], "no": ids[3:6]}, 400, "list of track ids"),
        ({"tag": "", "yes": ids[:3], "no": ids[3:6]}, 400, "non-empty"),
        ({"tag": "x" * 61, "yes": ids[:3], "no": ids[3:6]}, 400, "printable name"),
        ({"tag": TAG, "yes": list(range(1000, 1201)), "no": ids[3:6]}, 400, "at most 200"),
        ({"yes": ids[:3]}, 400, "the body is JSON"),
        (b"{not json", 400, "not JSON"),
    ]
    for body, status, words in cases:
        got, answer = _post(server, body)
        assert got == status and list(answer) == ["error"] and words in answer["error"], (body, got, answer)
        assert "\n" not in answer["error"] and "Traceback" not in answer["error"]
    assert server.json("/v1/taught")["taught"] == []
    status, _, body = server.request("/v1/taught/" + quote("never taught"), method="DELETE")
    assert status == 404 and "no taught tag" in json.loads(body)["error"]


def test_a_taught_tag_is_scored_by_its_probe_and_acts_as_a_tag(setup):
    from music_tagger.embeddings.few_shot import score
    from music_tagger.embeddings.linear_probe import load_probe

    server = setup[0]
    ids = _ids(server)
    by_clip = lambda clip: sorted(i for name, i in ids.items() if name.startswith(clip))  # noqa: E731
    clips = sorted({name.rsplit("-", 1)[0] for name in ids})
    yes = by_clip(clips[0]) + by_clip(clips[1])[:1]
    no = by_clip(clips[2]) + by_clip(clips[3])[:1]
    started = time.monotonic()
    status, job = _post(server, {"tag": TAG, "yes": yes, "no": no})
    assert status == 202 and job["tag"] == TAG and job["state"] in ("scoring", "done"), job
    (done,) = _wait_taught(server)
    took = time.monotonic() - started
    assert (done["state"], done["done"], done["total"], done["yes"], done["no"]) == ("done", 8, 8, 3, 3), done
    # the index holds the saved probe's scores
    index = Path(str(server.index))
    (folder,) = (index.parent / (index.name + ".taught")).iterdir()
    probe = load_probe(folder)
    assert probe.tags == [TAG] and probe.feature_meta["runtime"] == "onnx"
    rows = server.json(f"/v1/tracks?tag={quote(TAG)}&min=0&scores=true&limit=1000&sort={quote(TAG)}")
    assert rows["total"] == 8
    served = {r["path"]: r["scores"][TAG] for r in rows["tracks"]}
    want, read, failed = score(probe, sorted(served), cache_dir=str(index) + ".features")
    assert failed == [] and read == sorted(served)
    np.testing.assert_allclose([served[p] for p in read], want[:, 0], rtol=0, atol=1e-5)
    assert [r["scores"][TAG] for r in rows["tracks"]] == sorted(served.values(), reverse=True)  # sorted by it
    # the copies of the clips marked yes score above those marked no, the held-out copy included
    assert min(served[p] for p in served if Path(p).name.startswith(clips[1])) > max(
        served[p] for p in served if Path(p).name.startswith((clips[2], clips[3]))
    )
    # it filters, counts, exports like a model's tag
    high = sorted(p for p, s in served.items() if s >= 0.5)
    listed = server.json(f"/v1/tracks?tag={quote(TAG)}&min=0.5&limit=1000")
    assert sorted(t["path"] for t in listed["tracks"]) == high
    tags = {t["tag"]: t for t in server.json("/v1/tags")["tags"]}
    assert tags[TAG] == {"tag": TAG, "min": 0.5, "count": len(high), "taught": True}
    assert "taught" not in tags["jazz"]
    _, _, text = server.request(f"/v1/tracks.csv?tag={quote(TAG)}&min=0")
    table = list(csv.DictReader(io.StringIO(text.decode())))
    assert {r["path"]: float(r[TAG]) for r in table} == pytest.approx(served, abs=1e-12)
    _, _, m3u = server.request(f"/v1/playlist.m3u8?tag={quote(TAG)}&min=0.5")
    assert m3u.decode().count("#EXTINF") == len(high)
    track = server.json(f"/v1/tracks/{yes[0]}")
    assert track["scores"][TAG] == pytest.approx(served[track["path"]], abs=1e-12)
    print(f"teach + scoring 8 tracks: {took:.1f} s")


def test_the_teaching_curl_examples_of_the_docs_work(setup, tmp_path):
    import subprocess

    server = setup[0]
    text = (Path(__file__).parent.parent / "docs" / "serve.md").read_text()
    block = text.split("These teaching commands are run by", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    commands = [line for line in block.splitlines() if line.startswith("curl ")]
    assert len(commands) >= 4 and any("DELETE" in c for c in commands)
    for command in commands:
        if "DELETE" in command:
            _wait_taught(server)  # a tag being scored is not deleted (409)
        command = command.replace("http://127.0.0.1:8000", server.url).replace("curl -s", "curl -sS --fail", 1)
        proc = subprocess.run(["bash", "-c", command], cwd=tmp_path, capture_output=True, timeout=120)
        assert proc.returncode == 0, (command, proc.stderr)
        if "-o " not in command:
            json.loads(proc.stdout)
    assert [t["tag"] for t in server.json("/v1/taught")["taught"]] == [TAG]  # road trip came and went


@pytest.mark.slow
def test_a_taught_tag_survives_a_restart_and_is_deleted(setup):
    """A restart (3.4 s with it, on 2 busy cores) keeps the tag; DELETE forgets it; an
    example that no longer decodes gets 422."""
    server, library, base = setup
    before = server.json(f"/v1/tracks?tag={quote(TAG)}&min=0&scores=true&limit=1000")
    assert before["total"] == 8
    assert "HEAVY []" in server.stop()
    again = LiveServer(library, base / "index.sqlite")
    try:
        again.wait_done()
        assert [t["tag"] for t in _wait_taught(again)] == [TAG]
        after = again.json(f"/v1/tracks?tag={quote(TAG)}&min=0&scores=true&limit=1000")
        assert after == before
        status, _, body = again.request("/v1/taught/" + quote(TAG), method="DELETE")
        assert status == 200 and json.loads(body) == {"deleted": TAG}
        assert TAG not in {t["tag"] for t in again.json("/v1/tags")["tags"]}
        status, _, body = again.request(f"/v1/tracks?tag={quote(TAG)}")
        assert status == 400 and "unknown tag" in json.loads(body)["error"]
        assert again.json("/v1/taught")["taught"] == []
        # an example whose file no longer decodes: 422, and nothing is taught
        ids = sorted(_ids(again).values())
        path = again.json(f"/v1/tracks/{ids[0]}")["path"]
        Path(path).write_bytes(b"not audio at all" * 100)
        status, answer = _post(again, {"tag": TAG, "yes": ids[:3], "no": ids[3:6]})
        assert status == 422 and list(answer) == ["error"] and "\n" not in answer["error"], answer
        assert again.json("/v1/taught")["taught"] == []
    finally:
        assert "HEAVY []" in again.stop(), "the server imported TensorFlow or Keras"
