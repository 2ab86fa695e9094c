"""The page as a person meets it: labelled keyboard-usable controls, both screen sizes, the
diagram's hover and click, keeping up with the stream; and the screenshots of each view."""

from __future__ import annotations

import json
import os
import re
import shutil
import urllib.request
from pathlib import Path

import pytest
from playwright.sync_api import Page

from .conftest import ARTIFACTS, ROOT, Playground, opened, running_server
from .test_teaching import click_in_diagram

pytestmark = pytest.mark.browser

KEEP_UP_SECONDS = 10
DOCS_SCREENSHOT = ROOT / "docs" / "screenshot.png"


def test_every_control_has_a_label_and_an_id(playground: Playground) -> None:
    unlabelled = playground.page.evaluate(
        """() => [...document.querySelectorAll('button, select, input')]
            .filter(el => !el.closest('[hidden]'))
            .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                          && !(el.tagName === 'BUTTON' && el.textContent.trim()))
            .map(el => el.outerHTML.slice(0, 80))"""
    )
    assert unlabelled == []
    without_id = playground.page.evaluate(
        """() => [...document.querySelectorAll('button, select, input')]
            .filter(el => !el.id && !el.dataset.testid).map(el => el.outerHTML.slice(0, 80))"""
    )
    assert without_id == []


def test_the_keyboard_plays_pauses_and_steps(playground: Playground) -> None:
    page = playground.page
    page.locator("body").click(position={"x": 5, "y": 700})  # nothing focused
    page.keyboard.press("Space")
    playground.wait_for("state.playing")
    page.keyboard.press("Space")
    playground.wait_for("!state.playing")
    step = playground.state()["step"]
    page.keyboard.press("s")
    playground.wait_for("state.step === arg + 1", step)
    # The play button itself answers Enter once tabbed to.
    page.focus("#play-button")
    page.keyboard.press("Enter")
    playground.wait_for("state.playing")
    assert page.get_attribute("#play-button", "aria-pressed") == "true"
    assert page.get_attribute("#play-button", "aria-label") == "Pause"


@pytest.mark.parametrize("width, height", [(1280, 720), (1920, 1080)])
def test_the_layout_fits_the_screen(playground: Playground, width: int, height: int) -> None:
    page = playground.page
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(400)  # Plotly follows the container's new size
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "no horizontal scrolling"
    for selector in ("#play-button", "#network-diagram", "#loss-chart", "#output-chart", "#preset"):
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, selector
        assert box["y"] < height, f"{selector} is in the first screen"
    teaching = page.locator("#teaching-panel").bounding_box()
    assert teaching is not None and teaching["width"] > 200, "room for the teaching features"
    playground.play_until("state.epoch >= 5")
    playground.pause()
    playground.screenshot(f"page-{width}x{height}.png")


def test_the_diagram_shows_exact_values_on_hover_and_routes_clicks(playground: Playground) -> None:
    playground.step()
    page = playground.page
    point = page.evaluate(
        """() => {  // a link's hover target, in page pixels
            const el = document.getElementById('network-diagram');
            const trace = el._fullData[0], xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            const box = el.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.l2p(trace.x[0]),
                    y: box.top + ya._offset + ya.l2p(trace.y[0]), data: trace.customdata[0]};
        }"""
    )
    assert point["data"] == [0, 0, 0]
    page.mouse.move(point["x"], point["y"])
    tooltip = page.locator("#network-panel [data-testid=diagram-tooltip]")
    tooltip.wait_for(state="visible")
    weight = playground.server_session()["layers"][0]["W"][0][0]
    shown = page.evaluate("w => Number(w).toPrecision(4)", weight)
    assert f"W = {shown}" in tooltip.inner_text()
    page.mouse.click(point["x"], point["y"])
    inspector = page.locator("[data-testid=inspector-values]")
    inspector.wait_for()
    assert "W[0→0] of layer 0" in inspector.inner_text()
    playground.screenshot("view-network-hover.png", "#network-panel")


