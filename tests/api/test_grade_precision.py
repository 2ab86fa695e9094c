"""POST …/grade: the tolerance follows the submission's precision; lesson 003's (1, units) bias.

The "student" is an independent NumPy backprop written here (lesson 003's formulas), run in
float64 and cast to float32, or run fully in float32 as PyTorch's default would.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

CreateSession = Any  # fixtures from tests/conftest.py

ACTIVATIONS = {"sigmoid": lambda z: 1 / (1 + np.exp(-z)), "tanh": np.tanh}


def backprop(problem: dict[str, Any], dtype: Any, bias_rows: bool = False) -> list[dict[str, Any]]:
    """∂E/∂Y = (2/N)(Y − Y*) for mse, 2(Y − Y*) for sse, back through f′(z) = a(1 − a)."""
    x, y = np.array(problem["x"], dtype=dtype), np.array(problem["y"], dtype=dtype)
    layers = problem["layers"]
    inputs, outputs = [], []
    a = x
    for layer in layers:
        W = np.array(layer["W"], dtype=dtype)
        b = np.zeros(W.shape[1], dtype=dtype) if layer["b"] is None else np.array(layer["b"], dtype)
        inputs.append(a)
        a = ACTIVATIONS[layer["activation"]](a @ W + b).astype(dtype)
        outputs.append(a)
    n = 1 if problem["loss"] == "sse" else y.size
    error = (dtype(2) * (a - y) / dtype(n)).astype(dtype)
    grads: list[dict[str, Any]] = [{}] * len(layers)
    for k in reversed(range(len(layers))):
        out = outputs[k]
        local = out * (1 - out) if layers[k]["activation"] == "sigmoid" else 1 - out**2
        delta = error * local
        entry: dict[str, Any] = {"dW": inputs[k].T @ delta}
        if layers[k]["b"] is not None:
            db = delta.sum(axis=0, keepdims=bias_rows)
            entry["db"] = db
        grads[k] = entry
        error = delta @ np.array(layers[k]["W"], dtype=dtype).T
    return grads


def as_json(grads: list[dict[str, Any]], dtype: Any) -> list[dict[str, Any]]:
    return [{key: np.asarray(v).astype(dtype).tolist() for key, v in g.items()} for g in grads]


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


@pytest.mark.parametrize("preset", ["lesson-000", "lesson-003-xor"])
@pytest.mark.parametrize("computed_in", ["float64_cast", "float32"])
def test_a_correct_float32_backprop_passes(
    create_session: CreateSession, preset: str, computed_in: str
) -> None:
    session = create_session(preset=preset)
    session.step("batch", 3)
    problem = problem_of(session)
    grads = backprop(problem, np.float64 if computed_in == "float64_cast" else np.float32)
    body = {"gradients": as_json(grads, np.float32)}  # precision inferred from the numbers
    result = grade(session, body)
    assert result["passed"], result
    assert result["tolerance"]["precision"] == "float32"
    assert result["tolerance"]["relative"] == 1e-4
    assert "float32" in result["tolerance"]["reason"]
    given = grade(session, {**body, "precision": "float32"})
    assert given["passed"] and "says so" in given["tolerance"]["reason"]


def test_float64_keeps_the_strict_tolerance(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")
    session.step("batch", 3)
    problem = problem_of(session)
    body = {"gradients": as_json(backprop(problem, np.float32), np.float32)}
    strict = grade(session, {**body, "precision": "float64"})
    assert strict["tolerance"] == {
        "relative": 1e-6,
        "precision": "float64",
        "reason": strict["tolerance"]["reason"],
    }
    exact = grade(session, {"gradients": as_json(backprop(problem, np.float64), np.float64)})
    assert exact["passed"] and exact["tolerance"]["precision"] == "float64"
    assert (
        exact["tolerance"]["relative"] == 1e-6 and "not a float32" in exact["tolerance"]["reason"]
    )


@pytest.mark.parametrize("off", [1.01, 1.001])
def test_a_float32_answer_wrong_beyond_noise_fails(
    create_session: CreateSession, off: float
) -> None:
    session = create_session(preset="lesson-000")
    session.step("batch", 3)
    grads = backprop(problem_of(session), np.float32)
    grads[0]["dW"] = grads[0]["dW"] * np.float32(off)  # 1 % or 0.1 % off: a mistake, not noise
    result = grade(session, {"gradients": as_json(grads, np.float32)})
    assert result["tolerance"]["precision"] == "float32"
    assert not result["passed"] and result["first_wrong_layer"] == 0


@pytest.mark.parametrize("kind", ["gradients", "weights"])
def test_lesson_003_bias_rows_are_accepted(create_session: CreateSession, kind: str) -> None:
    session = create_session(preset="lesson-003-xor")
    session.step("batch", 2)
    problem = problem_of(session)
    grads = backprop(problem, np.float64, bias_rows=True)
    assert all(np.asarray(g["db"]).shape[0] == 1 for g in grads)  # lesson 003's (1, units)
    if kind == "gradients":
        body = {"gradients": as_json(grads, np.float64)}
    else:
        rate = problem["learning_rate"]
        body = {
            "weights": [
                {
                    "W": (np.array(layer["W"]) - rate * g["dW"]).tolist(),
                    "b": (np.array(layer["b"])[None, :] - rate * g["db"]).tolist(),
                }
                for layer, g in zip(problem["layers"], grads, strict=True)
            ]
        }
    result = grade(session, body)
    assert result["passed"], result
