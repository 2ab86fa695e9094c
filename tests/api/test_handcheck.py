"""POST …/check (a hand calculation marked) and GET …/worksheet (printable, seeded, keyed).

The values a "student" types are worked out here, independently, from the lesson's formulas
on the batch the grader hands out (GET …/grade).
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

CreateSession = Any  # fixtures from tests/conftest.py


def sigmoid(z: np.ndarray) -> np.ndarray:
    return np.asarray(1 / (1 + np.exp(-z)))


def lesson_000_by_hand(problem: dict[str, Any]) -> dict[str, np.ndarray]:
    """Lesson 000's network (SSE, sigmoid, no biases): δ and ∂L/∂W of both layers."""
    x, y = np.array(problem["x"]), np.array(problem["y"])
    W1, W2 = (np.array(layer["W"]) for layer in problem["layers"])
    a1 = sigmoid(x @ W1)
    a2 = sigmoid(a1 @ W2)
    delta2 = 2 * (a2 - y) * a2 * (1 - a2)
    delta1 = delta2 @ W2.T * a1 * (1 - a1)
    return {"delta0": delta1, "delta1": delta2, "dW0": x.T @ delta1, "dW1": a1.T @ delta2}


def check(session: Any, body: dict[str, Any]) -> dict[str, Any]:
    response = session.client.post(session.url("/check"), json=body, headers=session.watch)
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.fixture
def lesson(create_session: CreateSession) -> tuple[Any, dict[str, np.ndarray]]:
    session = create_session(preset="lesson-000")
    session.step("batch", 5)
    problem = session.client.get(session.url("/grade"), headers=session.watch).json()
    return session, lesson_000_by_hand(problem)


def test_a_weight_within_tolerance_is_right(lesson: tuple[Any, dict[str, np.ndarray]]) -> None:
    session, by_hand = lesson
    value = float(by_hand["dW0"][2, 1]) * 1.004  # rounded by hand: 0.4 % off
    result = check(session, {"quantity": "W", "layer": 0, "i": 2, "j": 1, "value": value})
    assert result["correct"] and not result["off_by_sign"]
    assert result["tolerance"] == 0.01
    assert result["allowed"] == pytest.approx(0.01 * abs(by_hand["dW0"][2, 1]))
    assert result["backprop"] == pytest.approx(by_hand["dW0"][2, 1], rel=1e-12)
    assert result["numeric"] == pytest.approx(by_hand["dW0"][2, 1], rel=1e-6)
    assert result["name"] == "∂L/∂W[0][2, 1]" and "Right" in result["reason"]


def test_a_value_off_by_a_sign_is_wrong_with_the_reason(
    lesson: tuple[Any, dict[str, np.ndarray]],
) -> None:
    session, by_hand = lesson
    value = -float(by_hand["dW1"][3, 0])  # lesson 000's adjustment, not the gradient
    result = check(session, {"quantity": "W", "layer": 1, "i": 3, "j": 0, "value": value})
    assert not result["correct"] and result["off_by_sign"]
    assert "sign" in result["reason"] and "y − ŷ" in result["reason"]


def test_a_value_off_by_more_than_the_tolerance_is_wrong(
    lesson: tuple[Any, dict[str, np.ndarray]],
) -> None:
    session, by_hand = lesson
    value = float(by_hand["dW1"][0, 0]) * 1.05
    result = check(
        session, {"quantity": "W", "layer": 1, "i": 0, "j": 0, "value": value, "tolerance": 0.02}
    )
    assert not result["correct"] and not result["off_by_sign"]
    assert result["difference"] == pytest.approx(0.05 * by_hand["dW1"][0, 0], rel=1e-9)


def test_a_delta_is_marked_and_its_factors_revealed(
    lesson: tuple[Any, dict[str, np.ndarray]],
) -> None:
    session, by_hand = lesson
    value = float(by_hand["delta0"][1, 2])
    body = {"quantity": "delta", "layer": 0, "row": 1, "j": 2, "value": value, "reveal": True}
    result = check(session, body)
    assert result["correct"] and result["name"] == "δ[0][1, 2]"
    assert result["numeric"] == pytest.approx(value, rel=1e-6)
    factors = result["factors"]
    assert factors["upstream"][0] * factors["local"][0] == pytest.approx(value, rel=1e-12)
    assert "factors" not in check(session, {**body, "reveal": False})


def test_a_bias_is_marked(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step("batch", 3)
    state = session.read()
    delta = np.array(state["layers"][1]["delta"])  # the batch of 10 rows, all in the trace
    value = float(delta[:, 1].sum())
    assert check(session, {"quantity": "b", "layer": 1, "j": 1, "value": value})["correct"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"quantity": "W", "layer": 0, "j": 0, "value": 1.0}, "i"),
        ({"quantity": "delta", "layer": 0, "j": 0, "value": 1.0}, "row"),
        ({"quantity": "delta", "layer": 0, "j": 0, "row": 4, "value": 1.0}, "row"),
        ({"quantity": "W", "layer": 2, "i": 0, "j": 0, "value": 1.0}, "layer"),
        ({"quantity": "W", "layer": 0, "i": 0, "j": 9, "value": 1.0}, "j"),
        ({"quantity": "b", "layer": 0, "j": 0, "value": 1.0}, "i"),  # no biases in lesson 000
    ],
)
def test_check_names_the_bad_field(
    create_session: CreateSession, body: dict[str, Any], field: str
) -> None:
    session = create_session(preset="lesson-000")
    response = session.client.post(session.url("/check"), json=body, headers=session.watch)
    assert response.status_code == 422, response.text
    assert response.json()["field"] == field


