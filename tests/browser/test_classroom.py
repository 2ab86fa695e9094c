"""The page in a classroom: one screen on a projector at 1024×768, 1280×720 and 1920×1080
(also in presenter mode, with the teaching panel), and the chain-rule inspector opening in
view from a click anywhere along a link."""

from __future__ import annotations

import contextlib
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page

from .conftest import ARTIFACTS, Playground, opened

pytestmark = pytest.mark.browser

SCREENS = [(1024, 768), (1280, 720), (1920, 1080)]
FIRST_SCREEN = ("#play-button", "#network-diagram", "#output-chart", "#loss-chart")


def boxes(playground: Playground, selectors: tuple[str, ...]) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for selector in selectors:
        box = playground.page.locator(selector).bounding_box()
        assert box is not None, f"{selector} is not shown"
        found[selector] = box
    return found


def assert_inside(box: dict[str, float], width: int, height: int, what: str) -> None:
    assert box["x"] >= 0 and box["y"] >= 0, f"{what} starts off screen: {box}"
    assert box["x"] + box["width"] <= width, f"{what} is cut on the right: {box}"
    assert box["y"] + box["height"] <= height, f"{what} is below the first screen: {box}"


def at_size(playground: Playground, width: int, height: int) -> None:
    playground.page.set_viewport_size({"width": width, "height": height})
    playground.page.evaluate("window.scrollTo(0, 0)")
    playground.page.wait_for_timeout(500)  # Plotly follows its container's new size


@pytest.mark.parametrize("width, height", SCREENS)
def test_network_output_and_loss_fit_the_first_screen(
    playground: Playground, width: int, height: int
) -> None:
    at_size(playground, width, height)
    page = playground.page
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    for selector, box in boxes(playground, FIRST_SCREEN).items():
        assert_inside(box, width, height, selector)
    # The hyperparameters take one row: every field on the row of the first.
    tops = page.evaluate("[...document.querySelectorAll('.hyperbar .field')].map(f => f.offsetTop)")
    assert len(set(tops)) == 1, f"the hyperparameters wrap: {tops}"
    playground.step(3)
    playground.screenshot(f"classroom-{width}x{height}.png")


@pytest.mark.parametrize("width, height", SCREENS)
def test_presenter_mode_fills_the_screen_with_the_teaching_panel(
    playground: Playground, width: int, height: int
) -> None:
    at_size(playground, width, height)
    page = playground.page
    normal_tick = chart_tick_size(playground)
    page.click("#presenter-button")
    page.wait_for_selector("body.presenter")
    page.wait_for_timeout(500)
    shown = (*FIRST_SCREEN, "#teaching-panel")
    for selector, box in boxes(playground, shown).items():
        assert_inside(box, width, height, selector)
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    # The charts' text grows with the page's type.
    assert chart_tick_size(playground) >= 1.4 * normal_tick
    page.click("#tab-guide")
    page.locator("[data-testid=lesson-guide]").wait_for()
    # The guide starts in view; the panel (inside the screen) scrolls when it is longer.
    guide = page.locator("#guide-panel").bounding_box()
    assert guide is not None and guide["y"] + 200 < height
    assert_inside(page.locator("#teaching-panel").bounding_box() or {}, width, height, "teaching")
    playground.screenshot(f"classroom-presenter-{width}x{height}.png")
    page.click("#presenter-button")
    page.wait_for_selector("body:not(.presenter)")
    assert chart_tick_size(playground) == normal_tick


def chart_tick_size(playground: Playground) -> float:
    """The font size of the loss chart's first x tick label, as drawn."""
    size: float = playground.page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('#loss-chart .xtick text')).fontSize)"
    )
    return size


