"""The page on a projector or a desk (#20) at 1024×768, 1280×720 and 1920×1080 (phones and a
tablet: test_phones.py).

Projectors: presenter mode gives the network 35 % of the screen and the largest box, text
of 18 px and more (the readouts larger), every class action, and the lesson guide's current
step in view while it plays. Desks: the chain rule opens beside the network, never over the
output. One server for the run (conftest's)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import ARTIFACTS, Playground
from .test_teaching import click_in_diagram

pytestmark = pytest.mark.browser

PROJECTORS = [(1024, 768), (1280, 720), (1920, 1080)]
DESKS = [(1024, 768), (1280, 720), (1440, 900), (1920, 1080)]
BACK_OF_THE_ROOM = 18  # px: presenter mode's smallest text

# The computed font size of every visible text node's element under a root.
FONT_SIZES_JS = """selector => {
    const sizes = [];
    for (const root of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode, element = node.parentElement;
            if (!node.textContent.trim() || !element) continue;
            const box = element.getBoundingClientRect();
            if (!box.width || !box.height) continue;
            if (element.closest('[hidden], .visually-hidden')) continue;
            sizes.push({text: node.textContent.trim().slice(0, 40),
                        size: parseFloat(getComputedStyle(element).fontSize)});
        }
    }
    return sizes;
}"""


def sideways_scroll(page: Page) -> int:
    scroll: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return scroll


def box(page: Page, selector: str) -> dict[str, float]:
    found = page.locator(selector).bounding_box()
    assert found is not None, f"{selector} is not shown"
    return found


def on_screen(page: Page, selector: str) -> dict[str, float]:
    """The element's box in the viewport's coordinates, asserted wholly inside it."""
    width, height = page.evaluate("[window.innerWidth, window.innerHeight]")
    found = box(page, selector)
    assert found["x"] >= 0 and found["y"] >= 0, f"{selector} starts off screen: {found}"
    assert found["x"] + found["width"] <= width + 0.5, f"{selector} is cut on the right: {found}"
    assert found["y"] + found["height"] <= height + 0.5, f"{selector} is below the screen: {found}"
    return found


def overlap(a: dict[str, float], b: dict[str, float]) -> float:
    dx = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
    dy = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
    return max(dx, 0) * max(dy, 0)


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / name)


# ----- projectors: presenter mode -----------------------------------------------------------


def font_sizes(page: Page, selector: str) -> list[dict[str, Any]]:
    sizes: list[dict[str, Any]] = page.evaluate(FONT_SIZES_JS, selector)
    assert sizes, f"no text under {selector}"
    return sizes


def svg_text_sizes(page: Page, selector: str) -> list[float]:
    sizes: list[float] = page.evaluate(
        """selector => [...document.querySelectorAll(selector)]
            .filter(t => t.textContent.trim() && t.getBoundingClientRect().width)
            .map(t => parseFloat(getComputedStyle(t).fontSize))""",
        selector,
    )
    assert sizes, f"no text under {selector}"
    return sizes


def too_small(sizes: list[dict[str, Any]], least: float) -> list[dict[str, Any]]:
    return [entry for entry in sizes if entry["size"] < least]


@pytest.mark.parametrize("width, height", PROJECTORS)
def test_presenter_mode_fills_a_projector_with_every_class_action(
    playground: Playground, width: int, height: int
) -> None:
    page = playground.page
    page.set_viewport_size({"width": width, "height": height})
    page.click("#presenter-button")
    page.wait_for_selector("body.presenter")
    page.wait_for_timeout(500)  # Plotly follows its container
    # Class actions inside presenter mode: open a class and show its code.
    page.click("#share-button")
    page.click("#open-class-button")
    page.locator("#class-code").wait_for()
    assert box(page, "#class-code")["height"] > 0
    page.click("#share-close-button")
    page.wait_for_timeout(300)
    assert sideways_scroll(page) <= 0
    # The network: the largest box on the screen, 35 % of it at least.
    network = on_screen(page, "#network-diagram")
    area = network["width"] * network["height"]
    assert area >= 0.35 * width * height, f"the network has {area / (width * height):.0%}"
    for other in ("#output-chart", "#loss-chart", "#teaching-panel", "#data-panel"):
        found = box(page, other)
        assert found["width"] * found["height"] < area, f"{other} is larger than the network"
    for shown in ("#play-button", "#output-chart", "#loss-chart", "#teaching-panel"):
        on_screen(page, shown)
    # Read from the back of the room.
    playground.step()
    page.wait_for_timeout(300)
    assert min(svg_text_sizes(page, "#network-diagram text")) >= BACK_OF_THE_ROOM
    for selector in (".counters", "#class-badge", ".panel-heading", ".network-panel .legend"):
        assert too_small(font_sizes(page, selector), BACK_OF_THE_ROOM) == [], selector
    for readout in ("#epoch-readout", "#phase-readout", "#train-loss-readout"):
        assert font_sizes(page, readout)[0]["size"] > BACK_OF_THE_ROOM, readout
    # Ask and reveal: the teacher's question card, in large type.
    output = len(playground.state()["layers"]) - 1
    while playground.state()["nextPhase"] != {"kind": "backward", "layer": output}:
        playground.step()
    click_in_diagram(playground, output, None, 0)
    page.click("#predict-ask")
    page.wait_for_selector("#predict-question:has-text('sign of δ')")
    assert too_small(font_sizes(page, "#predict-teacher"), BACK_OF_THE_ROOM) == []
    on_screen(page, "#predict-reveal")
    shot(page, f"screens-presenter-{width}x{height}.png")
    page.click("#predict-reveal")
    page.wait_for_selector("#predict-truth[data-right]")
    # Reset, add a layer, switch the dataset and the preset: each works, still presenting.
    version = playground.state()["version"]
    page.click("#reset-button")
    playground.wait_for("state.step === 0 && state.version > arg", version)
    first = playground.state()["sessionId"]
    page.click("#add-layer-button")
    playground.wait_new_session(first)
    assert len(playground.state()["layers"]) == output + 2
    bigger = playground.state()["sessionId"]
    page.select_option("#dataset", "xor")
    playground.wait_new_session(bigger)
    xor = playground.state()["sessionId"]
    page.select_option("#preset", "spiral")
    playground.wait_new_session(xor)
    assert playground.state()["preset"] == "spiral"
    assert page.locator("body.presenter").count() == 1
    on_screen(page, "#class-badge")


@pytest.mark.parametrize("width, height", PROJECTORS)
def test_the_guides_current_step_stays_in_view_while_it_plays(
    playground: Playground, width: int, height: int
) -> None:
    page = playground.page
    page.set_viewport_size({"width": width, "height": height})
    page.click("#presenter-button")
    page.click("#tab-guide")
    page.locator("[data-testid=guide-step]").first.wait_for()
    panel = box(page, "#teaching-panel")

    def current_step_in_view(moved_from: str | None) -> None:
        # Read in one go: while it plays, the guide redraws its step every phase.
        shown = page.wait_for_function(
            """before => {
                const guide = document.getElementById('guide-panel').dataset;
                const step = document.querySelector('[data-testid=guide-step]');
                const title = step?.querySelector('h3');
                if (guide.guideIndex === before || guide.busy !== 'false' || !title) return null;
                const sizes = [...step.querySelectorAll('*')]
                    .filter(e => [...e.childNodes].some(n => n.nodeType === 3 && n.data.trim()))
                    .filter(e => e.getBoundingClientRect().width > 0)
                    .map(e => ({text: e.textContent.trim().slice(0, 40),
                                size: parseFloat(getComputedStyle(e).fontSize)}));
                return {step: title.getBoundingClientRect().toJSON(), sizes};
            }""",
            arg=moved_from,
            timeout=10_000,
        ).json_value()
        step = shown["step"]
        assert panel["y"] <= step["y"], "the current step starts above its panel"
        assert step["y"] + step["height"] <= panel["y"] + panel["height"], "it is below the panel"
        assert shown["sizes"] and too_small(shown["sizes"], BACK_OF_THE_ROOM) == []

    # Step by step with Next.
    for _ in range(6):
        before = page.get_attribute("#guide-panel", "data-guide-index")
        page.click("#guide-next")
        current_step_in_view(before)
    # Playing: the guide follows the phases at the teacher's pace.
    page.locator("#pace").fill("0.25")
    page.click("#play-button")
    playground.wait_for("state.playing")
    for _ in range(4):
        current_step_in_view(page.get_attribute("#guide-panel", "data-guide-index"))
    playground.pause()
    shot(page, f"screens-presenter-guide-{width}x{height}.png")


# ----- desks: the chain rule beside the network ---------------------------------------------


@pytest.mark.parametrize("width, height", DESKS)
def test_the_chain_rule_opens_beside_the_network_never_over_the_output(
    playground: Playground, width: int, height: int
) -> None:
    page = playground.page
    page.set_viewport_size({"width": width, "height": height})
    page.wait_for_timeout(300)
    # The first screen says what to click.
    on_screen(page, "#diagram-hint")
    playground.step()
    click_in_diagram(playground, 1, 0, 0)
    page.locator("[data-testid=inspector-values]").wait_for()
    page.wait_for_timeout(300)
    teaching = on_screen(page, "#teaching-panel")
    output = box(page, "#output-panel")
    assert overlap(teaching, output) == 0, "the chain rule covers the output"
    assert overlap(teaching, box(page, "#network-diagram")) == 0
    # The diagram as drawn follows its narrower column, never over the output.
    drawn = box(page, "#network-diagram .main-svg >> nth=0")
    assert overlap(drawn, output) == 0 and overlap(drawn, teaching) == 0, drawn
    on_screen(page, "#output-chart")
    on_screen(page, "#network-diagram")
    assert sideways_scroll(page) <= 0
    shot(page, f"screens-chain-{width}x{height}.png")
    # It scrolls with the page: nothing stays fixed over what lies below.
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(200)
    position = page.evaluate("getComputedStyle(document.getElementById('teaching-panel')).position")
    assert position in ("static", "relative")
