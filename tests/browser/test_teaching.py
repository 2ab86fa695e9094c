"""The teaching features as a teacher and a class meet them: the chain-rule inspector, the
lesson guides, presenter mode, watch links and shareable setups — every number the page shows
checked against the server's own (`GET /api/sessions/{id}`), read outside the browser."""

from __future__ import annotations

import base64
import contextlib
import json
import math
import time
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, WebSocket

from .conftest import Playground, opened

pytestmark = pytest.mark.browser

EXACT = 1e-12  # the page shows the server's float64 numbers: only JSON lies between
GRADCHECK = 1e-5
LESSON_000_STEPS = [
    "layer1",
    "output",
    "loss",
    "output_error",
    "delta_output_sum",
    "layer1_error",
    "layer1_delta",
    "weight_adjustments",
]
# Where each lesson-000 step lives in the diagram: (layer, part).
LESSON_000_PLACES = {
    "layer1": ("0", "forward"),
    "output": ("1", "forward"),
    "loss": ("", "loss"),
    "output_error": ("1", "backward"),
    "delta_output_sum": ("1", "backward"),
    "layer1_error": ("0", "backward"),
    "layer1_delta": ("0", "backward"),
    "weight_adjustments": ("0", "update"),
}

Matrix = list[list[float]]

# ----- helpers ---------------------------------------------------------------------------------


