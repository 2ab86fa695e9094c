"""Error answers: a 500 carries the security headers too; a body that cannot be read is a 400
that says why and names the body."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.api.errors import UNPARSED_BODY
from app.api.security import SECURITY_HEADERS


def test_a_500_answer_carries_the_security_headers(app: FastAPI) -> None:
    def fail() -> None:
        raise RuntimeError("a bug")

    app.add_api_route("/api/failing", fail)
    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/api/failing")
    assert answer.status_code == 500
    assert answer.json() == {"detail": "internal error; it has been logged"}
    for name, value in SECURITY_HEADERS:
        assert answer.headers.get(name.decode()) == value.decode()


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"preset": "\xff"}', "not UTF-8"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"preset": ' + b"7" * 5000 + b"}", "cannot be read"),
        (b'{"preset": "circle", "model": {"learning_rate": 1' + b"0" * 5000 + b"}}", "digits"),
    ],
)
def test_an_unreadable_body_is_a_400_that_says_why(
    client: TestClient, body: bytes, reason: str
) -> None:
    answer = client.post(
        "/api/sessions", content=body, headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400
    error = answer.json()
    assert error["detail"] != UNPARSED_BODY
    assert reason in error["detail"]
    assert error["field"] == "body"


def test_a_broken_multipart_body_names_the_body(client: TestClient) -> None:
    answer = client.post(
        "/api/datasets",
        content=b"--b\r\nContent-Disposition form-data\r\n\r\nx\r\n--b--\r\n",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert answer.status_code == 400
    assert answer.json()["field"] == "body"
