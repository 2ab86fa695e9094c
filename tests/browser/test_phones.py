"""The page on phones and a tablet, with touch (issue 20): nothing wider than the screen, every
visible control at least 24 × 24 CSS px and the primary ones 44 px, the network first and a
tapped weight's chain rule in a sheet below it, and a class student's follower view whose
question card is inside the visual viewport, answered with taps that the teacher's count sees.
Projectors and desks: test_screens.py."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import ARTIFACTS, ROOT, Playground, opened
from .test_classroom import FOLLOW_MS
from .test_teaching import click_in_diagram, link_point

PHONES = [(360, 740), (390, 844), (412, 915), (768, 1024)]
README_PHONE = (390, 844)  # docs/phone.png, the README's phone, when UPDATE_SCREENSHOT=1
# Every control one can see and use; the ones below 24 px are listed by id (or tag).
SMALL_CONTROLS = """() => [...document.querySelectorAll(
  'button, select, input, summary, [role=button], a[href]')].filter((element) => {
    const box = element.getBoundingClientRect();
    const style = getComputedStyle(element);
    const seen = box.width > 0 && box.height > 0 && style.visibility !== 'hidden';
    return seen && !element.disabled && (box.width < 24 || box.height < 24);
  }).map((element) => {
    const box = element.getBoundingClientRect();
    return `${element.id || element.textContent.trim().slice(0, 12) || element.tagName}:` +
      `${Math.round(box.width)}x${Math.round(box.height)}`;
  })"""
PRIMARY = ["#play-button", "#step-button"]


@contextmanager
def phone(playground: Playground, size: tuple[int, int], url: str) -> Iterator[Playground]:
    browser = playground.page.context.browser
    assert browser is not None
    width, height = size
    context = browser.new_context(
        viewport={"width": width, "height": height},
        is_mobile=True,
        has_touch=True,
        device_scale_factor=3,
    )
    try:
        with opened(context.new_page(), url) as driver:
            driver.url = playground.url
            yield driver
    finally:
        context.close()


def fits(page: Page) -> dict[str, Any]:
    widths: dict[str, Any] = page.evaluate(
        "({document: document.documentElement.scrollWidth, viewport: innerWidth,"
        " screen: visualViewport.width})"
    )
    return widths


# The input nodes (grey squares) and the inputs' names of the network diagram, as page boxes.
INPUT_NAMES_AND_NODES = """() => {
  const diagram = document.getElementById('network-diagram');
  const box = (element) => { const r = element.getBoundingClientRect();
    return {left: r.left, right: r.right, top: r.top, bottom: r.bottom}; };
  const nodes = [...diagram.querySelectorAll('.shapelayer path')]
    .filter((path) => getComputedStyle(path).fill === 'rgb(238, 238, 238)').map(box);
  const names = [...diagram.querySelectorAll('.textpoint text')].map(box);
  return {nodes, names};
}"""


def on_first_screen(page: Page, selector: str, height: int) -> float:
    """The share of an element's height inside the first screen (scrolled to the top)."""
    box = page.locator(selector).bounding_box()
    assert box is not None and box["height"] > 0
    return max(0.0, min(box["y"] + box["height"], height) - max(box["y"], 0)) / box["height"]


