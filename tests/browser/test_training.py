"""The page trains: play, phases, heatmaps, hyperparameters while playing, presets, datasets,
network edits, divergence and reconnection — each read from the page's state and its charts."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from .conftest import Playground

pytestmark = pytest.mark.browser


def finite(rows: list[list[float | None]]) -> bool:
    return all(value is not None and math.isfinite(value) for row in rows for value in row)


def diagram_shapes(playground: Playground) -> list[dict[str, Any]]:
    """The network diagram's links, neurons and highlight, as Plotly draws them."""
    shapes: list[dict[str, Any]] = playground.page.evaluate(
        "JSON.parse(JSON.stringify(document.getElementById('network-diagram').layout.shapes))"
    )
    return shapes


def test_play_makes_the_loss_fall(playground: Playground) -> None:
    start = playground.state()
    assert start["preset"] == "circle" and start["step"] == 0

    # TF Playground's conventions (square loss ½·mean (o − t)², its learning rate 0.03): half
    # the gradient of mse, so the loss takes about twice the epochs it did with mse to halve.
    playground.play_until("state.epoch >= 40 && state.loss !== null")
    playground.pause()

    end = playground.state()
    assert end["loss"] < 0.5 * start["loss"], (start["loss"], end["loss"])
    train_loss = playground.plot("loss-chart")[0]
    assert len(train_loss["x"]) >= 3, "the loss curve should have points"
    assert train_loss["y"][-1] < train_loss["y"][0]
    playground.screenshot("view-loss.png", "#loss-chart")
    playground.screenshot("view-boundary.png", "#output-chart")


def test_phase_steps_highlight_layers_from_output_to_input(playground: Playground) -> None:
    layers = len(playground.state()["layers"])
    playground.page.select_option("#step-unit", "phase")
    diagram = playground.page.locator("#network-diagram")
    seen: list[tuple[str, str, str]] = []
    for _ in range(2 * layers + 2):  # forward ×L, loss, backward ×L, update
        playground.step()
        phase = playground.state()["phase"]
        active = diagram.get_attribute("data-active-layer") or ""
        seen.append((phase["kind"], active, diagram.get_attribute("data-mode") or ""))
        if phase["kind"] == "backward" and phase["layer"] == layers - 2:
            playground.screenshot("view-network-backward.png", "#network-panel")

    kinds = [kind for kind, _, _ in seen]
    assert kinds == ["forward"] * layers + ["loss"] + ["backward"] * layers + ["update"]
    backward = [int(layer) for kind, layer, _ in seen if kind == "backward"]
    assert backward == list(range(layers - 1, -1, -1)), "the highlight moves from output to input"
    forward = [int(layer) for kind, layer, _ in seen if kind == "forward"]
    assert forward == list(range(layers))
    assert all(mode == "gradients" for kind, _, mode in seen if kind == "backward")
    assert [layer for kind, layer, _ in seen if kind in ("loss", "update")] == ["", ""]
    # The highlighted band is drawn, not only named in the DOM.
    playground.step(layers)  # the next batch's forward phases: the last one highlights L−1
    playground.page.wait_for_timeout(200)
    bands = [shape for shape in diagram_shapes(playground) if shape.get("name") == "highlight"]
    assert len(bands) == 1 and layers - 1 < bands[0]["x0"] < layers


def test_step_changes_the_weight_and_gradient_heatmaps(playground: Playground) -> None:
    row = playground.page.locator("[data-testid=heatmap-layer-0]")
    Matrix = list[list[float]]

    def heatmaps_once_drawn(unlike: tuple[Matrix, Matrix] | None) -> tuple[Matrix, Matrix]:
        """W and ∂L/∂W of layer 0 as drawn, once ∂L/∂W exists and both differ from `unlike`
        (each heatmap is its own figure, drawn on its own animation frame)."""
        row.scroll_into_view_if_needed()  # a view is drawn once it is in sight
        playground.page.wait_for_function(
            """old => {
                const w = document.getElementById('heatmap-W-0').data;
                const dw = document.getElementById('heatmap-dW-0').data;
                if (!w || !dw || dw[0].z[0][0] === null) return false;
                return !old || (JSON.stringify(w[0].z) !== JSON.stringify(old[0])
                                && JSON.stringify(dw[0].z) !== JSON.stringify(old[1]));
            }""",
            arg=unlike,
            timeout=10_000,
        )
        weights, gradients = playground.plot("heatmap-W-0"), playground.plot("heatmap-dW-0")
        assert weights[0]["type"] == gradients[0]["type"] == "heatmap"
        return weights[0]["z"], gradients[0]["z"]

    playground.step()  # a first batch, so ∂L/∂W exists
    weights, gradients = heatmaps_once_drawn(None)
    assert finite(weights) and finite(gradients)
    playground.step()
    new_weights, new_gradients = heatmaps_once_drawn((weights, gradients))
    assert new_weights != weights, "W should change after a step"
    assert new_gradients != gradients, "∂L/∂W should change after a step"
    scale = playground.page.evaluate("document.getElementById('heatmap-W-0').data[0].zmax")
    assert scale >= max(abs(v) for row in new_weights for v in row), "the scale covers W"
    playground.screenshot("view-heatmaps.png", "#layers-section")
    playground.screenshot("view-gradient-health.png", "#gradient-section")


