"""The default store: a SQLite file in the data folder (stdlib ``sqlite3``), no server.

WAL mode, so a reader never waits on the writer, and ``synchronous=FULL``, so a row stored
before the API answered survives ``kill -9``.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from .store import Cursor, Store, StoreUnusableError

FILE_NAME = "playground.sqlite3"

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


class SqliteStore(Store):
    """The SQLite file ``playground.sqlite3`` under ``data_dir``, one connection."""

    errors: ClassVar[tuple[type[Exception], ...]] = (sqlite3.Error,)
    begin: ClassVar[str] = "BEGIN IMMEDIATE"  # take the write lock now, not at the first write

    def __init__(self, data_dir: Path) -> None:
        super().__init__()
        open_data_dir(data_dir)
        self.path = data_dir / FILE_NAME
        self._db = connect(self.path)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        return self._db.execute(sql, params)

    def _close(self) -> None:
        self._db.close()
