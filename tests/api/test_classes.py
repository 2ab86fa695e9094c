"""/api/classes and /ws/classes: a class code follows the teacher's current session; students
hear every move and the end; the teacher hears how many follow; tokens stay out of paths."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.service.classes import CODE_ALPHABET, CODE_LENGTH, ClassRegistry, normalize_code
from app.settings import Settings

CreateSession = Any
OpenClient = Any


def open_class(client: TestClient, session: Any) -> dict[str, Any]:
    response = client.post("/api/classes", json={"session_id": session.id}, headers=session.control)
    assert response.status_code == 201, response.text
    opened: dict[str, Any] = response.json()
    return opened


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_open_a_class_answers_a_short_code_and_a_teacher_token(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    opened = open_class(client, session)
    assert len(opened["code"]) == CODE_LENGTH and set(opened["code"]) <= set(CODE_ALPHABET)
    assert opened["session_id"] == session.id and opened["students"] == 0
    assert opened["teacher_token"] not in (session.token, session.watch_token)
    current = client.get("/api/classes/current", headers=bearer(opened["teacher_token"]))
    assert current.json() == {k: v for k, v in opened.items() if k != "teacher_token"}


def test_open_a_class_needs_the_sessions_control_token(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session()
    body = {"session_id": session.id}
    assert client.post("/api/classes", json=body).status_code == 401
    refused = client.post("/api/classes", json=body, headers=session.watch)
    assert refused.status_code == 403 and refused.json()["field"] == "Authorization"
    missing = client.post("/api/classes", json={"session_id": "nope"}, headers=session.control)
    assert missing.status_code == 404 and missing.json()["field"] == "session_id"


def test_a_student_follows_the_class_across_moves_and_hears_the_end(
    client: TestClient, create_session: CreateSession
) -> None:
    first, second = create_session(preset="circle"), create_session(preset="xor")
    opened = open_class(client, first)
    teacher = bearer(opened["teacher_token"])
    with (
        client.websocket_connect(f"/ws/classes?token={opened['teacher_token']}") as teacher_socket,
        client.websocket_connect(f"/ws/classes?token={opened['code'].lower()}") as student,
    ):
        assert teacher_socket.receive_json() == {"type": "students", "count": 0}
        hello = student.receive_json()
        assert (hello["session_id"], hello["watch_token"]) == (first.id, first.watch_token)
        assert teacher_socket.receive_json() == {"type": "students", "count": 1}
        assert client.get("/api/classes/current", headers=teacher).json()["students"] == 1

        moved = client.patch(
            "/api/classes/current",
            json={"session_id": second.id, "session_token": second.token},
            headers=teacher,
        )
        assert moved.status_code == 200 and moved.json()["version"] == 2
        told = student.receive_json()
        assert told["type"] == "class" and told["version"] == 2 and not told["ended"]
        assert (told["session_id"], told["watch_token"]) == (second.id, second.watch_token)
        # REST says the same to a program that follows the code.
        where = client.post("/api/classes/follow", json={"code": opened["code"]}).json()
        assert where["session_id"] == second.id

        assert client.delete("/api/classes/current", headers=teacher).json()["ended"] is True
        ended = student.receive_json()
        assert ended["type"] == "class" and ended["ended"] is True
    # An ended class still answers, and says it ended; it cannot move any more.
    assert client.post("/api/classes/follow", json={"code": opened["code"]}).json()["ended"]
    again = client.patch(
        "/api/classes/current",
        json={"session_id": first.id, "session_token": first.token},
        headers=teacher,
    )
    assert again.status_code == 409


def test_moving_a_class_needs_the_new_sessions_control_token(
    client: TestClient, create_session: CreateSession
) -> None:
    first, other = create_session(), create_session()
    teacher = bearer(open_class(client, first)["teacher_token"])
    refused = client.patch(
        "/api/classes/current",
        json={"session_id": other.id, "session_token": other.watch_token},
        headers=teacher,
    )
    assert refused.status_code == 403 and refused.json()["field"] == "session_token"
    stranger = client.get("/api/classes/current", headers=bearer(first.token))
    assert stranger.status_code == 404 and stranger.json()["field"] == "Authorization"


def test_an_unknown_code_is_a_404_naming_it_and_a_closed_socket(client: TestClient) -> None:
    missing = client.post("/api/classes/follow", json={"code": "ZZZZZZ"})
    assert missing.status_code == 404 and missing.json()["field"] == "code"
    with (
        client.websocket_connect("/ws/classes?token=ZZZZZZ") as socket,
        pytest.raises(Exception) as closed,
    ):
        socket.receive_json()
    assert getattr(closed.value, "code", None) == 4404


def test_class_tokens_stay_out_of_the_logs(
    client: TestClient, create_session: CreateSession, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    opened = open_class(client, create_session())
    client.post("/api/classes/follow", json={"code": opened["code"]})
    client.get("/api/classes/current", headers=bearer(opened["teacher_token"]))
    with client.websocket_connect(f"/ws/classes?token={opened['code']}") as socket:
        socket.receive_json()
    logged = caplog.text
    assert opened["code"] not in logged and opened["teacher_token"] not in logged


def test_the_server_runs_at_most_max_classes(
    open_client: OpenClient, settings: Settings, create_on: Any
) -> None:
    client = open_client(settings.model_copy(update={"max_classes": 1}))
    session = create_on(client, None)
    open_class(client, session)
    full = client.post("/api/classes", json={"session_id": session.id}, headers=session.control)
    assert full.status_code == 429


def test_an_idle_class_is_forgotten_after_its_ttl() -> None:
    now = [0.0]
    registry = ClassRegistry(max_classes=5, ttl_seconds=10, clock=lambda: now[0])
    classroom = registry.open("session", "watch")
    assert registry.find(normalize_code(f" {classroom.code.lower()} ")) is classroom
    now[0] = 9.0
    registry.touch(classroom.code)
    now[0] = 18.0
    assert registry.find(classroom.code) is classroom
    now[0] = 30.0
    with pytest.raises(LookupError):
        registry.find(classroom.code)