def api_get(playground: Playground, path: str) -> Any:
    """GET /api/sessions/{id}{path} with the page's token, outside the browser."""
    state = playground.state()
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{state['sessionId']}{path}",
        headers={"Authorization": f"Bearer {state['token']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def close(actual: Any, expected: Any) -> bool:
    """Numbers, or nested lists of them, equal to EXACT (relative)."""
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(close(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return bool(actual == pytest.approx(expected, rel=EXACT, abs=1e-15))


def negated(rows: Matrix) -> Matrix:
    return [[-value for value in row] for row in rows]


def scaled(rows: Matrix, factor: float) -> Matrix:
    return [[factor * value for value in row] for row in rows]


def link_point(playground: Playground, layer: int, i: int | None, j: int) -> dict[str, float]:
    """Page pixels of the diagram's click target for W[i→j] of `layer` (i None: a neuron)."""
    point: dict[str, float] = playground.page.evaluate(
        """target => {
            const el = document.getElementById('network-diagram');
            const trace = el._fullData[0], xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            const k = trace.customdata.findIndex(d => JSON.stringify(d) === JSON.stringify(target));
            const box = el.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.l2p(trace.x[k]),
                    y: box.top + ya._offset + ya.l2p(trace.y[k])};
        }""",
        [layer, i, j],
    )
    return point


def click_in_diagram(playground: Playground, layer: int, i: int | None, j: int) -> None:
    """Click a link or a neuron, with the page at its top (nothing under the sticky bar)."""
    playground.page.evaluate("window.scrollTo(0, 0)")
    point = link_point(playground, layer, i, j)
    # Plotly takes a click's point from the last hover, and hovers at most every 50 ms:
    # point first, then click, as a hand does.
    playground.page.mouse.move(point["x"], point["y"])
    playground.page.wait_for_timeout(120)
    playground.page.mouse.click(point["x"], point["y"])


def inspector(playground: Playground) -> dict[str, Any]:
    """The inspector's numbers: its data attributes and the factor table's exact cells."""
    shown: dict[str, Any] = playground.page.evaluate(
        """() => {
            const root = document.querySelector('[data-testid=chain-inspector]');
            const column = name => [...root.querySelectorAll(`td[data-factor=${name}]`)]
                .map(cell => Number(cell.dataset.value));
            return {...root.dataset, upstream: column('upstream'), local: column('local'),
                    input: column('input'), products: column('product'),
                    text: root.innerText};
        }"""
    )
    return shown


def wait_inspector(
    playground: Playground,
    state: str,
    equal: dict[str, str] | None = None,
    unequal: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Wait until the inspector is in `state` with these data attributes (un)equal."""
    playground.page.wait_for_function(
        """([state, equal, unequal]) => {
            const root = document.querySelector('[data-testid=chain-inspector]');
            if (!root || root.dataset.state !== state) return false;
            return Object.entries(equal).every(([k, v]) => root.dataset[k] === v)
                && Object.entries(unequal).every(([k, v]) => root.dataset[k] !== v);
        }""",
        arg=[state, equal or {}, unequal or {}],
        timeout=10_000,
    )
    return inspector(playground)


def guide_values(playground: Playground) -> dict[str, Any]:
    """The guide step's values as the page shows them: name → number, matrix, or list."""
    values: dict[str, Any] = playground.page.evaluate(
        """() => {
            const read = table => {
                const rows = [];
                for (const cell of table.querySelectorAll('td[data-row]')) {
                    const r = Number(cell.dataset.row);
                    rows[r] = rows[r] || [];
                    rows[r][Number(cell.dataset.col)] = Number(cell.dataset.value);
                }
                return rows;
            };
            const out = {};
            const blocks = '[data-testid=guide-values] .value-block';
            for (const block of document.querySelectorAll(blocks)) {
                const tables = [...block.querySelectorAll('table[data-name]')];
                if (tables.length === 1 && tables[0].dataset.name === block.dataset.name) {
                    out[block.dataset.name] = read(tables[0]);
                } else if (tables.length) {
                    out[block.dataset.name] = tables.map(read);
                } else {
                    const cell = block.querySelector('[data-value]');
                    const value = cell.dataset.value;
                    out[block.dataset.name] = value === '' ? null : Number(value);
                }
            }
            return out;
        }"""
    )
    return values


def wait_guide(playground: Playground, step_id: str) -> None:
    playground.page.wait_for_selector(
        f"[data-testid=lesson-guide][data-busy=false][data-guide-step={step_id}]", timeout=10_000
    )


def next_step(playground: Playground, step_id: str) -> None:
    playground.page.click("#guide-next")
    wait_guide(playground, step_id)


@contextlib.contextmanager
def opened_link(playground: Playground, link: str) -> Iterator[Playground]:
    """A second page on `link` (a watch or setup link), checked like the first."""
    with opened(playground.page.context.new_page(), link) as other:
        other.url = playground.url  # the server, for its REST helpers (the link has a #…)
        yield other


def decoded_setup(url: str) -> dict[str, Any]:
    """The create request a #setup= link carries."""
    if "#setup=" not in url:
        return {}
    fragment = url.split("#setup=", 1)[1]
    setup: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(fragment + "=" * (-len(fragment) % 4))
    )
    return setup


def wait_setup(page: Page, check: Callable[[dict[str, Any]], bool], seconds: float = 10) -> str:
    """Wait until the address bar's setup satisfies `check`; its URL."""
    deadline = time.monotonic() + seconds
    while not check(decoded_setup(page.url)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the URL never held the expected setup: {page.url}")
        page.wait_for_timeout(50)
    return page.url


def lesson_000_expected(step_id: str, session: dict[str, Any], y: Matrix) -> dict[str, Any]:
    """What lesson 000's step shows, from the server's state (its signs: see lessons.py)."""
    layers = session["layers"]
    if step_id == "layer1":
        return {"input": layers[0]["input"], "layer1": layers[0]["a"]}
    if step_id == "output":
        return {"output": layers[1]["a"]}
    if step_id == "loss":
        return {"y": y, "loss": session["batch_loss"]}
    if step_id == "output_error":
        output = layers[1]["a"]
        return {
            "output_error": [
                [t - a for t, a in zip(ty, ay, strict=True)]
                for ty, ay in zip(y, output, strict=True)
            ]
        }
    if step_id == "delta_output_sum":
        return {"delta_output_sum": negated(layers[1]["delta"])}
    if step_id == "layer1_error":
        return {"layer1_error": negated(layers[0]["upstream"])}
    if step_id == "layer1_delta":
        return {"layer1_delta": negated(layers[0]["delta"])}
    rate = session["config"]["model"]["learning_rate"]
    return {
        "weights1_adjustment": scaled(layers[0]["dW"], -rate),
        "weights2_adjustment": scaled(layers[1]["dW"], -rate),
        "learning_rate": rate,
        "weights1": layers[0]["W"],
        "weights2": layers[1]["W"],
    }


# ----- the chain-rule inspector -----------------------------------------------------------------


def test_the_inspector_breaks_a_weights_gradient_into_its_chain_rule_factors(
    playground: Playground,
) -> None:
    page = playground.page
    playground.step()  # one batch: every layer has its ∂L/∂W
    click_in_diagram(playground, 2, 1, 0)  # the output layer's weight from hidden unit 1
    shown = wait_inspector(playground, "ok")
    assert (shown["layer"], shown["i"], shown["j"]) == ("2", "1", "0")
    assert "∂L/∂W = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂W" in shown["text"], "lesson 000's chain rule"
    assert "∂E/∂W = Xᵀ · ∂E/∂Y" in shown["text"], "lesson 003's, for the layer"

    # The product, row by row, is the three factors; their sum is the gradient.
    rows = len(shown["products"])
    assert rows == playground.server_session()["batch_size"] == 10
    for s in range(rows):
        product = shown["upstream"][s] * shown["local"][s] * shown["input"][s]
        assert shown["products"][s] == pytest.approx(product, rel=EXACT, abs=1e-15)
    gradient = float(shown["gradient"])
    assert math.fsum(shown["products"]) == pytest.approx(gradient, rel=EXACT)
    assert float(shown["sumProducts"]) == pytest.approx(gradient, rel=EXACT)

    # … and that gradient is the ∂L/∂W the heatmap shows and the server holds (the sum
    # and the matrix product xᵀ·δ may round their last bit differently).
    session = api_get(playground, "")
    reported = float(shown["reported"])
    assert reported == session["layers"][2]["dW"][1][0]
    assert gradient == pytest.approx(reported, rel=EXACT)
    page.locator("[data-testid=heatmap-layer-2]").scroll_into_view_if_needed()
    page.wait_for_function(
        "() => { const d = document.getElementById('heatmap-dW-2').data;"
        " return d && d[0].z[1][0] !== null; }"
    )
    assert playground.plot("heatmap-dW-2")[0]["z"][1][0] == reported

    # The numeric check: a central difference on the same batch and weights.
    numeric = float(shown["numeric"])
    assert abs(gradient - numeric) / (abs(gradient) + abs(numeric)) < GRADCHECK
    assert float(shown["relativeError"]) < GRADCHECK
    assert "✓ below 1e-5" in shown["text"]
    assert "✓ equal to rounding" in shown["text"] and "the same number" not in shown["text"]
    signs = page.get_by_test_id("chain-signs").inner_text()
    assert "delta output sum" in signs and "layer1 error" in signs and "negatives" in signs
    page.locator("#teaching-panel").scroll_into_view_if_needed()
    playground.screenshot("teaching-inspector.png", "#teaching-panel")

    # Live: another batch, and the inspector follows with the new gradient.
    playground.step()
    new = wait_inspector(playground, "ok", unequal={"gradient": shown["gradient"]})
    assert float(new["reported"]) == api_get(playground, "")["layers"][2]["dW"][1][0]

    # A hidden layer's weight and a neuron's bias read the same way.
    click_in_diagram(playground, 0, 1, 3)
    hidden = wait_inspector(playground, "ok", {"layer": "0", "i": "1", "j": "3"})
    assert "∂L/∂W = ∂L/∂a · ∂a/∂z · ∂z/∂W" in hidden["text"]
    assert float(hidden["reported"]) == api_get(playground, "")["layers"][0]["dW"][1][3]
    assert float(hidden["gradient"]) == pytest.approx(float(hidden["reported"]), rel=EXACT)
    click_in_diagram(playground, 1, None, 1)
    bias = wait_inspector(playground, "ok", {"layer": "1", "i": "", "j": "1"})
    assert float(bias["reported"]) == api_get(playground, "")["layers"][1]["db"][1]
    assert float(bias["gradient"]) == pytest.approx(float(bias["reported"]), rel=EXACT)
    assert all(value == 1 for value in bias["input"]), "∂z/∂b = 1"

    # Before the backward pass reaches a layer, the inspector says what to do.
    page.select_option("#step-unit", "phase")
    playground.step()  # forward 0 of a new batch: no gradients yet
    waiting = wait_inspector(playground, "waiting")
    assert "step to the backward pass of layer 1" in waiting["text"]

    # The full training set as one batch: the rows scroll, their means and sum below.
    page.select_option("#batch-size", "full")
    playground.wait_server(lambda s: s["config"]["model"]["batch_size"] is None)
    page.select_option("#step-unit", "batch")
    playground.step()
    rows = len(api_get(playground, "/lesson?name=lesson-003")["batch_indices"])
    assert rows > 16, "the rest of the epoch, in one batch"
    big = wait_inspector(playground, "ok", {"rows": str(rows)})
    assert float(big["reported"]) == api_get(playground, "")["layers"][1]["db"][1]
    assert float(big["gradient"]) == pytest.approx(float(big["reported"]), rel=EXACT)
    assert page.locator("[data-testid=chain-inspector] .table-scroll.tall").count() == 1


# ----- the lesson guides ------------------------------------------------------------------------


def test_the_lesson_000_guide_walks_to_the_weight_adjustments_with_the_servers_numbers(
    playground: Playground,
) -> None:
    page = playground.page
    page.click("#tab-guide")
    # On the default network lesson 000's guide is refused: one click loads its network.
    page.select_option("#guide-lesson", "lesson-000")
    page.wait_for_selector("[data-testid=guide-error]")
    first = playground.state()["sessionId"]
    page.click("#guide-load-lesson")
    playground.wait_new_session(first)
    assert playground.state()["preset"] == "lesson-000"
    wait_guide(playground, "intro")

    dataset = api_get(playground, "/dataset")
    for step_id in LESSON_000_STEPS:
        next_step(playground, step_id)
        shown = guide_values(playground)
        session = api_get(playground, "")
        assert page.get_attribute("#teaching-panel", "data-guide-step") == step_id
        diagram = page.locator("#network-diagram")
        place = (
            diagram.get_attribute("data-guide-layer"),
            diagram.get_attribute("data-guide-part"),
        )
        assert place == LESSON_000_PLACES[step_id], step_id
        rows = api_get(playground, "/lesson?name=lesson-000")["batch_indices"]
        y = [dataset["y_train"][r] for r in rows]
        expected = lesson_000_expected(step_id, session, y)
        assert set(shown) == set(expected), step_id
        for name, value in expected.items():
            assert close(shown[name], value), (step_id, name)
        if step_id == "weight_adjustments":  # W += adjustment, from the weights it was for
            for k, name in ((0, "weights1"), (1, "weights2")):
                used, adjustment = session["layers"][k]["W_used"], shown[f"{name}_adjustment"]
                added = [
                    [w + a for w, a in zip(wr, ar, strict=True)]
                    for wr, ar in zip(used, adjustment, strict=True)
                ]
                assert close(added, session["layers"][k]["W"]), name
        if step_id == "delta_output_sum":
            page.set_viewport_size({"width": 1920, "height": 1080})
            page.evaluate("window.scrollTo(0, 0)")
            page.wait_for_timeout(400)
            playground.screenshot("teaching-lesson-000-step.png")
            page.set_viewport_size({"width": 1280, "height": 720})

    # Previous only looks back: nothing runs.
    version = playground.state()["version"]
    page.click("#guide-prev")
    wait_guide(playground, "layer1_delta")
    page.wait_for_timeout(200)
    assert playground.state()["version"] == version
    # Run to the end of the epoch (one full batch here): the last step, one batch on.
    page.click("#guide-run-epoch")
    wait_guide(playground, "weight_adjustments")
    assert page.get_attribute("#guide-panel", "data-session-step") == "2"
    # Past the last step, Next starts the next batch with its first phase.
    next_step(playground, "layer1")
    assert api_get(playground, "")["phase"] == {"kind": "forward", "layer": 1}


def test_the_lesson_003_guide_steps_forward_through_the_layers_and_back(
    playground: Playground,
) -> None:
    page = playground.page
    first = playground.state()["sessionId"]
    page.select_option("#preset", "lesson-003-xor")
    playground.wait_new_session(first)
    page.click("#tab-guide")
    wait_guide(playground, "intro")
    assert page.input_value("#guide-lesson") == "lesson-003"
    expected = [
        ("fc1_forward", "0"),
        ("activation1_forward", "0"),
        ("fc2_forward", "1"),
        ("activation2_forward", "1"),
        ("loss", ""),
        ("activation2_backward", "1"),
        ("fc2_backward", "1"),
        ("activation1_backward", "0"),
        ("fc1_backward", "0"),
        ("update", "0"),
    ]
    for step_id, layer in expected:
        next_step(playground, step_id)
        assert page.get_attribute("#network-diagram", "data-guide-layer") == layer
        shown = guide_values(playground)
        layers = api_get(playground, "")["layers"]
        if step_id == "fc1_forward":
            assert close(shown["Y"], layers[0]["z"]) and close(shown["X"], layers[0]["input"])
        if step_id == "activation2_backward":
            assert close(shown["dE_dX"], layers[1]["delta"])
        if step_id == "fc2_backward":
            assert close(shown["dE_dW"], layers[1]["dW"])
            assert close(shown["dE_dX"], layers[0]["upstream"]), "∂E/∂X = ∂E/∂Y · Wᵀ"
        if step_id == "fc1_backward":  # ∂E/∂X = δ · Wᵀ, W before the update
            delta, weights = np.array(layers[0]["delta"]), np.array(layers[0]["W"])
            assert close(shown["dE_dX"], (delta @ weights.T).tolist())
            playground.screenshot("guide-lesson-003-fc1-backward.png", "#guide-panel")
        if step_id == "update":
            assert close(shown["W"], [layer["W"] for layer in layers])
    assert page.get_attribute("#guide-panel", "data-phases-run") == "6"


# ----- presenter mode ---------------------------------------------------------------------------


def test_presenter_mode_is_large_plays_phases_at_the_teachers_pace(playground: Playground) -> None:
    page = playground.page
    page.set_viewport_size({"width": 1920, "height": 1080})
    sent: list[dict[str, Any]] = []

    def record(websocket: WebSocket) -> None:
        websocket.on("framesent", lambda payload: sent.append(json.loads(payload)))

    page.on("websocket", record)  # the next session's socket: what the page sends on it
    first = playground.state()["sessionId"]
    page.select_option("#preset", "lesson-000")
    playground.wait_new_session(first)

    page.locator("body").click(position={"x": 5, "y": 1070})
    page.keyboard.press("p")
    page.wait_for_selector("body.presenter")
    assert page.get_attribute("#presenter-button", "aria-pressed") == "true"
    for hidden in (".hyperbar", "#layers-section", "#speed"):
        assert not page.locator(hidden).is_visible(), hidden
    # The class actions stay (#20): reset, share, the preset and the dataset.
    for shown in (
        *("#play-button", "#step-button", "#pace", "#network-diagram", "#teaching-panel"),
        *("#reset-button", "#share-button", "#preset", "#dataset"),
    ):
        box = page.locator(shown).bounding_box()
        assert box is not None and box["y"] + 20 < 1080 and box["x"] + box["width"] <= 1920, shown
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0

    # The teacher's pace: 0.5 s a phase is play by phase at 2 phases a second.
    page.locator("#pace").fill("0.5")
    assert page.inner_text("#pace-value") == "0.5 s"
    page.click("#tab-guide")
    wait_guide(playground, "intro")
    page.click("#play-button")
    playground.wait_for("state.playing")
    plays = [message for message in sent if message["type"] == "play"]
    assert plays and plays[-1]["unit"] == "phase" and plays[-1]["rate"] == 2
    # The guide follows the phases as they run: the slow motion walks the lesson.
    wait_guide(playground, "output")
    playground.pause()

    # Large type for a projector.
    sizes = page.evaluate(
        """() => Object.fromEntries(
            ['#step-readout', '.guide-formula', '.guide-explanation', '.brand h1']
            .map(s => [s, parseFloat(getComputedStyle(document.querySelector(s)).fontSize)]))"""
    )
    assert sizes["#step-readout"] >= 32 and sizes[".guide-formula"] >= 24, sizes
    assert sizes[".guide-explanation"] >= 20, sizes
    playground.screenshot("teaching-presenter-1920x1080.png")

    # The phase-step button steps one phase in presenter mode.
    version = playground.state()["version"]
    page.click("#step-button")
    playground.wait_version_after(version)
    assert [m for m in sent if m["type"] == "step"][-1]["unit"] == "phase"
    page.keyboard.press("p")
    page.wait_for_selector("body:not(.presenter)")
    assert page.locator("#data-panel").is_visible()


# ----- watch links ------------------------------------------------------------------------------


def test_a_watch_link_follows_the_teachers_session_read_only(playground: Playground) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    link = teacher.input_value("#watch-link")
    session_id = playground.state()["sessionId"]
    assert link.startswith(f"{playground.url}/#watch={session_id}.")
    assert playground.state()["token"] not in link, "the watch token, never the control token"

    with opened_link(playground, link) as student:
        state = student.state()
        assert (state["sessionId"], state["role"]) == (session_id, "watch")
        badge = student.page.locator("#watch-badge")
        assert badge.is_visible() and badge.get_attribute("role") == "status"
        assert "watching" in badge.inner_text()
        assert "#watch=" in student.page.url, "a watch page keeps its link"
        for control in (
            "#play-button",
            "#step-button",
            "#reset-button",
            "#preset",
            "#learning-rate",
            "#seed",
            "#add-layer-button",
            "[data-testid=layer-add-unit-0]",
            "[data-testid=layer-activation-0]",
        ):
            element = student.page.locator(control)
            assert element.is_disabled(), control
            assert element.get_attribute("aria-disabled") == "true", control

        # The teacher plays; the student's page follows live.
        teacher.click("#play-button")
        student.wait_for("state.playing && state.step > 20", timeout=15_000)
        seen = student.state()["step"]
        student.wait_for("state.step > arg + 20", seen, timeout=15_000)
        # The teacher's page (behind the student's) may apply its frames later than the
        # student's: pause once it too shows play, or pause() would find nothing to pause.
        playground.wait_for("state.playing", timeout=15_000)
        playground.pause()
        student.wait_for("!state.playing")
        playground.wait_for("!state.playing")
        before = playground.server_session()["step"]

        # Nothing the student does changes the session.
        # The follower view (#20): no teacher's controls to press, the keys refuse.
        assert not student.page.locator("#play-button").is_visible()
        student.page.locator("body").click(position={"x": 5, "y": 700})
        student.page.keyboard.press("s")
        notice = student.page.locator("#notice")
        notice.wait_for(state="visible")
        assert "read-only" in notice.inner_text()
        # Forced past the page's own checks, the server refuses, and the page says so.
        student.page.evaluate(
            "window.playgroundDebug.send({type: 'step', unit: 'epoch', count: 5})"
        )
        student.page.wait_for_function(
            "() => document.getElementById('notice').textContent.includes('refused')"
        )
        assert "watch links are read-only" in notice.inner_text()
        student.page.wait_for_timeout(500)
        assert playground.server_session()["step"] == before
        assert student.state()["step"] == before


# ----- shareable setups -------------------------------------------------------------------------


def test_a_shared_setup_url_rebuilds_the_same_weights_at_step_0(playground: Playground) -> None:
    teacher = playground.page
    first = playground.state()["sessionId"]
    teacher.click("[data-testid=layer-add-unit-0]")  # a custom network: 5-2 hidden units
    playground.wait_new_session(first)
    teacher.select_option("#learning-rate", "0.1")
    playground.wait_server(lambda s: s["config"]["model"]["learning_rate"] == 0.1)
    teacher.fill("#seed", "7")
    teacher.press("#seed", "Enter")
    playground.wait_server(lambda s: s["config"]["model"]["seed"] == 7)
    url = wait_setup(teacher, lambda setup: setup.get("model", {}).get("seed") == 7)
    setup = decoded_setup(url)
    assert "preset" not in setup, "a custom network: the whole model and data"
    assert setup["model"]["layers"][0]["units"] == 5 and setup["model"]["learning_rate"] == 0.1
    original = playground.server_session()
    assert original["step"] == 0

    with opened_link(playground, url) as copy:
        rebuilt = copy.server_session()
        assert copy.state()["sessionId"] != original["id"]
        assert rebuilt["config"] == original["config"]
        assert [layer["W"] for layer in rebuilt["layers"]] == [
            layer["W"] for layer in original["layers"]
        ]
        assert [layer["b"] for layer in rebuilt["layers"]] == [
            layer["b"] for layer in original["layers"]
        ]
        # Reloading the tab goes back to its own run, at the step it had reached.
        copy.step(3)
        previous = copy.state()["sessionId"]
        copy.page.reload()
        copy.wait_live()
        assert copy.state()["sessionId"] == previous
        copy.wait_for("state.step === 3")
        assert copy.server_session()["step"] == 3
        # A run the server no longer has: the reload starts again from the same weights.
        token = copy.state()["token"]
        deleted = copy.page.evaluate(
            "([id, token]) => fetch(`/api/sessions/${id}`, {method: 'DELETE', "
            "headers: {Authorization: `Bearer ${token}`}}).then((answer) => answer.status)",
            [previous, token],
        )
        assert deleted == 204
        copy.page.reload()
        copy.wait_new_session(previous)
        assert copy.state()["step"] == 0
        # Chromium logs the 404 that told the page its run is gone: expected, and only that.
        gone = [error for error in copy.errors if "status of 404" in error]
        assert len(gone) == 1
        copy.errors.remove(gone[0])
        reloaded = copy.server_session()
        assert [layer["W"] for layer in reloaded["layers"]] == [
            layer["W"] for layer in original["layers"]
        ]

    # A preset with a change is stored as the preset and the change.
    preset_session = playground.state()["sessionId"]
    teacher.select_option("#preset", "iris")
    playground.wait_new_session(preset_session)
    teacher.select_option("#learning-rate", "0.03")
    playground.wait_server(lambda s: s["config"]["model"]["learning_rate"] == 0.03)
    wait_setup(teacher, lambda setup: setup.get("model", {}).get("learning_rate") == 0.03)
    teacher.click("#share-button")
    shared = teacher.input_value("#setup-link")
    assert decoded_setup(shared) == {"preset": "iris", "model": {"learning_rate": 0.03}}
    iris = playground.server_session()
    with opened_link(playground, shared) as copy:
        rebuilt = copy.server_session()
        assert rebuilt["config"] == iris["config"]
        assert [layer["W"] for layer in rebuilt["layers"]] == [
            layer["W"] for layer in iris["layers"]
        ]


def test_the_inspector_shows_a_fused_output_as_dl_dz_and_the_loss_its_convention(
    playground: Playground,
) -> None:
    """iris: softmax + cross-entropy. The output layer's factor is ∂L/∂z = (p − y)/n."""
    page = playground.page
    convention = page.get_by_test_id("loss-convention")
    assert "batch rows × outputs" in (convention.text_content() or "")  # the circle preset: mse
    previous = playground.state()["sessionId"]
    page.select_option("#preset", "iris")
    playground.wait_new_session(previous)
    page.wait_for_function(
        "() => document.getElementById('loss-convention').textContent.includes('−Σ y·log p')"
    )
    playground.step()
    click_in_diagram(playground, 1, 2, 1)  # an output link (the dense diagram may pick a neighbour)
    shown = wait_inspector(playground, "ok", {"layer": "1"})
    j = int(shown["j"])
    assert shown["fused"] == "true"
    assert "∂L/∂z = (p − y)/n" in shown["text"] and "fused" in shown["text"]
    assert shown["local"] == [1.0] * len(shown["local"])
    delta = api_get(playground, "")["layers"][1]["delta"]
    assert shown["upstream"] == [row[j] for row in delta[: len(shown["upstream"])]]
    assert "✓ equal to rounding" in shown["text"]
    assert page.get_by_test_id("chain-fused-formula").is_visible()
    apart = page.evaluate(
        "() => [...document.querySelectorAll("
        "'[data-testid=chain-inspector] td[data-factor=separate]')]"
        ".map(cell => Number(cell.dataset.value))"
    )
    assert apart == pytest.approx(shown["upstream"], rel=1e-12, abs=1e-15), "the separate factors"
