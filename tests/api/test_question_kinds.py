"""The three kinds of question beyond the sign, the gradient and the largest change: which unit
gets the largest |δ|, does the batch's loss go down or up, and a weight's value after the
update. Each truth the server keeps is checked against an independent computation in plain
NumPy from the session's state (its weights, activations, δ and gradients as the API gives
them) — after a weight was set by hand (PATCH …/parameter) before asking — and against what
Reveal's real phase gives, bit for bit; answers are marked, refused naming the field, and
exported as CSV."""

from __future__ import annotations

import csv
import io
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.settings import Settings

from .test_class_questions import (
    ONE_CLIENT_IS_A_CLASS,
    CreateSession,
    answer,
    ask,
    bearer,
    engine_session,
    open_class,
    reveal,
    step_to,
)

CIRCLE = 2  # the circle preset: 2 → 4 → 2 → 1, tanh everywhere, TF Playground's ½ mean square


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(data_dir=data_dir, **ONE_CLIENT_IS_A_CLASS)


def tanh_prime(z: Any) -> np.ndarray:
    return 1.0 - np.tanh(np.asarray(z)) ** 2


def patch(session: Any, layer: int, i: int | None, j: int, value: float) -> None:
    body = {"layer": layer, "i": i, "j": j, "value": value}
    response = session.client.patch(session.url("/parameter"), json=body, headers=session.control)
    assert response.status_code == 200, response.text


def batch(client: TestClient, session: Any, state: dict[str, Any]) -> tuple[Any, Any]:
    """The open batch's x and y, read from the dataset by the batch's rows."""
    dataset = client.get(session.url("/dataset"), headers=session.watch).json()
    rows = state["batch_indices"]
    assert state["trace_rows"] == len(rows)  # the state shows every row of the batch
    return np.asarray(state["layers"][0]["input"]), np.asarray(dataset["y_train"])[rows]


def batch_loss(weights: list[tuple[Any, Any]], x: Any, y: Any) -> float:
    """TF Playground's ½·mean((ŷ − y)²) of a tanh network with these (W, b)."""
    a = x
    for W, b in weights:
        a = np.tanh(a @ W + b)
    return float(0.5 * np.mean((a - y) ** 2))


def exported(client: TestClient, teacher: str, question: int) -> list[dict[str, str]]:
    text = client.get("/api/classes/current/answers", headers=bearer(teacher)).text
    return [row for row in csv.DictReader(io.StringIO(text)) if row["question"] == str(question)]


# ----- which unit gets the largest |δ| -------------------------------------------------------


