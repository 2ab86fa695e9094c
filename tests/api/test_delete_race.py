"""A DELETE that was answered is final: no call racing it brings the session back, in memory
or in the store (the SQLite file or PostgreSQL), before or after a restart."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from stores import run_sql

from app.settings import Settings

TRIALS = 50
STEPPERS = 3
STEPS_BEFORE_DELETE = 2  # each stepper has stepped this often when the DELETE is sent
MAX_CALLS = 400  # per stepper and trial: a bound, never reached when the DELETE works


@pytest.fixture
def settings(any_store_settings: Settings) -> Settings:
    """Every test here runs on the SQLite file, then on PostgreSQL."""
    return any_store_settings


def stored_ids(settings: Settings) -> set[str]:
    return {row[0] for row in run_sql(settings, "SELECT id FROM sessions")}


def delete_while_stepping(client: TestClient, session_id: str, token: str) -> None:
    """Steppers step (and read) the session; once each has stepped, it is deleted."""
    headers = {"Authorization": f"Bearer {token}"}
    url = f"/api/sessions/{session_id}"
    ready = threading.Barrier(STEPPERS + 1)
    failures: list[str] = []

    def stepper() -> None:
        waited = False
        for call in range(MAX_CALLS):
            if call % 3 == 2:
                answer = client.get(url, params={"include_trace": False}, headers=headers)
            else:
                answer = client.post(url + "/step", json={"unit": "batch"}, headers=headers)
            if answer.status_code == 404:
                break
            if answer.status_code != 200:
                failures.append(f"{answer.status_code} {answer.text[:200]}")
                break
            if call + 1 == STEPS_BEFORE_DELETE:
                ready.wait()
                waited = True
        if not waited:
            ready.abort()

    threads = [threading.Thread(target=stepper) for _ in range(STEPPERS)]
    for thread in threads:
        thread.start()
    ready.wait()
    deleted = client.delete(url, headers=headers)
    assert deleted.status_code == 204, deleted.text
    # From the moment the DELETE was answered, the session is gone for every caller.
    assert client.get(url, headers=headers).status_code == 404
    for thread in threads:
        thread.join()
    assert not failures, failures
    assert client.get(url, headers=headers).status_code == 404


def test_a_deleted_session_never_comes_back(
    settings: Settings, open_client: Callable[[Settings], TestClient]
) -> None:
    client = open_client(settings)
    deleted: list[tuple[str, str]] = []
    for _ in range(TRIALS):
        created = client.post("/api/sessions", json={"preset": "circle"}).json()
        delete_while_stepping(client, created["id"], created["token"])
        assert created["id"] not in stored_ids(settings)
        deleted.append((created["id"], created["token"]))
    client.__exit__(None, None, None)  # stop the first app: its store is closed

    assert stored_ids(settings).isdisjoint(sid for sid, _ in deleted)
    restarted = open_client(settings)
    for session_id, token in deleted:
        answer = restarted.get(
            f"/api/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 404, answer.text


def test_a_call_landing_inside_the_delete_cannot_store_the_session(
    settings: Settings, open_client: Callable[[Settings], TestClient]
) -> None:
    """A request that finds the session while DELETE is half done (out of memory, its row
    not yet removed) must neither load it again nor store it."""
    client = open_client(settings)
    created = client.post("/api/sessions", json={"preset": "circle"}).json()
    manager = client.app.state.manager  # type: ignore[attr-defined]
    session = manager.get(created["id"])
    found_meanwhile: list[object] = []

    def request_during_delete(_session: object, kind: str, _detail: object) -> None:
        if kind != "deleted":
            return
        try:
            again = manager.get(created["id"])
        except LookupError:
            return
        found_meanwhile.append(again)
        again.step("batch", 1)
        manager.save(again)

    session.add_listener(request_during_delete)
    client.delete(
        f"/api/sessions/{created['id']}", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert found_meanwhile == []
    assert created["id"] not in stored_ids(settings)
    answer = client.get(
        f"/api/sessions/{created['id']}", headers={"Authorization": f"Bearer {created['token']}"}
    )
    assert answer.status_code == 404
