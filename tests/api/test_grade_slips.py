"""POST …/grade names the activation-derivative, forward-pass, δ and penalty slips.

The "student" is one plain-NumPy backprop written here from the lessons' formulas (lesson
003's layers: z = x·W + b, a = f(z), δ = ∂E/∂a ⊙ f′(z), ∂E/∂W = xᵀ·δ, ∂E/∂x = δ·Wᵀ; the
penalty's l2·W + l1·sign(W) added to ∂E/∂W), none of the app's functions; each slip is one
switch in it, made as a student would make it.
"""

from __future__ import annotations

from typing import Any, get_args

import numpy as np
import pytest

from app.api.study_schemas import Cause
from app.service.grader import CAUSES

CreateSession = Any  # fixtures from tests/conftest.py


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-x))


FORWARD = {
    "sigmoid": sigmoid,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0),
    "linear": lambda z: z,
}
# f′ as a student writes it for each slip, from z and a = f(z).
DERIVATIVE = {
    "right": {
        "sigmoid": lambda z, a: a * (1 - a),
        "tanh": lambda z, a: 1 - a**2,
        "relu": lambda z, a: (z > 0) * 1.0,
        "linear": lambda z, a: np.ones_like(z),
    },
    "of_output": {  # f′ of the input variable, handed the output
        "sigmoid": lambda z, a: sigmoid(a) * (1 - sigmoid(a)),
        "tanh": lambda z, a: 1 - np.tanh(a) ** 2,
    },
    "other": {  # the other lesson's activation
        "sigmoid": lambda z, a: 1 - a**2,
        "tanh": lambda z, a: a * (1 - a),
    },
    "activation": {name: (lambda z, a: a) for name in FORWARD},  # f where f′ belongs
    "forgotten": {name: (lambda z, a: np.ones_like(z)) for name in FORWARD},  # δ = ∂E/∂a
}


def backprop(
    problem: dict[str, Any],
    *,
    dtype: Any = np.float64,
    derivative: str = "right",
    slipped: str = "every",  # which layers carry the slip: "every" or "hidden"
    bias_in_forward: bool = True,
    mean: bool = True,
    penalty_in_mean: bool = False,  # no mean: the penalty's part grows with the data's
    two: bool = True,  # the 2 of (ŷ − y)²'s derivative 2(ŷ − y)
) -> list[dict[str, Any]]:
    x, y = np.array(problem["x"], dtype=dtype), np.array(problem["y"], dtype=dtype)
    layers = problem["layers"]
    Ws = [np.array(layer["W"], dtype=dtype) for layer in layers]
    inputs, zs, outputs = [], [], []
    a = x
    for layer, W in zip(layers, Ws, strict=True):
        inputs.append(a)
        z = a @ W
        if bias_in_forward and layer["b"] is not None:
            z = z + np.array(layer["b"], dtype=dtype)
        a = FORWARD[layer["activation"]](z).astype(dtype)
        zs.append(z)
        outputs.append(a)
    n = y.size if problem["loss"] in ("mse", "square") else 1  # sse sums
    scale = 1 / n if mean else 1.0
    factor = 2 if two and problem["loss"] != "square" else 1  # square is ½(ŷ − y)²
    error = factor * (a - y) * dtype(scale)
    last = len(layers) - 1
    grads: list[dict[str, Any]] = [{}] * len(layers)
    for k in reversed(range(len(layers))):
        name = layers[k]["activation"]
        wrong = slipped == "every" or k != last
        local = DERIVATIVE[derivative if wrong else "right"][name](zs[k], outputs[k])
        delta = (error * local).astype(dtype)
        penalty = problem["l2"] * Ws[k] + problem["l1"] * np.sign(Ws[k])
        data = inputs[k].T @ delta
        dW = data + (n if penalty_in_mean and not mean else 1) * penalty
        entry: dict[str, Any] = {"dW": dW.astype(dtype).tolist()}
        if layers[k]["b"] is not None:
            entry["db"] = delta.sum(axis=0).tolist()
        grads[k] = entry
        error = delta @ Ws[k].T
    return grads


def problem_of(session: Any) -> dict[str, Any]:
    response = session.client.get(session.url("/grade"), headers=session.watch)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def grade(session: Any, gradients: list[dict[str, Any]]) -> dict[str, Any]:
    body = {"gradients": gradients}
    response = session.client.post(session.url("/grade"), json=body, headers=session.watch)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stepped(create_session: CreateSession, preset: str, **model: Any) -> Any:
    session = create_session(preset=preset, model=model) if model else create_session(preset=preset)
    session.step("batch", 2)  # biases moved off their start
    return session


RELU_CIRCLE = {
    "layers": [
        {"units": 4, "activation": "relu"},
        {"units": 2, "activation": "relu"},
        {"units": 1, "activation": "tanh"},
    ]
}
PRESETS = [("lesson-000", {}), ("lesson-003-xor", {}), ("circle", {})]


@pytest.mark.parametrize(("preset", "model"), PRESETS)
def test_a_derivative_of_the_output_is_named(
    create_session: CreateSession, preset: str, model: dict[str, Any]
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), derivative="of_output"))
    assert all(layer["cause"] == "a_for_z" for layer in result["layers"]), result
    assert "taken of the output" in result["diagnosis"] and "σ(a)(1 − σ(a))" in result["diagnosis"]


