"""Sessions and uploaded datasets in SQLite (stdlib ``sqlite3``): one file, no server.

A session is stored as its export (JSON, floats shortest-round-trip, so weights come back
bit-exact) beside its tokens. WAL mode, so a reader never waits on the writer, and
``synchronous=FULL``, so a row stored before the API answered survives ``kill -9``.
"""

from __future__ import annotations

import os
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
CREATE TABLE IF NOT EXISTS damaged_sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    watch_token TEXT NOT NULL,
    export BLOB,
    reason TEXT NOT NULL,
    set_aside REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    body BLOB NOT NULL,
    created REAL NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    last_used REAL NOT NULL DEFAULT 0
);
"""
# Columns added since the first release: (table, column, definition). A store made before
# gets them on open; its old uploads belong to nobody and expire at the next sweep.
ADDED_COLUMNS = [
    ("datasets", "owner", "TEXT NOT NULL DEFAULT ''"),
    ("datasets", "client", "TEXT NOT NULL DEFAULT ''"),
    ("datasets", "last_used", "REAL NOT NULL DEFAULT 0"),
]


def dumps(value: Any) -> bytes:
    """JSON bytes; NumPy arrays allowed; NaN and infinity become null."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class StoreUnusableError(RuntimeError):
    """The store cannot be opened at all; the message is one line: which file, what is
    wrong, what to do."""


def open_data_dir(data_dir: Path) -> None:
    """The data folder, made if missing; StoreUnusableError when it is not a writable folder."""
    if data_dir.exists() and not data_dir.is_dir():
        raise StoreUnusableError(
            f"the data folder {data_dir} is a file, not a folder: "
            "move the file away or choose another --data-dir"
        )
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise StoreUnusableError(
            f"cannot create the data folder {data_dir} ({error.strerror or error}): "
            "create it, or choose another --data-dir"
        ) from None
    if not os.access(data_dir, os.W_OK | os.X_OK):
        raise StoreUnusableError(
            f"the data folder {data_dir} is read-only for this user: "
            "make it writable, or choose another --data-dir"
        )


def connect(path: Path) -> sqlite3.Connection:
    """The SQLite file opened, in WAL mode, its tables made; StoreUnusableError otherwise."""
    db: sqlite3.Connection | None = None
    try:
        db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.executescript(SCHEMA)
        for table, column, definition in ADDED_COLUMNS:
            present = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            if column not in present:
                db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
        db.execute("SELECT COUNT(*) FROM sessions").fetchone()
    except sqlite3.Error as error:
        if db is not None:
            db.close()
        message = str(error)
        if "readonly" in message or "unable to open" in message:
            raise StoreUnusableError(
                f"cannot write the database {path} ({message}): "
                "make it and its folder writable, or choose another --data-dir"
            ) from None
        raise StoreUnusableError(
            f"the database {path} is damaged ({message}): move it aside to start with an "
            "empty store, or put back a backup"
        ) from None
    return db


