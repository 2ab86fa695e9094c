"""A real uvicorn process, killed with SIGKILL mid-session, loses nothing a client was told.

The server is started as ``python -m uvicorn --factory app.main:create_app`` on a free port
with ``PLAYGROUND_DATA_DIR`` in a temporary directory (and, the second time round,
``PLAYGROUND_DATABASE_URL`` naming a PostgreSQL database); after ``kill -9`` a new process on
the same store must answer the session with bit-identical weights, counters and RNG, and
train on exactly as the original would have (compared with an import into a TestClient app).
"""

from __future__ import annotations

import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from ws.server import running_server

from app.main import create_app
from app.settings import Settings

REQUEST_TIMEOUT = 30.0


@contextmanager
def server(settings: Settings) -> Iterator[tuple[subprocess.Popen[bytes], httpx.Client]]:
    """A uvicorn process on the store ``settings`` names (the shared ``running_server``) and
    a client on its API; the process is always killed."""
    with (
        running_server(
            settings.data_dir,
            PLAYGROUND_LOG_LEVEL="warning",
            PLAYGROUND_DATABASE_URL=settings.database_url,
        ) as running,
        httpx.Client(base_url=f"{running.http}/api", timeout=REQUEST_TIMEOUT) as client,
    ):
        yield running.process, client


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
def test_a_session_survives_sigkill_and_restart(
    any_store_settings: Settings, tmp_path: Path
) -> None:
    with server(any_store_settings) as (process, client):
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

    with server(any_store_settings) as (_, client):
        after = export(client, session["id"], session["watch_token"])
        assert after == before  # weights bit-exact, counters, RNG, history, config
        assert after["model"]["layers"][0]["W"] == weights_before
        assert after["model"]["cursor"] == 3
        continued = step(client, session, "batch", 20)
        assert continued["state"]["step"] == before["model"]["step"] + 20
        restarted_weights = continued["state"]["layers"]

    # The store the settings name was the one used: the SQLite file only without a URL.
    sqlite_file = any_store_settings.data_dir / "playground.sqlite3"
    assert sqlite_file.exists() == (not any_store_settings.database_url)

    # The continuation equals the original's own future: replay it from the export.
    with TestClient(create_app(Settings(data_dir=tmp_path / "reference"))) as reference:
        twin = reference.post("/api/sessions/import", json=before).json()
        twin_result = reference.post(
            f"/api/sessions/{twin['id']}/step",
            json={"unit": "batch", "count": 20},
            headers={"Authorization": f"Bearer {twin['token']}"},
        ).json()
    assert twin_result["state"]["layers"] == restarted_weights
