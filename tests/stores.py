"""The two store backends for tests: a PostgreSQL cluster of the tests' own, and raw SQL on
whichever store a ``Settings`` names (to damage or inspect rows behind the server's back).

The cluster is Debian's PostgreSQL (``make postgres-deps`` installs it): ``initdb`` into a
temporary folder of its own, run as the ``postgres`` OS user when the tests run as root,
listening on 127.0.0.1 and a free port only, with password logins; stopped and removed at the
end. The system's default cluster is never touched. ``fsync=off`` (the cluster is thrown away;
nothing here crashes PostgreSQL itself, so every commit is still a commit).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import sqlite3
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from ws.server import free_port

from app.settings import Settings

PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"


class PostgresUnavailableError(RuntimeError):
    """PostgreSQL could not be found or started: the PostgreSQL tests fail with this."""


def version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.parent.name))


def postgres_bin() -> Path:
    """The newest installed PostgreSQL's bin folder."""
    found = sorted(PG_ROOT.glob("*/bin/initdb"), key=version_key)
    if not found:
        raise PostgresUnavailableError(
            f"PostgreSQL is not installed (no {PG_ROOT}/*/bin/initdb): `make postgres-deps` "
            "installs Debian's postgresql package"
        )
    return found[-1].parent


class Cluster:
    """A running PostgreSQL of the tests' own; ``url(database)`` names one of its databases."""

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.password = "pw-" + secrets.token_hex(8)
        self.folder = Path(tempfile.mkdtemp(prefix="playground-postgres-"))
        self.data = self.folder / "data"
        self.as_user: list[str] = []
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            runuser = shutil.which("runuser")
            if runuser is None:
                raise PostgresUnavailableError("running as root, runuser is needed")
            self.as_user = [runuser, "-u", SUPERUSER, "--"]
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(self.folder, owner.pw_uid, owner.pw_gid)
        self.folder.chmod(0o700)

    def run(self, *command: str) -> None:
        done = subprocess.run(
            [*self.as_user, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if done.returncode != 0:
            log = self.folder / "log"
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise PostgresUnavailableError(
                f"{Path(command[0]).name} failed ({done.returncode}): "
                f"{done.stderr.strip()[-2000:]} {tail}"
            )

    def start(self) -> None:
        password_file = self.folder / "password"
        password_file.write_text(self.password + "\n")
        if self.as_user:
            owner = pwd.getpwnam(SUPERUSER)
            os.chown(password_file, owner.pw_uid, owner.pw_gid)
        self.run(
            str(self.bin / "initdb"),
            "--pgdata",
            str(self.data),
            "--username",
            SUPERUSER,
            "--pwfile",
            str(password_file),
            "--auth-local=scram-sha-256",
            "--auth-host=scram-sha-256",
            "--encoding=UTF8",
            "--no-sync",
        )
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} "
            f"-c unix_socket_directories={self.folder} -c fsync=off -c max_connections=200"
        )
        self.run(
            str(self.bin / "pg_ctl"),
            "--pgdata",
            str(self.data),
            "--options",
            options,
            "--log",
            str(self.folder / "log"),
            "--wait",
            "start",
        )

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            self.run(
                str(self.bin / "pg_ctl"), "--pgdata", str(self.data), "-m", "fast", "-w", "stop"
            )
        shutil.rmtree(self.folder, ignore_errors=True)

    def url(self, database: str = "postgres", password: str | None = None) -> str:
        secret = self.password if password is None else password
        return f"postgresql://{SUPERUSER}:{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self) -> str:
        """The URL of a new, empty database."""
        name = "t_" + secrets.token_hex(6)
        with psycopg.connect(self.url(), autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {name}")
        return self.url(name)


def start_cluster() -> Cluster:
    cluster = Cluster()
    try:
        cluster.start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


def run_sql(settings: Settings, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
    """Run one statement (``?`` placeholders) on the store ``settings`` names; its rows."""
    if settings.database_url:
        with psycopg.connect(settings.database_url, autocommit=True) as db:
            cursor = db.execute(sql.replace("?", "%s"), params)
            return cursor.fetchall() if cursor.description else []
    db = sqlite3.connect(settings.data_dir / "playground.sqlite3")
    try:
        with db:
            return db.execute(sql, params).fetchall()
    finally:
        db.close()
