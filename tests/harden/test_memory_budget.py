"""The memory budget: what a session costs, modelled (held within 10 % of tracemalloc's count
of a real one), refused past ``max_session_bytes`` at create, import and change with a 422 naming
the field; and the memory of deleted sessions goes back to the system (a real server's RSS)."""

from __future__ import annotations

import gc
import time
import tracemalloc
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from ws.server import running_server

from app.service.manager import SessionManager
from app.service.memory import SessionShape
from app.settings import Settings

LARGEST = {"n_samples": 10_000}  # the largest dataset the limits allow


def body(units: int, layers: int, batch: int | None, rows: int = 10_000) -> dict[str, Any]:
    return {
        "preset": "circle",
        "data": {"n_samples": rows},
        "model": {
            "layers": [{"units": units, "activation": "tanh"}] * layers
            + [{"units": 1, "activation": "tanh"}],
            "batch_size": batch,
        },
    }


def measured_bytes(manager: SessionManager, request: dict[str, Any]) -> tuple[int, int]:
    """(what tracemalloc counts for a session created, stepped one batch and read, what the
    model says it costs)."""
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    session = manager.create(request)
    session.step("batch", 1)
    session.state()
    gc.collect()
    cost = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    modelled = session.shape(session.model.config.batch_size).bytes()
    manager.delete(session.id)
    return cost, modelled


@pytest.mark.parametrize(
    "shape",
    [(256, 3, None, 4000), (256, 3, 100, 10_000), (64, 3, 10_000, 10_000), (256, 1, None, 10_000),
     (128, 4, 500, 10_000), (32, 2, None, 10_000), (200, 2, 7, 3000), (96, 5, 300, 6000)],
)  # fmt: skip
def test_the_model_of_a_sessions_memory_holds_against_tracemalloc(
    tmp_path: Path, shape: tuple[int, int, int | None, int]
) -> None:
    settings = Settings(data_dir=tmp_path, max_session_bytes=10**12)
    with TestClient_manager(settings) as manager:
        cost, modelled = measured_bytes(manager, body(*shape))
    assert 0.9 * cost <= modelled <= 1.1 * cost, (cost, modelled)


class TestClient_manager:  # noqa: N801 - reads as what it gives
    """A manager on its own store, closed at the end."""

    def __init__(self, settings: Settings) -> None:
        from app.service.store import open_store

        self.store = open_store(settings.data_dir, "")
        self.manager = SessionManager(settings, self.store)

    def __enter__(self) -> SessionManager:
        return self.manager

    def __exit__(self, *_: object) -> None:
        self.store.close()


def test_a_session_over_the_budget_is_refused_at_create_naming_the_field(
    client: TestClient,
) -> None:
    refused = client.post("/api/sessions", json=body(256, 3, None))  # ~130 MB: the red team's
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "model.batch_size"
    assert "max_session_bytes" in refused.json()["detail"]
    assert client.post("/api/sessions", json=body(256, 3, 100)).status_code == 201


def test_a_batch_size_change_past_the_budget_is_refused_and_changes_nothing(
    client: TestClient,
) -> None:
    created = client.post("/api/sessions", json=body(256, 3, 100)).json()
    auth = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/sessions/{created['id']}"
    refused = client.patch(url, json={"batch_size": None}, headers=auth)  # the full batch
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "batch_size"
    assert client.get(url, headers=auth).json()["batch_size"] == 100
    assert client.patch(url, json={"batch_size": 500}, headers=auth).status_code == 200


def test_the_budget_model_names_the_largest_part() -> None:
    wide = SessionShape([256, 256, 256, 1], 2, 8000, 10_000, None)
    assert max(wide.parts(), key=lambda k: wide.parts()[k]) == "model.batch_size"
    assert wide.bytes() > Settings().max_session_bytes


def rss_after_settling(server: Any) -> int:
    time.sleep(1.5)  # release_memory trims at most once a second: the last trim comes then
    return server.rss_kib()


def test_memory_goes_back_after_large_sessions_are_deleted(tmp_path: Path) -> None:
    with (
        running_server(tmp_path) as server,
        httpx.Client(base_url=f"{server.http}/api", timeout=60) as http,
    ):

        def create_step() -> dict[str, Any]:
            created = http.post("/sessions", json=body(256, 3, 2000))
            assert created.status_code == 201, created.text
            session = created.json()
            auth = {"Authorization": f"Bearer {session['token']}"}
            stepped = http.post(
                f"/sessions/{session['id']}/step", json={"unit": "batch", "count": 1}, headers=auth
            )
            assert stepped.status_code == 200, stepped.text
            return session

        def delete(session: dict[str, Any]) -> None:
            auth = {"Authorization": f"Bearer {session['token']}"}
            assert http.delete(f"/sessions/{session['id']}", headers=auth).status_code == 204

        delete(create_step())  # warm: imports, caches and the first arenas
        before = rss_after_settling(server)
        sessions = [create_step() for _ in range(4)]
        held = server.rss_kib()
        for session in sessions:
            delete(session)
        after = rss_after_settling(server)
    assert held > before + 100_000, (before, held)  # they did cost memory (> 100 MB)
    assert after <= 1.2 * before, (before, held, after)
