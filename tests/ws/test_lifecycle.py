"""Hubs come and go with their sockets; play outlives a reload, not an empty room forever."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from .conftest import is_event, is_type, manager_of, receive_until, url

pytestmark = pytest.mark.timeout(60)


def wait_until(condition: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def test_the_hub_goes_with_the_last_socket(live_app: FastAPI, live_client: TestClient):
    session = manager_of(live_app).create({"preset": "circle"})
    with live_client.websocket_connect(url(session)) as ws:
        receive_until(ws, is_type("frame"))
        assert session.id in live_app.state.live.hubs
        assert wait_until(lambda: len(session.listeners) == 1)
    assert wait_until(lambda: session.id not in live_app.state.live.hubs)
    assert wait_until(lambda: session.listeners == [])


def test_play_goes_on_after_the_last_socket_leaves(live_app: FastAPI, live_client: TestClient):
    session = manager_of(live_app).create({"preset": "circle"})
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 100})
        receive_until(ws, is_event("playing"))
    left_at = session.model.step
    assert wait_until(lambda: session.model.step > left_at + 10)
    with live_client.websocket_connect(url(session)) as ws:  # the page reloads
        hello = ws.receive_json()
        assert hello["play"] == {"unit": "batch", "rate": 100.0}
        assert hello["state"]["playing"] is True
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    assert session.playing is False


def test_a_session_nobody_watches_is_paused_after_a_grace_period(
    make_app: Callable[..., FastAPI],
):
    app = make_app(orphan_play_seconds=0.3)
    session = manager_of(app).create({"preset": "circle"})
    with TestClient(app) as client:
        with client.websocket_connect(url(session)) as ws:
            ws.receive_json()
            ws.send_json({"type": "play", "rate": 100})
            receive_until(ws, is_event("playing"))
        assert wait_until(lambda: not session.playing)
        assert wait_until(lambda: session.id not in app.state.live.hubs)
        stored = manager_of(app).store.load_session(session.id)
    assert stored is not None and stored[0]["playing"] is False


def test_stopping_the_server_pauses_and_stores_playing_sessions(
    make_app: Callable[..., FastAPI],
):
    app = make_app()
    session = manager_of(app).create({"preset": "circle"})
    with TestClient(app) as client, client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 100})
        receive_until(ws, is_event("playing"))
        assert wait_until(lambda: session.model.step > 5)
        ws.close()
        # Leaving the TestClient runs the app's shutdown.
    assert session.playing is False
    restarted = make_app()
    stored = manager_of(restarted).store.load_session(session.id)
    assert stored is not None
    assert stored[0]["playing"] is False
    assert stored[0]["model"]["step"] == session.model.step
