"""POST …/grade names more mistakes, each made here on purpose in an independent backprop.

The correct backprop is test_grade's plain-NumPy ``student_backprop`` (the lessons' formulas,
none of the app's functions); each mistake is applied to its arrays as a student would make it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.api.test_grade import grade, problem_of, student_backprop

CreateSession = Any  # fixtures from tests/conftest.py


def scaled(gradients: list[dict[str, Any]], factor: float) -> list[dict[str, Any]]:
    return [{key: (factor * np.array(v)).tolist() for key, v in g.items()} for g in gradients]


@pytest.mark.parametrize("preset", ["lesson-000", "circle"])
def test_gradients_accumulated_twice_are_named(create_session: CreateSession, preset: str) -> None:
    session = create_session(preset=preset)
    session.step("batch", 2)
    once = student_backprop(problem_of(session))
    twice = [  # grad += backward() on a buffer not zeroed: the second call adds the same again
        {key: (np.array(v) + np.array(v)).tolist() for key, v in g.items()} for g in once
    ]
    result = grade(session, {"gradients": twice})
    assert all(layer["cause"] == "doubled" for layer in result["layers"]), result
    assert "two backward passes" in result["diagnosis"] and "½" in result["diagnosis"]


def test_a_missing_factor_2_is_named(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")  # SSE: ∂E/∂ŷ = 2(ŷ − y)
    problem = problem_of(session)
    x, y = np.array(problem["x"]), np.array(problem["y"])
    W1, W2 = (np.array(layer["W"]) for layer in problem["layers"])
    a1 = 1 / (1 + np.exp(-(x @ W1)))
    a2 = 1 / (1 + np.exp(-(a1 @ W2)))
    delta2 = (a2 - y) * a2 * (1 - a2)  # the 2 left out
    delta1 = delta2 @ W2.T * a1 * (1 - a1)
    result = grade(
        session, {"gradients": [{"dW": (x.T @ delta1).tolist()}, {"dW": (a1.T @ delta2).tolist()}]}
    )
    assert [layer["cause"] for layer in result["layers"]] == ["half", "half"], result
    assert "2(ŷ − y)" in result["diagnosis"]


def test_gradients_times_the_learning_rate_are_named(create_session: CreateSession) -> None:
    session = create_session(preset="circle")  # α = 0.03
    session.step("batch", 2)
    problem = problem_of(session)
    result = grade(
        session, {"gradients": scaled(student_backprop(problem), problem["learning_rate"])}
    )
    assert all(layer["cause"] == "learning_rate" for layer in result["layers"]), result
    assert "α = 0.03" in result["diagnosis"]


def test_a_loop_that_stops_one_layer_early_is_named(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step("batch", 2)
    gradients = student_backprop(problem_of(session))
    gradients[0] = {key: np.zeros_like(np.array(v)).tolist() for key, v in gradients[0].items()}
    result = grade(session, {"gradients": gradients})
    assert [layer["passed"] for layer in result["layers"]] == [False, True, True]
    assert result["layers"][0]["cause"] == "not_reached"
    assert "one layer early" in result["diagnosis"]
