"""The live layer's play loop: fair, storing as it plays, off the loop when costly (its
imports' shape: tests/test_layers.py)."""

from __future__ import annotations

import threading
import time

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.live import host as host_module
from app.live import training
from app.service import play
from app.service.session import StepOutcome

from .conftest import is_event, manager_of, receive_until, url

pytestmark = pytest.mark.timeout(60)


def test_one_session_flat_out_does_not_starve_a_paced_one(
    live_app: FastAPI, live_client: TestClient
):
    flat_out = manager_of(live_app).create({"preset": "circle"})
    paced = manager_of(live_app).create({"preset": "circle"})
    with (
        live_client.websocket_connect(url(flat_out)) as fast,
        live_client.websocket_connect(url(paced)) as slow,
    ):
        fast.receive_json()
        slow.receive_json()
        fast.send_json({"type": "play"})
        receive_until(fast, is_event("playing"))
        slow.send_json({"type": "play", "rate": 100})
        receive_until(slow, is_event("playing"))
        started, step0 = time.monotonic(), paced.model.step
        time.sleep(1.5)
        paced_rate = (paced.model.step - step0) / (time.monotonic() - started)
        for ws in (fast, slow):
            ws.send_json({"type": "pause"})
            receive_until(ws, is_event("paused"))
    assert flat_out.model.step > 300  # it did play flat out
    # Starved, it would train next to nothing; the order of magnitude is the behaviour
    # asserted here (bench/class.py --flat-out measures the rates themselves).
    assert paced_rate > 20, paced_rate  # of the asked 100/s


def test_a_playing_session_is_stored_every_persist_interval(make_app):
    app = make_app(persist_interval_seconds=0.2)
    session = manager_of(app).create({"preset": "circle"})
    store = manager_of(app).store
    with TestClient(app) as client, client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 200})
        receive_until(ws, is_event("playing"))
        stored_steps = []
        for _ in range(3):
            time.sleep(0.4)
            stored = store.load_session(session.id)
            assert stored is not None
            stored_steps.append(stored[0]["model"]["step"])
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    assert stored_steps[0] > 0 and stored_steps[0] < stored_steps[1] < stored_steps[2]


def test_a_costly_slice_moves_off_the_event_loop(
    live_app: FastAPI, live_client: TestClient, monkeypatch: pytest.MonkeyPatch
):
    """A session whose units take longer than INLINE_SECONDS plays on the training thread."""
    session = manager_of(live_app).create({"preset": "circle"})
    threads: list[str] = []
    real, real_together = training.run_slice, play.step_together

    def burn() -> None:
        threads.append(threading.current_thread().name)
        burn_until = time.thread_time() + 2 * host_module.INLINE_SECONDS  # (≥ 1 unit each)
        while time.thread_time() < burn_until:  # CPU, as a big network's slice would take
            pass

    def slow_slice(*args: object) -> training.SliceResult:
        burn()
        return real(*args)  # type: ignore[arg-type]

    def slow_together(*args: object) -> list[StepOutcome]:  # batch play on the loop
        burn()
        return real_together(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(host_module, "run_slice", slow_slice)
    monkeypatch.setattr(play, "step_together", slow_together)
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 20})  # one batch a slice
        receive_until(ws, is_event("playing"))
        deadline = time.monotonic() + 5
        while len(threads) < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    on_thread = [name.startswith("train") for name in threads]
    assert not on_thread[0]  # the first on the loop (nothing known of its cost yet)
    first = on_thread.index(True)  # then (after a slice that found the session busy, maybe)
    assert all(on_thread[first:]), threads  # every later one on the training thread