def point_along(playground: Playground, layer: int, i: int, j: int, fraction: float) -> Any:
    """Page pixels of the point `fraction` of the way along the link W[i→j] of `layer`, from
    the diagram's own geometry (columns at x = c + 0.5, units centred on y = 0)."""
    return playground.page.evaluate(
        """([layer, i, j, fraction]) => {
            const el = document.getElementById('network-diagram');
            const xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            const columns = [2, ...window.playgroundState.layers.map(l => l.units)];
            const at = (c, n) => ({x: c + 0.5, y: (columns[c] - 1) / 2 - n});
            const from = at(layer, i), to = at(layer + 1, j);
            const x = from.x + fraction * (to.x - from.x), y = from.y + fraction * (to.y - from.y);
            const box = el.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.l2p(x), y: box.top + ya._offset + ya.l2p(y)};
        }""",
        [layer, i, j, fraction],
    )


@pytest.mark.parametrize("width, height", SCREENS)
@pytest.mark.parametrize("fraction", [0.5, 0.18])
def test_the_inspector_opens_in_view_from_anywhere_along_a_link(
    playground: Playground, width: int, height: int, fraction: float
) -> None:
    at_size(playground, width, height)
    playground.step(1)
    # W[0→0] of the second layer (4 → 2 units): no other link crosses its middle.
    point = point_along(playground, 1, 0, 0, fraction)
    playground.page.mouse.click(point["x"], point["y"])
    values = playground.page.locator("[data-testid=inspector-values]")
    values.wait_for()
    assert "W[0→0] of layer 1" in values.inner_text()
    teaching = playground.page.locator("#teaching-panel").bounding_box()
    assert teaching is not None
    assert_inside(teaching, width, height, "the teaching panel")
    if fraction == 0.18 and width == 1280:
        playground.screenshot("classroom-inspector-1280x720.png")


def test_a_tiny_gradient_passes_on_its_absolute_difference(playground: Playground) -> None:
    """Near 0 the central difference's rounding (~1e-11) dominates the relative error: the
    inspector's check combines an absolute and a relative tolerance, and says which held."""
    verdicts = playground.page.evaluate(
        """async () => {
            const { gradientVerdict } = await import('/static/js/inspector.js');
            return [gradientVerdict(0.25, 0.25 + 1e-9), gradientVerdict(3e-12, 1.4e-11),
                    gradientVerdict(1e-3, 1.1e-3), gradientVerdict(2e-9, 4e-8)];
        }"""
    )
    assert verdicts == ["relative", "absolute", "fail", "fail"]


# ----- the class link ---------------------------------------------------------------------------

FOLLOW_MS = 3000  # students follow the teacher within this


@contextlib.contextmanager
def student_on(playground: Playground, link: str) -> Iterator[Playground]:
    """A student: a page in a second browser context (its own storage) on `link`."""
    browser = playground.page.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1024, "height": 768})
    try:
        with opened(context.new_page(), link) as student:
            student.url = playground.url
            yield student
    finally:
        context.close()


def test_a_class_link_follows_the_teacher_across_a_preset_and_a_network_change(
    playground: Playground,
) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    code = teacher.locator("#class-code")
    code.wait_for()
    link = teacher.input_value("#class-link")
    assert link == f"{playground.url}/#class={code.inner_text()}"
    assert playground.state()["token"] not in link

    with student_on(playground, link) as student:
        assert student.state()["sessionId"] == playground.state()["sessionId"]
        assert student.state()["role"] == "watch"
        teacher.wait_for_selector("#class-students[data-count='1']")
        assert "1 student following" in teacher.inner_text("#class-badge")

        # A preset change: a new session; the student's page follows it.
        first = playground.state()["sessionId"]
        teacher.select_option("#preset", "xor")
        playground.wait_new_session(first)
        xor = playground.state()["sessionId"]
        followed = "state.sessionId === arg && state.preset === 'xor'"
        student.wait_for(followed, xor, timeout=FOLLOW_MS)
        student.wait_for("state.connection === 'live'", timeout=FOLLOW_MS)
        notice = student.page.locator("#notice")
        assert "switched to a new session" in notice.inner_text()

        # A network change: another new session; followed too.
        teacher.click("#add-layer-button")
        playground.wait_new_session(xor)
        bigger = playground.state()["sessionId"]
        followed = "state.sessionId === arg && state.layers.length === 4"
        student.wait_for(followed, bigger, timeout=FOLLOW_MS)
        assert student.page.locator("#play-button").is_disabled(), "still read-only"

        # The teacher ends the class: the student's page says so instead of "live".
        teacher.click("#end-class-button")
        student.wait_for("state.connection === 'ended'", timeout=FOLLOW_MS)
        status = student.page.locator("#connection-status")
        assert "the class has ended" in status.inner_text() and "live" not in status.inner_text()
        student.screenshot("classroom-class-ended.png")


