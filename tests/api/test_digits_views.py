"""The study tools on the digits network (64 → 32 tanh → 10 softmax, cross-entropy): the
grader, one weight's chain rule, the hand check and a class question each agree with a
backprop written here in plain NumPy from the batch's own numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

from .test_class_questions import CreateSession, ask, bearer, open_class, reveal, step_to


def softmax_backprop(problem: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """Forward a = tanh(x·W₀ + b₀), p = softmax(a·W₁ + b₁); the cross-entropy's δ₁ = (p − y)/n,
    δ₀ = (δ₁·W₁ᵀ) ⊙ (1 − a²); ∂L/∂W = inputᵀ·δ, ∂L/∂b = Σ δ."""
    x, y = np.array(problem["x"]), np.array(problem["y"])
    (W0, b0), (W1, b1) = [(np.array(lay["W"]), np.array(lay["b"])) for lay in problem["layers"]]
    a = np.tanh(x @ W0 + b0)
    z = a @ W1 + b1
    p = np.exp(z - z.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    delta1 = (p - y) / len(x)
    delta0 = (delta1 @ W1.T) * (1 - a**2)
    return {"dW": [x.T @ delta0, a.T @ delta1], "db": [delta0.sum(0), delta1.sum(0)]}


def test_grader_chain_rule_and_hand_check_agree_with_numpy_on_the_digits(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="digits")
    session.step("batch", 2)
    problem = client.get(f"/api/sessions/{session.id}/grade", headers=session.watch).json()
    assert np.array(problem["x"]).shape == (16, 64) and np.array(problem["y"]).shape == (16, 10)
    mine = softmax_backprop(problem)
    body = {
        "gradients": [
            {"dW": dW.tolist(), "db": db.tolist()}
            for dW, db in zip(mine["dW"], mine["db"], strict=True)
        ]
    }
    graded = client.post(f"/api/sessions/{session.id}/grade", json=body, headers=session.watch)
    assert graded.status_code == 200 and graded.json()["passed"] is True, graded.text
    wrong = {"gradients": [body["gradients"][0], {"dW": (-mine["dW"][1]).tolist(),
                                                   "db": mine["db"][1].tolist()}]}  # fmt: skip
    flipped = client.post(f"/api/sessions/{session.id}/grade", json=wrong, headers=session.watch)
    assert flipped.json()["first_wrong_layer"] == 1

    chain = client.get(
        f"/api/sessions/{session.id}/chain",
        params={"layer": 0, "i": 37, "j": 5},
        headers=session.watch,
    )
    assert chain.status_code == 200, chain.text
    rule = chain.json()
    assert np.isclose(rule["gradient"], mine["dW"][0][37, 5], rtol=1e-9, atol=1e-15)
    assert np.isclose(sum(rule["products"]), mine["dW"][0][37, 5], rtol=1e-9, atol=1e-15)
    assert len(rule["products"]) == 16  # a term per batch row

    value = float(mine["dW"][1][3, 7])
    check = {"quantity": "W", "layer": 1, "i": 3, "j": 7, "value": value}
    checked = client.post(f"/api/sessions/{session.id}/check", json=check, headers=session.watch)
    assert checked.status_code == 200 and checked.json()["correct"] is True, checked.text


def test_a_class_question_on_the_digits_output_reveals_numpys_largest_delta(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="digits")
    opened = open_class(client, session)
    teacher = opened["teacher_token"]
    session.step("batch", 1)
    state = step_to(session, "backward", 1)  # the output layer's backward phase is next
    data = session.client.get(f"/api/sessions/{session.id}/dataset", headers=session.watch).json()
    rows = state["batch_indices"]
    p = np.array(state["layers"][1]["a"])  # the softmax's probabilities, a row per batch row
    y = np.array(data["y_train"])[rows]
    mean_abs = np.abs((p - y) / len(rows)).mean(axis=0)
    question = ask(client, teacher, kind="largest_delta", layer=1)
    truth = reveal(client, teacher, question["id"])["truth"]
    assert truth["tied"] == np.flatnonzero(mean_abs == mean_abs.max()).tolist()
    assert np.isclose(truth["mean_abs"], mean_abs.max(), rtol=1e-12)
    assert client.get("/api/classes/current/record", headers=bearer(teacher)).status_code == 200
