"""The real command on PostgreSQL: ``--database-url`` serves from it; a database it cannot
use (nobody listening, a wrong password, no such database, no driver, not a PostgreSQL URL)
ends the command with one line naming what and where, never the password, and a non-zero
code, never a traceback."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from stores import run_sql
from ws.server import free_port

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
# The command, as a user without the [cluster] extra would run it: psycopg cannot be imported.
WITHOUT_DRIVER = (
    "import sys; sys.modules['psycopg'] = None; from app.cli import main; main(sys.argv[1:])"
)


def run_command(
    tmp_path: Path, *options: str, python: tuple[str, ...] = ("-m", "app")
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *python, "--data-dir", str(tmp_path / "data"), *options]
    return subprocess.run(
        [*command, "--port", str(free_port())], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def one_line(done: subprocess.CompletedProcess[str], *secrets: str) -> str:
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output and "serving" not in output, output
    assert len(output.splitlines()) == 1, output
    for secret in secrets:
        assert secret not in output, output
    return output


@pytest.mark.slow
def test_nobody_listening_is_named_with_its_address(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://teacher:s3cret-pw@127.0.0.1:{port}/playground"
    output = one_line(run_command(tmp_path, "--database-url", url), "s3cret-pw")
    assert f"cannot reach PostgreSQL at teacher@127.0.0.1:{port}/playground" in output
    assert "start it, or check the host and port" in output


@pytest.mark.slow
def test_a_wrong_password_is_named_without_either_password(postgres: Any, tmp_path: Path) -> None:
    url = postgres.url(password="wrong-pw-1234")
    output = one_line(
        run_command(tmp_path, "--database-url", url), "wrong-pw-1234", postgres.password
    )
    assert f"postgres@127.0.0.1:{postgres.port}/postgres" in output
    assert "password authentication failed" in output
    assert "check the user and password" in output


@pytest.mark.slow
def test_a_missing_database_is_named(postgres: Any, tmp_path: Path) -> None:
    url = postgres.url("no_such_db")
    output = one_line(run_command(tmp_path, "--database-url", url), postgres.password)
    assert f"127.0.0.1:{postgres.port}/no_such_db" in output
    assert "create the database" in output


@pytest.mark.slow
def test_without_the_driver_the_command_names_the_extra(tmp_path: Path) -> None:
    url = "postgresql://teacher:s3cret-pw@127.0.0.1:5432/playground"
    done = run_command(tmp_path, "--database-url", url, python=("-c", WITHOUT_DRIVER))
    output = one_line(done, "s3cret-pw")
    assert "pip install 'backprop-playground[cluster]'" in output


@pytest.mark.slow
def test_a_url_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    output = one_line(run_command(tmp_path, "--database-url", "mysql://u:s3cret-pw@db/x"))
    assert "must start with postgresql://" in output and "s3cret-pw" not in output


@pytest.mark.slow
def test_the_command_serves_from_postgresql(postgres_url: str, tmp_path: Path) -> None:
    """The option reaches the server: a session created over HTTP is a row in PostgreSQL,
    and nothing is written to the data folder."""
    port = free_port()
    data_dir = tmp_path / "data"
    options = ["--data-dir", str(data_dir), "--port", str(port), "--log-level", "debug"]
    process = subprocess.Popen(
        [sys.executable, "-m", "app", *options, "--database-url", postgres_url],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}/api"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, "did not start"
            time.sleep(0.1)
        created = httpx.post(f"{base}/sessions", json={"preset": "circle"}, timeout=30).json()
    finally:
        process.kill()
        output = process.communicate(timeout=10)[0].decode()
    settings = Settings(data_dir=data_dir, database_url=postgres_url)
    assert run_sql(settings, "SELECT id FROM sessions") == [(created["id"],)]
    assert not (data_dir / "playground.sqlite3").exists()
    assert postgres_url.split(":")[2].split("@")[0] not in output  # the password, never logged


def test_the_settings_never_show_the_database_password(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, database_url="postgresql://u:s3cret-pw@db/x")
    assert "s3cret-pw" not in repr(settings) and "s3cret-pw" not in str(settings)