def test_a_watch_link_to_a_replaced_session_says_it_has_ended(playground: Playground) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    link = teacher.input_value("#watch-link")
    with student_on(playground, link) as student:
        first = playground.state()["sessionId"]
        teacher.select_option("#preset", "xor")
        playground.wait_new_session(first)
        student.wait_for("state.connection === 'ended'", timeout=FOLLOW_MS)
        assert "ended" in student.page.inner_text("#connection-status")
        assert "class link" in student.page.inner_text("#notice")


def test_a_typed_class_code_joins_and_an_unknown_one_says_so(playground: Playground) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    code = teacher.locator("#class-code")
    code.wait_for()
    browser = playground.page.context.browser
    assert browser is not None
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(playground.url + "/#class=QQQQQQ")
        page.wait_for_function(
            "() => window.playgroundState && window.playgroundState.connection === 'ended'"
        )
        assert "no such class" in page.inner_text("#connection-status")
        page.click("#share-button")
        page.fill("#join-class-code", code.inner_text().lower())
        page.click("#join-class-button")
        page.wait_for_function(
            "id => window.playgroundState && window.playgroundState.connection === 'live'"
            " && window.playgroundState.sessionId === id",
            arg=playground.state()["sessionId"],
        )
    finally:
        context.close()


# ----- /docs ----------------------------------------------------------------------------------


