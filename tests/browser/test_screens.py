"""The page on the screens a class has (#20): phones with touch (360×740, 390×844, 412×915,
768×1024) and projectors or desks (1024×768, 1280×720, 1920×1080).

Phones: no sideways scroll, every visible control at least 24×24 px and the primary ones
44 px high; a tap on a weight opens its chain rule inside the screen; a class student's page is
a follower view with the network and the phase on the first screen and the question card
inside the screen, whose tapped answers reach the teacher's count. Projectors: presenter mode
gives the network 35 % of the screen and the largest box, text of 18 px and more, and every
class action. Desks: the chain rule opens beside the network, never over the output.

One server for the run (conftest's); each size is a browser context of its own."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from .conftest import ARTIFACTS, Playground, opened
from .test_teaching import click_in_diagram, link_point

pytestmark = pytest.mark.browser

PHONES = [(360, 740), (390, 844), (412, 915), (768, 1024)]
PROJECTORS = [(1024, 768), (1280, 720)]
DESKS = [(1024, 768), (1280, 720), (1440, 900), (1920, 1080)]
MIN_TARGET = 24  # WCAG 2.2's target size, CSS px
PRIMARY_HEIGHT = 44
BACK_OF_THE_ROOM = 18  # px: presenter mode's smallest text
FOLLOW_MS = 5000

# Every visible control's box; a checkbox or radio inside a label counts as its label (the
# label is the target: a tap anywhere on it toggles the box).
TARGETS_JS = """() => {
    const seen = new Set(), found = [];
    const selector = 'button, select, input, textarea, summary, a[href], [role=tab]';
    for (const element of document.querySelectorAll(selector)) {
        const label = element.closest('label');
        const target = ['checkbox', 'radio'].includes(element.type) && label ? label : element;
        if (seen.has(target)) continue;
        seen.add(target);
        const box = target.getBoundingClientRect();
        const style = getComputedStyle(target);
        if (!box.width || !box.height || style.visibility === 'hidden') continue;
        if (element.closest('.js-plotly-plot')) continue;  // Plotly's own, hidden mode bar
        found.push({what: `${target.tagName.toLowerCase()}#${target.id}.${target.className}`,
                    width: box.width, height: box.height});
    }
    return found;
}"""

# The computed font size of every visible text node's element under a root.
FONT_SIZES_JS = """selector => {
    const sizes = [];
    for (const root of document.querySelectorAll(selector)) {
        const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
        while (walker.nextNode()) {
            const node = walker.currentNode, element = node.parentElement;
            if (!node.textContent.trim() || !element) continue;
            const box = element.getBoundingClientRect();
            if (!box.width || !box.height || element.closest('[hidden], .visually-hidden')) continue;
            sizes.push({text: node.textContent.trim().slice(0, 40),
                        size: parseFloat(getComputedStyle(element).fontSize)});
        }
    }
    return sizes;
}"""


def sideways_scroll(page: Page) -> int:
    scroll: int = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    return scroll


def small_targets(page: Page) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = page.evaluate(TARGETS_JS)
    return [t for t in targets if t["width"] < MIN_TARGET or t["height"] < MIN_TARGET]


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


def browser_of(playground: Playground) -> Browser:
    browser = playground.page.context.browser
    assert browser is not None
    return browser


@contextlib.contextmanager
def phone(browser: Browser, url: str, width: int, height: int) -> Iterator[Playground]:
    """A touch screen of this size (a phone, or a tablet at 768 px), on `url`."""
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
    )
    try:
        with opened(context.new_page(), url) as driver:
            yield driver
    finally:
        context.close()


def tap_in_diagram(driver: Playground, layer: int, i: int | None, j: int) -> None:
    point = link_point(driver, layer, i, j)
    driver.page.touchscreen.tap(point["x"], point["y"])


# ----- phones ---------------------------------------------------------------------------------


@pytest.mark.parametrize("width, height", PHONES)
def test_a_phone_fits_its_width_with_large_targets_and_the_chain_rule_in_view(
    playground: Playground, width: int, height: int
) -> None:
    with phone(browser_of(playground), playground.url, width, height) as student:
        page = student.page
        assert sideways_scroll(page) <= 0
        assert small_targets(page) == []
        for primary in ("#play-button", "#step-button"):
            assert box(page, primary)["height"] >= PRIMARY_HEIGHT, primary
        # The network comes first: on the first screen, and most of it.
        network = box(page, "#network-diagram")
        assert network["y"] < height / 2
        assert min(network["y"] + network["height"], height) - network["y"] >= 0.4 * height
        student.step()
        shot(page, f"screens-phone-{width}x{height}.png")
        # A tap on a weight: its chain rule in a sheet inside the screen, the weight above it.
        page.evaluate("window.scrollTo(0, 0)")
        tap_in_diagram(student, 1, 0, 0)
        page.locator("[data-testid=inspector-values]").wait_for()
        assert "W[0→0] of layer 1" in page.inner_text("[data-testid=inspector-values]")
        sheet = on_screen(page, "#teaching-panel")
        weight = link_point(student, 1, 0, 0)
        assert weight["y"] < sheet["y"], "the sheet covers the weight that was tapped"
        assert sideways_scroll(page) <= 0
        shot(page, f"screens-phone-chain-{width}x{height}.png")
        page.tap("#drawer-close-button")
        page.wait_for_selector("#teaching-panel:not(.drawer)", state="attached")
        # Boundary and loss follow the network, before the settings.
        output, data = box(page, "#output-panel"), box(page, "#data-panel")
        assert network["y"] < output["y"] < data["y"]
        assert output["y"] < box(page, ".hyperbar")["y"]


def test_class_students_on_phones_follow_and_tap_their_answers(playground: Playground) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    teacher.select_option("#step-unit", "phase")
    output = len(playground.state()["layers"]) - 1
    while playground.state()["nextPhase"] != {"kind": "backward", "layer": output}:
        playground.step()
    click_in_diagram(playground, output, None, 0)
    teacher.locator("#predict-ask:not([disabled])").wait_for()
    browser = browser_of(playground)
    for answered, (width, height) in enumerate(PHONES, start=1):
        with phone(browser, link, width, height) as student:
            page = student.page
            # The follower view: the network, the phase and the badge, no teacher's controls.
            assert not page.locator("#play-button").is_visible()
            assert not page.locator(".hyperbar").is_visible()
            assert not page.locator("#data-panel").is_visible()
            on_screen(page, "#phase-readout")
            on_screen(page, "#class-badge")
            network = box(page, "#network-diagram")
            assert network["y"] + 0.6 * network["height"] <= height, "the network is below"
            assert sideways_scroll(page) <= 0
            assert small_targets(page) == []
            if answered == 1:
                teacher.click("#predict-ask")
            page.locator("#predict-student").wait_for(timeout=FOLLOW_MS)
            on_screen(page, "#predict-student")
            for choice in ("#predict-sign-plus", "#predict-sign-minus", "#predict-send"):
                assert on_screen(page, choice)["height"] >= PRIMARY_HEIGHT, choice
            shot(page, f"screens-student-{width}x{height}.png")
            page.fill("#predict-name", f"Student {answered}")
            page.tap("#predict-sign-plus")
            page.tap("#predict-send")
            page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
            teacher.wait_for_selector(
                f"#predict-count[data-count='{answered}']", state="attached", timeout=FOLLOW_MS
            )
    teacher.click("#predict-reveal")
    teacher.wait_for_selector("#predict-truth[data-right]")


def test_join_on_a_phone_is_a_large_target(playground: Playground) -> None:
    with phone(browser_of(playground), playground.url, 360, 740) as student:
        page = student.page
        page.tap("#share-button")
        join = on_screen(page, "#join-class-button")
        assert join["height"] >= PRIMARY_HEIGHT
        assert sideways_scroll(page) <= 0
        assert small_targets(page) == []


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
    for _ in range(6):
        before = page.get_attribute("#guide-panel", "data-guide-index")
        page.click("#guide-next")
        page.wait_for_function(
            "before => document.getElementById('guide-panel').dataset.guideIndex !== before"
            " && document.getElementById('guide-panel').dataset.busy === 'false'",
            arg=before,
        )
        step = box(page, "[data-testid=guide-step] h3")
        assert panel["y"] <= step["y"] and step["y"] + step["height"] <= panel["y"] + panel["height"]
        sizes = font_sizes(page, "[data-testid=guide-step]")
        assert too_small(sizes, BACK_OF_THE_ROOM) == []
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
    assert overlap(teaching, box(page, "#output-panel")) == 0, "the chain rule covers the output"
    assert overlap(teaching, box(page, "#network-diagram")) == 0
    on_screen(page, "#output-chart")
    on_screen(page, "#network-diagram")
    assert sideways_scroll(page) <= 0
    shot(page, f"screens-chain-{width}x{height}.png")
    # It scrolls with the page: nothing stays fixed over what lies below.
    page.mouse.wheel(0, 600)
    page.wait_for_timeout(200)
    assert page.evaluate("getComputedStyle(document.getElementById('teaching-panel')).position") in (
        "static",
        "relative",
    )
