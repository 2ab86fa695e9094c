"""Predict, then reveal on the class link: the teacher asks about the phase that runs next,
students answer once each, Reveal runs the phase and marks them. The truth is checked against
an independent computation (a central difference, NumPy's δ from the trace), bad input is a
4xx naming the field, answers export as CSV (escaped) and outlive a restart."""

from __future__ import annotations

import copy
import csv
import io
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.engine.model import data_loss, forward_all
from app.service.manager import SessionManager
from app.service.session import Session
from app.settings import Settings

CreateSession = Any
OpenClient = Any
STEP = 1e-6


# A whole class answers from this one TestClient (one client id at one address): its
# per-client answer quotas are the class's here (tests/harden/test_quotas.py tests them).
ONE_CLIENT_IS_A_CLASS = {
    "max_answers_per_client": 1000,
    "answers_per_minute_per_client": 60_000.0,
    "answers_per_minute_per_page": 60_000.0,
}


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(data_dir=data_dir, **ONE_CLIENT_IS_A_CLASS)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def open_class(client: TestClient, session: Any) -> dict[str, Any]:
    response = client.post("/api/classes", json={"session_id": session.id}, headers=session.control)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


def engine_session(app: FastAPI, session_id: str) -> Session:
    manager: SessionManager = app.state.manager
    return manager.get(session_id)


def step_to(session: Any, kind: str, layer: int | None) -> dict[str, Any]:
    """Step phases until the next one is (kind, layer); the state there."""
    state: dict[str, Any] = session.read()
    for _ in range(len(state["phases"]) + 1):
        if state["phase"] == {"kind": kind, "layer": layer}:
            return state
        state = session.step("phase", 1)["state"]
    raise AssertionError(f"never reached {kind} {layer}")


def class_at_output_backward(
    client: TestClient, create_session: CreateSession
) -> tuple[str, str, int]:
    """A circle session before its output layer's backward phase, a class open on it:
    (the teacher's token, the class code, the output layer)."""
    session = create_session(preset="circle")
    opened = open_class(client, session)
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    return opened["teacher_token"], opened["code"], last


def ask(client: TestClient, teacher: str, **body: Any) -> dict[str, Any]:
    response = client.post("/api/classes/current/questions", json=body, headers=bearer(teacher))
    assert response.status_code == 201, response.text
    question: dict[str, Any] = response.json()
    return question


def answer(client: TestClient, code: str, question: int, name: str, value: Any) -> Any:
    body = {"code": code, "question": question, "name": name, "answer": value}
    return client.post("/api/classes/answers", json=body)


def reveal(client: TestClient, teacher: str, question: int) -> dict[str, Any]:
    response = client.post(
        f"/api/classes/current/questions/{question}/reveal", headers=bearer(teacher)
    )
    assert response.status_code == 200, response.text
    revealed: dict[str, Any] = response.json()
    return revealed


def central_difference(session: Session, layer: int, i: int, j: int) -> float:
    """∂L/∂W[layer][i, j] of the open batch from the forward pass alone: (L(w+h) − L(w−h))/2h."""
    model = session.model
    assert model.config.l1 == model.config.l2 == 0.0  # L is the data loss alone
    x = model.traces[0].input
    y = model.batch_y
    assert x is not None and y is not None

    def loss(shift: float) -> float:
        layers = copy.deepcopy(model.layers)
        layers[layer].W = layers[layer].W.astype(np.float64).copy()
        layers[layer].W[i, j] += shift
        z, a = forward_all(layers, x)
        return data_loss(model.loss_fn, y, z, a)

    return (loss(STEP) - loss(-STEP)) / (2 * STEP)


# ----- the truth ---------------------------------------------------------------------------