# ----- worksheet ----------------------------------------------------------------------------

CELL = re.compile(r'data-cell="([a-zA-Z]+)(\d*)-(\d+)-(\d+)">([^<]*)<')


def cells(html: str) -> dict[str, np.ndarray]:
    """Every filled table cell, by table name ("W0", "dW1", "delta0" …), as a matrix."""
    found: dict[str, dict[tuple[int, int], float]] = defaultdict(dict)
    for name, index, r, c, text in CELL.findall(html):
        if text.strip():
            found[name + index][(int(r), int(c))] = float(text)
    out = {}
    for name, entries in found.items():
        rows, cols = (max(key[n] for key in entries) + 1 for n in (0, 1))
        matrix = np.zeros((rows, cols))
        for (r, c), value in entries.items():
            matrix[r, c] = value
        out[name] = matrix
    return out


def batch(html: str) -> np.ndarray:
    table = html.split('data-table="batch"')[1].split("</table>")[0]
    rows = re.findall(r"<tr><th>\d+</th>(.*?)</tr>", table, re.DOTALL)
    return np.array([[float(v) for v in re.findall(r"<td>([^<]*)</td>", row)] for row in rows])


def worksheet(client: TestClient, session: Any, **params: Any) -> str:
    response = client.get(session.url("/worksheet"), params=params, headers=session.watch)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    return response.text


def test_the_worksheet_reproduces_from_its_seed(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    first = worksheet(client, session, seed=5, rows=3)
    assert worksheet(client, session, seed=5, rows=3) == first
    session.step("epoch", 2)  # training the session changes nothing on the sheet
    assert worksheet(client, session, seed=5, rows=3) == first
    assert worksheet(client, session, seed=6, rows=3) != first
    blank = cells(first)
    assert "dW0" not in blank and "delta2" not in blank  # the cells to fill are empty
    assert first.count('class="blank"') > 0


def test_the_answer_key_is_one_step_of_backprop(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")  # 2 → 4 tanh → 2 tanh → 1 tanh, square loss
    html = worksheet(client, session, seed=11, rows=4, answers=True)
    shown = cells(html)
    data = batch(html)
    x, y = data[:, :2], data[:, 2:]
    # By hand, from the numbers printed on the sheet (weights rounded as printed).
    Ws = [shown[f"W{k}"] for k in range(3)]
    bs = [shown[f"b{k}"][0] for k in range(3)]
    inputs, outputs = [], []
    a = x
    for W, b in zip(Ws, bs, strict=True):
        inputs.append(a)
        a = np.tanh(a @ W + b)
        outputs.append(a)
    # ∂E/∂ŷ of the session's loss: mse's 2(ŷ − y)/n, or TF Playground's square (ŷ − y)/n.
    factor = 1 if session.state["config"]["model"]["loss"] == "square" else 2
    error = factor * (a - y) / y.size
    for k in reversed(range(3)):
        delta = error * (1 - outputs[k] ** 2)
        np.testing.assert_allclose(shown[f"delta{k}"], delta, rtol=1e-3, atol=1e-9)
        np.testing.assert_allclose(shown[f"dW{k}"], inputs[k].T @ delta, rtol=1e-3, atol=1e-9)
        np.testing.assert_allclose(shown[f"db{k}"][0], delta.sum(axis=0), rtol=1e-3, atol=1e-9)
        error = delta @ Ws[k].T


def test_worksheet_limits(client: TestClient, create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = client.get(session.url("/worksheet"), params={"rows": 9}, headers=session.watch)
    assert response.status_code == 422 and response.json()["field"] == "rows"
    wide = create_session(preset="circle", model={"layers": [{"units": 20}, {"units": 1}]})
    response = client.get(wide.url("/worksheet"), headers=wide.watch)
    assert response.status_code == 422 and response.json()["field"] == "model.layers"


@pytest.mark.parametrize(
    ("factor", "words"),
    [
        (2.0, "½ of ½(ŷ − y)² left out"),
        (0.5, "2 of (ŷ − y)²'s derivative"),
        (4.0, "4× too large: the mean over the batch's 4 values"),
        (0.25, "1/4 of the value"),
    ],
)
@pytest.mark.parametrize("quantity", ["W", "delta"])
def test_a_slipped_factor_is_named(
    lesson: tuple[Any, dict[str, np.ndarray]], factor: float, words: str, quantity: str
) -> None:
    session, by_hand = lesson  # lesson 000: the full batch of 4 rows, one output
    if quantity == "W":
        body = {"quantity": "W", "layer": 0, "i": 2, "j": 1}
        truth = float(by_hand["dW0"][2, 1])
    else:
        body = {"quantity": "delta", "layer": 1, "row": 3, "j": 0}
        truth = float(by_hand["delta1"][3, 0])
    result = check(session, {**body, "value": truth * factor})
    assert not result["correct"] and result["off_by_factor"] == factor
    assert words in result["reason"]
    plain = check(session, {**body, "value": truth * 1.3})  # wrong, but by no named factor
    assert plain["off_by_factor"] is None and "Off by" in plain["reason"]
    right = check(session, {**body, "value": truth})
    assert right["correct"] and right["off_by_factor"] is None
