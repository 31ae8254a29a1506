"""The page of ``music-tagger serve`` in a real browser: Debian's chromium, headless,
driven by playwright (no browser download). It loads without a console error, its
chips, filter, player, taggram and drop zone show what the API says."""
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
def page(server, tmp_path_factory):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--autoplay-policy=no-user-gesture-required"])  # fmt: skip
        tab = browser.new_page(viewport={"width": 1280, "height": 900})
        tab.errors = []
        tab.on("console", lambda m: tab.errors.append(m.text) if m.type == "error" else None)
        tab.on("pageerror", lambda e: tab.errors.append(str(e)))
        tab.shots = tmp_path_factory.mktemp("screenshots")
        tab.goto(server.url + "/")
        tab.wait_for_selector("#chips .chip")
        yield tab
        browser.close()


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
    page.wait_for_function("!document.querySelector('#audio').paused && document.querySelector('#audio').currentTime > 0.3")
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
