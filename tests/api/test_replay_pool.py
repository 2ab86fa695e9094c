"""Rewind and branch replays (…/at, …/branch) run on a pool of their own (issue #21: every
costly read bounded and cancellable): off the threads other requests and /api/health use, at
most max_replay_per_client at once per browser, stopped by their time budget."""

from __future__ import annotations

import asyncio
import secrets
import threading
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from app.engine import ConfigError
from app.main import create_app
from app.service.history import Moment, Timeline
from app.service.manager import SessionManager
from app.service.store import open_store
from app.settings import Settings

BROWSER = secrets.token_urlsafe(16)  # one browser's id, as the server's cookie gives it
# A long stretch without a checkpoint: a rewind to its end replays every batch of it.
LONG_RUN = {"preset": "circle", "model": {"batch_size": 1}}
BATCHES = 20_000  # two step calls of 10,000 (max_units_per_step): about a second to replay


def made(client: TestClient, batches: int) -> tuple[str, dict[str, str]]:
    response = client.post("/api/sessions", json=LONG_RUN)
    assert response.status_code == 201, response.text
    answer = response.json()
    headers = {"Authorization": f"Bearer {answer['token']}"}
    for count in (min(batches, 10_000), batches - min(batches, 10_000)):
        if count:
            stepped = client.post(
                f"/api/sessions/{answer['id']}/step",
                json={"unit": "batch", "count": count},
                headers=headers,
            )
            assert stepped.status_code == 200, stepped.text
    return answer["id"], headers


def last_moment(client: TestClient, session_id: str, headers: dict[str, str]) -> dict[str, int]:
    """Now, as the timeline names it: every batch since the checkpoint to replay."""
    timeline = client.get(f"/api/sessions/{session_id}/timeline", headers=headers).json()
    now: dict[str, int] = timeline["now"]
    return now


def test_a_replay_runs_on_the_replay_pool_not_the_request_threads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    threads: list[str] = []
    original = Timeline.at

    def recording(self: Timeline, *args: Any, **kwargs: Any) -> Any:
        threads.append(threading.current_thread().name)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Timeline, "at", recording)
    with TestClient(create_app(Settings(data_dir=tmp_path))) as client:
        session_id, headers = made(client, 5)
        at = client.get(
            f"/api/sessions/{session_id}/at",
            params={"epoch": 0, "batch": 2, "include_trace": "false"},
            headers=headers,
        )
        assert at.status_code == 200, at.text
        branch = client.post(
            f"/api/sessions/{session_id}/branch",
            json={"epoch": 0, "batch": 3, "phase": 0},
            headers=headers,
        )
        assert branch.status_code == 201, branch.text
    assert len(threads) == 2 and all(name.startswith("replay") for name in threads), threads


def test_a_second_replay_of_one_browser_gets_a_429_naming_the_cap(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, timeline_checkpoint_every=100_000, max_replay_per_client=1
    )
    app = create_app(settings)
    with TestClient(app) as client:
        session_id, headers = made(client, BATCHES)
        moment = last_moment(client, session_id, headers)

        async def two_at_once() -> tuple[httpx.Response, httpx.Response, httpx.Response]:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://test", cookies={"bp_client": BROWSER}
            ) as http:
                url = f"/api/sessions/{session_id}/at"
                params = {**moment, "include_trace": "false"}
                first = asyncio.create_task(
                    http.get(url, params=params, headers=headers, timeout=60)
                )
                while app.state.pools is None or app.state.pools["replay"].admitted == 0:
                    await asyncio.sleep(0.005)
                second = await http.get(url, params=params, headers=headers)
                health = await http.get("/api/health", timeout=5)
                return await first, second, health

        first, second, health = asyncio.run(two_at_once())
    assert first.status_code == 200, first.text
    assert first.json()["state"]["step"] == BATCHES
    assert second.status_code == 429, second.text
    assert second.json()["field"] == "client"
    assert "max_replay_per_client" in second.json()["detail"]
    assert second.headers["Retry-After"]
    assert health.status_code == 200


def test_a_replay_stops_when_its_job_says_so(tmp_path: Path) -> None:
    """The job's should_stop (its budget spent, its caller gone, the server stopping) ends the
    replay at its next batch with a 422-kind error, as the time budget always did."""
    manager = SessionManager(Settings(data_dir=tmp_path), open_store(tmp_path))
    session = manager.create({"preset": "circle", "model": {"batch_size": 1}})
    session.step("batch", 50)
    asked: list[int] = []

    def stop_after_ten() -> bool:
        asked.append(session.model.step)
        return len(asked) > 10

    with pytest.raises(ConfigError) as refused:
        session.timeline.at(session, Moment(0, 49, 0), lambda s: s.model.step, stop_after_ten)
    assert refused.value.field == "batch" and "batches still to go" in refused.value.message
    assert len(asked) == 11  # asked after each replayed batch, stopped at the first True
