"""Per-client quotas: one client cannot take the server's sessions, classes, uploads, sockets
or a question's answers; a school's browsers behind one address each have their own share;
X-Forwarded-For counts only from a trusted proxy; a 429 names its quota and when to retry."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.main import create_app
from app.settings import Settings

CIRCLE = {"preset": "circle"}
CSV = "x1,x2,label\n0,1,1\n1,0,0\n1,1,1\n0,0,0\n"


def app_with(tmp_path: Path, **limits: Any) -> FastAPI:
    return create_app(Settings(data_dir=tmp_path, **limits))


def browser(app: FastAPI, **headers: str) -> TestClient:
    """One browser: the cookie the server issues on its first answer is kept."""
    return TestClient(app, headers=headers)


def refused_by(response: Any, quota: str) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["field"] == quota
    assert quota in response.json()["detail"]
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["retry_after"] == int(response.headers["Retry-After"])


def test_one_client_takes_its_share_of_sessions_not_the_servers(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_sessions_per_client=3, max_sessions_per_address=5)
    first, second = browser(app), browser(app)
    made = [first.post("/api/sessions", json=CIRCLE) for _ in range(3)]
    assert all(r.status_code == 201 for r in made)
    assert "bp_client=" in made[0].headers["set-cookie"]
    refused_by(first.post("/api/sessions", json=CIRCLE), "max_sessions_per_client")
    assert second.post("/api/sessions", json=CIRCLE).status_code == 201  # another browser
    assert second.post("/api/sessions", json=CIRCLE).status_code == 201
    refused_by(second.post("/api/sessions", json=CIRCLE), "max_sessions_per_address")
    gone = made[0].json()
    deleted = first.delete(
        f"/api/sessions/{gone['id']}", headers={"Authorization": f"Bearer {gone['token']}"}
    )
    assert deleted.status_code == 204
    assert first.post("/api/sessions", json=CIRCLE).status_code == 201  # its place came back


def test_a_watch_token_cannot_branch_past_the_quota(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_sessions_per_client=1)
    teacher, student = browser(app), browser(app)
    created = teacher.post("/api/sessions", json=CIRCLE).json()
    watch = {"Authorization": f"Bearer {created['watch_token']}"}
    url = f"/api/sessions/{created['id']}/branch"
    moment = {"epoch": 0, "batch": 0, "phase": 0}
    assert student.post(url, json=moment, headers=watch).status_code == 201
    refused_by(student.post(url, json=moment, headers=watch), "max_sessions_per_client")


def test_made_up_client_ids_past_the_address_cap_share_one_anonymous_quota(
    tmp_path: Path,
) -> None:
    app = app_with(tmp_path, max_clients_per_address=2, max_sessions_per_client=1)
    script = TestClient(app)
    answers = []
    for _ in range(5):  # a new invented cookie each time
        script.cookies.clear()
        cookie = {"cookie": f"bp_client={secrets.token_urlsafe(16)}"}
        answers.append(script.post("/api/sessions", json=CIRCLE, headers=cookie).status_code)
    # two ids admitted, one session each; the rest are the address's anonymous client: one
    assert answers == [201, 201, 201, 429, 429]


def test_a_forged_x_forwarded_for_is_ignored_unless_the_proxy_is_trusted(
    tmp_path: Path,
) -> None:
    app = app_with(tmp_path / "a", max_sessions_per_address=2, max_sessions_per_client=100)
    forged = [
        browser(app, **{"X-Forwarded-For": f"10.0.0.{k}"}).post("/api/sessions", json=CIRCLE)
        for k in range(3)
    ]
    assert [r.status_code for r in forged] == [201, 201, 429]  # one address: the peer's

    behind_proxy = app_with(
        tmp_path / "b",
        max_sessions_per_address=2,
        max_sessions_per_client=100,
        trusted_proxies=["testclient"],  # TestClient's peer address
    )
    forwarded = [
        browser(behind_proxy, **{"X-Forwarded-For": f"6.6.6.6, 10.0.0.{k}"}).post(
            "/api/sessions", json=CIRCLE
        )
        for k in range(3)
    ]
    assert [r.status_code for r in forwarded] == [201, 201, 201]  # three addresses
    # What the client itself put left of the proxy's entry changes nothing: 10.0.0.0 it is.
    spoofed = [
        browser(behind_proxy, **{"X-Forwarded-For": f"{made_up}, 10.0.0.0"})
        for made_up in ("1.2.3.4", "5.6.7.8")
    ]
    assert spoofed[0].post("/api/sessions", json=CIRCLE).status_code == 201
    refused_by(spoofed[1].post("/api/sessions", json=CIRCLE), "max_sessions_per_address")


def test_classes_per_client(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_classes_per_client=2)
    teacher = browser(app)
    codes = []
    for _ in range(3):
        created = teacher.post("/api/sessions", json=CIRCLE).json()
        codes.append(
            teacher.post(
                "/api/classes",
                json={"session_id": created["id"]},
                headers={"Authorization": f"Bearer {created['token']}"},
            )
        )
    assert [r.status_code for r in codes[:2]] == [201, 201]
    refused_by(codes[2], "max_classes_per_client")


def upload(client: TestClient) -> Any:
    return client.post("/api/datasets", files={"file": ("d.csv", CSV.encode())})


def test_uploads_are_counted_per_browser_not_per_school_address(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_uploads_per_client=2, max_uploads_per_address=5)
    students = [browser(app) for _ in range(3)]
    for student in students[:2]:
        assert [upload(student).status_code for _ in range(2)] == [201, 201]
        refused_by(upload(student), "max_uploads_per_client")
    assert upload(students[2]).status_code == 201  # the class's address still has room
    refused_by(upload(students[2]), "max_uploads_per_address")


def cookie() -> dict[str, str]:
    return {"cookie": f"bp_client={secrets.token_urlsafe(16)}"}


def test_the_last_places_of_a_session_are_kept_for_its_control_socket(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_clients_per_session=4, control_sockets_reserved=1)
    client = TestClient(app)
    created = client.post("/api/sessions", json=CIRCLE).json()
    url = f"/ws/sessions/{created['id']}?token="
    with (
        client.websocket_connect(url + created["watch_token"], headers=cookie()) as a,
        client.websocket_connect(url + created["watch_token"], headers=cookie()) as b,
        client.websocket_connect(url + created["watch_token"], headers=cookie()) as c,
    ):
        for socket in (a, b, c):
            assert socket.receive_json()["type"] == "hello"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url + created["watch_token"], headers=cookie()) as d,
        ):
            d.receive_json()
        assert refused.value.code == 4429 and "control" in refused.value.reason
        with client.websocket_connect(url + created["token"], headers=cookie()) as teacher:
            assert teacher.receive_json()["type"] == "hello"


def test_sockets_per_client(tmp_path: Path) -> None:
    app = app_with(tmp_path, max_sockets_per_client=2)
    client = TestClient(app)
    created = client.post("/api/sessions", json=CIRCLE).json()
    url = f"/ws/sessions/{created['id']}?token={created['watch_token']}"
    mine = cookie()
    with (
        client.websocket_connect(url, headers=mine) as a,
        client.websocket_connect(url, headers=mine) as b,
    ):
        assert a.receive_json()["type"] == b.receive_json()["type"] == "hello"
        with (
            pytest.raises(WebSocketDisconnect) as refused,
            client.websocket_connect(url, headers=mine) as c,
        ):
            c.receive_json()
        assert refused.value.code == 4429 and "max_sockets_per_client" in refused.value.reason
        with client.websocket_connect(url, headers=cookie()) as other:  # another browser
            assert other.receive_json()["type"] == "hello"


def class_question(client: TestClient) -> tuple[str, int]:
    """A class on a session paused before its output layer's backward phase, asked the
    sign of δ: (its code, the question's id)."""
    created = client.post("/api/sessions", json=CIRCLE).json()
    control = {"Authorization": f"Bearer {created['token']}"}
    state = created["state"]
    last = len(state["layers"]) - 1
    while state["phase"] != {"kind": "backward", "layer": last}:
        state = client.post(
            f"/api/sessions/{created['id']}/step",
            json={"unit": "phase", "count": 1},
            headers=control,
        ).json()["state"]
    opened = client.post("/api/classes", json={"session_id": created["id"]}, headers=control)
    teacher = {"Authorization": f"Bearer {opened.json()['teacher_token']}"}
    asked = client.post(
        "/api/classes/current/questions",
        json={"kind": "delta_sign", "layer": last, "j": 0},
        headers=teacher,
    )
    return opened.json()["code"], asked.json()["id"]


def test_one_client_gives_a_question_two_answers_whatever_the_names(tmp_path: Path) -> None:
    app = app_with(tmp_path)
    code, question = class_question(TestClient(app))
    student = browser(app)
    given = [
        student.post(
            "/api/classes/answers",
            json={"code": code, "question": question, "name": f"made up {k}", "answer": "+"},
        )
        for k in range(3)
    ]
    assert [r.status_code for r in given[:2]] == [201, 201]
    refused_by(given[2], "max_answers_per_client")
    other = browser(app).post(
        "/api/classes/answers",
        json={"code": code, "question": question, "name": "Bo", "answer": "-"},
    )
    assert other.status_code == 201


def test_answers_are_rate_limited_per_client(tmp_path: Path) -> None:
    app = app_with(tmp_path, answers_per_minute_per_client=6, max_answers_per_client=100)
    code, question = class_question(TestClient(app))
    student = browser(app)
    statuses = [
        student.post(
            "/api/classes/answers",
            json={"code": code, "question": question, "name": f"n{k}", "answer": "+"},
        )
        for k in range(3)
    ]
    assert statuses[0].status_code == 201  # a burst of 10 s' worth: one
    refused_by(statuses[1], "answers_per_minute_per_client")
    assert int(statuses[1].headers["Retry-After"]) <= 10


def test_answers_are_rate_limited_per_page(tmp_path: Path) -> None:
    app = app_with(tmp_path, answers_per_minute_per_page=6, max_answers_per_client=100)
    client = TestClient(app)
    code, question = class_question(client)
    with client.websocket_connect(f"/ws/classes?token={code}", headers=cookie()) as page:
        assert page.receive_json()["type"] == "class"
        assert page.receive_json()["type"] == "question"
        for k, expected in enumerate(["answered", "error"]):
            page.send_json({"type": "answer", "question": question + k, "name": "A", "answer": "+"})
            reply = page.receive_json()
            assert reply["type"] == expected, reply
        assert reply["field"] == "answers_per_minute_per_page"
