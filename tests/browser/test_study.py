"""The study section as a student meets it: the rewind scrubber, the comparison view, the
grader panel (and the coach and hand check) — every number checked against the server's own,
read outside the browser."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from .conftest import Playground

pytestmark = pytest.mark.browser


def api(playground: Playground, path: str, body: Any = None, token: str | None = None) -> Any:
    state = playground.state()
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{state['sessionId']}{path}",
        data=data,
        headers={
            "Authorization": f"Bearer {token or state['token']}",
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def train(playground: Playground, epochs: int) -> None:
    playground.play_until(f"state.epoch >= {epochs}")
    playground.pause()


def scrub_to(playground: Playground, step: int, phase: int) -> None:
    page = playground.page
    page.select_option("#scrubber-phase", str(phase))
    page.evaluate(
        """step => { const input = document.getElementById('scrubber-step');
        input.value = String(step); input.dispatchEvent(new Event('input')); }""",
        step,
    )
    page.wait_for_function(
        "step => document.getElementById('scrubber-moment').dataset.step === String(step)"
        " && document.getElementById('scrubber-moment').textContent.includes('before')",
        arg=step,
    )


def test_the_scrubber_shows_an_earlier_moment_exactly(playground: Playground) -> None:
    train(playground, 2)
    page = playground.page
    page.click("#scrubber-load")
    page.wait_for_function("() => !document.getElementById('scrubber-step').disabled")
    timeline = api(playground, "/timeline")
    (run,) = timeline["epochs"]  # the batch size never changed: one run of epochs
    assert run["batches"] == 25 and run["epochs"] == timeline["now"]["epoch"] + 1
    now_step = playground.state()["step"]
    assert page.get_attribute("#scrubber-step", "max") == str(now_step)
    scrub_to(playground, 30, 3)  # circle: 25 batches an epoch, so epoch 1, batch 5
    text = page.text_content("#scrubber-moment") or ""
    assert text.startswith("epoch 1, batch 5, before loss")
    at = api(playground, "/at?epoch=1&batch=5&phase=3&resolution=30")
    assert at["state"]["step"] == 30
    (heatmap,) = playground.plot("scrubber-boundary")
    assert heatmap["z"] == at["boundary"]["z"]
    rows = page.locator("#scrubber-layers tr[data-layer]")
    assert rows.count() == len(at["state"]["layers"])
    first_weight = at["state"]["layers"][0]["W"][0][0]
    assert f"{first_weight:.3g}"[:4] in (rows.nth(0).text_content() or "")
    playground.screenshot("study-scrubber.png", "#scrubber-panel")


def test_a_busy_replay_pool_is_asked_again_after_its_retry_after(playground: Playground) -> None:
    """The server answers 429 when its replay pool is full (a class scrubbing at once): the
    scrubber says so and asks again after Retry-After, without the student touching it."""
    train(playground, 1)
    page = playground.page
    busy = {"left": 1}

    def once_busy(route: Any) -> None:
        if busy["left"]:
            busy["left"] -= 1
            route.fulfill(
                status=429,
                headers={"Retry-After": "1", "Content-Type": "application/json"},
                body=json.dumps({"detail": "too many replays at once", "field": "client"}),
            )
        else:
            route.continue_()

    page.route("**/at?*", once_busy)
    page.click("#scrubber-load")
    page.wait_for_function(
        "() => document.getElementById('scrubber-moment').textContent.includes('busy')"
    )
    page.wait_for_function(
        "() => document.getElementById('scrubber-moment').textContent.includes('before')",
        timeout=10_000,
    )
    assert busy["left"] == 0
    # The console's "failed to load resource: 429" is the answer it retried, not an error.
    playground.errors[:] = [e for e in playground.errors if "429" not in e]


def test_a_branch_is_compared_side_by_side(playground: Playground) -> None:
    train(playground, 2)
    page = playground.page
    page.click("#scrubber-load")
    page.wait_for_function("() => !document.getElementById('branch-button').disabled")
    scrub_to(playground, 25, 0)
    page.fill("#branch-learning-rate", "0.3")
    page.select_option("#branch-activation", "relu")
    page.click("#branch-button")
    page.wait_for_selector("#compare-settings tr.differs")
    branch_id = page.input_value("#compare-id")
    assert branch_id and branch_id != playground.state()["sessionId"]
    differing = page.eval_on_selector_all(
        "#compare-settings tr.differs", "rows => rows.map(r => r.dataset.setting)"
    )
    assert set(differing) == {
        "model.learning_rate",
        "model.layers[0].activation",
        "model.layers[1].activation",
    }
    lr_row = page.locator('#compare-settings tr[data-setting="model.learning_rate"] td')
    assert [lr_row.nth(k).text_content() for k in range(3)] == [
        "model.learning_rate",
        "0.03",
        "0.3",
    ]
    traces = playground.plot("compare-loss")
    assert [t["name"] for t in traces] == ["A", "B"]
    a_state = api(playground, "?include_trace=false")
    assert traces[0]["y"] == [p["train_loss"] for p in a_state["history"]]
    assert traces[1]["x"][-1] == 25  # the branch starts at step 25
    page.fill("#compare-epochs", "2")
    page.click("#compare-train")
    page.wait_for_function(
        "() => { const d = document.getElementById('compare-loss').data;"
        " return d && d[1].x[d[1].x.length - 1] === 75; }"
    )
    b_token = page.input_value("#compare-token")
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{branch_id}?include_trace=false",
        headers={"Authorization": f"Bearer {b_token}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        b_state = json.loads(response.read())
    assert playground.plot("compare-loss")[1]["y"] == [p["train_loss"] for p in b_state["history"]]
    for side in ("a", "b"):
        (heatmap,) = playground.plot(f"compare-boundary-{side}")
        assert len(heatmap["z"]) == 30
    playground.screenshot("study-compare.png", "#compare-panel")


def student_gradients(problem: dict[str, Any]) -> list[dict[str, Any]]:
    """Lesson 003's backward pass in NumPy, tanh layers, for the problem's squared-error loss:
    mse (∂E/∂ŷ = 2(ŷ − y)/N) or TF Playground's square, the circle preset's (½·mean, so
    ∂E/∂ŷ = (ŷ − y)/N)."""
    factor = {"mse": 2.0, "square": 1.0}[problem["loss"]]
    x, y = np.array(problem["x"]), np.array(problem["y"])
    inputs, outputs = [], []
    a = x
    for layer in problem["layers"]:
        inputs.append(a)
        a = np.tanh(a @ np.array(layer["W"]) + np.array(layer["b"]))
        outputs.append(a)
    error = factor * (a - y) / y.size
    grads: list[dict[str, Any]] = [{}] * len(problem["layers"])
    for k in reversed(range(len(problem["layers"]))):
        delta = error * (1 - outputs[k] ** 2)
        grads[k] = {"dW": (inputs[k].T @ delta).tolist(), "db": delta.sum(axis=0).tolist()}
        error = delta @ np.array(problem["layers"][k]["W"]).T
    return grads


def test_the_grader_panel_names_the_mistake(playground: Playground) -> None:
    playground.step(3)
    page = playground.page
    page.click("#grader-batch")
    page.wait_for_selector("#grader-problem:not([hidden])")
    problem = json.loads(page.text_content("#grader-problem") or "")
    assert problem == api(playground, "/grade")
    gradients = student_gradients(problem)
    flipped = [
        {"dW": (-np.array(g["dW"])).tolist(), "db": (-np.array(g["db"])).tolist()}
        for g in gradients
    ]
    page.fill("#grader-input", json.dumps({"gradients": flipped}))
    page.click("#grader-submit")
    page.wait_for_selector("#grader-layers tr.first-wrong")
    assert page.get_attribute("#grader-layers tr.first-wrong", "data-layer") == "2"
    assert "sign is flipped" in (page.text_content("#grader-diagnosis") or "")
    causes = page.eval_on_selector_all(
        "#grader-layers tr[data-layer]", "rows => rows.map(r => r.dataset.cause)"
    )
    assert causes == ["sign", "sign", "sign"]
    page.fill("#grader-input", json.dumps({"gradients": gradients}))
    page.click("#grader-submit")
    page.wait_for_function(
        "() => document.getElementById('grader-diagnosis').textContent.startsWith('✓')"
    )
    assert page.locator("#grader-layers tr.first-wrong").count() == 0
    playground.screenshot("study-grader.png", "#grader-panel")


def test_the_coach_and_the_hand_check(playground: Playground) -> None:
    playground.step(2)
    page = playground.page
    page.click("#coach-button")
    page.wait_for_selector("#coach-findings li")
    kinds = page.eval_on_selector_all(
        "#coach-findings li", "items => items.map(i => i.dataset.kind)"
    )
    expected = [f["kind"] for f in api(playground, "/coach")["findings"]] or ["none"]
    assert kinds == expected

    state = api(playground, "")
    right = float(np.sum(np.array(state["layers"][1]["delta"])[:, 0]))
    page.select_option("#handcheck-quantity", "b")
    page.fill("#handcheck-layer", "1")
    page.fill("#handcheck-j", "0")
    page.fill("#handcheck-value", repr(-right))
    page.click("#handcheck-submit")
    page.wait_for_selector("#handcheck-verdict[data-correct]")
    assert page.get_attribute("#handcheck-verdict", "data-off-by-sign") == "true"
    assert "sign" in (page.text_content("#handcheck-verdict") or "")
    page.fill("#handcheck-value", repr(right))
    page.check("#handcheck-reveal")
    page.click("#handcheck-submit")
    page.wait_for_function(
        "() => document.getElementById('handcheck-verdict').dataset.correct === 'true'"
    )
    assert page.locator("#handcheck-factors tr").count() >= 3


def test_the_run_downloads_as_a_notebook(playground: Playground) -> None:
    playground.step(3)
    page = playground.page
    state = playground.state()
    for style, exercise in (("lesson003", False), ("lesson003", True)):
        page.select_option("#notebook-style", style)
        page.set_checked("#notebook-exercise", exercise)
        with page.expect_download() as download:
            page.click("#notebook-button")
        request = urllib.request.Request(
            f"{playground.url}/api/sessions/{state['sessionId']}/notebook"
            f"?style={style}&exercise={str(exercise).lower()}",
            headers={"Authorization": f"Bearer {state['token']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            answered = response.read().decode()
            disposition = response.headers["Content-Disposition"]
        assert disposition == f'attachment; filename="{download.value.suggested_filename}"'
        assert download.value.suggested_filename.endswith("-exercise.ipynb") == exercise
        assert Path(download.value.path()).read_text() == answered  # the server's notebook
    # Lesson 000's style on the default preset's network: the refusal, naming the field.
    page.select_option("#notebook-style", "lesson000")
    page.click("#notebook-button")
    page.wait_for_function(
        "() => document.getElementById('grader-diagnosis').textContent.startsWith('style: ')"
    )
    assert "lesson 000's style is for lesson 000's network" in (
        page.text_content("#grader-diagnosis") or ""
    )
    playground.errors[:] = [e for e in playground.errors if "status of 422" not in e]
    playground.screenshot("study-notebook.png", "#grader-panel")