def test_a_gradient_question_reveals_the_central_difference_and_marks_within_tolerance(
    client: TestClient, app: FastAPI, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    step_to(session, "backward", 0)
    numeric = central_difference(engine_session(app, session.id), 0, 1, 2)
    question = ask(client, teacher, kind="gradient", layer=0, i=1, j=2, tolerance=0.05)
    assert question["tolerance"] == 0.05 and "∂L/∂W[0][1, 2]" in question["text"]
    assert "truth" not in question
    close, far = numeric * 1.04, numeric * 1.2
    assert answer(client, code, question["id"], "Close", close).status_code == 201
    assert answer(client, code, question["id"], "Far", far).status_code == 201
    assert answer(client, code, question["id"], "Flipped", -numeric).status_code == 201

    revealed = reveal(client, teacher, question["id"])
    assert revealed["ran"] is True
    assert revealed["truth"]["value"] == pytest.approx(numeric, rel=1e-6, abs=1e-9)
    assert revealed["tally"] == {"answers": 3, "right": 1, "wrong": 2}
    # The phase ran on the session itself: its dW is the truth, bit for bit.
    after = session.read()
    assert after["phase"] == {"kind": "update", "layer": None}
    assert after["layers"][0]["dW"][1][2] == revealed["truth"]["value"]


def test_delta_sign_questions_match_numpy_on_the_walked_trace(
    client: TestClient, app: FastAPI, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    teacher = open_class(client, session)["teacher_token"]
    last = len(session.read()["layers"]) - 1
    state = step_to(session, "backward", last)
    # Output layer, mse on tanh: δ = c·(ŷ − y)·(1 − ŷ²) with c > 0, so its sign is (ŷ − y)'s.
    y_all = np.asarray(client.get(session.url("/dataset"), headers=session.watch).json()["y_train"])
    rows = state["batch_indices"]
    y_hat = np.asarray(state["layers"][last]["a"])
    for row in range(min(3, len(rows))):
        question = ask(client, teacher, kind="delta_sign", layer=last, j=0, row=row)
        expected = np.sign(y_hat[row, 0] - y_all[rows[row], 0])
        last_q = question
        truth = engine_session(app, session.id).questions.find(question["id"]).truth
        assert truth["sign"] == {1.0: "+", -1.0: "-", 0.0: "0"}[float(expected)]
    revealed = reveal(client, teacher, last_q["id"])
    assert revealed["ran"] and revealed["question"]["status"] == "revealed"

    # A hidden layer: δ = (δ_next · W_nextᵀ) ⊙ f′(z), from the trace with NumPy.
    hidden = last - 1
    state = session.read()
    assert state["phase"] == {"kind": "backward", "layer": hidden}
    for j in range(state["layers"][hidden]["units"]):
        question = ask(client, teacher, kind="delta_sign", layer=hidden, j=j, row=1)
        delta_next = np.asarray(state["layers"][last]["delta"])
        w_next = np.asarray(state["layers"][last]["W"])
        z = np.asarray(state["layers"][hidden]["z"])
        expected = np.sign(((delta_next @ w_next.T) * (1 - np.tanh(z) ** 2))[1, j])
        if j == state["layers"][hidden]["units"] - 1:
            revealed = reveal(client, teacher, question["id"])
            assert revealed["truth"]["sign"] == {1.0: "+", -1.0: "-", 0.0: "0"}[float(expected)]
            walked = session.read()["layers"][hidden]["delta"][1][j]
            assert revealed["truth"]["value"] == walked  # the phase the session ran


def test_largest_change_is_the_weight_the_update_moved_most(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    before = step_to(session, "update", None)
    question = ask(client, teacher, kind="largest_change", layer=0)
    dW = np.asarray(before["layers"][0]["dW"])
    i, j = np.unravel_index(np.argmax(np.abs(dW)), dW.shape)  # no momentum: ΔW = −α·dW
    right = {"i": int(i), "j": int(j)}
    assert answer(client, code, question["id"], "Right", right).status_code == 201
    wrong = {"i": int((i + 1) % dW.shape[0]), "j": int(j)}
    assert answer(client, code, question["id"], "Wrong", wrong).status_code == 201
    revealed = reveal(client, teacher, question["id"])
    assert [revealed["truth"]["i"], revealed["truth"]["j"]] == [i, j]
    assert revealed["tally"] == {"answers": 2, "right": 1, "wrong": 1}
    after = np.asarray(session.read()["layers"][0]["W"])
    moved = np.abs(after - np.asarray(before["layers"][0]["W"]))
    assert np.unravel_index(np.argmax(moved), moved.shape) == (i, j)
    assert revealed["truth"]["change"] == pytest.approx(
        after[i, j] - before["layers"][0]["W"][i][j], rel=1e-12
    )


# ----- the class socket ------------------------------------------------------------------------


def test_students_on_the_socket_answer_under_their_name_and_get_their_own_mark(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    with (
        client.websocket_connect(f"/ws/classes?token={teacher}") as teacher_socket,
        client.websocket_connect(f"/ws/classes?token={code}") as ana,
        client.websocket_connect(f"/ws/classes?token={code}") as ben,
    ):
        assert teacher_socket.receive_json()["type"] == "students"
        for student in (ana, ben):
            assert student.receive_json()["type"] == "class"
        question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
        for student in (ana, ben):
            assert student.receive_json() == {"type": "question", "question": question}
        seen = [teacher_socket.receive_json() for _ in range(3)]  # 2 joins, the question
        assert {m["type"] for m in seen} == {"students", "question"}
        empty = [{"label": sign, "count": 0, "sure": 0, "unsure": 0} for sign in "+-0"]
        assert teacher_socket.receive_json() == {
            "type": "answers", "question": question["id"], "round": 1, "count": 0,
            "histogram": empty, "rounds": [{"round": 1, "count": 0, "histogram": empty}],
        }  # fmt: skip

        ana.send_json({"type": "answer", "question": question["id"], "name": "Ana", "answer": "+"})
        assert ana.receive_json()["type"] == "answered"
        counted = teacher_socket.receive_json()
        assert counted["count"] == 1
        assert {bar["label"]: bar["count"] for bar in counted["histogram"]} == {
            "+": 1, "-": 0, "0": 0
        }  # fmt: skip
        ben.send_json({"type": "answer", "question": question["id"], "name": "Ben", "answer": "-"})
        assert ben.receive_json()["type"] == "answered"
        assert teacher_socket.receive_json()["count"] == 2
        # One name each: a page answers under one name, and a name taken is its page's.
        ana.send_json({"type": "answer", "question": question["id"], "name": "Cy", "answer": "-"})
        assert ana.receive_json()["field"] == "name"
        answer_body = {"code": code, "question": question["id"], "name": " ana ", "answer": "-"}
        taken = client.post("/api/classes/answers", json=answer_body)
        assert taken.status_code == 409 and taken.json()["field"] == "name"
        # Ana's page changes her mind and back: the latest counts, still one answer.
        for given in ("-", "+"):
            ana.send_json(
                {"type": "answer", "question": question["id"], "name": "Ana", "answer": given}
            )
            assert ana.receive_json()["answer"] == given
            assert teacher_socket.receive_json()["count"] == 2

        revealed = reveal(client, teacher, question["id"])
        sign = revealed["truth"]["sign"]
        assert revealed["tally"]["right"] == [sign == "+", sign == "-"].count(True)
        for student, name, given in ((ana, "Ana", "+"), (ben, "Ben", "-")):
            told = student.receive_json()
            assert told["type"] == "reveal" and told["truth"]["sign"] == sign
            assert (told["name"], told["mark"]) == (name, given == sign)
            assert [a["answer"] for a in told["answers"]] == [given]
            assert "students" not in told  # no one else's mark
        to_teacher = teacher_socket.receive_json()
        assert to_teacher["type"] == "reveal" and to_teacher["tally"] == revealed["tally"]
        assert "mark" not in to_teacher
        marked = {s["name"]: s["answers"][0]["right"] for s in to_teacher["students"]}
        assert marked == {"Ana": sign == "+", "Ben": sign == "-"}


def test_a_page_that_reloads_claims_its_answer_by_receipt_and_gets_its_mark(
    client: TestClient, create_session: CreateSession
) -> None:
    """The answer's receipt, sent again from a new socket (a reload), binds that socket to the
    answer: before Reveal it hears its own mark; after, the claim brings the mark at once. A
    wrong or foreign receipt is refused, naming the field; no one else's mark is told."""
    teacher, code, last = class_at_output_backward(client, create_session)
    question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
    qid = question["id"]
    with client.websocket_connect(f"/ws/classes?token={code}") as first:
        assert [first.receive_json()["type"] for _ in range(2)] == ["class", "question"]
        first.send_json({"type": "answer", "question": qid, "name": "Ana", "answer": "+"})
        answered = first.receive_json()
    receipt = answered["receipt"]
    assert answered["type"] == "answered" and isinstance(receipt, str) and len(receipt) >= 20
    over_rest = answer(client, code, qid, "Ben", "-")  # REST answers get a receipt too
    assert over_rest.status_code == 201 and over_rest.json()["receipt"] not in ("", receipt)

    with (
        client.websocket_connect(f"/ws/classes?token={code}") as reloaded,
        client.websocket_connect(f"/ws/classes?token={code}") as stranger,
    ):
        for page in (reloaded, stranger):
            assert [page.receive_json()["type"] for _ in range(2)] == ["class", "question"]
        for bad, field in (
            ({"receipt": "x" * 22}, "receipt"),
            ({"receipt": ""}, "receipt"),
            ({"receipt": 5}, "receipt"),
            ({"question": qid + 1}, "question"),
            ({"extra": 1}, "extra"),
        ):
            stranger.send_json({"type": "claim", "question": qid, "receipt": receipt, **bad})
            error = stranger.receive_json()
            assert (error["type"], error["field"]) == ("error", field), error
        reloaded.send_json({"type": "claim", "question": qid, "receipt": receipt})
        claimed = reloaded.receive_json()
        assert claimed == {**answered, "type": "answered"}
        # Claimed, the page is Ana's: it answers as Ana only, and her latest answer counts.
        reloaded.send_json({"type": "answer", "question": qid, "name": "Cy", "answer": "-"})
        assert reloaded.receive_json()["field"] == "name"
        reloaded.send_json({"type": "answer", "question": qid, "name": "ANA", "answer": "-"})
        again = reloaded.receive_json()
        assert (again["name"], again["answer"], again["receipt"]) == ("Ana", "-", receipt)

        revealed = reveal(client, teacher, qid)
        sign = revealed["truth"]["sign"]
        assert revealed["tally"]["answers"] == 2
        told = reloaded.receive_json()
        assert told["type"] == "reveal" and (told["name"], told["mark"]) == ("Ana", sign == "-")
        other = stranger.receive_json()
        assert other["type"] == "reveal" and (other["name"], other["mark"]) == (None, None)

    # A reload after the reveal: the claim brings the answer and its mark at once.
    with client.websocket_connect(f"/ws/classes?token={code}") as late:
        assert late.receive_json()["type"] == "class"
        late.send_json({"type": "claim", "question": qid, "receipt": over_rest.json()["receipt"]})
        assert late.receive_json()["name"] == "Ben"
        told = late.receive_json()
        assert told["type"] == "reveal" and (told["name"], told["mark"]) == ("Ben", sign == "-")
        assert "students" not in told
    # Receipts never leave the server otherwise: not in the CSV, not to the teacher.
    exported = client.get("/api/classes/current/answers", headers=bearer(teacher)).text
    assert receipt not in exported and "receipt" not in exported


def test_the_socket_names_the_field_of_a_bad_answer_and_stays_open(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
    good = {"type": "answer", "question": question["id"], "name": "Ana", "answer": "+"}
    with client.websocket_connect(f"/ws/classes?token={code}") as student:
        assert student.receive_json()["type"] == "class"
        assert student.receive_json()["type"] == "question"  # the open one, on joining
        for sent, field in (
            ("not json", "body"),
            ('{"type": "vote"}', "type"),
            ('{"type": "answer", "question": 1, "name": "A"}', "answer"),
            ('{"type": "answer", "question": 1, "name": "A", "answer": "+", "x": 1}', "x"),
        ):
            student.send_text(sent)
            error = student.receive_json()
            assert (error["type"], error["field"]) == ("error", field), error
        for change, field in (
            ({"answer": "up"}, "answer"),
            ({"answer": 1}, "answer"),
            ({"question": "1"}, "question"),
            ({"question": 99}, "question"),
            ({"name": ""}, "name"),
            ({"name": "x" * 41}, "name"),
            ({"name": "a\x00b"}, "name"),
        ):
            student.send_json({**good, **change})
            error = student.receive_json()
            assert (error["type"], error["field"]) == ("error", field), error
        student.send_json(good)
        assert student.receive_json()["type"] == "answered"
    with client.websocket_connect(f"/ws/classes?token={teacher}") as teacher_socket:
        assert teacher_socket.receive_json()["type"] == "students"
        assert teacher_socket.receive_json()["type"] == "question"
        assert teacher_socket.receive_json()["count"] == 1  # the answers so far, on joining
        teacher_socket.send_json(good)
        error = teacher_socket.receive_json()
        assert (error["type"], error["field"]) == ("error", "type")


# ----- bad input over REST ---------------------------------------------------------------------


def test_asking_and_revealing_need_the_teacher_and_the_right_phase(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    body = {"kind": "delta_sign", "layer": 0, "j": 0}
    url = "/api/classes/current/questions"
    assert client.post(url, json=body).status_code == 401
    for stranger in (session.token, session.watch_token, code):
        refused = client.post(url, json=body, headers=bearer(stranger))
        assert refused.status_code == 404 and refused.json()["field"] == "Authorization"
    # Before forward 0 nothing of the kind runs next.
    early = client.post(url, json=body, headers=bearer(teacher))
    assert early.status_code == 422 and early.json()["field"] == "kind"
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    for bad, field in (
        ({"kind": "sign"}, "kind"),
        ({"layer": 0}, "kind"),  # layer 0's backward is not next
        ({"layer": 99}, "layer"),
        ({"j": 99, "layer": last}, "j"),
        ({"row": 10_000, "layer": last}, "row"),
        ({"layer": last, "tolerance": 0.1}, None),  # a sign needs no tolerance: ignored
        ({"kind": "gradient", "layer": last, "i": 99}, "i"),
        ({"kind": "gradient", "layer": last, "tolerance": 2}, "tolerance"),
        ({"kind": "largest_change", "layer": last}, "kind"),
        ({"layer": "1"}, "layer"),
        ({"colour": "red", "layer": last}, "colour"),
    ):
        response = client.post(url, json={**body, **bad}, headers=bearer(teacher))
        if field is None:
            assert response.status_code == 201
            continue
        assert response.status_code == 422, (bad, response.text)
        error = response.json()
        named = error.get("field") or error["detail"][0]["loc"][-1]
        assert named == field, (bad, error)
    reveal_url = "/api/classes/current/questions/{}/reveal"
    assert client.post(reveal_url.format(99), headers=bearer(teacher)).status_code == 404
    assert client.post(reveal_url.format(1), headers=bearer(session.token)).status_code == 404
    assert client.post(reveal_url.format(1)).status_code == 401


def test_an_answer_is_refused_when_unknown_revealed_replaced_or_malformed(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    first = ask(client, teacher, kind="gradient", layer=last, i=0, j=0)
    second = ask(client, teacher, kind="gradient", layer=last, i=1, j=0)  # replaces the first
    replaced = answer(client, code, first["id"], "Ana", 0.1)
    assert replaced.status_code == 409 and replaced.json()["field"] == "question"
    unknown = answer(client, code, 42, "Ana", 0.1)
    assert unknown.status_code == 404 and unknown.json()["field"] == "question"
    no_class = client.post(
        "/api/classes/answers", json={"code": "ZZZZZZ", "question": 1, "name": "A", "answer": 1}
    )
    assert no_class.status_code == 404 and no_class.json()["field"] == "code"
    for value in ("+", True, {"i": 0, "j": 0}, [1]):
        wrong = answer(client, code, second["id"], "Ana", value)
        assert wrong.status_code == 422, (value, wrong.text)
    assert answer(client, code, second["id"], "Ana", 0.1).status_code == 201
    reveal(client, teacher, second["id"])
    late = answer(client, code, second["id"], "Ben", 0.1)
    assert late.status_code == 409 and late.json()["field"] == "question"
    again = client.post(
        f"/api/classes/current/questions/{second['id']}/reveal", headers=bearer(teacher)
    )
    assert again.status_code == 409 and again.json()["field"] == "question"


def test_a_full_question_refuses_the_next_answer(
    open_client: OpenClient, settings: Settings, create_on: Any
) -> None:
    client = open_client(settings.model_copy(update={"question_max_answers": 2}))
    session = create_on(client, {"preset": "circle"})
    opened = open_class(client, session)
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    question = ask(client, opened["teacher_token"], kind="delta_sign", layer=last, j=0)
    for name in ("A", "B"):
        assert answer(client, opened["code"], question["id"], name, "+").status_code == 201
    full = answer(client, opened["code"], question["id"], "C", "+")
    assert full.status_code == 429 and full.json()["field"] == "question"


def test_a_question_asked_while_the_session_moved_on_reveals_without_running(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    teacher = open_class(client, session)["teacher_token"]
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
    moved = session.step("phase", 1)["state"]
    revealed = reveal(client, teacher, question["id"])
    assert revealed["ran"] is False
    assert session.read()["phase"] == moved["phase"]  # Reveal did not step again
    assert revealed["truth"]["value"] == moved["layers"][last]["delta"][0][0]


# ----- CSV, and after a restart --------------------------------------------------------------


def test_answers_export_as_escaped_csv_and_outlive_a_restart(
    open_client: OpenClient, settings: Settings, create_on: Any
) -> None:
    client = open_client(settings)
    session = create_on(client, {"preset": "circle"})
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
    names = ['=HYPERLINK("http://x","y")', 'Smith, "Jo"', "+1 555", "@sum", "-5", "Zoë"]
    answers = ["+", "-", "0", "+", "-", "+"]
    for name, given in zip(names, answers, strict=True):
        assert answer(client, code, question["id"], name, given).status_code == 201
    unrevealed = client.get("/api/classes/current/answers", headers=bearer(teacher))
    rows = list(csv.DictReader(io.StringIO(unrevealed.text)))
    assert {row["truth"] for row in rows} == {""} and {row["right"] for row in rows} == {""}
    sign = reveal(client, teacher, question["id"])["truth"]["sign"]

    exported = client.get("/api/classes/current/answers", headers=bearer(teacher))
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [row["name"] for row in rows] == [
        "'=HYPERLINK(\"http://x\",\"y\")", 'Smith, "Jo"', "'+1 555", "'@sum", "-5", "Zoë"
    ]  # fmt: skip
    words = {"+": "positive", "-": "negative", "0": "zero"}
    assert [row["answer"] for row in rows] == [words[a] for a in answers]
    assert {row["truth"] for row in rows} == {words[sign]}
    assert [row["right"] for row in rows] == ["yes" if a == sign else "no" for a in answers]
    assert {row["question"] for row in rows} == {str(question["id"])}
    assert all(not cell.startswith(("=", "+", "@")) for row in rows for cell in row.values())

    by_session = client.get(session.url("/answers"), headers=session.control)
    assert by_session.text == exported.text
    assert client.get(session.url("/answers"), headers=session.watch).status_code == 403
    assert client.get("/api/classes/current/answers").status_code == 401
    # The REST export of the session leaves the names out: a watch token reads it.
    assert "questions" not in session.export()

    client.close()  # the server stops; a new one on the same store knows the answers
    restarted = open_client(settings)
    again = restarted.get(session.url("/answers"), headers=session.control)
    assert again.status_code == 200 and again.text == exported.text


def test_answers_before_reveal_are_stored_as_they_come(
    open_client: OpenClient, settings: Settings, create_on: Any
) -> None:
    settings = settings.model_copy(update={"persist_interval_seconds": 0.001})
    client = open_client(settings)
    session = create_on(client, {"preset": "circle"})
    opened = open_class(client, session)
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    question = ask(client, opened["teacher_token"], kind="delta_sign", layer=last, j=0)
    with client.websocket_connect(f"/ws/classes?token={opened['code']}") as student:
        student.receive_json()
        student.receive_json()
        sent = {"type": "answer", "question": question["id"], "name": "Ana", "answer": "0"}
        student.send_json(sent)
        assert student.receive_json()["type"] == "answered"
    client.close()  # no Reveal: the answer was stored when it came
    restarted = open_client(settings)
    rows = list(
        csv.DictReader(
            io.StringIO(restarted.get(session.url("/answers"), headers=session.control).text)
        )
    )
    assert [(row["name"], row["answer"], row["status"]) for row in rows] == [
        ("Ana", "zero", "open")
    ]
