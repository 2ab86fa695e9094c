"""The store's contract, held by both backends (the SQLite file and PostgreSQL): sessions
saved, loaded, replaced and deleted; uploads with owners, per-client counts and expiry;
unreadable rows set aside; every change kept after the store is closed and opened again; and
saves racing never leaving an older export."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from stores import run_sql

from app.service.manager import SessionManager
from app.service.store import Store, open_store
from app.settings import Settings


def opened(settings: Settings) -> Store:
    return open_store(settings.data_dir, settings.database_url)


@pytest.fixture
def store(any_store_settings: Settings) -> Iterator[Store]:
    store = opened(any_store_settings)
    yield store
    store.close()


def export_of(session_id: str, value: float) -> dict[str, Any]:
    return {"id": session_id, "format": "test", "weights": [value, -0.0, 1e-300, 2.0**0.5]}


def test_sessions_are_saved_loaded_replaced_and_deleted(
    store: Store, any_store_settings: Settings
) -> None:
    assert store.load_session("a") is None and store.count_sessions() == 0
    store.save_session(export_of("a", 0.1), "token-a", "watch-a")
    store.save_session(export_of("b", 0.2), "token-b", "watch-b")
    assert store.load_session("a") == (export_of("a", 0.1), "token-a", "watch-a")
    store.save_session(export_of("a", 0.3), "token-a", "watch-a")  # replaces, one row
    assert store.count_sessions() == 2
    assert store.load_session("a") == (export_of("a", 0.3), "token-a", "watch-a")
    assert store.delete_session("a") is True
    assert store.delete_session("a") is False
    store.close()
    again = opened(any_store_settings)  # committed: a new connection sees exactly this
    try:
        assert again.load_session("a") is None
        assert again.load_session("b") == (export_of("b", 0.2), "token-b", "watch-b")
        assert again.count_sessions() == 1
    finally:
        again.close()


def test_idle_sessions_expire_except_those_kept(store: Store) -> None:
    for session_id in ("old", "kept", "new"):
        store.save_session(export_of(session_id, 1.0), "t", "w")
    cutoff = time.time() + 1  # all three are older than this
    store.save_session(export_of("new", 1.0), "t", "w")
    assert store.expire_sessions(time.time() - 3600) == []
    assert sorted(store.expire_sessions(cutoff, keep={"kept"})) == ["new", "old"]
    assert store.count_sessions() == 1 and store.load_session("kept") is not None


def test_uploads_belong_to_their_owner_count_per_client_and_expire(store: Store) -> None:
    table = {"columns": ["a", "y"], "rows": [[1.5, 0], [2.5, 1]]}
    store.save_dataset("d1", "first", table, "alice", "10.0.0.1")
    store.save_dataset("d2", "second", table, "alice", "10.0.0.1")
    store.save_dataset("d3", "bobs", table, "bob", "10.0.0.2")
    store.save_dataset("d4", "nobodys", table, "", "10.0.0.3")  # from before private uploads
    assert store.load_dataset("d1") == ("alice", table)
    assert store.load_dataset("missing") is None
    assert [d["id"] for d in store.list_datasets("alice")] == ["d1", "d2"]
    assert [d["name"] for d in store.list_datasets("bob")] == ["bobs"]
    assert store.list_datasets("") == [] and not store.owner_exists("")
    assert store.owner_exists("alice") and not store.owner_exists("carol")
    assert (store.count_datasets(), store.count_datasets("10.0.0.1")) == (4, 2)
    assert store.count_datasets("10.9.9.9") == 0

    later = time.time() + 1
    time.sleep(1.1)
    # A session saved on d2 marks it used: only the others are past the cutoff.
    store.save_session(export_of("s", 1.0), "t", "w", upload="d2")
    assert sorted(store.expire_datasets(later)) == ["d1", "d3", "d4"]
    assert store.load_dataset("d2") == ("alice", table)
    assert store.delete_dataset("d2") is True and store.delete_dataset("d2") is False
    assert store.count_datasets() == 0


def test_an_unreadable_session_row_is_found_and_set_aside(
    store: Store, any_store_settings: Settings
) -> None:
    store.save_session(export_of("bad", 1.0), "token-bad", "watch-bad")
    store.save_session(export_of("good", 1.0), "token-good", "watch-good")
    run_sql(any_store_settings, "UPDATE sessions SET export = ? WHERE id = ?", (b"\xff{", "bad"))
    with pytest.raises(ValueError):
        store.load_session("bad")
    ((found, reason),) = store.unparsable_sessions()
    assert found == "bad" and reason.startswith("not JSON")

    store.set_aside("bad", reason)
    assert store.load_session("bad") is None
    assert store.damaged_session("bad") == ("token-bad", "watch-bad", reason)
    assert store.damaged_ids() == ["bad"] and store.count_sessions() == 1
    kept = run_sql(any_store_settings, "SELECT export FROM damaged_sessions WHERE id = ?", ("bad",))
    assert bytes(kept[0][0]) == b"\xff{"  # the row is kept, as it was, for inspection
    assert store.unparsable_sessions() == []
    assert store.delete_damaged("bad") is True and store.delete_damaged("bad") is False
    assert store.damaged_ids() == [] and store.damaged_session("bad") is None


def test_a_closed_store_refuses_calls_with_its_drivers_error(any_store_settings: Settings) -> None:
    store = opened(any_store_settings)
    store.close()
    with pytest.raises(store.errors):
        store.count_sessions()


def test_racing_saves_never_leave_an_older_export(any_store_settings: Settings) -> None:
    """Threads step one session and save it, each as soon as it has stepped; whatever order
    the writes land in, the stored export is the session's last."""
    manager = SessionManager(any_store_settings, opened(any_store_settings))
    try:
        session = manager.create({"preset": "lesson-003-xor"})
        errors: list[BaseException] = []

        def step_and_save() -> None:
            try:
                for _ in range(15):
                    with session.lock:
                        session.step("batch", 1)
                    manager.save(session)
            except BaseException as error:  # reported below
                errors.append(error)

        threads = [threading.Thread(target=step_and_save) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        stored = manager.store.load_session(session.id)
        assert stored is not None
        assert stored[0] == {**session.export(), "session_version": session.version}
        assert stored[0]["model"]["step"] == 60
    finally:
        manager.store.close()


# ----- PostgreSQL only: shared by several processes, and surviving a restart of the server ---


def test_two_handles_on_one_database_see_each_others_changes(postgres_url: str) -> None:
    """Two web processes on one PostgreSQL: what one commits, the other reads."""
    one, other = open_store(Path("unused"), postgres_url), open_store(Path("unused"), postgres_url)
    try:
        one.save_session(export_of("shared", 0.5), "t", "w")
        assert other.load_session("shared") == (export_of("shared", 0.5), "t", "w")
        assert other.delete_session("shared") is True
        assert one.load_session("shared") is None
    finally:
        one.close()
        other.close()


def test_a_broken_connection_is_opened_again(postgres: Any, postgres_url: str) -> None:
    """The database dropped the connection (it restarted): the next call opens a new one."""
    store = open_store(Path("unused"), postgres_url)
    try:
        store.save_session(export_of("kept", 0.5), "t", "w")
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            ended = admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (database,),
            ).fetchall()
        assert ended == [(True,)]
        assert store.load_session("kept") == (export_of("kept", 0.5), "t", "w")
        store.save_session(export_of("after", 0.5), "t", "w")
        assert store.count_sessions() == 2
    finally:
        store.close()


def test_a_change_whose_connection_broke_is_never_reported_done(
    postgres: Any, postgres_url: str
) -> None:
    """The connection dies inside a transaction: the change raises (the API answers an
    error), is not in the database, and the next call works on a new connection."""
    store = open_store(Path("unused"), postgres_url)
    database = postgres_url.rsplit("/", 1)[1]
    try:
        with pytest.raises(psycopg.OperationalError), store._transaction():
            store._execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?)", ("lost", "t", "w", b"{}", 0.0)
            )
            with psycopg.connect(postgres.url(), autocommit=True) as admin:
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                    (database,),
                )
        assert store.load_session("lost") is None
        store.save_session(export_of("next", 0.5), "t", "w")
        assert store.count_sessions() == 1
    finally:
        store.close()