def test_largest_delta_is_the_unit_of_largest_mean_abs_delta_and_follows_an_edit(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    # Before layer 1's backward phase its upstream gradient is known: δ1 = upstream ⊙ f'(z1),
    # and layer 0's δ0 = (δ1 · W1ᵀ) ⊙ f'(z0) is what the question asks about.
    before = step_to(session, "backward", 1)
    layers = before["layers"]
    delta_1 = np.asarray(layers[1]["upstream"]) * tanh_prime(layers[1]["z"])
    unedited = np.abs((delta_1 @ np.asarray(layers[1]["W"]).T) * tanh_prime(layers[0]["z"]))
    quiet = int(np.argmin(unedited.mean(axis=0)))  # the unit that would get the least
    # A teacher makes that unit's outgoing weight large: its δ grows with it.
    patch(session, 1, quiet, 0, 10.0)
    state = session.step("phase", 1)["state"]
    assert state["phase"] == {"kind": "backward", "layer": 0}

    question = ask(client, teacher, kind="largest_delta", layer=0)
    assert question["choices"] is None and "largest δ" in question["text"]
    assert "mean of |δ| over the batch's 10 rows" in question["text"]
    layers = state["layers"]
    W_1 = np.asarray(layers[1]["W"])
    assert W_1[quiet, 0] == 10.0  # the edit is in the weights the backward phase uses
    delta_0 = (np.asarray(layers[1]["delta"]) @ W_1.T) * tanh_prime(layers[0]["z"])
    mean_abs = np.abs(delta_0).mean(axis=0)
    expected = int(np.argmax(mean_abs))
    assert expected == quiet != int(np.argmax(unedited.mean(axis=0)))  # the edit decided it

    given = {"Right": {"j": expected}, "Wrong": {"j": (expected + 1) % 4}}
    for name, value in given.items():
        assert answer(client, code, question["id"], name, value).status_code == 201
    revealed = reveal(client, teacher, question["id"])
    truth = revealed["truth"]
    assert (truth["j"], truth["tied"]) == (expected, [expected])
    assert truth["mean_abs"] == pytest.approx(mean_abs[expected], rel=1e-12)
    assert revealed["tally"] == {"answers": 2, "right": 1, "wrong": 1}
    # Reveal ran the phase on the session: its δ gives the truth, bit for bit.
    walked = np.abs(np.asarray(session.read()["layers"][0]["delta"])).mean(axis=0)
    assert revealed["ran"] and truth["mean_abs"] == walked[expected]
    rows = exported(client, teacher, question["id"])
    assert [(r["name"], r["answer"], r["truth"], r["right"]) for r in rows] == [
        ("Right", f"unit {expected}", f"unit {expected}", "yes"),
        ("Wrong", f"unit {(expected + 1) % 4}", f"unit {expected}", "no"),
    ]


# ----- will the loss go down or up -------------------------------------------------------------


def test_loss_change_is_the_batch_loss_recomputed_after_the_update_from_an_edited_weight(
    client: TestClient, create_session: CreateSession
) -> None:
    seen = set()
    for rate in (0.03, 3.0):  # a small step and an overshooting one
        session = create_session(preset="circle", model={"learning_rate": rate})
        opened = open_class(client, session)
        teacher, code = opened["teacher_token"], opened["code"]
        state = step_to(session, "update", None)
        W_0 = np.asarray(state["layers"][0]["W"])
        patch(session, 0, 1, 2, float(W_0[1, 2]) + 0.5)  # after the loss phase, before asking
        state = session.read()
        x, y = batch(client, session, state)
        weights = [(np.asarray(layer["W"]), np.asarray(layer["b"])) for layer in state["layers"]]
        # No momentum, no penalty: θ ← θ − α·∇θ, from the gradients the backward phases kept.
        stepped = [
            (W - rate * np.asarray(layer["dW"]), b - rate * np.asarray(layer["db"]))
            for (W, b), layer in zip(weights, state["layers"], strict=True)
        ]
        now, after = batch_loss(weights, x, y), batch_loss(stepped, x, y)
        direction = "down" if after < now else "up"
        seen.add(direction)

        question = ask(client, teacher, kind="loss_change")
        assert question["layer"] == CIRCLE and question["choices"] == ["down", "up", "same"]
        assert f"E = {now:.4g} now" in question["text"]  # at the edited weights, not the stale
        assert state["batch_loss"] != pytest.approx(now, rel=1e-6)  # … loss phase's
        for name in ("down", "up", "same"):
            assert answer(client, code, question["id"], name.title(), name).status_code == 201
        revealed = reveal(client, teacher, question["id"])
        truth = revealed["truth"]
        assert truth["direction"] == direction
        assert truth["before"] == pytest.approx(now, rel=1e-12)
        assert truth["after"] == pytest.approx(after, rel=1e-12)
        assert revealed["tally"] == {"answers": 3, "right": 1, "wrong": 2}
        assert f"{now:.6g} → {after:.6g}" in truth["text"]
        # The update Reveal ran is the one the truth was computed from.
        walked = session.read()["layers"]
        assert revealed["ran"]
        for layer, (W, b) in zip(walked, stepped, strict=True):
            np.testing.assert_allclose(layer["W"], W, rtol=1e-12, atol=1e-15)
            np.testing.assert_allclose(layer["b"], b, rtol=1e-12, atol=1e-15)
        rows = exported(client, teacher, question["id"])
        assert {r["answer"]: r["right"] for r in rows} == {
            name: "yes" if name == direction else "no" for name in ("down", "up", "same")
        }
        assert {r["truth"] for r in rows} == {direction}
    assert seen == {"down", "up"}  # both ways are predicted (and tested) here


# ----- a weight's value after the update -----------------------------------------------------


def marks(given: dict[str, float], value: float, before: float, tolerance: float) -> list[bool]:
    """Right when within tolerance·|ΔW| of the value, plus the rounding of the weight now as
    the question shows it (6 significant digits)."""
    allowance = tolerance * abs(value - before) + abs(float(f"{before:.6g}") - before)
    return [abs(a - value) <= allowance for a in given.values()]


def test_weight_after_is_the_update_with_momentum_and_l2_bit_for_bit_after_an_edit(
    client: TestClient, app: FastAPI, create_session: CreateSession
) -> None:
    rate, mu, l2 = 0.03, 0.9, 0.01
    model = {"momentum": mu, "l2": l2, "penalty_rule": "gradient", "learning_rate": rate}
    session = create_session(preset="circle", model=model)
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    # Batch 1 makes momentum's velocity: v1 = −α·(∂E/∂W + l2·W) (the state's dW has both).
    first = step_to(session, "update", None)["layers"]
    v_W = -rate * np.asarray(first[1]["dW"])
    v_b = -rate * np.asarray(first[1]["db"])
    session.step("phase", 1)
    layers = step_to(session, "update", None)["layers"]  # batch 2, before its update
    W, b = np.asarray(layers[1]["W"]), np.asarray(layers[1]["b"])
    np.testing.assert_allclose(W, np.asarray(first[1]["W"]) + v_W, rtol=1e-12)
    edited = float(W[0, 1]) - 0.75
    patch(session, 1, 0, 1, edited)  # the weight asked about, set by hand before asking
    # v2 = μ·v1 − α·∇θ; θ2 = θ (as it is now) + v2.
    expected_W = edited + mu * v_W[0, 1] - rate * layers[1]["dW"][0][1]
    expected_b = b[1] + mu * v_b[1] - rate * layers[1]["db"][1]

    bias = ask(client, teacher, kind="weight_after", layer=1, j=1, tolerance=0.1)
    assert "b[1][1]" in bias["text"] and f"It is {b[1]:.6g} now" in bias["text"]
    question = ask(client, teacher, kind="weight_after", layer=1, i=0, j=1, tolerance=0.1)
    assert "W[1][0, 1]" in question["text"] and f"It is {edited:.6g} now" in question["text"]
    change = expected_W - edited
    given = {
        "Exact": expected_W,
        "Close": expected_W + 0.05 * change,
        "Stays": float(f"{edited:.6g}"),  # forgot the update
        "Far": expected_W - 0.3 * change,
        "No momentum": edited - rate * layers[1]["dW"][0][1],
    }
    for name, value in given.items():
        assert answer(client, code, question["id"], name, value).status_code == 201
    revealed = reveal(client, teacher, question["id"])
    truth = revealed["truth"]
    assert truth["value"] == pytest.approx(expected_W, rel=1e-12)
    assert truth["before"] == edited and truth["change"] == pytest.approx(change, rel=1e-9)
    right = marks(given, truth["value"], edited, 0.1)
    assert right[:4] == [True, True, False, False]  # "No momentum" as it may fall
    assert revealed["tally"]["right"] == sum(right)
    # Reveal's real update gives both truths, bit for bit.
    after = session.read()["layers"][1]
    assert revealed["ran"] and after["W"][0][1] == truth["value"]
    # The bias question was replaced by the next (never revealed): its truth, as the book keeps.
    bias_truth = engine_session(app, session.id).questions.find(bias["id"]).truth
    assert bias_truth["value"] == pytest.approx(expected_b, rel=1e-12)
    assert after["b"][1] == bias_truth["value"]
    rows = exported(client, teacher, question["id"])
    assert [float(r["answer"]) for r in rows] == list(given.values())
    assert {r["truth"] for r in rows} == {repr(truth["value"])}
    assert [r["right"] for r in rows] == ["yes" if mark else "no" for mark in right]


def test_weight_after_follows_the_tfp_rule_to_a_weight_l1_kills(
    client: TestClient, create_session: CreateSession
) -> None:
    """TF Playground's rule: the data's step, then the penalty's on the weight from before it;
    a weight the L1 step pushes across 0 is set to 0 and dies."""
    rate, l1 = 0.03, 0.01
    session = create_session(preset="circle", model={"l1": l1, "learning_rate": rate})
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    layers = step_to(session, "update", None)["layers"]
    # The state's dW is ∂E/∂W + l1·sign(W) under this rule too: the data's part is the rest.
    W_used = np.asarray(layers[0]["W_used"])
    data = np.asarray(layers[0]["dW"]) - l1 * np.sign(W_used)
    i, j = (int(k) for k in np.unravel_index(np.argmax(data), data.shape))
    assert data[i, j] > 0
    # Set by hand so that the data's step leaves it at α·l1/2 and the L1 step crosses 0.
    edited = rate * (float(data[i, j]) + l1 / 2)
    patch(session, 0, i, j, edited)
    stepped = edited - rate * data[i, j]
    penalised = stepped - rate * l1 * np.sign(edited)
    expected = 0.0 if stepped * penalised < 0 else penalised
    assert expected == 0.0  # the weight dies

    question = ask(client, teacher, kind="weight_after", layer=0, i=i, j=j, tolerance=0.1)
    given = {"Dies": 0.0, "Data step only": float(stepped), "Stays": float(f"{edited:.6g}")}
    for name, value in given.items():
        assert answer(client, code, question["id"], name, value).status_code == 201
    revealed = reveal(client, teacher, question["id"])
    truth = revealed["truth"]
    assert truth["value"] == expected and truth["before"] == edited
    assert revealed["tally"]["right"] == sum(marks(given, expected, edited, 0.1))
    after = session.read()["layers"][0]
    assert after["W"][i][j] == truth["value"] and after["dead"][i][j] is True


# ----- bad input -------------------------------------------------------------------------------


def field_of(response: Any) -> str:
    """The field a 422 names: the service's refusal, or the body's validation."""
    assert response.status_code == 422, response.text
    error = response.json()
    return str(error.get("field") or error["detail"][0]["loc"][1])


def test_each_new_kind_refuses_a_bad_question_or_answer_naming_the_field(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    url = "/api/classes/current/questions"

    def refused(body: dict[str, Any]) -> str:
        return field_of(client.post(url, json=body, headers=bearer(teacher)))

    step_to(session, "backward", CIRCLE)
    for body, field in (
        ({"kind": "largest_delta", "layer": CIRCLE}, "layer"),  # one unit: nothing to choose
        ({"kind": "largest_delta"}, "layer"),
        ({"kind": "largest_delta", "layer": 0}, "kind"),  # layer 0's backward is not next
        ({"kind": "loss_change"}, "kind"),  # the update is not next
        ({"kind": "weight_after", "layer": CIRCLE, "i": 0}, "kind"),
    ):
        assert refused(body) == field, body
    step_to(session, "backward", 1)
    for body, field in (
        ({"kind": "largest_delta", "layer": 1, "i": 0}, "i"),
        ({"kind": "largest_delta", "layer": 1, "row": 0}, "row"),
    ):
        assert refused(body) == field, body
    unit = ask(client, teacher, kind="largest_delta", layer=1)
    for value in ({"j": 2}, {"j": -1}, {"j": "0"}, {"j": True}, {"i": 0, "j": 0}, "up", 0.5):
        assert field_of(answer(client, code, unit["id"], "Ana", value)) == "answer", value

    step_to(session, "update", None)
    for body, field in (
        ({"kind": "loss_change", "layer": 0}, "layer"),
        ({"kind": "loss_change", "i": 0}, "i"),
        ({"kind": "weight_after", "layer": 0, "i": 2, "j": 0}, "i"),
        ({"kind": "weight_after", "layer": 0, "i": 0, "j": 4}, "j"),
        ({"kind": "weight_after", "layer": 0, "i": 0, "tolerance": 2}, "tolerance"),
        ({"kind": "weight_after", "i": 0}, "layer"),
        ({"kind": "weight_after", "layer": 9, "i": 0}, "layer"),
    ):
        assert refused(body) == field, body
    loss = ask(client, teacher, kind="loss_change", layer=CIRCLE)  # the output's, if named
    for value in ("+", "Down", 1, {"j": 0}, None):
        assert field_of(answer(client, code, loss["id"], "Ana", value)) == "answer", value
    weight = ask(client, teacher, kind="weight_after", layer=0, i=0, j=0)
    assert weight["tolerance"] == 0.1  # the setting's, when none is given
    for value in ("down", {"j": 0}, True):
        assert field_of(answer(client, code, weight["id"], "Ana", value)) == "answer", value
