"""A shared store: a PostgreSQL database (driver: psycopg 3, the ``[cluster]`` extra).

Several web processes, on any machines, may open the same database; the first one to start
makes the tables (under an advisory lock, so two starting at once do not collide). Each
process keeps one connection, in autocommit mode: every change is its own transaction,
committed (PostgreSQL's default ``synchronous_commit=on``) before the call returns. A
connection that breaks (the database restarted) is opened again at the next call.
The password in the URL is never written to a message or a log.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

from .store import Cursor, Store, StoreUnusableError

EXTRA = "pip install 'backprop-playground[cluster]'"

try:
    import psycopg
    from psycopg.conninfo import conninfo_to_dict
except ImportError:
    raise StoreUnusableError(
        f"a postgresql:// database URL needs the PostgreSQL driver (psycopg): {EXTRA}"
    ) from None

CONNECT_TIMEOUT_SECONDS = 10
SCHEMA_LOCK = 0x706C6179  # any constant: the advisory lock the table-making start holds

SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    watch_token TEXT NOT NULL,
    export BYTEA NOT NULL,
    last_used DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS damaged_sessions (
    id TEXT PRIMARY KEY,
    token TEXT NOT NULL,
    watch_token TEXT NOT NULL,
    export BYTEA,
    reason TEXT NOT NULL,
    set_aside DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS datasets (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    body BYTEA NOT NULL,
    created DOUBLE PRECISION NOT NULL,
    owner TEXT NOT NULL DEFAULT '',
    client TEXT NOT NULL DEFAULT '',
    last_used DOUBLE PRECISION NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS datasets_owner ON datasets (owner);
CREATE INDEX IF NOT EXISTS datasets_client ON datasets (client);
"""


def describe(url: str) -> tuple[str, str]:
    """(user@host:port/database, the password or ""): where the URL points, in words that
    never hold the password; StoreUnusableError for a URL that does not parse."""
    try:
        parts = conninfo_to_dict(url)
    except psycopg.Error:
        raise StoreUnusableError(
            "the database URL does not parse: write it as "
            "postgresql://USER:PASSWORD@HOST:PORT/DATABASE"
        ) from None
    user = parts.get("user") or "(default user)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    database = parts.get("dbname") or user
    return f"{user}@{host}:{port}/{database}", str(parts.get("password") or "")


def one_line(error: BaseException, password: str) -> str:
    """The driver's message on one line, the password (should it appear) masked."""
    text = " ".join(str(error).split())
    return text.replace(password, "***") if password else text


class PostgresStore(Store):
    """A PostgreSQL database, one connection per process."""

    errors: ClassVar[tuple[type[Exception], ...]] = (psycopg.Error, StoreUnusableError)

    def __init__(self, url: str) -> None:
        super().__init__()
        self._url = url
        self._where, self._password = describe(url)
        self._closed = False
        self._db = self._connect()
        try:
            with self._transaction():
                self._execute("SELECT pg_advisory_xact_lock(?)", (SCHEMA_LOCK,))
                self._db.execute(SCHEMA)
        except psycopg.Error as error:
            self._db.close()
            raise StoreUnusableError(
                f"PostgreSQL at {self._where} would not make the store's tables "
                f"({one_line(error, self._password)}): the user needs CREATE on the database"
            ) from None

    def _connect(self) -> psycopg.Connection[tuple[Any, ...]]:
        options: dict[str, Any] = {"autocommit": True}
        if "connect_timeout" not in self._url:
            options["connect_timeout"] = CONNECT_TIMEOUT_SECONDS
        try:
            return psycopg.connect(self._url, **options)
        except psycopg.Error as error:
            reason = one_line(error, self._password)
            if "password" in reason or "authentication" in reason:
                todo = "check the user and password in the database URL"
            elif "does not exist" in reason:
                todo = "create the database, or name another in the database URL"
            else:
                todo = "start it, or check the host and port in the database URL"
            raise StoreUnusableError(
                f"cannot reach PostgreSQL at {self._where} ({reason}): {todo}"
            ) from None

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Cursor:
        query = sql.replace("?", "%s")
        if self._closed or self._in_transaction:
            return self._db.execute(query, params)
        # Outside a transaction (a read, or the BEGIN of a change) a broken connection (the
        # database restarted) is opened again and the statement tried once more.
        if self._db.closed:
            self._db = self._connect()
        try:
            return self._db.execute(query, params)
        except psycopg.OperationalError:
            if not self._db.closed:
                raise
            self._db = self._connect()
            return self._db.execute(query, params)

    def _close(self) -> None:
        self._closed = True
        self._db.close()