class Store:
    """A thread-safe handle on the SQLite file under ``data_dir``.

    A session row that cannot be read is set aside (``set_aside``) into
    ``damaged_sessions``: the rest keeps working, health lists it, its owner may delete it.
    """

    def __init__(self, data_dir: Path) -> None:
        open_data_dir(data_dir)
        self.path = data_dir / "playground.sqlite3"
        self._lock = threading.Lock()
        self._db = connect(self.path)

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

    def save_session(
        self, exported: dict[str, Any], token: str, watch_token: str, upload: str | None = None
    ) -> None:
        """Store the export; ``upload``: the uploaded dataset it was made from, still in use."""
        body = dumps(exported)
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO sessions VALUES (?, ?, ?, ?, ?)",
                (exported["id"], token, watch_token, body, now),
            )
            if upload is not None:
                db.execute("UPDATE datasets SET last_used = ? WHERE id = ?", (now, upload))

    def load_session(self, session_id: str) -> tuple[dict[str, Any], str, str] | None:
        """The stored export and the two tokens; orjson.JSONDecodeError for a damaged row."""
        with self._lock:
            row = self._db.execute(
                "SELECT export, token, watch_token FROM sessions WHERE id = ?", (session_id,)
            ).fetchone()
        if row is None:
            return None
        return orjson.loads(row[0]), row[1], row[2]

    def unparsable_sessions(self) -> list[tuple[str, str]]:
        """(id, reason) of every stored session whose export is not JSON."""
        with self._lock:
            ids = [row[0] for row in self._db.execute("SELECT id FROM sessions")]
        found = []
        for session_id in ids:  # one row at a time: a large store is never held whole
            with self._lock:
                row = self._db.execute(
                    "SELECT export FROM sessions WHERE id = ?", (session_id,)
                ).fetchone()
            try:
                if row is not None:
                    orjson.loads(row[0])
            except orjson.JSONDecodeError as error:
                found.append((session_id, f"not JSON: {error}"))
        return found

    def set_aside(self, session_id: str, reason: str) -> None:
        """Move an unreadable session row to ``damaged_sessions`` (kept for inspection)."""
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO damaged_sessions "
                "SELECT id, token, watch_token, export, ?, ? FROM sessions WHERE id = ?",
                (reason[:500], time.time(), session_id),
            )
            db.execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def damaged_session(self, session_id: str) -> tuple[str, str, str] | None:
        """(token, watch_token, reason) of a set-aside session."""
        with self._lock:
            row = self._db.execute(
                "SELECT token, watch_token, reason FROM damaged_sessions WHERE id = ?",
                (session_id,),
            ).fetchone()
        return None if row is None else (row[0], row[1], row[2])

    def damaged_ids(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT id FROM damaged_sessions")]

    def delete_damaged(self, session_id: str) -> bool:
        with self._transaction() as db:
            deleted = db.execute("DELETE FROM damaged_sessions WHERE id = ?", (session_id,))
            return deleted.rowcount > 0

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

    def save_dataset(
        self, dataset_id: str, name: str, table: dict[str, Any], owner: str, client: str
    ) -> None:
        """Store an upload of ``owner`` (its token), made from the address ``client``."""
        now = time.time()
        with self._transaction() as db:
            db.execute(
                "INSERT OR REPLACE INTO datasets (id, name, body, created, owner, client, "
                "last_used) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (dataset_id, name, dumps(table), now, owner, client, now),
            )

    def load_dataset(self, dataset_id: str) -> tuple[str, dict[str, Any]] | None:
        """(owner token, table) of an upload."""
        with self._lock:
            row = self._db.execute(
                "SELECT owner, body FROM datasets WHERE id = ?", (dataset_id,)
            ).fetchone()
        return None if row is None else (row[0], orjson.loads(row[1]))

    def list_datasets(self, owner: str) -> list[dict[str, Any]]:
        """The uploads of one owner, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, name, created FROM datasets WHERE owner = ? AND owner != '' "
                "ORDER BY created",
                (owner,),
            )
            return [{"id": r[0], "name": r[1], "created": r[2]} for r in rows]

    def owner_exists(self, owner: str) -> bool:
        with self._lock:
            row = self._db.execute(
                "SELECT 1 FROM datasets WHERE owner = ? AND owner != '' LIMIT 1", (owner,)
            ).fetchone()
        return row is not None

    def count_datasets(self, client: str | None = None) -> int:
        """Every upload, or those made from one client address."""
        with self._lock:
            if client is None:
                row = self._db.execute("SELECT COUNT(*) FROM datasets").fetchone()
            else:
                row = self._db.execute(
                    "SELECT COUNT(*) FROM datasets WHERE client = ?", (client,)
                ).fetchone()
        return int(row[0])

    def delete_dataset(self, dataset_id: str) -> bool:
        with self._transaction() as db:
            return db.execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0

    def expire_datasets(self, older_than: float) -> list[str]:
        """Delete uploads no session has used since ``older_than``; return their ids."""
        with self._transaction() as db:
            ids = [
                row[0]
                for row in db.execute("SELECT id FROM datasets WHERE last_used < ?", (older_than,))
            ]
            db.execute("DELETE FROM datasets WHERE last_used < ?", (older_than,))
        return ids

    def close(self) -> None:
        with self._lock:
            self._db.close()