@pytest.mark.parametrize(("preset", "model"), PRESETS)
def test_the_other_activations_derivative_is_named(
    create_session: CreateSession, preset: str, model: dict[str, Any]
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), derivative="other"))
    assert all(layer["cause"] == "other_derivative" for layer in result["layers"]), result
    assert "other activation's" in result["diagnosis"]


@pytest.mark.parametrize(("preset", "model"), [*PRESETS, ("circle", RELU_CIRCLE)])
def test_the_activation_in_place_of_its_derivative_is_named(
    create_session: CreateSession, preset: str, model: dict[str, Any]
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), derivative="activation"))
    causes = [layer["cause"] for layer in result["layers"]]
    assert causes == ["activation_for_derivative"] * len(causes), result
    assert "used in place of its derivative" in result["diagnosis"]


@pytest.mark.parametrize(("preset", "model"), [*PRESETS, ("circle", RELU_CIRCLE)])
def test_upstream_passed_back_as_delta_is_named(
    create_session: CreateSession, preset: str, model: dict[str, Any]
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), derivative="forgotten"))
    assert all(layer["cause"] == "upstream_for_delta" for layer in result["layers"]), result
    assert "∂L/∂a is passed back as δ in every layer" in result["diagnosis"]
    assert "f′(z) is left out" in result["diagnosis"]


@pytest.mark.parametrize("preset", ["circle", "plane", "lesson-003-xor"])
def test_upstream_passed_back_as_delta_in_the_hidden_layers_is_named(
    create_session: CreateSession, preset: str
) -> None:
    session = stepped(create_session, preset)
    result = grade(session, backprop(problem_of(session), derivative="forgotten", slipped="hidden"))
    *hidden, output = result["layers"]
    assert output["passed"] and not result["passed"], result
    assert all(layer["cause"] == "upstream_for_delta" for layer in hidden), result
    assert "in the hidden layers" in result["diagnosis"]


@pytest.mark.parametrize(("preset", "model"), [("circle", {}), ("lesson-003-xor", {"l2": 0.1})])
def test_the_bias_left_out_of_the_forward_pass_is_named(
    create_session: CreateSession, preset: str, model: dict[str, Any]
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), bias_in_forward=False))
    assert all(layer["cause"] == "bias_left_out" for layer in result["layers"]), result
    assert "leaves the bias out" in result["diagnosis"] and "z = x·W + b" in result["diagnosis"]


@pytest.mark.parametrize(
    "penalty", [{"l2": 0.01}, {"l1": 0.01}, {"l2": 0.1, "penalty_rule": "gradient"}]
)
@pytest.mark.parametrize("penalty_in_mean", [False, True])
def test_a_missing_one_over_n_is_named_with_a_penalty(
    create_session: CreateSession, penalty: dict[str, Any], penalty_in_mean: bool
) -> None:
    session = stepped(create_session, "circle", **penalty)  # batches of 10, one output
    problem = problem_of(session)
    result = grade(session, backprop(problem, mean=False, penalty_in_mean=penalty_in_mean))
    assert all(layer["cause"] == "scale" for layer in result["layers"]), result
    assert "10 times too large" in result["diagnosis"]
    assert grade(session, backprop(problem))["passed"]  # the penalty's part is graded


@pytest.mark.parametrize(("preset", "model"), [*PRESETS, ("circle", {"l2": 0.01, "l1": 0.001})])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_a_correct_backprop_is_still_right(
    create_session: CreateSession, preset: str, model: dict[str, Any], dtype: Any
) -> None:
    session = stepped(create_session, preset, **model)
    result = grade(session, backprop(problem_of(session), dtype=dtype))
    assert result["passed"], result
    assert result["tolerance"]["precision"] == np.dtype(dtype).name
    assert all(layer["causes"] == [] and layer["cause"] is None for layer in result["layers"])


@pytest.mark.parametrize(
    ("model", "slip", "causes", "reasons"),
    [
        # α = 0.5: the 2 of 2(ŷ − y) missing and the gradient times α are one number
        (
            {"learning_rate": 0.5},
            {"two": False},
            ["half", "learning_rate"],
            ["the 2 of (ŷ − y)²'s derivative 2(ŷ − y) is missing", "learning rate α = 0.5"],
        ),
        # batches of 2 rows, one output: the missing mean's n is 2
        (
            {"batch_size": 2},
            {"mean": False},
            ["scale", "doubled"],
            ["2 times too large", "twice the gradient"],
        ),
    ],
)
def test_mistakes_with_one_number_are_all_named(
    create_session: CreateSession,
    model: dict[str, Any],
    slip: dict[str, Any],
    causes: list[str],
    reasons: list[str],
) -> None:
    session = stepped(create_session, "lesson-003-xor", **model)  # mse
    result = grade(session, backprop(problem_of(session), **slip))
    assert all(layer["causes"] == causes for layer in result["layers"]), result
    assert all(layer["cause"] == causes[0] for layer in result["layers"])
    diagnosis = result["diagnosis"]
    assert "cannot tell them apart" in diagnosis
    assert all(reason in diagnosis for reason in reasons), diagnosis
    assert diagnosis.index(reasons[0]) < diagnosis.index(reasons[1])  # the likely one first


def test_every_named_cause_is_in_the_schema() -> None:
    assert set(get_args(Cause)) == set(CAUSES) | {"bias", "shape"}
