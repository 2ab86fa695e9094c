"""The socket refuses a page served from another origin (4403); it accepts the server's own
origin, a client that sends none (not a browser), and the origins listed in cors_origins."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from .conftest import is_type, manager_of, receive_until, url

ALLOWED = "https://teacher.example.org"


@pytest.fixture
def client(make_app: Callable[..., FastAPI]) -> TestClient:
    return TestClient(make_app(cors_origins=[ALLOWED]))


def hello_with(client: TestClient, headers: dict[str, str]) -> str:
    session = manager_of(client.app).create({"preset": "circle"})  # type: ignore[arg-type]
    with client.websocket_connect(url(session), headers=headers) as ws:
        return str(receive_until(ws, is_type("hello"))["type"])


@pytest.mark.parametrize(
    "origin", ["http://evil.example", "http://testserver.evil.example", "null", "file://"]
)
def test_a_foreign_origin_is_refused_with_4403(client: TestClient, origin: str) -> None:
    session = manager_of(client.app).create({"preset": "circle"})  # type: ignore[arg-type]
    with (
        pytest.raises(WebSocketDisconnect) as raised,
        client.websocket_connect(url(session), headers={"Origin": origin}) as ws,
    ):
        ws.receive_json()
    assert raised.value.code == 4403
    assert "origin" in raised.value.reason


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://testserver"},  # the server's own (TestClient's Host is testserver)
        {"Origin": ALLOWED},  # listed in cors_origins
        {},  # no Origin: a script, not a browser
    ],
)
def test_own_listed_or_no_origin_is_served(client: TestClient, headers: dict[str, str]) -> None:
    assert hello_with(client, headers) == "hello"