@pytest.mark.parametrize("size", PHONES, ids=[f"{w}x{h}" for w, h in PHONES])
def test_the_page_fits_a_phone_and_its_controls_fit_a_finger(
    playground: Playground, size: tuple[int, int]
) -> None:
    width, height = size
    with phone(playground, size, playground.url) as student:
        page = student.page
        page.wait_for_timeout(500)  # the charts have drawn
        widths = fits(page)
        assert widths["viewport"] == width, widths  # nothing widened the layout viewport
        assert widths["document"] <= width, widths  # no sideways scroll
        small = page.evaluate(SMALL_CONTROLS)
        assert small == []
        if width < 1000:  # the first screen shows the network (most of it)
            assert on_first_screen(page, "#network-diagram", height) >= 0.5
        for selector in PRIMARY:
            box = page.locator(selector).bounding_box()
            assert box is not None and box["width"] >= 44 and box["height"] >= 44, selector
        drawn = page.evaluate(INPUT_NAMES_AND_NODES)
        assert len(drawn["names"]) == len(drawn["nodes"]) == 2, drawn  # x1, x2
        for name in drawn["names"]:  # each input's name wholly left of its node: readable
            middle = (name["top"] + name["bottom"]) / 2
            node = next(n for n in drawn["nodes"] if n["top"] <= middle <= n["bottom"])
            assert name["left"] >= 0 and name["right"] <= node["left"], drawn
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"phone-{width}x{height}.png")


@pytest.mark.parametrize("size", PHONES, ids=[f"{w}x{h}" for w, h in PHONES])
def test_a_tap_on_a_weight_opens_its_chain_rule_in_a_sheet_below_it(
    playground: Playground, size: tuple[int, int]
) -> None:
    width, height = size
    with phone(playground, size, playground.url) as student:
        page = student.page
        student.step()
        point = link_point(student, 1, 0, 0)
        page.touchscreen.tap(point["x"], point["y"])
        page.locator("[data-testid=inspector-values]").wait_for()
        page.wait_for_selector("#teaching-panel.drawer")
        page.wait_for_function(
            "() => scrollY > 0 || document.getElementById('network-diagram')"
            ".getBoundingClientRect().top < 40"
        )  # the diagram scrolled up
        # The weight that was tapped (the last of a tap's clicks too), not one below it.
        assert "W[0→0] of layer 1" in page.inner_text("[data-testid=inspector-values]")
        sheet = page.locator("#teaching-panel").bounding_box()
        assert sheet is not None
        assert sheet["x"] >= 0 and sheet["x"] + sheet["width"] <= width, sheet
        assert sheet["y"] >= 0 and sheet["y"] + sheet["height"] <= height, sheet
        weight = link_point(student, 1, 0, 0)
        assert 0 <= weight["y"] < sheet["y"], "the sheet covers the weight that was tapped"
        diagram = page.locator("#network-diagram").bounding_box()
        assert diagram is not None and diagram["y"] >= 0
        assert diagram["y"] + diagram["height"] <= sheet["y"] + 1, "the sheet covers the network"
        assert fits(page)["document"] <= width
        shot = ARTIFACTS / f"phone-chain-{width}x{height}.png"
        page.screenshot(path=shot)
        if os.environ.get("UPDATE_SCREENSHOT") == "1" and size == README_PHONE:
            shutil.copyfile(shot, ROOT / "docs" / "phone.png")
        page.tap("#drawer-close-button")
        page.wait_for_selector("#teaching-panel:not(.drawer)", state="attached")
        # Boundary and loss follow the network, before the data and the settings.
        boxes = {
            name: page.locator(name).bounding_box()
            for name in ("#network-diagram", "#output-panel", "#data-panel", ".hyperbar")
        }
        tops = {name: found["y"] for name, found in boxes.items() if found is not None}
        assert tops["#network-diagram"] < tops["#output-panel"] < tops["#data-panel"], tops
        assert tops["#output-panel"] < tops[".hyperbar"], tops


def test_join_on_a_phone_is_a_large_target(playground: Playground) -> None:
    with phone(playground, (360, 740), playground.url) as student:
        page = student.page
        page.tap("#share-button")
        join = page.locator("#join-class-button").bounding_box()
        assert join is not None and join["height"] >= 44 and join["width"] >= 44, join
        assert join["y"] >= 0 and join["y"] + join["height"] <= 740, join
        assert fits(page)["document"] <= 360
        assert page.evaluate(SMALL_CONTROLS) == []


