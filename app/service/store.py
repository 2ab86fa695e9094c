"""Sessions and uploaded datasets in SQLite (stdlib ``sqlite3``): one file, no server.

A session is stored as its export (JSON, floats shortest-round-trip, so weights come back
bit-exact) beside its tokens. WAL mode, so a reader never waits on the writer, and
``synchronous=FULL``, so a row stored before the API answered survives ``kill -9``.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    watch_token TEXT NOT NULL,
    export BLOB NOT NULL,
    last_used REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL
);
"""


def dumps(value: Any) -> bytes:
    """JSON bytes; NumPy arrays allowed; NaN and infinity become null."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class Store:
    """A thread-safe handle on the SQLite file under ``data_dir``."""

    def __init__(self, data_dir: Path) -> None:
        data_dir.mkdir(parents=True, exist_ok=True)
        self.path = data_dir / "playground.sqlite3"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.executescript(SCHEMA)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def save_session(self, exported: dict[str, Any], token: str, watch_token: str) -> None:
        body = dumps(exported)
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)",
                (exported["id"], token, watch_token, body, time.time()),
            )

    def load_session(self, session_id: str) -> tuple[dict[str, Any], str, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT export, token, watch_token FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            return None
        return orjson.loads(row[0]), row[1], row[2]

    def delete_session(self, session_id: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def count_sessions(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM sessions").fetchone()[0])

    def expire_sessions(self, older_than: float, keep: Collection[str] = ()) -> list[str]:
        """Delete sessions unused since ``older_than`` (a time.time()), except the ids in
        ``keep``; return the deleted ids."""
        with self._transaction() as db:
            ids = [
                row[0]
                for row in db.execute("SELECT id FROM sessions WHERE last_used < ?", (older_than,))
                if row[0] not in keep
            ]
            db.executemany("DELETE FROM sessions WHERE id = ?", [(sid,) for sid in ids])
        return ids

    def save_dataset(self, dataset_id: str, name: str, table: dict[str, Any]) -> None:
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO datasets VALUES (?, ?, ?, ?)",
                (dataset_id, name, dumps(table), time.time()),
            )

    def load_dataset(self, dataset_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT body FROM datasets WHERE id = ?", (dataset_id,)
            ).fetchone()
        return None if row is None else orjson.loads(row[0])

    def list_datasets(self) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._db.execute("SELECT id, name, created FROM datasets ORDER BY created")
            return [{"id": r[0], "name": r[1], "created": r[2]} for r in rows]

    def count_datasets(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM datasets").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._db.close()
