"""The session and upload store: one interface, the same SQL on two backends.

- no database URL: a SQLite file in the data folder (``sqlite_store.py``), nothing to set up;
- a ``postgresql://`` URL: a PostgreSQL database (``postgres_store.py``) that several web
  processes, on any machines, can share.

A session is stored as its export (JSON, floats shortest-round-trip, so weights come back
bit-exact) beside its tokens. Every change is one transaction, committed before the call
returns: a change the API answered survives the server's ``kill -9``.
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, ClassVar, Protocol

import orjson

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def dumps(value: Any) -> bytes:
    """JSON bytes; NumPy arrays allowed; NaN and infinity become null."""
    return orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS)


class StoreUnusableError(RuntimeError):
    """The store cannot be opened at all; the message is one line: which store, what is
    wrong, what to do."""


class Cursor(Protocol):
    """What a backend's ``_execute`` returns (a DB-API cursor)."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...


class Store(ABC):
    """A thread-safe handle on the store; a backend opens the connection and runs the SQL.

    The SQL is written once, with ``?`` placeholders, in the dialect SQLite and PostgreSQL
    share (``INSERT … ON CONFLICT … DO UPDATE``). A session row that cannot be read is set
    aside (``set_aside``) into ``damaged_sessions``: the rest keeps working, health lists it,
    its owner may delete it.
    """

    #: What the driver raises when the store does not answer (health turns it into a 503).
    errors: ClassVar[tuple[type[Exception], ...]]
    #: The statement that opens a write transaction.
    begin: ClassVar[str] = "BEGIN"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._in_transaction = False

    @abstractmethod
    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        """Run one statement (``?`` placeholders) on the connection; the caller holds the lock."""

    @abstractmethod
    def _close(self) -> None: ...

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        """One transaction; the COMMIT runs on the connection that ran the rest (it is never
        retried elsewhere), so a change is reported done only once it was committed."""
        with self._lock:
            self._execute(self.begin)
            self._in_transaction = True
            try:
                yield
                self._execute("COMMIT")
            except BaseException:
                with suppress(*self.errors):  # the transaction's own error is the one to raise
                    self._execute("ROLLBACK")
                raise
            finally:
                self._in_transaction = False

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._lock:
            return self._execute(sql, params).fetchone()

    def _all(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            return self._execute(sql, params).fetchall()

    # ----- sessions ------------------------------------------------------------------------

    def save_session(
        self, exported: dict[str, Any], token: str, watch_token: str, upload: str | None = None
    ) -> None:
        """Store the export; ``upload``: the uploaded dataset it was made from, still in use."""
        body = dumps(exported)
        now = time.time()
        with self._transaction():
            self._execute(
                "INSERT INTO sessions (id, token, watch_token, export, last_used) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET token = excluded.token, "
                "watch_token = excluded.watch_token, export = excluded.export, "
                "last_used = excluded.last_used",
                (exported["id"], token, watch_token, body, now),
            )
            if upload is not None:
                self._execute("UPDATE datasets SET last_used = ? WHERE id = ?", (now, upload))

    def load_session(self, session_id: str) -> tuple[dict[str, Any], str, str] | None:
        """The stored export and the two tokens; orjson.JSONDecodeError for a damaged row."""
        row = self._one(
            "SELECT export, token, watch_token FROM sessions WHERE id = ?", (session_id,)
        )
        if row is None:
            return None
        return orjson.loads(row[0]), row[1], row[2]

    def unparsable_sessions(self) -> list[tuple[str, str]]:
        """(id, reason) of every stored session whose export is not JSON."""
        ids = [row[0] for row in self._all("SELECT id FROM sessions")]
        found = []
        for session_id in ids:  # one row at a time: a large store is never held whole
            row = self._one("SELECT export FROM sessions WHERE id = ?", (session_id,))
            try:
                if row is not None:
                    orjson.loads(row[0])
            except orjson.JSONDecodeError as error:
                found.append((session_id, f"not JSON: {error}"))
        return found

    def set_aside(self, session_id: str, reason: str) -> None:
        """Move an unreadable session row to ``damaged_sessions`` (kept for inspection)."""
        with self._transaction():
            self._execute(
                "INSERT INTO damaged_sessions (id, token, watch_token, export, reason, set_aside) "
                "SELECT id, token, watch_token, export, ?, ? FROM sessions WHERE id = ? "
                "ON CONFLICT (id) DO UPDATE SET token = excluded.token, "
                "watch_token = excluded.watch_token, export = excluded.export, "
                "reason = excluded.reason, set_aside = excluded.set_aside",
                (reason[:500], time.time(), session_id),
            )
            self._execute("DELETE FROM sessions WHERE id = ?", (session_id,))

    def damaged_session(self, session_id: str) -> tuple[str, str, str] | None:
        """(token, watch_token, reason) of a set-aside session."""
        row = self._one(
            "SELECT token, watch_token, reason FROM damaged_sessions WHERE id = ?", (session_id,)
        )
        return None if row is None else (row[0], row[1], row[2])

    def damaged_ids(self) -> list[str]:
        return [row[0] for row in self._all("SELECT id FROM damaged_sessions ORDER BY id")]

    def delete_damaged(self, session_id: str) -> bool:
        with self._transaction():
            deleted = self._execute("DELETE FROM damaged_sessions WHERE id = ?", (session_id,))
            return deleted.rowcount > 0

    def delete_session(self, session_id: str) -> bool:
        with self._transaction():
            return self._execute("DELETE FROM sessions WHERE id = ?", (session_id,)).rowcount > 0

    def count_sessions(self) -> int:
        return int(self._one("SELECT COUNT(*) FROM sessions")[0])

    def expire_sessions(self, older_than: float, keep: Collection[str] = ()) -> list[str]:
        """Delete sessions unused since ``older_than`` (a time.time()), except the ids in
        ``keep``; return the deleted ids."""
        with self._transaction():
            rows = self._execute(
                "SELECT id FROM sessions WHERE last_used < ?", (older_than,)
            ).fetchall()
            ids = [row[0] for row in rows if row[0] not in keep]
            for session_id in ids:
                self._execute("DELETE FROM sessions WHERE id = ?", (session_id,))
        return ids

    # ----- uploads -------------------------------------------------------------------------

    def save_dataset(
        self, dataset_id: str, name: str, table: dict[str, Any], owner: str, client: str
    ) -> None:
        """Store an upload of ``owner`` (its token), made by ``client`` (a ``ClientKey.key``)."""
        now = time.time()
        with self._transaction():
            self._execute(
                "INSERT INTO datasets (id, name, body, created, owner, client, last_used) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
                "name = excluded.name, body = excluded.body, created = excluded.created, "
                "owner = excluded.owner, client = excluded.client, "
                "last_used = excluded.last_used",
                (dataset_id, name, dumps(table), now, owner, client, now),
            )

    def load_dataset(self, dataset_id: str) -> tuple[str, dict[str, Any]] | None:
        """(owner token, table) of an upload."""
        row = self._one("SELECT owner, body FROM datasets WHERE id = ?", (dataset_id,))
        return None if row is None else (row[0], orjson.loads(row[1]))

    def list_datasets(self, owner: str) -> list[dict[str, Any]]:
        """The uploads of one owner, oldest first."""
        rows = self._all(
            "SELECT id, name, created FROM datasets WHERE owner = ? AND owner != '' "
            "ORDER BY created",
            (owner,),
        )
        return [{"id": r[0], "name": r[1], "created": r[2]} for r in rows]

    def owner_exists(self, owner: str) -> bool:
        row = self._one("SELECT 1 FROM datasets WHERE owner = ? AND owner != '' LIMIT 1", (owner,))
        return row is not None

    def count_datasets(self, client: str | None = None, address: str | None = None) -> int:
        """Every upload, those of one client (its ``ClientKey.key``: "address id"), or those
        of every client of one address."""
        if client is not None:
            row = self._one("SELECT COUNT(*) FROM datasets WHERE client = ?", (client,))
        elif address is not None:
            row = self._one(
                "SELECT COUNT(*) FROM datasets WHERE client = ? OR substr(client, 1, ?) = ?",
                (address, len(address) + 1, address + " "),
            )
        else:
            row = self._one("SELECT COUNT(*) FROM datasets")
        return int(row[0])

    def delete_dataset(self, dataset_id: str) -> bool:
        with self._transaction():
            return self._execute("DELETE FROM datasets WHERE id = ?", (dataset_id,)).rowcount > 0

    def expire_datasets(self, older_than: float) -> list[str]:
        """Delete uploads no session has used since ``older_than``; return their ids."""
        with self._transaction():
            rows = self._execute(
                "SELECT id FROM datasets WHERE last_used < ?", (older_than,)
            ).fetchall()
            self._execute("DELETE FROM datasets WHERE last_used < ?", (older_than,))
        return [row[0] for row in rows]

    def close(self) -> None:
        with self._lock:
            self._close()


def open_store(data_dir: Path, database_url: str = "") -> Store:
    """The store the settings name: PostgreSQL for a ``postgresql://`` URL, else the SQLite
    file in ``data_dir``; StoreUnusableError (one line) when it cannot be opened."""
    if not database_url:
        from .sqlite_store import SqliteStore

        return SqliteStore(data_dir)
    if not database_url.startswith(POSTGRES_SCHEMES):
        scheme = database_url.split(":", 1)[0][:20]
        raise StoreUnusableError(
            f"the database URL must start with postgresql:// (got {scheme!r}): "
            "leave it empty for the SQLite file in the data folder"
        )
    from .postgres_store import PostgresStore

    return PostgresStore(database_url)