def test_the_page_keeps_up_with_30_frames_a_second(playground: Playground) -> None:
    """No backlog: every frame received is either applied or superseded by a newer one
    before its turn — never queued — and once play stops the page shows the server's latest
    state. (How many frames a second it applies is a benchmark, bench/page.py, not a test.)"""
    page = playground.page
    page.click("#play-button")
    playground.wait_for("state.playing")
    page.wait_for_timeout(1000)  # past the start
    before = playground.stats()
    page.wait_for_timeout(KEEP_UP_SECONDS * 1000)
    during = playground.stats()
    playground.pause()
    page.wait_for_timeout(1000)
    after = playground.stats()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "keep-up.json").write_text(json.dumps({"before": before, "after": after}))
    assert during["applied"] > before["applied"], "frames must be applied while playing"
    for stats in (during, after):
        unaccounted = stats["received"] - stats["applied"] - stats["dropped"]
        assert unaccounted in (0, 1), f"a backlog of frames: {stats}"  # 1: one awaiting paint
    shown = playground.state()["step"]
    assert shown == playground.server_session()["step"], "the page must end on the latest state"


def test_screenshot_for_the_readme(playground: Playground) -> None:
    """The circle preset after some training, stopped in the output layer's backward phase
    with one weight's chain rule open, at 1280×720 (docs/screenshot.png when
    UPDATE_SCREENSHOT=1)."""
    page = playground.page
    playground.play_until("state.epoch >= 60", timeout=60_000)
    playground.pause()
    page.select_option("#step-unit", "phase")
    layers = len(playground.server_session()["config"]["model"]["layers"])
    playground.step(layers + 2)  # the forward pass, the loss, the output layer's backward
    page.wait_for_function(
        "() => document.getElementById('network-diagram').dataset.activePhase === 'backward'"
    )
    click_in_diagram(playground, layers - 1, 0, 0)  # a weight into the output unit
    page.get_by_test_id("chain-inspector").wait_for()
    page.mouse.move(1, 1)  # no hover box
    page.wait_for_timeout(500)
    path = playground.screenshot("screenshot.png")
    if os.environ.get("UPDATE_SCREENSHOT") == "1":
        shutil.copyfile(path, DOCS_SCREENSHOT)


def test_plotly_is_served_by_the_server_with_a_long_cache(playground: Playground) -> None:
    scripts = playground.page.evaluate("[...document.scripts].map(s => s.src)")
    plotly = next(src for src in scripts if "/vendor/plotly.min.js" in src)
    assert plotly.startswith(playground.url) and "?v=" in plotly
    with urllib.request.urlopen(plotly, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/javascript")
        assert "max-age=31536000" in response.headers["Cache-Control"]
        assert b"plotly.js (cartesian - minified) v" in response.read(200)  # app/vendor's
    # Ready for a strict Content-Security-Policy: no inline script, handler or style.
    with urllib.request.urlopen(playground.url, timeout=10) as response:
        html = response.read().decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", html) == [], "no inline <script>"
    assert re.findall(r"\son[a-z]+=", html) == [], "no inline event handlers"
    assert re.findall(r"\sstyle=", html) == [], "no style attributes"


def test_the_page_runs_under_the_strict_content_security_policy(page: Page, tmp_path: Path) -> None:
    """Served with the headers of app/api/security.py (whether or not the app installs them
    yet), the page loads, goes live and trains: no inline script, style attribute or eval
    that the policy would block (a blocked one is a console error)."""
    with (
        running_server("tests.browser.strict_app:create_app", tmp_path) as url,
        opened(page, url) as playground,
    ):
        with urllib.request.urlopen(url, timeout=10) as response:
            assert "script-src 'self'" in response.headers["Content-Security-Policy"]
        playground.play_until("state.epoch >= 3")
        playground.pause()
