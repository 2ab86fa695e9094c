"""A real uvicorn process, killed with SIGKILL mid-session, loses nothing a client was told.

The server is started as ``python -m uvicorn --factory app.main:create_app`` on a free port
with ``PLAYGROUND_DATA_DIR`` in a temporary directory; after ``kill -9`` a new process on the
same directory must answer the session with bit-identical weights, counters and RNG, and
train on exactly as the original would have (compared with an import into a TestClient app).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
REQUEST_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server(data_dir: Path) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """A uvicorn process on ``data_dir`` and a client on it; the process is always killed."""
    port = free_port()
    env = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_PORT": str(port),
        "PLAYGROUND_LOG_LEVEL": "warning",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--factory",
        "app.main:create_app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    client = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=REQUEST_TIMEOUT)
    try:
        wait_until_up(process, client)
        yield process, client
    finally:
        client.close()
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stderr is not None:
            process.stderr.close()


def wait_until_up(process: subprocess.Popen[bytes], client: httpx.Client) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            stderr = process.stderr.read().decode(errors="replace") if process.stderr else ""
            pytest.fail(f"the server exited with {process.returncode}:\n{stderr}")
        try:
            if client.get("/health", timeout=1.0).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    pytest.fail(f"the server did not answer /api/health within {START_TIMEOUT} s")


def step(client: httpx.Client, session: dict[str, Any], unit: str, count: int) -> Any:
    response = client.post(
        f"/sessions/{session['id']}/step",
        json={"unit": unit, "count": count},
        headers={"Authorization": f"Bearer {session['token']}"},
    )
    assert response.status_code == 200, response.text
    return response.json()


def export(client: httpx.Client, session_id: str, token: str) -> Any:
    response = client.get(
        f"/sessions/{session_id}/export", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_a_session_survives_sigkill_and_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with server(data_dir) as (process, client):
        body = {"preset": "spiral", "model": {"momentum": 0.9, "l2": 0.001}}
        session = client.post("/sessions", json=body).json()
        step(client, session, "epoch", 2)
        step(client, session, "batch", 7)
        step(client, session, "phase", 3)  # kill it part-way through a batch
        patched = client.patch(
            f"/sessions/{session['id']}",
            json={"learning_rate": 0.05},
            headers={"Authorization": f"Bearer {session['token']}"},
        )
        assert patched.status_code == 200
        before = export(client, session["id"], session["token"])
        weights_before = before["model"]["layers"][0]["W"]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
        assert process.returncode == -signal.SIGKILL

    with server(data_dir) as (_, client):
        after = export(client, session["id"], session["watch_token"])
        assert after == before  # weights bit-exact, counters, RNG, history, config
        assert after["model"]["layers"][0]["W"] == weights_before
        assert after["model"]["cursor"] == 3
        continued = step(client, session, "batch", 20)
        assert continued["state"]["step"] == before["model"]["step"] + 20
        restarted_weights = continued["state"]["layers"]

    # The continuation equals the original's own future: replay it from the export.
    with TestClient(create_app(Settings(data_dir=tmp_path / "reference"))) as reference:
        twin = reference.post("/api/sessions/import", json=before).json()
        twin_result = reference.post(
            f"/api/sessions/{twin['id']}/step",
            json={"unit": "batch", "count": 20},
            headers={"Authorization": f"Bearer {twin['token']}"},
        ).json()
    assert twin_result["state"]["layers"] == restarted_weights
