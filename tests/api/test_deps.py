"""Token rules: either token reads, only the control token changes; 401, 403, 404."""

from __future__ import annotations

from typing import Any

import pytest

CreateSession = Any  # fixture from tests/conftest.py

# (method, path suffix, JSON body, query): every call on one session.
READS = [
    ("GET", "", None, None),
    ("GET", "/dataset", None, None),
    ("GET", "/export", None, None),
    ("GET", "/boundary", None, {"resolution": 5}),
    ("GET", "/gradcheck", None, None),
    ("GET", "/chain", None, {"layer": 0, "i": 0, "j": 0}),
    ("POST", "/predict", {"inputs": [[0, 1]]}, None),
]
CHANGES = [
    ("POST", "/step", {"unit": "batch", "count": 1}, None),
    ("PATCH", "", {"learning_rate": 0.2}, None),
    ("POST", "/reset", {}, None),
    ("DELETE", "", None, None),
]


def call(session: Any, method: str, suffix: str, body: Any, query: Any, headers: Any) -> Any:
    return session.client.request(
        method, session.url(suffix), json=body, params=query, headers=headers
    )


@pytest.fixture
def stepped(create_session: CreateSession) -> Any:
    session = create_session()
    session.step()  # so gradcheck and chain have a trace to read
    return session


@pytest.mark.parametrize(("method", "suffix", "body", "query"), READS)
def test_reads_accept_either_token(
    stepped: Any, method: str, suffix: str, body: Any, query: Any
) -> None:
    for headers in (stepped.control, stepped.watch):
        response = call(stepped, method, suffix, body, query, headers)
        assert response.status_code == 200, (suffix, response.text)


@pytest.mark.parametrize(("method", "suffix", "body", "query"), CHANGES)
def test_changes_accept_the_control_token(
    stepped: Any, method: str, suffix: str, body: Any, query: Any
) -> None:
    response = call(stepped, method, suffix, body, query, stepped.control)
    assert response.status_code in (200, 204), response.text


@pytest.mark.parametrize(("method", "suffix", "body", "query"), CHANGES)
def test_changes_refuse_the_watch_token(
    stepped: Any, method: str, suffix: str, body: Any, query: Any
) -> None:
    before = stepped.export()
    response = call(stepped, method, suffix, body, query, stepped.watch)
    assert response.status_code == 403
    assert response.json()["field"] == "Authorization"
    assert "watch token only reads" in response.json()["detail"]
    assert stepped.export() == before


@pytest.mark.parametrize(("method", "suffix", "body", "query"), READS + CHANGES)
def test_every_call_without_a_token_answers_401(
    stepped: Any, method: str, suffix: str, body: Any, query: Any
) -> None:
    response = call(stepped, method, suffix, body, query, {})
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert "Bearer" in response.json()["detail"]


@pytest.mark.parametrize(("method", "suffix", "body", "query"), READS + CHANGES)
def test_every_call_with_another_sessions_token_answers_403(
    stepped: Any, create_session: CreateSession, method: str, suffix: str, body: Any, query: Any
) -> None:
    other = create_session()
    for headers in (other.control, other.watch):
        response = call(stepped, method, suffix, body, query, headers)
        assert response.status_code == 403
        assert "not this session's" in response.json()["detail"]


@pytest.mark.parametrize(
    "authorization",
    ["Basic dXNlcjpwYXNz", "Bearer", "Bearer ", "token abc", "bearer-abc"],
)
def test_a_malformed_authorization_header_answers_401(stepped: Any, authorization: str) -> None:
    response = stepped.client.get(stepped.url(), headers={"Authorization": authorization})
    assert response.status_code == 401


def test_a_non_ascii_token_answers_403_not_500(stepped: Any) -> None:
    response = stepped.client.get(stepped.url(), headers={"Authorization": b"Bearer \xe9t\xe9"})
    assert response.status_code == 403


def test_the_scheme_is_case_insensitive(stepped: Any) -> None:
    response = stepped.client.get(
        stepped.url(), headers={"Authorization": f"bearer {stepped.watch_token}"}
    )
    assert response.status_code == 200


def test_an_unknown_session_answers_404_with_a_token(stepped: Any) -> None:
    response = stepped.client.post(
        "/api/sessions/unknown/step", json={"unit": "batch"}, headers=stepped.control
    )
    assert response.status_code == 404
    assert response.json()["field"] == "id"


def test_an_overlong_session_id_answers_422(stepped: Any) -> None:
    response = stepped.client.get("/api/sessions/" + "x" * 500, headers=stepped.control)
    assert response.status_code == 422


def test_create_and_import_need_no_token(stepped: Any) -> None:
    exported = stepped.export()
    assert stepped.client.post("/api/sessions", json={"preset": "circle"}).status_code == 201
    assert stepped.client.post("/api/sessions/import", json=exported).status_code == 201


def test_a_session_in_the_store_is_found_after_memory_forgets_it(stepped: Any, app: Any) -> None:
    app.state.manager._sessions.clear()  # as after a restart
    response = stepped.client.get(stepped.url("/export"), headers=stepped.watch)
    assert response.status_code == 200
    assert response.json()["model"]["step"] == 1
    assert (
        stepped.client.get(stepped.url(), headers={"Authorization": "Bearer x"}).status_code == 403
    )
