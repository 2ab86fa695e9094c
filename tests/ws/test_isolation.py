"""Playing flat out happens off the event loop: other sessions' REST calls stay fast."""

from __future__ import annotations

import statistics
import time

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from .conftest import is_event, manager_of, receive_until, url

pytestmark = pytest.mark.timeout(60)


def timed_reads(client: TestClient, path: str, token: str, count: int) -> list[float]:
    seconds = []
    for _ in range(count):
        started = time.perf_counter()
        response = client.get(path, headers={"Authorization": f"Bearer {token}"})
        seconds.append(time.perf_counter() - started)
        assert response.status_code == 200
    return seconds


def test_rest_calls_on_other_sessions_stay_fast_while_one_plays(
    live_app: FastAPI, live_client: TestClient
):
    playing = manager_of(live_app).create({"preset": "circle"})
    other = manager_of(live_app).create({"preset": "xor"})
    path = f"/api/sessions/{other.id}"
    with live_client.websocket_connect(url(playing)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})  # as fast as possible
        receive_until(ws, is_event("playing"))
        step_before = playing.model.step
        busy = timed_reads(live_client, path, other.token, 30)
        trained = playing.model.step - step_before
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    busy.sort()
    assert trained > 100  # it really was training meanwhile
    assert statistics.median(busy) < 0.04, busy
    assert busy[int(0.9 * len(busy))] < 0.2, busy  # (a loaded machine may stall one call)
