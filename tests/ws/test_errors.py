"""Every error path: bad messages get an ``error`` and the socket stays open; bad tokens,
unknown sessions and full sessions are closed with a code and a reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.service.session import Session

from .conftest import is_error, is_type, manager_of, receive_until, url

pytestmark = pytest.mark.timeout(60)


def error_for(client: TestClient, session: Session, message: Any, as_text: bool = False) -> Any:
    """Send one message; return the error it got, after checking the socket still works."""
    with client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        if as_text:
            ws.send_text(message)
        else:
            ws.send_json(message)
        error = receive_until(ws, is_error)
        ws.send_json({"type": "subscribe", "fields": ["step"]})  # still open, still answering
        receive_until(ws, lambda m: m["type"] == "frame" and "loss" not in m)
    return error


@pytest.mark.parametrize(
    ("message", "field", "words"),
    [
        ({"type": "jump"}, "type", "unknown message type 'jump'"),
        ({"unit": "batch"}, "type", "unknown message type None"),
        ({"type": 3}, "type", "unknown message type 3"),
        ({"type": "play", "speed": 3}, "speed", "play has no field 'speed'"),
        ({"type": "play", "unit": "minute"}, "unit", "unit:"),
        ({"type": "play", "rate": 0}, "rate", "greater than 0"),
        ({"type": "play", "rate": "fast"}, "rate", "valid number"),
        ({"type": "play", "rate": 1e9}, "rate", "at most 10000"),
        ({"type": "step", "count": 0}, "count", "greater than or equal to 1"),
        ({"type": "step", "count": 1.5}, "count", "valid integer"),
        ({"type": "step", "count": True}, "count", "valid integer"),
        ({"type": "step", "count": 10**6}, "count", "at most 10000"),
        ({"type": "set"}, "changes", "Field required"),
        ({"type": "set", "changes": {}}, "changes", "at least one"),
        ({"type": "set", "changes": {"learning_rate": -1}}, "changes.learning_rate", ""),
        ({"type": "set", "changes": {"layers": []}}, "changes.layers", ""),
        ({"type": "set", "changes": {"activations": ["relu"]}}, "changes.activations", ""),
        ({"type": "set", "changes": {"batch_size": 0}}, "changes.batch_size", ""),
        ({"type": "reset", "seed": -1}, "seed", "greater than or equal to 0"),
        ({"type": "subscribe", "max_fps": 0}, "max_fps", "greater than 0"),
        ({"type": "subscribe", "max_fps": 500}, "max_fps", "at most 60"),
        ({"type": "subscribe", "fields": ["loss", "weights"]}, "fields", "'weights'"),
        ({"type": "subscribe", "fields": "loss"}, "fields", "valid list"),
        ({"type": "subscribe", "boundary_resolution": 1}, "boundary_resolution", "2…100"),
        ({"type": "subscribe", "boundary_resolution": 101}, "boundary_resolution", "2…100"),
        ({"type": "subscribe", "stop": {"loss": 0.1}}, "stop.loss", "no field"),
        ({"type": "subscribe", "stop": {"epochs": 0}}, "stop.epochs", "greater than"),
    ],
)
def test_bad_command_gets_an_error_naming_the_field(
    live_client: TestClient, session: Session, message: dict[str, Any], field: str, words: str
):
    error = error_for(live_client, session, message)
    assert error["field"] == field
    assert words in error["message"]
    assert session.model.step == 0 and session.playing is False


def test_error_echoes_the_message_id_and_command(live_client: TestClient, session: Session):
    error = error_for(live_client, session, {"type": "step", "count": 0, "id": "s-1"})
    assert error["id"] == "s-1"
    assert error["command"] == "step"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "must be a JSON object"),
        ('"play"', "must be a JSON object"),
        ('{"type": "play", "rate": NaN}', "not valid JSON"),
    ],
)
def test_malformed_message_gets_an_error(
    live_client: TestClient, session: Session, text: str, words: str
):
    error = error_for(live_client, session, text, as_text=True)
    assert words in error["message"]


def test_message_over_the_size_limit_gets_an_error(
    make_app: Callable[..., FastAPI],
):
    app = make_app(max_ws_message_bytes=256)
    session = manager_of(app).create({"preset": "circle"})
    with TestClient(app) as client:
        error = error_for(client, session, {"type": "subscribe", "fields": ["loss"] * 100})
    assert "too large" in error["message"] and "at most 256" in error["message"]


def test_too_many_commands_get_an_error_and_the_rest_still_work(
    make_app: Callable[..., FastAPI],
):
    app = make_app(max_ws_commands_per_second=3)
    session = manager_of(app).create({"preset": "circle"})
    with TestClient(app) as client, client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        for _ in range(6):
            ws.send_json({"type": "subscribe", "max_fps": 10})
        error = receive_until(ws, is_error)
        assert "too many commands" in error["message"]
        assert "at most 3 per second" in error["message"]


def test_boundary_needs_inputs_on_a_plane(live_app: FastAPI, live_client: TestClient):
    session = manager_of(live_app).create({"preset": "iris"})
    error = error_for(live_client, session, {"type": "subscribe", "boundary_resolution": 10})
    assert error["field"] == "boundary_resolution"
    assert "drawn over a plane (x1, x2)" in error["message"]


def closed_with(client: TestClient, path: str) -> WebSocketDisconnect:
    with pytest.raises(WebSocketDisconnect) as raised, client.websocket_connect(path) as ws:
        ws.receive_json()
    return raised.value


def test_bad_token_closes_with_4401(live_client: TestClient, session: Session):
    closed = closed_with(live_client, url(session, "not-the-token"))
    assert closed.code == 4401
    assert "bad token" in closed.reason


def test_missing_token_closes_with_4401(live_client: TestClient, session: Session):
    closed = closed_with(live_client, f"/ws/sessions/{session.id}")
    assert closed.code == 4401


def test_another_sessions_token_closes_with_4401(live_app: FastAPI, live_client: TestClient):
    first = manager_of(live_app).create({"preset": "circle"})
    second = manager_of(live_app).create({"preset": "circle"})
    closed = closed_with(live_client, f"/ws/sessions/{first.id}?token={second.token}")
    assert closed.code == 4401


def test_unknown_session_closes_with_4404(live_client: TestClient, session: Session):
    closed = closed_with(live_client, f"/ws/sessions/nope?token={session.token}")
    assert closed.code == 4404
    assert "no such session" in closed.reason


def test_clients_past_the_limit_are_closed_with_4429(make_app: Callable[..., FastAPI]):
    app = make_app(max_clients_per_session=2)
    session = manager_of(app).create({"preset": "circle"})
    with (
        TestClient(app) as client,
        client.websocket_connect(url(session, session.watch_token)) as first,
    ):
        with client.websocket_connect(url(session)) as second:
            receive_until(first, is_type("frame"))
            receive_until(second, is_type("frame"))
            closed = closed_with(client, url(session))
            assert closed.code == 4429
            assert "2 clients" in closed.reason
        with client.websocket_connect(url(session)) as third:  # one left: room again
            assert third.receive_json()["type"] == "hello"


def test_a_session_loaded_from_the_store_can_be_streamed(
    make_app: Callable[..., FastAPI],
):
    first = make_app()
    session = manager_of(first).create({"preset": "circle"})
    session.step("batch", 4)
    manager_of(first).save(session)
    second = make_app()  # a restarted server: same data folder, nothing in memory
    with TestClient(second) as client, client.websocket_connect(url(session)) as ws:
        hello = ws.receive_json()
        assert hello["state"]["step"] == 4


def test_a_failing_command_is_reported_and_the_socket_stays(
    live_client: TestClient, session: Session, monkeypatch: pytest.MonkeyPatch
):
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(Session, "reset", broken)
    error = error_for(live_client, session, {"type": "reset"})
    assert error["message"] == "the server failed to run this command"
