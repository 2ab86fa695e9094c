"""Peer instruction on the class link: vote, discuss, vote again, reveal — over REST and the
class socket. The teacher opens round 2, students answer again (the latest of a round
counts), the teacher reads both rounds' histograms, Reveal marks round 2 and says how many
moved; each student hears their own answers and mark. Bad calls are 4xx naming the field."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

from .test_class_questions import (
    ONE_CLIENT_IS_A_CLASS,
    CreateSession,
    answer,
    ask,
    bearer,
    class_at_output_backward,
    reveal,
)


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(data_dir=data_dir, question_max_rounds=2, **ONE_CLIENT_IS_A_CLASS)


def next_round(client: TestClient, teacher: str, question: int) -> Any:
    return client.post(f"/api/classes/current/questions/{question}/rounds", headers=bearer(teacher))


def until(socket: Any, kind: str) -> dict[str, Any]:
    """The next message of type ``kind`` on a socket (others before it skipped)."""
    for _ in range(20):
        message: dict[str, Any] = socket.receive_json()
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


def test_two_rounds_on_the_socket_then_reveal_marks_the_last_and_counts_the_moves(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    with (
        client.websocket_connect(f"/ws/classes?token={teacher}") as desk,
        client.websocket_connect(f"/ws/classes?token={code}") as ana,
        client.websocket_connect(f"/ws/classes?token={code}") as ben,
    ):
        for student in (ana, ben):
            until(student, "class")
        question = ask(client, teacher, kind="delta_sign", layer=last, j=0)
        qid = question["id"]
        assert question["round"] == 1
        for student in (ana, ben):
            until(student, "question")
        # Round 1: Ana "+" (sure), Ben "-" (unsure); both 2nd votes below.
        ana.send_json({"type": "answer", "question": qid, "name": "Ana", "answer": "+",
                       "confidence": "sure"})  # fmt: skip
        assert until(ana, "answered")["round"] == 1
        ben.send_json({"type": "answer", "question": qid, "name": "Ben", "answer": "-",
                       "confidence": "unsure"})  # fmt: skip
        until(ben, "answered")
        counted = until(desk, "answers")
        while counted["count"] < 2:
            counted = until(desk, "answers")
        split = {b["label"]: (b["count"], b["sure"], b["unsure"]) for b in counted["histogram"]}
        assert split == {"+": (1, 1, 0), "-": (1, 0, 1), "0": (0, 0, 0)}

        opened = next_round(client, teacher, qid)
        assert opened.status_code == 201, opened.text
        assert opened.json()["round"] == 2 and opened.json()["status"] == "open"
        for student in (ana, ben):
            heard = until(student, "question")
            assert (heard["question"]["id"], heard["question"]["round"]) == (qid, 2)
        fresh = until(desk, "answers")
        assert (fresh["round"], fresh["count"]) == (2, 0)
        assert [r["count"] for r in fresh["rounds"]] == [2, 0]

        # Round 2: both vote "-" (Ana changes her mind twice: the latest counts).
        for given in ("0", "-"):
            ana.send_json({"type": "answer", "question": qid, "name": "Ana", "answer": given})
            assert until(ana, "answered")["round"] == 2
        ben.send_json({"type": "answer", "question": qid, "name": "Ben", "answer": "-"})
        until(ben, "answered")
        both = until(desk, "answers")
        while both["count"] < 2 or both["histogram"][1]["count"] < 2:
            both = until(desk, "answers")
        assert [{b["label"]: b["count"] for b in r["histogram"]} for r in both["rounds"]] == [
            {"+": 1, "-": 1, "0": 0},
            {"+": 0, "-": 2, "0": 0},
        ]

        revealed = reveal(client, teacher, qid)
        sign = revealed["truth"]["sign"]
        first = {"Ana": sign == "+", "Ben": sign == "-"}
        second = {"Ana": sign == "-", "Ben": sign == "-"}
        assert revealed["tally"]["right"] == sum(second.values())
        assert [r["tally"]["answers"] for r in revealed["rounds"]] == [2, 2]
        assert [r["tally"]["right"] for r in revealed["rounds"]] == [
            sum(first.values()),
            sum(second.values()),
        ]
        expected = dict.fromkeys(
            ("wrong_to_right", "right_to_wrong", "right_to_right", "wrong_to_wrong"), 0
        )
        for name in ("Ana", "Ben"):
            was, now = first[name], second[name]
            expected[f"{'right' if was else 'wrong'}_to_{'right' if now else 'wrong'}"] += 1
        assert revealed["moved"] == expected
        for student, name, answers in ((ana, "Ana", ["+", "-"]), (ben, "Ben", ["-", "-"])):
            told = until(student, "reveal")
            assert told["name"] == name and told["mark"] == second[name]
            assert [(a["round"], a["answer"]) for a in told["answers"]] == list(
                zip((1, 2), answers, strict=True)
            )
            assert [a["right"] for a in told["answers"]] == [first[name], second[name]]
            assert told["moved"] == expected and "students" not in told
        to_desk = until(desk, "reveal")
        assert to_desk["moved"] == expected
        assert {s["name"] for s in to_desk["students"]} == {"Ana", "Ben"}


def test_rounds_need_the_teacher_an_open_question_and_stay_within_the_setting(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    qid = ask(client, teacher, kind="delta_sign", layer=last, j=0)["id"]
    assert next_round(client, code, qid).json()["field"] == "Authorization"  # a student's code
    assert client.post(f"/api/classes/current/questions/{qid}/rounds").status_code == 401
    unknown = next_round(client, teacher, qid + 7)
    assert unknown.status_code == 404 and unknown.json()["field"] == "question"
    assert next_round(client, teacher, qid).status_code == 201
    over = next_round(client, teacher, qid)  # question_max_rounds = 2
    assert over.status_code == 409 and over.json()["field"] == "round"
    assert "question_max_rounds" in over.json()["detail"]
    reveal(client, teacher, qid)
    closed = next_round(client, teacher, qid)
    assert closed.status_code == 409 and closed.json()["field"] == "question"


def test_over_rest_answering_again_takes_the_receipt(
    client: TestClient, create_session: CreateSession
) -> None:
    teacher, code, last = class_at_output_backward(client, create_session)
    qid = ask(client, teacher, kind="delta_sign", layer=last, j=0)["id"]
    first = answer(client, code, qid, "Ana", "+")
    assert first.status_code == 201 and first.json()["round"] == 1
    receipt = first.json()["receipt"]
    assert next_round(client, teacher, qid).status_code == 201
    body = {"code": code, "question": qid, "name": "ana", "answer": "-"}
    refused = client.post("/api/classes/answers", json=body)  # no receipt: someone else
    assert refused.status_code == 409 and refused.json()["field"] == "name"
    bad = client.post("/api/classes/answers", json={**body, "confidence": "maybe"})
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "confidence"]
    again = client.post(
        "/api/classes/answers", json={**body, "receipt": receipt, "confidence": "sure"}
    )
    assert again.status_code == 201, again.text
    kept = again.json()
    assert (kept["name"], kept["round"], kept["confidence"], kept["receipt"]) == (
        "Ana", 2, "sure", receipt,
    )  # fmt: skip
    exported = client.get("/api/classes/current/answers", headers=bearer(teacher)).text
    header, *rows = exported.strip().splitlines()
    assert "round" in header.split(",") and "confidence" in header.split(",")
    assert len(rows) == 2  # one row a round
