"""A class playing batches at a paced rate runs together (live/cohort.py): the players wake
on the same frame ticks, their slices run in one go, and each session still trains exactly
as it would alone."""

from __future__ import annotations

import time
from contextlib import ExitStack
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.engine import together as engine_together
from app.live import cohort as cohort_module
from app.live import training
from app.live.pacing import tick_after, tick_at

from .conftest import is_event, manager_of, receive_until, url


def test_frame_ticks() -> None:
    interval = 1 / 30
    assert tick_after(0.0, interval) == pytest.approx(interval)
    assert tick_after(10 * interval + 0.001, interval) == pytest.approx(11 * interval)
    # a wake a hair before its tick is on it: the next tick is the one after
    assert tick_after(10 * interval - 1e-6, interval) == pytest.approx(11 * interval)
    assert tick_at(10 * interval + 0.001, interval) == pytest.approx(11 * interval)
    assert tick_at(10 * interval, interval) == pytest.approx(10 * interval)
    for now in np.linspace(0, 5, 97):  # always a multiple of the interval, always ahead
        after = tick_after(float(now), interval)
        assert after > now and round(after / interval) * interval == pytest.approx(after)


def play_class(
    app: FastAPI, client: TestClient, n: int, until: Any, seconds: float = 8.0
) -> list[Any]:
    """n circle sessions (their own seeds) playing at 300 batches/s until ``until()`` or the
    deadline; then all paused. Returns the sessions."""
    manager = manager_of(app)
    sessions = [
        manager.create({"preset": "circle", "model": {"seed": i}, "data": {"seed": i}})
        for i in range(n)
    ]
    with ExitStack() as stack:
        sockets = [stack.enter_context(client.websocket_connect(url(s))) for s in sessions]
        for ws in sockets:
            ws.receive_json()
            ws.send_json({"type": "play", "rate": 300})
            receive_until(ws, is_event("playing"))
        deadline = time.monotonic() + seconds
        while not until() and time.monotonic() < deadline:
            time.sleep(0.02)
        for ws in sockets:
            ws.send_json({"type": "pause"})
        for ws in sockets:
            receive_until(ws, is_event("paused"))
    return sessions


def test_a_class_runs_together_and_each_trains_as_alone(
    live_app: FastAPI, live_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[int] = []
    stacked: list[int] = []
    real_run, real_step = training.run_together, engine_together.Stack.step

    def counted_run(slices: Any) -> Any:
        runs.append(len(slices))
        return real_run(slices)

    def counted_step(stack: Any) -> Any:
        stacked.append(len(stack.models))
        return real_step(stack)

    monkeypatch.setattr(cohort_module, "run_together", counted_run)
    monkeypatch.setattr(engine_together.Stack, "step", counted_step)
    sessions = play_class(live_app, live_client, 4, lambda: runs.count(4) >= 10)
    assert runs.count(4) >= 10  # on the same ticks: all four slices in one run
    assert 4 in stacked  # and their batches in one stack
    # Each trained as its own Session.step would have: a twin stepped alone agrees.
    manager = manager_of(live_app)
    for i, session in enumerate(sessions):
        assert session.model.step > 0 and not session.playing
        twin = manager.create({"preset": "circle", "model": {"seed": i}, "data": {"seed": i}})
        twin.step("batch", session.model.step)
        for mine, its in zip(session.model.layers, twin.model.layers, strict=True):
            assert np.array_equal(mine.W, its.W) and np.array_equal(mine.b, its.b)
        assert session.history == twin.history


def test_a_fault_in_a_run_together_ends_no_ones_play(
    live_app: FastAPI, live_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that raises is run again slice by slice: every student plays on."""
    faults: list[int] = []
    real_run = training.run_together

    def faulty(slices: Any) -> Any:
        if len(faults) < 3:
            faults.append(len(slices))
            raise RuntimeError("a fault in one session's run")
        return real_run(slices)

    monkeypatch.setattr(cohort_module, "run_together", faulty)
    steps: dict[str, int] = {}

    def all_played() -> bool:
        return len(faults) == 3 and all(v > 60 for v in steps.values())

    sessions: list[Any] = []
    manager = manager_of(live_app)
    original_create = manager.create

    def create(config: Any) -> Any:  # track the sessions' steps while they play
        session = original_create(config)
        sessions.append(session)
        return session

    monkeypatch.setattr(manager, "create", create)

    def until() -> bool:
        for session in sessions:
            steps[session.id] = session.model.step
        return all_played()

    play_class(live_app, live_client, 3, until)
    assert len(faults) == 3 and all(v > 60 for v in steps.values()), (faults, steps)
