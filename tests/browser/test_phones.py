"""The page on phones and a tablet, with touch (issue 20): nothing wider than the screen, every
visible control at least 24 × 24 CSS px and the primary ones 44 px, and a class student's
question card inside the visual viewport, answered with taps that the teacher's count sees."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from playwright.sync_api import Page

from .conftest import ARTIFACTS, Playground, opened
from .test_classroom import FOLLOW_MS
from .test_teaching import click_in_diagram

PHONES = [(360, 740), (390, 844), (412, 915), (768, 1024)]
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
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=ARTIFACTS / f"phone-{width}x{height}.png")


def test_a_student_on_a_phone_answers_the_question_with_taps(playground: Playground) -> None:
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
    with phone(playground, (360, 740), link) as student:
        teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
        click_in_diagram(playground, output, None, 0)
        teacher.click("#predict-ask")
        page = student.page
        card = page.locator("#predict-student")
        card.wait_for(timeout=FOLLOW_MS)
        assert fits(page)["document"] <= 360
        # A follower's first screen: the network and the phase, no greyed-out controls.
        assert on_first_screen(page, "#network-diagram", 740) >= 0.5
        assert page.is_visible("#phase-readout")
        assert not page.is_visible("#play-button") and not page.is_visible("#learning-rate")
        page.fill("#predict-name", "Ana")
        for selector in ["#predict-sign-plus", "#predict-sign-minus", "#predict-send"]:
            box = page.locator(selector).bounding_box()
            assert box is not None and box["height"] >= 44, selector
            # Inside the visual viewport, with no scrolling: where the thumb is.
            assert box["x"] >= 0 and box["x"] + box["width"] <= 360, (selector, box)
            assert box["y"] >= 0 and box["y"] + box["height"] <= 740, (selector, box)
        page.screenshot(path=ARTIFACTS / "phone-question-360x740.png")
        page.tap("#predict-sign-plus")
        page.tap("#predict-send")
        page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
        teacher.wait_for_selector("#predict-count[data-count='1']", timeout=FOLLOW_MS)
