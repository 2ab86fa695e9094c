"""The class socket's messages (app/live/class_messages.py): each client message read into its
model or refused naming the field at fault; each server message dumped in the documented
shape; and the socket's ``error`` as the session socket's (docs/protocol.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.live.class_messages import (
    MAX_CLASS_MESSAGE_BYTES,
    AnswerCount,
    AnswerMessage,
    ChangeTruth,
    ClaimMessage,
    GradientTruth,
    LargestDeltaTruth,
    LossTruth,
    QuestionView,
    Reveal,
    SignTruth,
    WeightTruth,
    parse_class_message,
)
from app.live.classes import reveal_to_class
from app.live.commands import CommandError, ErrorReply
from app.service.questions import QuestionBook, ask
from app.service.session import Session

from .conftest import manager_of

ANSWER: dict[str, Any] = {"type": "answer", "question": 3, "name": "Ana", "answer": "-"}
CLAIM: dict[str, Any] = {"type": "claim", "question": 3, "receipt": "r" * 22}


def refusal(message: Any) -> CommandError:
    text = message if isinstance(message, str | bytes) else json.dumps(message)
    with pytest.raises(CommandError) as refused:
        parse_class_message(text)
    return refused.value


# ----- client → server ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "answer",
    ["+", "-", "0", "down", "up", "same", {"i": 0, "j": 2}, {"j": 1}, 0.125, -3, 0],
    ids=lambda a: repr(a),
)
def test_an_answer_of_each_kind_is_read_into_its_model(answer: Any) -> None:
    message = parse_class_message(json.dumps({**ANSWER, "answer": answer, "id": "a-1"}))
    assert isinstance(message, AnswerMessage)
    assert (message.question, message.name, message.answer, message.id) == (3, "Ana", answer, "a-1")


def test_a_claim_is_read_into_its_model_and_bytes_are_read_as_text() -> None:
    message = parse_class_message(json.dumps({**CLAIM, "id": 7}).encode())
    assert isinstance(message, ClaimMessage)
    assert (message.question, message.receipt, message.id) == (3, "r" * 22, 7)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"question": "3"}, "question"),
        ({"question": True}, "question"),
        ({"question": 3.0}, "question"),
        ({"question": -1}, "question"),
        ({"question": 2**53 + 1}, "question"),
        ({"question": None}, "question"),
        ({"name": 5}, "name"),
        ({"name": None}, "name"),
        ({"name": "x" * 1001}, "name"),
        ({"answer": None}, "answer"),
        ({"answer": [1]}, "answer"),
        ({"answer": True}, "answer"),
        ({"answer": {"i": "0", "j": 1}}, "answer"),
        ({"answer": {"i": 0.5, "j": 1}}, "answer"),
        ({"id": [1]}, "id"),
        ({"id": 1.5}, "id"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_a_bad_answer_field_is_named(change: dict[str, Any], field: str) -> None:
    error = refusal({**ANSWER, **change})
    assert (error.field, error.command) == (field, "answer"), error.message
    assert error.message.startswith(f"{field}: ") or "has no field" in error.message


@pytest.mark.parametrize("missing", ["question", "name", "answer"])
def test_an_answer_without_a_field_names_it(missing: str) -> None:
    error = refusal({k: v for k, v in ANSWER.items() if k != missing})
    assert (error.field, error.message) == (missing, f"{missing}: Field required")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"receipt": ""}, "receipt"),
        ({"receipt": 5}, "receipt"),
        ({"receipt": "r" * 101}, "receipt"),
        ({"question": "3"}, "question"),
        ({"name": "Ana"}, "name"),
    ],
)
def test_a_bad_claim_field_is_named(change: dict[str, Any], field: str) -> None:
    error = refusal({**CLAIM, **change})
    assert (error.field, error.command) == (field, "claim"), error.message


def test_an_unknown_field_is_named_with_the_fields_the_message_takes() -> None:
    error = refusal({**ANSWER, "x": 1, "id": 9})
    assert error.field == "x" and error.message_id == 9
    assert (
        error.message
        == "answer has no field 'x'; its fields: id, question, name, answer, confidence"
    )


@pytest.mark.parametrize(
    ("text", "field", "words"),
    [
        ("not json", "body", "not valid JSON"),
        ('{"type": "answer", "question": NaN}', "body", "not valid JSON"),
        (json.dumps({**ANSWER, "name": "x" * MAX_CLASS_MESSAGE_BYTES}), "body", "too large"),
        ("[1]", "type", "a JSON object with a 'type'"),
        ('"answer"', "type", "a JSON object with a 'type'"),
        ('{"question": 3}', "type", "unknown message type None; send one of: answer, claim"),
        ('{"type": "vote", "id": "v"}', "type", "unknown message type 'vote'"),
        ('{"type": "play"}', "type", "send one of: answer, claim"),  # the session socket's
    ],
)
def test_a_message_that_is_no_class_message_is_refused(text: str, field: str, words: str) -> None:
    error = refusal(text)
    assert error.field == field and words in error.message
    assert error.command is None


def test_a_message_just_under_the_size_limit_is_read() -> None:
    padding = MAX_CLASS_MESSAGE_BYTES - len(json.dumps({**ANSWER, "id": ""}))
    text = json.dumps({**ANSWER, "id": "i" * padding})
    assert len(text.encode()) == MAX_CLASS_MESSAGE_BYTES
    assert isinstance(parse_class_message(text), AnswerMessage)
    assert refusal(text[:-2] + 'i"}').field == "body"


def test_an_error_reply_echoes_the_message_it_answers() -> None:
    reply = ErrorReply.of(refusal({**ANSWER, "question": "3", "id": "q"}))
    assert reply.model_dump() == {
        "type": "error",
        "message": "question: Input should be a valid integer",
        "field": "question",
        "command": "answer",
        "id": "q",
    }


# ----- server → client --------------------------------------------------------------------------


def session_before(live_app: FastAPI, kind: str, layer: int | None) -> Session:
    """A circle session stepped phase by phase until (kind, layer) runs next."""
    session = manager_of(live_app).create({"preset": "circle"})
    for _ in range(40):
        if session.model.next_phase.as_dict() == {"kind": kind, "layer": layer}:
            return session
        session.step("phase", 1)
    raise AssertionError(f"never reached {kind} {layer}")


@pytest.mark.parametrize(
    ("kind", "layer", "i", "phase", "truth_model"),
    [
        ("delta_sign", 2, None, "backward", SignTruth),
        ("gradient", 2, 1, "backward", GradientTruth),
        ("gradient", 2, None, "backward", GradientTruth),  # ∂L/∂b
        ("largest_delta", 1, None, "backward", LargestDeltaTruth),
        ("largest_change", 2, None, "update", ChangeTruth),
        ("loss_change", None, None, "update", LossTruth),
        ("weight_after", 2, 1, "update", WeightTruth),
        ("weight_after", 0, None, "update", WeightTruth),  # b[0][0] after the update
    ],
)
def test_a_question_and_its_reveal_dump_as_the_service_keeps_them(
    live_app: FastAPI, kind: str, layer: int | None, i: int | None, phase: str, truth_model: type
) -> None:
    # circle: 2 → 4 → 2 → 1
    session = session_before(live_app, phase, layer if phase == "backward" else None)
    tolerance = 0.1 if kind in ("gradient", "weight_after") else None
    question = ask(session.model, 1, kind, layer, 0, i, None, tolerance, version=session.version)
    view = QuestionView.model_validate(question.public())
    assert view.model_dump() == question.public()

    book = QuestionBook([question])
    question.answers.append({"name": "Ana", "answer": question.truth.get("sign", 0.0)})
    book.reveal(question.id, ran=True)
    tally = {"answers": 1, "right": 1, "wrong": 0}
    rounds = [{"round": 1, "tally": tally}]
    reveal = Reveal(
        question=view, truth=question.truth, tally=tally, rounds=rounds, moved=None, ran=True
    )
    assert isinstance(reveal.truth, truth_model)
    dumped = reveal.model_dump()
    assert dumped["truth"] == question.truth  # the truth of its kind, no field lost or added
    assert dumped["type"] == "reveal" and "marks" not in dumped


def test_a_reveal_to_a_student_carries_their_own_mark_only(live_app: FastAPI) -> None:
    session = session_before(live_app, "backward", 2)
    question = ask(session.model, 1, "delta_sign", 2, 0, version=session.version)
    wrong = "+" if question.truth["sign"] != "+" else "-"
    question.answers += [
        {"name": "Ana", "answer": question.truth["sign"]},
        {"name": "Ben", "answer": wrong},
    ]
    book = QuestionBook([question])
    told = reveal_to_class(book, question)
    teachers = told.reveal.model_dump()
    assert {s["name"] for s in teachers["students"]} == {"Ana", "Ben"}
    for name, mark in (("Ana", True), ("Ben", False), (None, None)):
        student = told.to_student(name).model_dump()
        assert (student["name"], student["mark"]) == (name, mark)
        assert student["type"] == "reveal" and "students" not in student
        assert [a["right"] for a in student["answers"]] == ([] if mark is None else [mark])
        shared = {k: v for k, v in student.items() if k not in ("name", "mark", "answers")}
        assert shared == {k: v for k, v in teachers.items() if k != "students"}


def test_histogram_bars_carry_edges_only_for_numbers() -> None:
    bars = [{"label": "+", "count": 1, "sure": 1, "unsure": 0}]
    rounds = [{"round": 1, "count": 1, "histogram": bars}]
    signs = AnswerCount(question=1, round=1, count=1, histogram=bars, rounds=rounds)
    assert signs.model_dump() == {
        "type": "answers", "question": 1, "round": 1, "count": 1, "histogram": bars,
        "rounds": rounds,
    }  # fmt: skip
    numbers = [{"label": "0.1 … 0.2", "count": 2, "low": 0.1, "high": 0.2, "sure": 0, "unsure": 2}]
    values = AnswerCount(
        question=2, round=1, count=2, histogram=numbers, rounds=[{"round": 1, "count": 2,
                                                                  "histogram": numbers}]
    )  # fmt: skip
    assert json.loads(values.model_dump_json())["histogram"] == numbers


# ----- on the socket ------------------------------------------------------------------------------


def test_the_socket_answers_a_bad_message_with_the_session_sockets_error(
    live_client: TestClient, session: Session
) -> None:
    control = {"Authorization": f"Bearer {session.token}"}
    response = live_client.post("/api/classes", json={"session_id": session.id}, headers=control)
    opened = response.json()
    with live_client.websocket_connect(f"/ws/classes?token={opened['code']}") as student:
        assert student.receive_json()["type"] == "class"
        student.send_json({**ANSWER, "question": 99, "id": 12})
        assert student.receive_json() == {
            "type": "error", "message": "no question 99 here", "field": "question",
            "command": "answer", "id": 12,
        }  # fmt: skip
        student.send_bytes(b"\xff")
        error = student.receive_json()
        assert (error["field"], error["command"], error["id"]) == ("body", None, None)
    with live_client.websocket_connect(f"/ws/classes?token={opened['teacher_token']}") as teacher:
        assert teacher.receive_json() == {"type": "students", "count": 0}
        teacher.send_json({**CLAIM, "id": "t"})
        assert teacher.receive_json() == {
            "type": "error", "message": "the teacher asks and reveals; students answer",
            "field": "type", "command": "claim", "id": "t",
        }  # fmt: skip