def test_learning_rate_changes_while_playing_without_a_reset(playground: Playground) -> None:
    playground.play_until("state.step >= 300")
    before = playground.state()["step"]
    playground.page.select_option("#learning-rate", "0.3")
    playground.wait_for("state.step > arg + 300", before)

    session = playground.server_session()
    assert session["config"]["model"]["learning_rate"] == 0.3
    state = playground.state()
    assert state["playing"], "changing the learning rate must not stop training"
    assert state["step"] > before, "nor reset it"
    assert playground.page.input_value("#learning-rate") == "0.3"


def test_switch_preset_and_dataset(playground: Playground) -> None:
    first = playground.state()["sessionId"]
    playground.page.select_option("#preset", "iris")
    playground.wait_new_session(first)
    state = playground.state()
    assert (state["preset"], state["dataset"], state["task"]) == ("iris", "iris", "multiclass")
    inputs = playground.page.locator("#network-editor .input-card").inner_text()
    assert inputs.startswith("Input\n4"), inputs
    playground.step(3)
    confusion = playground.plot("output-chart")
    assert confusion[0]["type"] == "heatmap", "4-D data: predicted vs target as a confusion matrix"
    playground.screenshot("view-predicted-vs-target.png", "#output-panel")

    iris = state["sessionId"]
    playground.page.select_option("#dataset", "spiral")
    playground.wait_new_session(iris)
    state = playground.state()
    assert (state["dataset"], state["task"]) == ("spiral", "binary")
    assert state["layers"][-1]["units"] == 1
    playground.step(3)
    points = playground.plot("output-chart")
    assert points[0]["type"] == "scatter" and len(points[0]["x"]) > 50

    spiral = state["sessionId"]
    # A short screen folds the data panel to the preset and the dataset: unfold it.
    assert playground.page.get_attribute("#data-options", "open") is None
    playground.page.click("#data-options summary")
    playground.page.focus("#noise")
    playground.page.keyboard.press("End")  # the keyboard moves a range: End is its maximum
    playground.wait_new_session(spiral)
    assert playground.server_session()["config"]["data"]["noise"] == 0.5


def test_edit_the_network_then_train_it(playground: Playground) -> None:
    first = playground.state()["sessionId"]
    playground.page.click("#add-layer-button")
    playground.wait_new_session(first)
    assert [layer["units"] for layer in playground.state()["layers"]] == [4, 2, 2, 1]

    second = playground.state()["sessionId"]
    playground.page.click("[data-testid=layer-add-unit-0]")
    playground.wait_new_session(second)
    assert [layer["units"] for layer in playground.state()["layers"]] == [5, 2, 2, 1]
    # the diagram drew a line per weight: 2·5 + 5·2 + 2·2 + 2·1
    playground.page.wait_for_timeout(200)
    lines = [shape for shape in diagram_shapes(playground) if shape["type"] == "line"]
    assert len(lines) == 2 * 5 + 5 * 2 + 2 * 2 + 2 * 1

    sid = playground.state()["sessionId"]
    playground.page.select_option("[data-testid=layer-activation-1]", "relu")
    playground.wait_for("state.layers[1].activation === 'relu'")
    assert playground.state()["sessionId"] == sid, "an activation change keeps the weights"
    assert playground.server_session()["config"]["model"]["layers"][1]["activation"] == "relu"

    start = playground.state()["loss"]
    playground.play_until("state.epoch >= 15 && state.loss !== null")
    playground.pause()
    assert playground.state()["loss"] < start
    playground.screenshot("view-network-edited.png", "#network-panel")


