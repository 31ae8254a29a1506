"""The page of ``music-tagger serve`` in a real browser: Debian's chromium, headless,
driven by playwright (no browser download). It loads without a console error, its
chips, filter, player, taggram and drop zone show what the API says, and a tag taught
from marked rows becomes a chip that filters."""

from __future__ import annotations

import base64
import json

import pytest

pytest.importorskip("starlette", reason="needs music_tagger[serve]")
playwright = pytest.importorskip("playwright.sync_api", reason="needs music_tagger[browser]")
from live_server import LiveServer, make_library  # noqa: E402

from music_tagger.registry import example  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
pytestmark = [pytest.mark.reference, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("browser")
    live = LiveServer(make_library(base / "library"), base / "index.sqlite")
    live.wait_done()
    yield live
    live.stop()


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module (playwright's sync API runs one at a time)."""
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--autoplay-policy=no-user-gesture-required"])  # fmt: skip
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page(server, browser, tmp_path_factory):
    tab = browser.new_page(viewport={"width": 1280, "height": 900})
    tab.errors = []
    tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
    tab.on("pageerror", lambda e: tab.errors.append(str(e)))
    tab.shots = tmp_path_factory.mktemp("screenshots")
    tab.goto(server.url + "/")
    tab.wait_for_selector("#chips .chip")
    yield tab
    tab.close()


def _listed(page) -> list[str]:
    return page.eval_on_selector_all("#list tbody tr td:first-child", "cells => cells.map(c => c.title)")


def test_the_page_loads_and_its_chips_show_the_library_tags(page, server):
    page.wait_for_function("document.querySelector('#job-text').textContent.startsWith('done')")
    counts = {c["tag"]: c["count"] for c in server.json("/v1/tags")["tags"]}
    shown = page.eval_on_selector_all(
        "#chips .chip", "chips => chips.map(c => [c.dataset.tag, Number(c.querySelector('.n').textContent)])"
    )
    assert dict(shown) == counts and any(counts.values())
    assert sorted(_listed(page)) == sorted(t["path"] for t in server.json("/v1/tracks?limit=1000")["tracks"])
    page.screenshot(path=page.shots / "loaded.png")
    assert page.errors == []


def test_filtering_by_a_tag_shows_exactly_the_tracks_of_the_api(page, server):
    page.click("#chips .chip[data-tag=jazz]")
    low = server.json("/v1/model")["thresholds"]["jazz"]
    want = sorted(t["path"] for t in server.json(f"/v1/tracks?tag=jazz&min={low}&limit=1000")["tracks"])
    assert 0 < len(want) < 4
    page.wait_for_function(f"document.querySelectorAll('#list tbody tr').length === {len(want)}")
    assert sorted(_listed(page)) == want
    # the slider moves the filter's threshold: at 0 every track passes
    page.eval_on_selector(".filter input[type=range]", "s => { s.value = 0; s.dispatchEvent(new Event('change')); }")
    page.wait_for_function("document.querySelectorAll('#list tbody tr').length === 4")
    page.click(".filter button")  # stop filtering
    assert page.errors == []


def test_the_player_plays_and_a_click_on_the_taggram_seeks(page):
    page.click("#list tbody tr >> nth=0")
    page.wait_for_function(
        "!document.querySelector('#audio').paused && document.querySelector('#audio').currentTime > 0.3"
    )
    box = page.locator("#taggram").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    seeked = page.evaluate("document.querySelector('#audio').currentTime")
    assert seeked > 15, seeked  # three quarters into the taggram: past the middle of a 30 s clip
    page.screenshot(path=page.shots / "playing.png")
    assert page.errors == []


def test_a_dropped_file_shows_the_top_tags_of_the_api(page, server):
    clip = example("bensound-dubstep").read_bytes()
    want = server.json("/v1/tag?taggram=true&top_n=5", data=clip)["top"]
    drop = page.evaluate_handle(
        """([data, name]) => {
            const bytes = Uint8Array.from(atob(data), c => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], name, {type: "audio/mpeg"}));
            return transfer;
        }""",
        [base64.b64encode(clip).decode(), "dropped.mp3"],
    )
    page.dispatch_event("#drop", "drop", {"dataTransfer": drop})
    page.wait_for_selector("#dropped-tags li", timeout=60000)
    shown = page.eval_on_selector_all("#dropped-tags li", "items => items.map(i => i.textContent)")
    assert shown == [f"{t} {s:.3f}" for t, s in want]
    page.screenshot(path=page.shots / "dropped.png", full_page=True)
    assert page.errors == [], json.dumps(page.errors)


def test_a_narrow_window_stacks_the_page_and_nothing_is_wider_than_it(page):
    page.set_viewport_size({"width": 360, "height": 800})  # a phone
    try:
        page.wait_for_timeout(200)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, width  # no sideways scrolling: the list is below the tags, long names wrap
        tags, tracks = page.locator("#chips").bounding_box(), page.locator("#list").bounding_box()
        assert tracks["y"] > tags["y"] + tags["height"]
        page.screenshot(path=page.shots / "narrow.png", full_page=True)
    finally:
        page.set_viewport_size({"width": 1280, "height": 900})
    assert page.errors == []


def test_an_empty_list_says_why_and_what_to_do(page, tmp_path):
    page.fill("#search", "no track has this in its path")
    page.wait_for_selector("#list tbody tr.empty")
    assert "No track matches" in page.text_content("#list tbody")
    page.fill("#search", "")
    page.wait_for_selector("#list tbody tr:not(.empty)")
    (tmp_path / "empty").mkdir()
    empty = LiveServer(tmp_path / "empty", tmp_path / "index.sqlite")  # a library with no audio yet
    try:
        empty.wait_done()
        tab = page.context.browser.new_page()
        tab.goto(empty.url + "/")
        tab.wait_for_selector("#list tbody tr.empty")
        tab.wait_for_function("document.querySelector('#list tbody').textContent.includes('no audio files')")
        tab.screenshot(path=page.shots / "empty.png")
        tab.close()
    finally:
        empty.stop()
    assert page.errors == []


def test_a_long_name_without_spaces_never_widens_the_page(page):
    long_name = "/music/" + "x" * 300 + ".mp3"
    page.click("#list tbody tr >> nth=0")
    page.wait_for_selector("#player:not([hidden])")
    page.eval_on_selector("#now-playing", "(p, name) => { p.textContent = name; }", long_name)
    page.eval_on_selector("#list tbody td", "(td, name) => { td.textContent = name; }", long_name)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 1280, width  # it was 2500 px: the playing track's path on one line
    page.evaluate("document.querySelector('#audio').pause()")
    assert page.errors == []


@pytest.fixture(scope="module")
def teach_server(tmp_path_factory):
    """A library of 8 tracks (two copies of each clip): enough to mark 3 yes and 3 no."""
    base = tmp_path_factory.mktemp("browser-teach")
    live = LiveServer(make_library(base / "library", copies=2), base / "index.sqlite")
    live.wait_done()
    yield live
    assert "HEAVY []" in live.stop(), "the server imported TensorFlow or Keras"


def test_marking_tracks_and_teaching_makes_a_chip_that_filters(teach_server, browser, tmp_path_factory):
    server = teach_server
    shots = tmp_path_factory.mktemp("screenshots")
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(server.url + "/")
    page.wait_for_function("document.querySelectorAll('#list tbody tr').length === 8")
    page.wait_for_function("document.querySelector('#job-text').textContent.startsWith('done')")
    assert page.is_disabled("#teach")  # nothing named or marked yet
    page.fill("#teach-name", "road trip")
    paths = _listed(page)
    clip = lambda i: paths[i].rsplit("/", 1)[1].rsplit("-", 1)[0]  # noqa: E731
    first = sorted({clip(i) for i in range(8)})[:2]  # two of the four clips have the tag
    yes = [i for i in range(8) if clip(i) in first][:3]
    no = [i for i in range(8) if clip(i) not in first][:3]
    for i in yes:
        page.click(f"#list tbody tr >> nth={i} >> button.yes")
    for i in no:
        page.click(f"#list tbody tr >> nth={i} >> button.no")
    assert page.text_content("#teach-count") == "3 ✓, 3 ✗" and not page.is_disabled("#teach")
    assert page.evaluate("document.querySelector('#audio').src") == ""  # marking did not play
    page.screenshot(path=shots / "marked.png")
    page.click("#teach")
    page.wait_for_selector("#chips .chip.taught[data-tag='road trip']", timeout=60000)
    assert "taught" in page.text_content("#teach-status")
    want = sorted(t["path"] for t in server.json("/v1/tracks?tag=road%20trip&min=0.5&limit=1000")["tracks"])
    page.click("#chips .chip[data-tag='road trip']")
    page.wait_for_function(f"document.querySelectorAll('#list tbody tr').length === {len(want)}")
    assert 0 < len(want) < 8 and sorted(_listed(page)) == want
    page.screenshot(path=shots / "taught.png", full_page=True)
    assert errors == [], errors
    page.close()
