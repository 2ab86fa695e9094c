"""Forty gradient checks dropped after 3 s leave the server answering, its memory returned,
and a SIGTERM during them stops it in seconds (the red team's attack of issue 21, bounded).

The server is the real command (``python -m app``) on loopback. The session is the red
team's: 2 → 32 → 32 → 32 → 1 on 10,000 rows, full batch, so one complete check would take
tens of seconds.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.ws.server import Server, free_port

pytestmark = pytest.mark.slow

CALLS = 40
DROP_AFTER_SECONDS = 3.0
RED_TEAM_SESSION = {
    "model": {
        "layers": [
            {"units": 32, "activation": "tanh"},
            {"units": 32, "activation": "tanh"},
            {"units": 32, "activation": "tanh"},
            {"units": 1, "activation": "tanh"},
        ],
        "batch_size": None,
    },
    "data": {"dataset": "circle", "n_samples": 10_000, "train_ratio": 1.0, "labels": "pm1"},
}
# Every call admitted, so the pool and the cancelling are what hold the server up.
ADMIT_ALL = {
    "PLAYGROUND_MAX_COSTLY_PER_SESSION": str(CALLS),
    "PLAYGROUND_MAX_COSTLY_PER_CLIENT": str(CALLS),
    "PLAYGROUND_MAX_COSTLY_WAITING": str(CALLS),
}


@contextmanager
def playground(data_dir: Path, **env: str) -> Iterator[Server]:
    """``python -m app`` on a free loopback port until the block ends."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "app",
            "--port",
            str(port),
            "--data-dir",
            str(data_dir),
            "--log-level",
            "warning",
        ],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Server(process, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.http}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "no server"
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


def traced_session(server: Server) -> dict[str, Any]:
    session = server.create_session(RED_TEAM_SESSION)
    stepped = httpx.post(
        f"{server.http}/api/sessions/{session['id']}/step",
        json={"unit": "batch"},
        headers={"Authorization": f"Bearer {session['token']}"},
        timeout=30,
    )
    assert stepped.status_code == 200, stepped.text
    return session


class Burst:
    """``CALLS`` concurrent gradchecks with the watch token, each dropped after ``timeout``.

    The clients are made first (each costs tens of milliseconds of CPU in this process), so
    that making them does not fall in the window where the server is measured."""

    def __init__(self, server: Server, session: dict[str, Any], timeout: float | None) -> None:
        self.url = f"{server.http}/api/sessions/{session['id']}/gradcheck"
        self.headers = {"Authorization": f"Bearer {session['watch_token']}"}
        self.clients = [httpx.Client(timeout=timeout) for _ in range(CALLS)]
        self.outcomes: list[Any] = [None] * CALLS
        self.threads = [threading.Thread(target=self.call, args=(k,)) for k in range(CALLS)]

    def call(self, k: int) -> None:
        try:
            self.outcomes[k] = self.clients[k].get(self.url, headers=self.headers).status_code
        except httpx.TimeoutException:
            self.outcomes[k] = "dropped"
        except httpx.TransportError:
            self.outcomes[k] = "closed"
        finally:
            self.clients[k].close()

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self) -> list[Any]:
        """Each call's status code, or "dropped"."""
        for thread in self.threads:
            thread.join(timeout=60)
        return self.outcomes


def gradcheck_calls(server: Server, session: dict[str, Any], timeout: float | None) -> list[Any]:
    burst = Burst(server, session, timeout)
    burst.start()
    return burst.join()


def health_latencies(server: Server, seconds: float) -> list[float]:
    latencies = []
    end = time.monotonic() + seconds
    with httpx.Client(base_url=server.http, timeout=10) as http:
        while time.monotonic() < end:
            began = time.monotonic()
            assert http.get("/api/health").status_code == 200
            latencies.append(time.monotonic() - began)
            time.sleep(0.02)
    return latencies


def costly_calls(server: Server) -> int:
    calls: int = httpx.get(f"{server.http}/api/health", timeout=10).json()["costly_calls"]
    return calls


def test_forty_dropped_gradchecks_leave_health_fast_and_memory_returned(tmp_path: Path) -> None:
    with playground(tmp_path, **ADMIT_ALL) as server:
        session = traced_session(server)
        rss_before = server.rss_kib()
        burst = Burst(server, session, timeout=DROP_AFTER_SECONDS)
        latencies: list[float] = []
        prober = threading.Thread(
            target=lambda: latencies.extend(health_latencies(server, DROP_AFTER_SECONDS + 1))
        )
        prober.start()
        burst.start()
        outcomes = burst.join()
        prober.join()
        assert outcomes.count("dropped") >= CALLS - 4, outcomes  # the pool runs two at a time
        latencies.sort()
        p99 = latencies[int(0.99 * (len(latencies) - 1))]
        assert len(latencies) > 50 and p99 < 0.2, (p99, latencies[-5:])
        # The dropped calls are cancelled: not 38 more budgets of 2 s on two threads (~40 s).
        deadline = time.monotonic() + 8
        while costly_calls(server) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert costly_calls(server) == 0
        time.sleep(1.5)  # the heap is trimmed once more a second after the last release
        assert server.rss_kib() <= 1.2 * rss_before, (server.rss_kib(), rss_before)


def test_by_default_one_session_runs_one_check_at_a_time(tmp_path: Path) -> None:
    with playground(tmp_path) as server:
        session = traced_session(server)
        outcomes = gradcheck_calls(server, session, timeout=30)
    assert outcomes.count(200) >= 1 and set(outcomes) <= {200, 429}, outcomes
    assert outcomes.count(429) >= CALLS - 2


def test_sigterm_during_the_checks_stops_the_server_in_seconds(tmp_path: Path) -> None:
    with playground(tmp_path, **ADMIT_ALL) as server:
        session = traced_session(server)
        caller = threading.Thread(target=gradcheck_calls, args=(server, session, 30.0))
        caller.start()
        while costly_calls(server) < CALLS // 2:
            time.sleep(0.05)
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
        stopped_in = time.monotonic() - began
        caller.join(timeout=60)
    assert stopped_in < 5.0, stopped_in


def test_sigterm_during_a_long_step_call_stops_the_server_in_seconds(tmp_path: Path) -> None:
    """A step call with a minute of budget ends at its next batch: the REST answer says
    'server stopping' and the process is gone within seconds, not after the minute."""
    with playground(tmp_path, PLAYGROUND_MAX_STEP_SECONDS="60") as server:
        session = traced_session(server)
        answers: list[Any] = []

        def long_step() -> None:
            with contextlib.suppress(httpx.TransportError):
                answers.append(
                    httpx.post(
                        f"{server.http}/api/sessions/{session['id']}/step",
                        json={"unit": "epoch", "count": 10_000},
                        headers={"Authorization": f"Bearer {session['token']}"},
                        timeout=60,
                    )
                )

        caller = threading.Thread(target=long_step)
        caller.start()
        time.sleep(1.0)
        began = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=60)
        stopped_in = time.monotonic() - began
        caller.join(timeout=60)
    assert stopped_in < 5.0, stopped_in
    assert answers and answers[0].status_code == 200, answers
    assert answers[0].json()["stopped"] == "server stopping"