def test_the_api_docs_list_the_operations_offline_under_the_csp(
    page: Page, server_url: str
) -> None:
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    response = page.goto(f"{server_url}/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.locator(".opblock").first.wait_for(timeout=20_000)
    with urllib.request.urlopen(f"{server_url}/openapi.json", timeout=10) as answer:
        spec = json.loads(answer.read())
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert page.locator(".opblock").count() == operations
    shown = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/classes/current" in path for path in shown)
    assert any("/api/sessions/{id}/step" in path for path in shown)
    assert errors == []
    host = urlsplit(server_url).netloc
    foreign = [url for url in requests if urlsplit(url).netloc not in ("", host)]
    assert foreign == []
    page.screenshot(path=str(ARTIFACTS / "docs.png"))


# ----- words for students -------------------------------------------------------------------------


def test_words_for_students_one_layer_numbering_and_readable_numbers(
    playground: Playground,
) -> None:
    page = playground.page
    # Frame rate and lag are a developer's: not shown without ?debug.
    assert not page.locator("#fps-readout").is_visible()
    assert not page.locator("#stats-readout").is_visible()
    # One numbering: "layer k" from 0, the API's, in the editor, the phases and the heatmaps.
    cards = page.locator(".layer-card-title").all_inner_texts()
    assert cards[1:] == ["Layer 0 · hidden", "Layer 1 · hidden", "Layer 2 · output"], cards
    playground.step()
    page.select_option("#step-unit", "phase")
    playground.step()
    assert page.inner_text("#phase-readout") == "forward · layer 0"
    headings = page.locator(".layer-heading").all_inner_texts()
    assert headings == ["Layer 0 · hidden", "Layer 1 · hidden", "Layer 2 · output"]
    # No emoji (they need a font the projector may lack) in the page's text or its CSS marks.
    marks = page.evaluate(
        """() => [...document.querySelectorAll('*')].flatMap(el =>
            ['::before', '::after'].map(p => getComputedStyle(el, p).content))
            .concat([document.body.innerText]).join('')"""
    )
    assert not any(ord(char) >= 0x1F000 for char in marks)
    formatted = page.evaluate(
        """async () => {
            const { formatNumber } = await import('/static/js/words.js');
            return [formatNumber(9.928750361390341e+304), formatNumber(Infinity),
                    formatNumber(0.693147), formatNumber(null)];
        }"""
    )
    assert formatted == ["9.93e304", "∞ (diverged)", "0.6931", "–"]


# ----- own data that learns ---------------------------------------------------------------------


def test_an_uploaded_real_units_csv_is_standardized_and_shown_in_full(
    playground: Playground, tmp_path: Path
) -> None:
    rows = ["body_height_in_centimetres,body_weight_in_kilograms,label"]
    for k in range(120):
        height, weight = 150 + (k * 37 % 50), 50 + (k * 23 % 45)
        if abs(weight + 0.5 * height - 157) < 2:
            continue
        rows.append(f"{height},{weight},{int(weight + 0.5 * height > 157)}")
    csv = tmp_path / "people.csv"
    csv.write_text("\n".join(rows) + "\n")
    page = playground.page
    first = playground.state()["sessionId"]
    page.click(".upload summary")
    page.set_input_files("#upload-file", str(csv))
    page.click("#upload-button")
    playground.wait_new_session(first)
    info = page.locator("#scaling-info")
    info.wait_for()
    assert page.is_checked("#standardize")
    text = info.inner_text()
    # Full names, and the train split's mean and spread shown.
    assert "body_height_in_centimetres: mean 17" in text
    assert "body_weight_in_kilograms: mean" in text
    assert playground.server_session()["config"]["data"]["standardize"] is True
    # The page's network as it was (4-2 tanh, learning rate 0.03) learns the raw centimetres
    # and kilos once they are standardized.
    playground.play_until("state.accuracy >= 0.9", timeout=90_000)
    playground.pause()
    assert playground.state()["accuracy"] >= 0.9
    playground.screenshot("classroom-upload-standardized.png", "#data-panel")

    # Switched off: the raw numbers, and a word about their scales if they differ a lot.
    standardized = playground.state()["sessionId"]
    page.uncheck("#standardize")
    playground.wait_new_session(standardized)
    assert playground.server_session()["config"]["data"]["standardize"] is False
    page.wait_for_function(
        "() => document.getElementById('scaling-info').textContent.includes('as uploaded')"
    )


# ----- TF Playground's comforts ---------------------------------------------------------------


def neuron_pictures(playground: Playground) -> list[str]:
    pictures: list[str] = playground.page.evaluate(
        "() => (document.getElementById('network-diagram').layout.images || []).map(i => i.source)"
    )
    return pictures


def test_every_neuron_shows_its_output_over_the_plane_and_it_changes_while_playing(
    playground: Playground,
) -> None:
    playground.step()
    before = neuron_pictures(playground)
    units = sum(layer["units"] for layer in playground.state()["layers"])
    assert len(before) == units and all(p.startswith("data:image/png") for p in before)
    playground.play_until("state.epoch >= 5")
    playground.pause()
    playground.page.wait_for_timeout(400)  # past the pictures' redraw interval
    after = neuron_pictures(playground)
    assert len(after) == units
    assert sum(a != b for a, b in zip(before, after, strict=True)) >= 1, "a picture changed"
    playground.screenshot("classroom-neuron-pictures.png", "#network-panel")


def boundary_colours(playground: Playground) -> int:
    """How many distinct colours the decision boundary's picture has."""
    count: int = playground.page.evaluate(
        """async () => {
            const source = document.getElementById('output-chart').layout.images[0].source;
            const image = new Image();
            image.src = source;
            await image.decode();
            const canvas = Object.assign(document.createElement('canvas'),
                                         {width: image.width, height: image.height});
            const context = canvas.getContext('2d');
            context.drawImage(image, 0, 0);
            const data = context.getImageData(0, 0, image.width, image.height).data;
            const colours = new Set();
            for (let k = 0; k < data.length; k += 4) colours.add(data.slice(k, k + 3).join());
            return colours.size;
        }"""
    )
    return count


def test_discretize_output_paints_the_boundary_in_two_colours(playground: Playground) -> None:
    playground.play_until("state.epoch >= 3")
    playground.pause()
    assert boundary_colours(playground) > 2
    playground.page.check("#discretize")
    playground.page.wait_for_function(
        "() => document.getElementById('output-chart').layout.images[0].source !== ''"
    )
    playground.page.wait_for_timeout(300)
    assert boundary_colours(playground) <= 2


def test_a_feature_cross_toggled_on_the_input_column_trains(playground: Playground) -> None:
    page = playground.page
    first = playground.state()["sessionId"]
    toggle = page.locator("[data-testid=feature-x1_squared]")
    assert toggle.get_attribute("aria-pressed") == "false"
    toggle.click()
    playground.wait_new_session(first)
    assert page.get_attribute("[data-testid=feature-x1_squared]", "aria-pressed") == "true"
    server = playground.server_session()
    assert server["config"]["data"]["features"] == ["x1", "x2", "x1_squared"]
    assert server["config"]["model"]["input_size"] == 3
    # The input column shows it: a third input node, named x1².
    labels = page.evaluate("() => document.getElementById('network-diagram').data[1].text")
    assert labels == ["x1", "x2", "x1²"]
    assert page.locator("#network-editor .input-card").inner_text().startswith("Input\n3")
    start = playground.state()["loss"]
    playground.play_until("state.epoch >= 10 && state.loss !== null")
    playground.pause()
    assert playground.state()["loss"] < start
    playground.screenshot("classroom-feature-cross.png", "#network-panel")
    # Another dataset on the plane keeps the features (TF Playground does); one off it has none.
    crossed = playground.state()["sessionId"]
    page.select_option("#dataset", "spiral")
    playground.wait_new_session(crossed)
    assert playground.server_session()["config"]["data"]["features"] == ["x1", "x2", "x1_squared"]
    assert page.get_attribute("[data-testid=feature-x1_squared]", "aria-pressed") == "true"
    spiral = playground.state()["sessionId"]
    page.select_option("#dataset", "iris")
    playground.wait_new_session(spiral)
    assert playground.server_session()["config"]["data"].get("features") is None


def test_a_weight_is_edited_by_clicking_it_and_typing_a_value(playground: Playground) -> None:
    playground.step()
    point = point_along(playground, 1, 0, 0, 0.5)
    playground.page.mouse.click(point["x"], point["y"])
    form = playground.page.locator("[data-testid=edit-parameter-form]")
    form.wait_for()
    assert "W[0→0] of layer 1" in playground.page.inner_text("#edit-parameter-label")
    shown = float(playground.page.input_value("#edit-parameter-value"))
    assert abs(shown - playground.server_session()["layers"][1]["W"][0][0]) < 1e-5
    playground.page.fill("#edit-parameter-value", "0.75")
    playground.page.click("#edit-parameter-button")
    playground.wait_server(lambda s: s["layers"][1]["W"][0][0] == 0.75)
    # The diagram has the new value: its hover box reads the latest frame.
    target = point_along(playground, 1, 0, 0, 0.62)  # the link's hover target
    playground.page.mouse.move(target["x"], target["y"])
    tooltip = playground.page.locator("#network-panel [data-testid=diagram-tooltip]")
    tooltip.wait_for(state="visible")
    playground.page.wait_for_function(
        "() => document.querySelector('#network-panel [data-testid=diagram-tooltip]')"
        ".innerText.includes('W = 0.7500')"
    )
