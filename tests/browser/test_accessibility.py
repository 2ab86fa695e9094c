"""Keyboard and screen readers (issue 20): the diagram is one tab stop walked with the arrow
keys, Enter opens the chain rule of the item under the cursor, E sets its value; every chart
has an accessible name and its numbers as a table; axe-core (the copy bundled with
axe-playwright-python, injected by Playwright: nothing fetched, the page's CSP untouched) finds
no WCAG 2.2 A/AA violation on the plain page, in presenter mode, on a class student's page and
on a phone."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser

from .conftest import Playground, opened

pytestmark = pytest.mark.browser

WCAG_22 = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
PHONE = {
    "viewport": {"width": 390, "height": 844},
    "is_mobile": True,
    "has_touch": True,
    "device_scale_factor": 3,
}


def violations(playground: Playground) -> list[str]:
    """axe-core's WCAG 2.2 A/AA violations on the page as it is, one line each."""
    results = (
        Axe().run(playground.page, options={"runOnly": {"type": "tag", "values": WCAG_22}}).response
    )
    assert results["testEngine"]["name"] == "axe-core"
    return [
        f"{v['id']}: {v['help']} at {[node['target'] for node in v['nodes']][:5]}"
        for v in results["violations"]
    ]


def focus_diagram(playground: Playground) -> None:
    """Tab from the skip link's start until the diagram has focus (it is one tab stop)."""
    page = playground.page
    page.focus("#add-layer-button")
    for _ in range(20):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement.id") == "network-diagram":
            return
    raise AssertionError("Tab never reached the network diagram")


def focused(playground: Playground) -> str:
    return str(playground.page.get_attribute("#network-diagram", "data-focused"))


def test_the_keyboard_walks_to_a_weight_and_opens_its_chain_rule(playground: Playground) -> None:
    page = playground.page
    playground.step(8)  # a whole batch: every layer has its ∂L/∂W
    focus_diagram(playground)
    # One tab stop: the next Tab leaves the diagram.
    assert page.locator("[data-testid=diagram-keys]").is_visible()
    assert focused(playground) == "-1,0,"  # the first input
    assert "Input 0 (x1)" in page.inner_text("[data-testid=diagram-focus]")
    page.keyboard.press("ArrowRight")  # layer 0's first unit
    page.keyboard.press("ArrowRight")  # layer 1's
    page.keyboard.press("ArrowDown")  # its second unit
    assert focused(playground) == "1,,1"
    assert page.inner_text("[data-testid=diagram-focus]").startswith("Unit 1 of layer 1 (hidden)")
    page.keyboard.press("w")  # its first incoming weight
    page.keyboard.press("w")  # the next: W[1→1] of layer 1
    assert focused(playground) == "1,1,1"
    server = playground.server_session()["layers"][1]["W"][1][1]
    label = page.inner_text("[data-testid=diagram-focus]")
    assert label.startswith(
        "Weight W[1→1] of layer 1 (hidden), from unit 1 of layer 0 (hidden) to unit 1 of layer 1"
    )
    assert f"W = {server:.4f}" in label
    # The focused link is drawn: a dark dotted line along it.
    shapes = page.evaluate(
        "JSON.parse(JSON.stringify(document.getElementById('network-diagram').layout.shapes))"
    )
    assert [s for s in shapes if s.get("name") == "focus" and s["type"] == "line"]
    playground.screenshot("keyboard-weight-focus.png", "#network-panel")
    page.keyboard.press("Enter")
    chain = page.locator("[data-testid=chain-inspector][data-state=ok]")
    chain.wait_for()
    assert "W[1→1] of layer 1" in chain.inner_text()
    assert (chain.get_attribute("data-layer"), chain.get_attribute("data-i")) == ("1", "1")
    assert page.evaluate("document.activeElement.id") == "network-diagram"  # the walk goes on
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") != "network-diagram"


def test_the_keyboard_sets_a_weight(playground: Playground) -> None:
    page = playground.page
    playground.step()
    focus_diagram(playground)
    for key in ("ArrowRight", "ArrowRight", "ArrowRight", "w"):  # the output's first weight
        page.keyboard.press(key)
    assert focused(playground).startswith("2,0,0")
    page.keyboard.press("e")  # opens the chain rule and goes on to "set this value"
    assert page.evaluate("document.activeElement.id") == "edit-parameter-value"
    assert "W[0→0] of layer 2" in page.inner_text("#edit-parameter-label")
    page.keyboard.press("Control+a")
    page.keyboard.type("0.625")
    page.keyboard.press("Enter")
    playground.wait_server(lambda s: s["layers"][2]["W"][0][0] == 0.625)
    page.keyboard.press("Escape")  # back to the diagram, where the walk was
    assert page.evaluate("document.activeElement.id") == "network-diagram"
    page.wait_for_function(
        "() => document.querySelector('[data-testid=diagram-focus]').innerText.includes('0.6250')"
    )


