"""The lesson's record: per student, the class questions answered and right in each round, the
hand checks done and right, the grades asked and passed — equal to a recount of what the
students did here, as JSON and as CSV (names kept from running as formulas), for the teacher
and, after a restart, for the session's owner."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

from . import by_hand
from .test_class_questions import (
    ONE_CLIENT_IS_A_CLASS,
    CreateSession,
    answer,
    ask,
    bearer,
    open_class,
    reveal,
    step_to,
)


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(data_dir=data_dir, **ONE_CLIENT_IS_A_CLASS)


def own_problem(client: TestClient, session: Any, student: str | None) -> dict[str, Any]:
    """The student's own batch (a named student's: drawn by their seed), as GET …/grade."""
    params = {} if student is None else {"student": student}
    response = client.get(f"/api/sessions/{session.id}/grade", params=params, headers=session.watch)
    assert response.status_code == 200, response.text
    problem: dict[str, Any] = response.json()
    return problem


def own_dW00(client: TestClient, session: Any, student: str | None) -> float:
    """∂L/∂W[0][0, 0] of the student's own batch, in NumPy."""
    return float(by_hand.of_problem(own_problem(client, session, student))["dW"][0][0, 0])


def check(client: TestClient, session: Any, student: str | None, value: float) -> Any:
    body: dict[str, Any] = {"quantity": "W", "layer": 0, "i": 0, "j": 0, "value": value}
    if student is not None:
        body["student"] = student
    return client.post(f"/api/sessions/{session.id}/check", json=body, headers=session.watch)


def grade(client: TestClient, session: Any, student: str, factor: float) -> Any:
    gradients = by_hand.gradients(own_problem(client, session, student), factor)
    body = {"gradients": gradients, "student": student}
    return client.post(f"/api/sessions/{session.id}/grade", json=body, headers=session.watch)


def test_the_record_counts_what_each_student_did_and_outlives_a_restart(
    client: TestClient, create_session: CreateSession, settings: Settings
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    teacher, code = opened["teacher_token"], opened["code"]
    last = len(session.read()["layers"]) - 1
    step_to(session, "backward", last)
    # Question 1, two rounds: Ana + then −, Ben − twice, "=Cy" + in round 1 only.
    q1 = ask(client, teacher, kind="delta_sign", layer=last, j=0)["id"]
    receipts = {}
    for name, sign in (("Ana", "+"), ("Ben", "-"), ("=Cy", "+")):
        given = answer(client, code, q1, name, sign)
        assert given.status_code == 201, given.text
        receipts[name] = given.json()["receipt"]
    rounds = client.post(f"/api/classes/current/questions/{q1}/rounds", headers=bearer(teacher))
    assert rounds.status_code == 201
    for name, sign in (("Ana", "-"), ("Ben", "-")):
        body = {"code": code, "question": q1, "name": name, "answer": sign,
                "receipt": receipts[name]}  # fmt: skip
        assert client.post("/api/classes/answers", json=body).status_code == 201
    sign = reveal(client, teacher, q1)["truth"]["sign"]
    # Question 2, asked and answered by Ana, not revealed: answered, not (yet) right.
    step_to(session, "backward", last)
    q2 = ask(client, teacher, kind="delta_sign", layer=last, j=0)["id"]
    assert answer(client, code, q2, "ana", sign).status_code == 201

    # Hand checks and grades, each on the student's own batch: Ben right then wrong; Dee (no
    # answers) right; one unnamed, on the session's batch.
    session.step("batch", 1)
    ben, dee = own_dW00(client, session, "Ben"), own_dW00(client, session, "Dee")
    for student, value, right in (("Ben", ben, True), ("ben ", 3 * ben + 1, False),
                                  ("Dee", dee, True)):  # fmt: skip
        checked = check(client, session, student, value)
        assert checked.status_code == 200, checked.text
        assert checked.json()["correct"] is right and checked.json()["recorded"] is True
    dW00 = session.read()["layers"][0]["dW"][0][0]  # a whole batch: its dW is the state's
    unnamed = check(client, session, None, dW00)
    assert unnamed.status_code == 200 and "recorded" not in unnamed.json()
    for student, factor, passed in (("Ana", 1.0, True), ("Ana", 2.0, False)):
        graded = grade(client, session, student, factor)
        assert graded.status_code == 200, graded.text
        assert graded.json()["passed"] is passed and graded.json()["recorded"] is True

    right1 = {"Ana": sign == "+", "Ben": sign == "-", "=Cy": sign == "+"}
    right2 = {"Ana": sign == "-", "Ben": sign == "-"}
    expected = {
        "Ana": {"answered": [2, 1], "right": [int(right1["Ana"]), int(right2["Ana"])],
                "checks": 0, "checks_right": 0, "grades": 2, "grades_passed": 1},
        "Ben": {"answered": [1, 1], "right": [int(right1["Ben"]), int(right2["Ben"])],
                "checks": 2, "checks_right": 1, "grades": 0, "grades_passed": 0},
        "=Cy": {"answered": [1, 0], "right": [int(right1["=Cy"]), 0],
                "checks": 0, "checks_right": 0, "grades": 0, "grades_passed": 0},
        "Dee": {"answered": [0, 0], "right": [0, 0],
                "checks": 1, "checks_right": 1, "grades": 0, "grades_passed": 0},
    }  # fmt: skip
    record = client.get("/api/classes/current/record", headers=bearer(teacher))
    assert record.status_code == 200, record.text
    table = record.json()
    assert (table["rounds"], table["questions"], table["revealed"]) == (2, 2, 1)
    assert {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in table["students"]} == (
        expected
    )
    as_csv = client.get("/api/classes/current/record?format=csv", headers=bearer(teacher))
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [row["name"] for row in rows] == ["Ana", "Ben", "'=Cy", "Dee"]  # no formula
    assert rows[1]["checks_right"] == "1" and rows[0]["answered_round_1"] == "2"

    # Refusals: the teacher's token only; a bad student name names the field.
    assert client.get("/api/classes/current/record").status_code == 401
    assert client.get("/api/classes/current/record", headers=bearer(code)).status_code == 404
    long_name = check(client, session, "x" * 500, dW00)
    assert long_name.status_code == 422 and long_name.json()["field"] == "student"
    bad_format = client.get("/api/classes/current/record?format=xml", headers=bearer(teacher))
    assert bad_format.status_code == 422

    # A restart: the class is gone, the record stays with the session (control token).
    with TestClient(create_app(settings)) as again:
        kept = again.get(f"/api/sessions/{session.id}/record", headers=session.control)
        assert kept.status_code == 200 and kept.json() == table
        watch = again.get(f"/api/sessions/{session.id}/record", headers=session.watch)
        assert watch.status_code in (401, 403)
