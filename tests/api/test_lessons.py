"""GET /api/sessions/{id}/lesson: the lessons' walk-throughs, checked against the lessons' own
code fed the session's weights and rows — lesson 000's ``TwoLayerNetwork``, lesson 003's
``FCLayer`` and ``ActivationLayer`` — and step by step as the phases run."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine import ActivationLayer, FCLayer, TwoLayerNetwork, mse, mse_prime, tanh, tanh_prime

CreateSession = Any  # fixtures from tests/conftest.py
CreatedSession = Any

RTOL, ATOL = 1e-12, 1e-14


def read_guide(session: CreatedSession, name: str) -> dict[str, Any]:
    response = session.client.get(
        session.url("/lesson"), params={"name": name}, headers=session.watch
    )
    assert response.status_code == 200, response.text
    guide: dict[str, Any] = response.json()
    return guide


def values_of(guide: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {step["id"]: step["values"] for step in guide["steps"]}


def rows_of(session: CreatedSession, indices: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """The training rows the batch used: inputs and targets."""
    response = session.client.get(session.url("/dataset"), headers=session.watch)
    data = response.json()
    return np.asarray(data["x_train"])[indices], np.asarray(data["y_train"])[indices]


def same(actual: Any, expected: Any) -> None:
    np.testing.assert_allclose(np.asarray(actual, dtype=float), np.asarray(expected), RTOL, ATOL)


# ----- lesson 000 ------------------------------------------------------------------------------


def test_lesson_000_guide_equals_the_lessons_two_layer_network(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="lesson-000")
    layers = session.read()["layers"]
    n_phases = len(session.read()["phases"])
    session.step("phase", n_phases)  # one whole batch, phase by phase
    guide = read_guide(session, "lesson-000")
    x, y = rows_of(session, guide["batch_indices"])

    network = TwoLayerNetwork(x, y)
    network.weights1 = np.array(layers[0]["W"])  # the session's initial weights
    network.weights2 = np.array(layers[1]["W"])
    for batch in range(3):  # the lesson's loop, and the session's batches, in step
        if batch:
            session.step("phase", n_phases)
            guide = read_guide(session, "lesson-000")
        network.feedforward()
        loss = network.loss()
        network.backprop()
        shown = values_of(guide)
        same(shown["layer1"]["input"], x)
        same(shown["layer1"]["layer1"], network.layer1)
        same(shown["output"]["output"], network.output)
        same(shown["loss"]["y"], y)
        same(shown["loss"]["loss"], loss)
        same(shown["output_error"]["output_error"], network.output_error)
        same(shown["delta_output_sum"]["delta_output_sum"], network.delta_output_sum)
        same(shown["layer1_error"]["layer1_error"], network.layer1_error)
        same(shown["layer1_delta"]["layer1_delta"], network.layer1_delta)
        adjustments = shown["weight_adjustments"]
        same(adjustments["weights1_adjustment"], network.weights1_adjustment)
        same(adjustments["weights2_adjustment"], network.weights2_adjustment)
        assert adjustments["learning_rate"] == 1.0, "the lesson adds the whole adjustment"
        same(adjustments["weights1"], network.weights1)  # W += adjustment, in both
        same(adjustments["weights2"], network.weights2)


def test_lesson_000_guide_is_refused_on_another_network(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = session.client.get(
        session.url("/lesson"), params={"name": "lesson-000"}, headers=session.watch
    )
    assert response.status_code == 422
    assert response.json()["field"] == "lesson"
    assert "lesson-000" in response.json()["detail"]


# ----- lesson 003 ------------------------------------------------------------------------------


@pytest.mark.parametrize("batch_size", [1, 4])
def test_lesson_003_guide_equals_fclayers_and_activationlayers(
    create_session: CreateSession, batch_size: int
) -> None:
    """The XOR example, one sample at a time as the lesson trains, and four at once."""
    session = create_session(preset="lesson-003-xor", model={"batch_size": batch_size})
    state = session.read()
    rate = state["config"]["model"]["learning_rate"]
    fc = []
    for layer in state["layers"]:
        dense = FCLayer(layer["inputs"], layer["units"])
        dense.weights = np.array(layer["W"])
        dense.bias = np.array([layer["b"]])
        fc.append(dense)
    act = [ActivationLayer(tanh, tanh_prime) for _ in fc]
    session.step("phase", len(state["phases"]))
    guide = read_guide(session, "lesson-003")
    x, y_true = rows_of(session, guide["batch_indices"])
    assert len(x) == batch_size

    # The lesson's network: forward through the layers, the loss, backward in reverse order.
    z1 = fc[0].forward_propagation(x)
    a1 = act[0].forward_propagation(z1)
    z2 = fc[1].forward_propagation(a1)
    out = act[1].forward_propagation(z2)
    error = mse(y_true, out)
    d_out = mse_prime(y_true, out)
    d_z2 = act[1].backward_propagation(d_out, rate)
    d_a1 = fc[1].backward_propagation(d_z2, rate)  # ∂E/∂X of FCLayer 2 (W before the update)
    d_z1 = act[0].backward_propagation(d_a1, rate)
    d_x = fc[0].backward_propagation(d_z1, rate)  # ∂E/∂X of FCLayer 1: no layer takes it

    shown = values_of(guide)
    same(shown["fc1_forward"]["X"], x)
    same(shown["fc1_forward"]["Y"], z1)
    same(shown["activation1_forward"]["X"], z1)
    same(shown["activation1_forward"]["Y"], a1)
    same(shown["fc2_forward"]["X"], a1)
    same(shown["fc2_forward"]["Y"], z2)
    same(shown["activation2_forward"]["Y"], out)
    same(shown["loss"]["E"], error)
    same(shown["loss"]["dE_dY"], d_out)
    same(shown["loss"]["Y_true"], y_true)
    same(shown["activation2_backward"]["dE_dY"], d_out)
    same(shown["activation2_backward"]["dE_dX"], d_z2)
    same(shown["fc2_backward"]["dE_dW"], a1.T @ d_z2)  # ∂E/∂W = Xᵀ·∂E/∂Y
    same(shown["fc2_backward"]["dE_dB"], d_z2.sum(axis=0, keepdims=True))
    same(shown["fc2_backward"]["dE_dX"], d_a1)
    same(shown["activation1_backward"]["dE_dX"], d_z1)
    same(shown["fc1_backward"]["dE_dW"], x.T @ d_z1)
    same(shown["fc1_backward"]["dE_dX"], d_x)
    # And in plain NumPy: δ · Wᵀ with FCLayer 1's W before the update.
    same(shown["fc1_backward"]["dE_dX"], d_z1 @ np.array(state["layers"][0]["W"]).T)
    update = shown["update"]
    assert update["learning_rate"] == rate
    for k in range(2):  # w ← w − α·∂E/∂w, as FCLayer.backward_propagation did
        same(update["W"][k], fc[k].weights)
        same(update["B"][k], fc[k].bias)


def test_lesson_003_fc1_backward_gives_de_dx_after_whole_batches(
    create_session: CreateSession,
) -> None:
    """After a one-go batch (and its update) too: ∂E/∂X = δ · Wᵀ with the W the batch used,
    in plain NumPy from the state's δ and W_used of layer 0."""
    session = create_session(preset="lesson-003-xor", model={"batch_size": 4})
    session.step("batch", 3)
    layer = session.read()["layers"][0]
    shown = values_of(read_guide(session, "lesson-003"))["fc1_backward"]["dE_dX"]
    expected = np.array(layer["delta"]) @ np.array(layer["W_used"]).T
    assert np.shape(shown) == (4, 2)
    same(shown, expected)
    assert not np.allclose(layer["W_used"], layer["W"]), "the update moved W: W_used matters"