def test_every_chart_has_a_name_and_a_table(playground: Playground) -> None:
    page = playground.page
    playground.step(8)
    # The scheduler draws a view once it is in sight: each is named once drawn.
    for selector in ("#layers-section", "#gradient-section"):
        page.locator(selector).scroll_into_view_if_needed()
        page.wait_for_function(
            """selector => [...document.querySelectorAll(selector + ' .chart')].every(chart =>
                !/^$|nothing yet|not computed|no backward pass|no point/.test(
                    chart.getAttribute('aria-label') || ''))""",
            arg=selector,
        )
    charts: list[dict[str, Any]] = page.evaluate(
        """() => [...document.querySelectorAll('.chart')].map(chart => ({
            id: chart.id, role: chart.getAttribute('role'),
            name: chart.getAttribute('aria-label') || ''}))"""
    )
    assert len(charts) >= 14  # diagram, loss, output, 2 gradient charts, 3 heatmaps a layer
    for chart in charts:
        assert chart["role"] in ("img", "application"), chart
        assert len(chart["name"]) > 30, chart
        assert not re.search("nothing yet|not computed|no backward pass|no point", chart["name"])
    names = {chart["id"]: chart["name"] for chart in charts}
    assert "Data loss over batch steps: at step" in names["loss-chart"]
    assert "train accuracy" in names["output-chart"]
    assert "layer 2 (output)" in names["grad-norm-chart"]
    assert names["heatmap-W-0"].startswith("Heatmap of W for layer 0 (hidden), inputs × units 2 × ")
    # The W heatmap's table holds the server's weights.
    page.locator("[data-testid=heatmap-layer-0]").scroll_into_view_if_needed()
    page.click("[data-testid=heatmap-W-0-table-button]")
    table = page.locator("[data-testid=heatmap-W-0-table] table")
    table.wait_for()
    weights = playground.server_session()["layers"][0]["W"]
    first_row = table.locator("tbody tr").first.locator("td").all_inner_texts()
    assert [float(v) for v in first_row] == pytest.approx(weights[0], abs=1e-4)
    # The loss table's last row is the newest point: the server's last batch step (the chart
    # itself, scrolled out of sight, may not be redrawn yet: its table is from the data).
    page.click("[data-testid=loss-chart-table-button]")
    last = page.locator("[data-testid=loss-chart-table] tbody tr").last
    last.wait_for()
    newest = playground.server_session()["step"]
    assert int(last.locator("th").inner_text()) == newest > 0
    playground.screenshot("charts-loss-table.png", "#output-panel")
    playground.screenshot("charts-heatmap-table.png", "[data-testid=heatmap-layer-0]")


@contextlib.contextmanager
def class_student(playground: Playground, **context_args: Any) -> Iterator[Playground]:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    browser: Browser | None = teacher.context.browser
    assert browser is not None
    context = browser.new_context(**context_args)
    try:
        with opened(context.new_page(), link) as student:
            student.url = playground.url
            yield student
    finally:
        context.close()


def test_axe_finds_no_wcag_violation_on_the_plain_page(playground: Playground) -> None:
    playground.step(3)
    assert violations(playground) == []


def test_axe_finds_no_wcag_violation_in_presenter_mode(playground: Playground) -> None:
    playground.page.click("#presenter-button")
    playground.page.wait_for_selector("body.presenter")
    playground.step(3)
    assert violations(playground) == []


def test_axe_finds_no_wcag_violation_on_a_class_students_page(playground: Playground) -> None:
    with class_student(playground, viewport={"width": 1024, "height": 768}) as student:
        student.page.wait_for_selector("body.watching")
        playground.step(3)
        student.page.wait_for_timeout(500)
        assert violations(student) == []


def test_axe_finds_no_wcag_violation_on_a_phone(playground: Playground) -> None:
    browser = playground.page.context.browser
    assert browser is not None
    context = browser.new_context(**PHONE)
    try:
        with opened(context.new_page(), playground.url) as phone:
            phone.page.tap("#step-button")
            phone.page.wait_for_timeout(500)
            assert violations(phone) == []
    finally:
        context.close()


def test_the_keyboard_picks_a_neuron_for_the_class_question_and_asks(
    playground: Playground,
) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    teacher.click("#share-close-button")
    teacher.locator("#predict-teacher").wait_for()
    assert teacher.is_disabled("#predict-ask")  # nothing picked yet
    teacher.select_option("#step-unit", "phase")  # paused before the output's backward pass
    while playground.state()["nextPhase"] != {"kind": "backward", "layer": 2}:
        playground.step()
    focus_diagram(playground)
    for key in ("ArrowRight", "ArrowRight", "ArrowRight"):  # the output's unit 0
        teacher.keyboard.press(key)
    assert focused(playground) == "2,,0"
    teacher.keyboard.press("a")  # picks it, as a click does, and goes on to Ask
    assert "δ of neuron 0 in layer 2" in teacher.inner_text("#predict-pick")
    assert teacher.evaluate("document.activeElement.id") == "predict-ask"
    teacher.keyboard.press("Enter")
    teacher.wait_for_selector("#predict-question:has-text('sign of δ of unit 0')")