def test_students_on_phones_answer_the_question_with_taps(playground: Playground) -> None:
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
    for answered, (width, height) in enumerate(PHONES, start=1):
        with phone(playground, (width, height), link) as student:
            if answered == 1:  # asked once the first student follows; the others join it
                teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
                teacher.click("#predict-ask")
            page = student.page
            card = page.locator("#predict-student")
            card.wait_for(timeout=FOLLOW_MS)
            assert fits(page)["document"] <= width
            # A follower's first screen: the network, the phase and the class, no greyed-out
            # controls.
            assert on_first_screen(page, "#network-diagram", height) >= 0.5
            for shown in ("#phase-readout", "#class-badge"):
                assert on_first_screen(page, shown, height) == 1, shown
            for hidden in ("#play-button", "#learning-rate", ".hyperbar", "#data-panel"):
                assert not page.is_visible(hidden), hidden
            assert page.evaluate(SMALL_CONTROLS) == []
            page.fill("#predict-name", f"Student {answered}")
            for selector in ["#predict-sign-plus", "#predict-sign-minus", "#predict-send"]:
                box = page.locator(selector).bounding_box()
                assert box is not None and box["height"] >= 44, selector
                # Inside the visual viewport, with no scrolling: where the thumb is.
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
                assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
            page.screenshot(path=ARTIFACTS / f"phone-question-{width}x{height}.png")
            page.tap("#predict-sign-plus")
            page.tap("#predict-send")
            page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
            teacher.wait_for_selector(
                f"#predict-count[data-count='{answered}']", state="attached", timeout=FOLLOW_MS
            )
    teacher.click("#predict-reveal")
    teacher.wait_for_selector("#predict-truth[data-right]")


def test_each_new_kind_of_question_is_answered_with_taps_on_the_smallest_phone(
    playground: Playground,
) -> None:
    """The unit of largest |δ|, where the loss goes, a weight after the update: on a 360-px
    phone each card fits the visual viewport and its controls are a thumb's size."""
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    teacher.select_option("#step-unit", "phase")
    width, height = PHONES[0]
    asked = [
        ("largest_delta", (0, None, 1), {"kind": "backward", "layer": 0}, ["#predict-unit"]),
        ("loss_change", None, {"kind": "update", "layer": None},
         ["#predict-loss-down", "#predict-loss-up", "#predict-loss-same"]),
        ("weight_after", (1, 0, 1), {"kind": "update", "layer": None}, ["#predict-value"]),
    ]  # fmt: skip
    with phone(playground, PHONES[0], link) as student:
        page = student.page
        teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
        for count, (kind, picked, phase, controls) in enumerate(asked, start=1):
            while playground.state()["nextPhase"] != phase:
                playground.step()
            teacher.select_option("#predict-kind", kind)
            if picked is not None:
                click_in_diagram(playground, *picked)
            teacher.click("#predict-ask")
            page.wait_for_function(
                "kind => document.getElementById('predict-student-question').textContent"
                ".length > 0 && !document.getElementById('predict-student').hidden",
                arg=kind,
                timeout=FOLLOW_MS,
            )
            page.wait_for_selector(controls[0], state="visible", timeout=FOLLOW_MS)
            assert fits(page)["document"] <= width
            assert page.evaluate(SMALL_CONTROLS) == []
            if count == 1:
                page.fill("#predict-name", "Student")
            for selector in [*controls, "#predict-send"]:
                box = page.locator(selector).bounding_box()
                assert box is not None and box["height"] >= 44, selector
                assert box["x"] >= 0 and box["x"] + box["width"] <= width, (selector, box)
                assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
            page.screenshot(path=ARTIFACTS / f"phone-question-{kind}.png")
            if kind == "loss_change":
                page.tap("#predict-loss-up")
            else:
                page.fill(controls[0], "1")
            page.tap("#predict-send")
            page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
            version = playground.state()["version"]
            teacher.click("#predict-reveal")
            playground.wait_version_after(version)
            page.wait_for_selector("#predict-result:has-text('Answer:')", timeout=FOLLOW_MS)