# ----- when steps become available ---------------------------------------------------------


@pytest.mark.parametrize(
    ("preset", "lesson"), [("lesson-000", "lesson-000"), ("circle", "lesson-003")]
)
def test_steps_become_available_exactly_as_their_phases_run(
    create_session: CreateSession, preset: str, lesson: str
) -> None:
    session = create_session(preset=preset)
    n_phases = len(session.read()["phases"])
    for run in range(n_phases + 1):
        guide = read_guide(session, lesson)
        assert (guide["phases_run"], guide["n_phases"]) == (run, n_phases)
        for step in guide["steps"]:
            assert step["available"] == (step["phase_index"] < run), (run, step["id"])
            assert (step["values"] is None) == (not step["available"]), (run, step["id"])
        available = [step["index"] for step in guide["steps"] if step["available"]]
        assert guide["current"] == (available[-1] if available else None)
        if run < n_phases:
            session.step("phase")
    # The next phase opens a new batch: only its first phase has run.
    session.step("phase")
    guide = read_guide(session, lesson)
    assert guide["phases_run"] == 1 and guide["step"] == 1
    assert [step["available"] for step in guide["steps"]] == [
        step["phase_index"] == 0 for step in guide["steps"]
    ]


def test_each_step_names_its_phase_and_place(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-003-xor")
    state = session.read()
    for step in read_guide(session, "lesson-003")["steps"]:
        assert step["phase"] == state["phases"][step["phase_index"]]
        if step["part"] in ("forward", "backward"):
            assert step["layer"] == step["phase"]["layer"] or step["phase"]["kind"] == "loss"
        assert step["formula"] and step["explanation"]


# ----- who may read ----------------------------------------------------------------------------


def test_reading_a_guide_follows_the_token_rules(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="lesson-000")
    other = create_session(preset="lesson-000")
    path = session.url("/lesson")
    params = {"name": "lesson-000"}
    assert client.get(path, params=params, headers=session.control).status_code == 200
    assert client.get(path, params=params, headers=session.watch).status_code == 200
    assert client.get(path, params=params).status_code == 401
    assert client.get(path, params=params, headers=other.control).status_code == 403
    unknown = "/api/sessions/unknown/lesson"
    assert client.get(unknown, params=params, headers=session.control).status_code == 404
    bad = client.get(path, params={"name": "lesson-001"}, headers=session.watch)
    assert bad.status_code == 422


def test_lesson_003_guide_says_a_fused_output_takes_its_gradient_from_the_loss(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="iris")
    session.step("batch", 1)
    steps = {step["id"]: step for step in read_guide(session, "lesson-003")["steps"]}
    output, hidden = steps["activation2_backward"], steps["activation1_backward"]
    assert "(p − y)/n" in output["formula"] and "fused" in output["formula"]
    assert output["formula"] != hidden["formula"] == "∂E/∂X = ∂E/∂Y ⊙ f'(X)"
    delta = session.read()["layers"][1]["delta"]
    assert output["values"]["dE_dX"] == delta[: len(output["values"]["dE_dX"])]