def test_divergence_shows_a_banner_and_keeps_the_last_good_weights(playground: Playground) -> None:
    first = playground.state()["sessionId"]
    playground.page.select_option("#preset", "plane")
    playground.wait_new_session(first)
    playground.page.select_option("#learning-rate", "10")
    playground.wait_server(lambda session: session["config"]["model"]["learning_rate"] == 10)
    playground.play_until("state.diverged !== null", timeout=30_000)

    banner = playground.page.locator("#divergence-banner")
    banner.wait_for(state="visible")
    assert banner.get_attribute("role") == "alert"
    assert "diverged" in banner.inner_text().lower()
    playground.wait_for("!state.playing")
    playground.page.locator("[data-testid=heatmap-layer-0]").scroll_into_view_if_needed()
    playground.page.wait_for_timeout(300)
    for trace in playground.plot("heatmap-W-0"):
        assert finite(trace["z"]), "the last good weights are shown, never NaN"
    playground.screenshot("view-diverged.png")

    playground.page.click("#banner-reset-button")
    banner.wait_for(state="hidden")
    playground.wait_for("state.step === 0 && state.diverged === null")


def test_a_dropped_connection_reconnects_and_resumes(playground: Playground) -> None:
    playground.play_until("state.step >= 100")
    playground.page.evaluate("window.playgroundDebug.dropConnection()")
    playground.wait_for("state.connection === 'reconnecting'", timeout=5_000)
    playground.wait_for("state.connection === 'live'", timeout=15_000)
    after = playground.state()["step"]
    playground.wait_for("state.playing && state.step > arg + 100", after)


def test_upload_a_csv_and_train_on_it(playground: Playground, tmp_path: Path) -> None:
    rows = ["a,b,c,label"]
    for k in range(60):  # three features; the label is whether a + b > c
        a, b, c = (k * 7 % 11) / 10, (k * 5 % 13) / 12, (k * 3 % 7) / 6
        rows.append(f"{a},{b},{c},{int(a + b > c)}")
    csv = tmp_path / "sums.csv"
    csv.write_text("\n".join(rows) + "\n")

    page = playground.page
    first = playground.state()["sessionId"]
    page.click(".upload summary")
    page.set_input_files("#upload-file", str(csv))
    page.fill("#upload-name", "sums")
    page.fill("#upload-target", "label")
    page.click("#upload-button")
    playground.wait_new_session(first)
    state = playground.state()
    assert state["dataset"] == "sums" and state["task"] == "binary"
    assert page.locator("#network-editor .input-card").inner_text().startswith("Input\n3")
    assert state["layers"][-1] == {"units": 1, "activation": "sigmoid"}
    start = state["loss"]
    playground.play_until("state.epoch >= 30 && state.loss !== null")
    playground.pause()
    assert playground.state()["loss"] < start
    assert playground.plot("output-chart")[-1]["name"] == "train", "predicted vs target"

    # The page keeps its upload token: reloaded (the address holds the setup, the upload
    # included) it rebuilds the session on the upload and still lists it.
    page.reload()
    playground.wait_live()
    assert playground.state()["dataset"] == "sums"
    assert "sums (uploaded)" in page.locator("#dataset").inner_text()
    # Another browser, without the token, is not shown it.
    assert page.context.browser is not None
    other = page.context.browser.new_context()
    try:
        stranger = other.new_page()
        stranger.goto(playground.url)
        listed = stranger.evaluate("fetch('/api/datasets').then((answer) => answer.json())")
        assert listed["uploaded"] == []
    finally:
        other.close()


def test_optimizer_regularisation_and_seed_reach_the_session(playground: Playground) -> None:
    page = playground.page
    page.select_option("#optimizer", "momentum")
    playground.wait_server(lambda s: s["config"]["model"]["momentum"] == 0.9)
    page.select_option("#regularization", "l2")
    page.select_option("#regularization-rate", "0.01")
    playground.wait_server(lambda s: s["config"]["model"]["l2"] == 0.01)
    page.select_option("#batch-size", "full")
    playground.wait_server(lambda s: s["config"]["model"]["batch_size"] is None)
    session = playground.state()["sessionId"]
    page.fill("#seed", "7")
    page.press("#seed", "Enter")
    playground.wait_server(lambda s: s["config"]["model"]["seed"] == 7)
    assert playground.state()["sessionId"] == session, "a new seed resets, same session"
    page.select_option("#initializer", "he")
    playground.wait_new_session(session)
    model = playground.server_session()["config"]["model"]
    assert (model["initializer"], model["momentum"], model["l2"]) == ("he", 0.9, 0.01)
