"""GET/POST /api/sessions/{id}/grade: a student's own backprop graded against the engine.

The "student" here is an independent NumPy backprop written in this file from the lessons'
formulas (lesson 003's layers, lesson 000's named steps), with mistakes put in on purpose.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

CreateSession = Any  # fixtures from tests/conftest.py

F = {
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "tanh": (np.tanh, lambda z, a: 1 - a**2),
}


def student_backprop(
    problem: dict[str, Any],
    *,
    mean: bool = True,
    derivative_on_z: bool = False,
) -> list[dict[str, Any]]:
    """Lesson 003: forward, then ∂E/∂Y = (2/N)(Y − Y*) back through f′ and the dense layers."""
    x, y = np.array(problem["x"]), np.array(problem["y"])
    layers = problem["layers"]
    inputs, zs, outputs = [], [], []
    a = x
    for layer in layers:
        W = np.array(layer["W"])
        b = 0.0 if layer["b"] is None else np.array(layer["b"])
        inputs.append(a)
        z = a @ W + b
        a = F[layer["activation"]][0](z)
        zs.append(z)
        outputs.append(a)
    n = 1 if problem["loss"] == "sse" or not mean else y.size  # SSE has no 1/n
    # ∂E/∂ŷ: 2(ŷ − y)/n for mse and sse; (ŷ − y)/n for TF Playground's ½-mean square loss.
    error = (1 if problem["loss"] == "square" else 2) * (a - y) / n
    grads: list[dict[str, Any]] = [{}] * len(layers)
    for k in reversed(range(len(layers))):
        derivative = F[layers[k]["activation"]][1]
        local = derivative(None, zs[k]) if derivative_on_z else derivative(zs[k], outputs[k])
        delta = error * local
        entry: dict[str, Any] = {"dW": (inputs[k].T @ delta).tolist()}
        if layers[k]["b"] is not None:
            entry["db"] = delta.sum(axis=0).tolist()
        grads[k] = entry
        error = delta @ np.array(layers[k]["W"]).T
    return grads


def lesson_000_adjustments(problem: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """Lesson 000's backprop, its named steps as the lesson writes them."""
    x, y = np.array(problem["x"]), np.array(problem["y"])
    weights1, weights2 = (np.array(layer["W"]) for layer in problem["layers"])
    sigmoid = F["sigmoid"][0]
    layer1 = sigmoid(x @ weights1)
    output = sigmoid(layer1 @ weights2)
    delta_output_sum = 2 * (y - output) * output * (1 - output)
    layer1_delta = (delta_output_sum @ weights2.T) * layer1 * (1 - layer1)
    return x.T @ layer1_delta, layer1.T @ delta_output_sum


def problem_of(session: Any) -> dict[str, Any]:
    response = session.client.get(session.url("/grade"), headers=session.watch)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


def grade(session: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = session.client.post(session.url("/grade"), json=body, headers=session.watch)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.parametrize("preset", ["circle", "lesson-000", "spiral"])
def test_a_correct_backprop_passes(create_session: CreateSession, preset: str) -> None:
    session = create_session(preset=preset)
    session.step("batch", 3)
    session.step("phase", 1)  # an open batch: graded on a copy run to its last backward
    problem = problem_of(session)
    result = grade(session, {"gradients": student_backprop(problem)})
    assert result["passed"] and result["first_wrong_layer"] is None, result
    assert all(layer["relative_error_W"] < 1e-12 for layer in result["layers"])
    assert result["step"] == 3 and result["batch_rows"] == len(problem["x"])
    assert session.read()["step"] == 3 and session.read()["phase"]["kind"] == "forward"


def test_lesson_000_adjustments_are_a_flipped_sign(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")
    problem = problem_of(session)
    adjustment1, adjustment2 = lesson_000_adjustments(problem)
    result = grade(
        session, {"gradients": [{"dW": adjustment1.tolist()}, {"dW": adjustment2.tolist()}]}
    )
    assert not result["passed"]
    assert result["first_wrong_layer"] == 1
    assert [layer["cause"] for layer in result["layers"]] == ["sign", "sign"]
    assert "lesson 000" in result["diagnosis"] and "Layer 1" in result["diagnosis"]


def test_lesson_000_updated_weights_pass(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")  # learning rate 1: W += adjustment is right
    problem = problem_of(session)
    adjustments = lesson_000_adjustments(problem)
    weights = [
        {"W": (np.array(layer["W"]) + adjustment).tolist()}
        for layer, adjustment in zip(problem["layers"], adjustments, strict=True)
    ]
    assert grade(session, {"weights": weights})["passed"]
    flipped = [
        {"W": (np.array(layer["W"]) - adjustment).tolist()}
        for layer, adjustment in zip(problem["layers"], adjustments, strict=True)
    ]
    result = grade(session, {"weights": flipped})
    assert result["submitted"] == "weights" and result["layers"][1]["cause"] == "sign"


def test_a_missing_one_over_n_is_named(create_session: CreateSession) -> None:
    session = create_session(preset="circle")  # MSE, batches of 10
    session.step("batch", 2)
    result = grade(session, {"gradients": student_backprop(problem_of(session), mean=False)})
    assert result["first_wrong_layer"] == 2
    assert all(layer["cause"] == "scale" for layer in result["layers"])
    assert "10 times too large" in result["diagnosis"]


def test_a_transposed_matrix_is_named(create_session: CreateSession) -> None:
    session = create_session(preset="circle")  # 2 → 4 → 2 → 1
    session.step("batch", 2)
    gradients = student_backprop(problem_of(session))
    gradients[1]["dW"] = np.array(gradients[1]["dW"]).T.tolist()
    result = grade(session, {"gradients": gradients})
    assert result["first_wrong_layer"] == 1
    assert [layer["passed"] for layer in result["layers"]] == [True, False, True]
    assert result["layers"][1]["cause"] == "transposed"
    assert result["layers"][1]["relative_error_W"] is None  # the shape is wrong


def test_a_derivative_on_z_is_named(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")
    problem = problem_of(session)
    result = grade(session, {"gradients": student_backprop(problem, derivative_on_z=True)})
    assert result["first_wrong_layer"] == 1
    assert [layer["cause"] for layer in result["layers"]] == ["z_for_a", "z_for_a"]
    assert "z instead of a" in result["diagnosis"]


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"gradients": [{"dW": [[1.0]]}]}, 422, "gradients"),  # one layer of two
        ({"weights": [{"W": [[1.0]]}, {"W": [[1.0]]}], "gradients": []}, 422, None),
        ({}, 422, None),
        ({"gradients": [{"dW": "x"}, {"dW": [[1.0]]}]}, 422, None),
    ],
)
def test_grade_names_bad_input(
    create_session: CreateSession, body: dict[str, Any], status: int, field: str | None
) -> None:
    session = create_session(preset="lesson-000")
    response = session.client.post(session.url("/grade"), json=body, headers=session.watch)
    assert response.status_code == status, response.text
    if field is not None:
        assert response.json()["field"] == field


def test_grade_needs_a_token(client: TestClient, create_session: CreateSession) -> None:
    session = create_session()
    assert client.get(session.url("/grade")).status_code == 401
