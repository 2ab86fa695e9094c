"""Several processes on one store, each hosting some sessions (app.cluster's workers): a
process loads a session it did not create from the store, and expires only the stored
sessions it hosts — another's may be live there."""

from __future__ import annotations

from stores import run_sql

from app.service.manager import SessionManager
from app.service.store import open_store
from app.settings import Settings


def manager_on(settings: Settings) -> SessionManager:
    return SessionManager(settings, open_store(settings.data_dir, settings.database_url))


def test_a_process_loads_a_session_another_created(any_store_settings: Settings) -> None:
    maker, host = manager_on(any_store_settings), manager_on(any_store_settings)
    session = maker.create({"preset": "xor"})
    session.step("batch", 4)
    maker.save(session)
    maker.forget(session.id)
    assert maker.loaded() == []
    loaded = host.get(session.id)
    assert loaded.model.step == 4
    assert loaded.export()["model"] == session.export()["model"]


def test_expiry_deletes_only_the_stored_sessions_this_process_hosts(
    any_store_settings: Settings,
) -> None:
    first = manager_on(any_store_settings)
    mine, theirs = first.create({"preset": "xor"}), first.create({"preset": "xor"})
    for session in (mine, theirs):
        first.forget(session.id)
    run_sql(any_store_settings, "UPDATE sessions SET last_used = 0")  # both idle for ages
    worker = manager_on(any_store_settings)
    worker.hosts = lambda session_id: session_id == mine.id
    assert worker.expire_idle() == [mine.id]
    web = manager_on(any_store_settings)
    web.hosts = lambda session_id: False
    assert web.expire_idle() == []
    assert worker.store.load_session(mine.id) is None
    assert worker.store.load_session(theirs.id) is not None
    everyone = manager_on(any_store_settings)  # the one-process default: hosts all
    assert everyone.expire_idle() == [theirs.id]
