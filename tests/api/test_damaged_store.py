"""A damaged store: an unreadable session row is set aside (the server starts, health says
``degraded`` and names it, its owner may delete it); a store that cannot be used at all ends
the real command with one clear line and a non-zero code, never a traceback."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from stores import run_sql
from ws.server import free_port

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DB_NAME = "playground.sqlite3"


@pytest.fixture
def settings(any_store_settings: Settings) -> Settings:
    """The damaged rows are set aside on the SQLite file, then on PostgreSQL."""
    return any_store_settings


def damage(settings: Settings, session_id: str, export: bytes) -> None:
    run_sql(settings, "UPDATE sessions SET export = ? WHERE id = ?", (export, session_id))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_an_unreadable_row_is_set_aside_reported_and_deletable(
    settings: Settings, open_client: Callable[[Settings], TestClient]
) -> None:
    first = open_client(settings)
    garbage, not_export, healthy = (
        first.post("/api/sessions", json={"preset": "circle"}).json() for _ in range(3)
    )
    first.__exit__(None, None, None)
    damage(settings, garbage["id"], b"\x00\xff{ truncated")
    damage(settings, not_export["id"], b'{"format": "something else"}')

    client = open_client(settings)  # starts on a store with two damaged rows
    health = client.get("/api/health").json()
    assert health["status"] == "degraded"
    assert health["damaged_sessions"] == [garbage["id"]]  # not JSON: found at start

    assert client.get(f"/api/sessions/{healthy['id']}", headers=bearer(healthy["token"])).is_success
    for broken in (garbage, not_export):
        url = f"/api/sessions/{broken['id']}"
        for suffix in ("", "/export", "/gradcheck"):
            answer = client.get(url + suffix, headers=bearer(broken["watch_token"]))
            assert answer.status_code == 409, answer.text
            assert "set aside" in answer.json()["detail"]
    # The export that is JSON but not a session was set aside when it was first read.
    assert sorted(client.get("/api/health").json()["damaged_sessions"]) == sorted(
        [garbage["id"], not_export["id"]]
    )

    for broken in (garbage, not_export):
        url = f"/api/sessions/{broken['id']}"
        assert client.delete(url, headers=bearer(broken["watch_token"])).status_code == 403
        assert client.delete(url, headers=bearer(healthy["token"])).status_code == 403
        assert client.delete(url, headers=bearer(broken["token"])).status_code == 204
        assert client.get(url, headers=bearer(broken["token"])).status_code == 404
    health = client.get("/api/health").json()
    assert (health["status"], health["damaged_sessions"], health["sessions_stored"]) == (
        "ok",
        [],
        1,
    )


# ----- a store that cannot be used: the real command, in a subprocess --------------------


def without_root_privileges() -> list[str]:
    """A prefix that runs a command without the power to ignore file permissions (root has
    it); nothing when not root."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.fail("running as root, setpriv is needed to drop CAP_DAC_OVERRIDE")
    return [setpriv, "--bounding-set=-dac_override,-dac_read_search", "--inh-caps=-all", "--"]


def run_command(
    data_dir: Path, prefix: list[str] | None = None
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "app", "--data-dir", str(data_dir)]
    return subprocess.run(
        [*(prefix or []), *command, "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def good_database(tmp_path: Path) -> bytes:
    """The bytes of a real store holding a few sessions."""
    settings = Settings(data_dir=tmp_path / "good")
    from app.main import create_app

    with TestClient(create_app(settings)) as client:
        for _ in range(5):
            client.post("/api/sessions", json={"preset": "spiral"})
    return (settings.data_dir / DB_NAME).read_bytes()


def truncated(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "truncated"
    data_dir.mkdir()
    content = good_database(tmp_path)
    (data_dir / DB_NAME).write_bytes(content[: len(content) // 3])
    return data_dir, data_dir / DB_NAME


def garbage(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "garbage"
    data_dir.mkdir()
    (data_dir / DB_NAME).write_bytes(b"this is no database\n" * 400)
    return data_dir, data_dir / DB_NAME


def a_file(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "data"
    data_dir.write_text("not a folder")
    return data_dir, data_dir


def read_only(tmp_path: Path) -> tuple[Path, Path]:
    data_dir = tmp_path / "read-only"
    data_dir.mkdir()
    data_dir.chmod(0o555)
    return data_dir, data_dir


@pytest.mark.slow
@pytest.mark.parametrize(
    ("make", "what", "todo"),
    [
        (truncated, "damaged", "move it aside"),
        (garbage, "damaged", "move it aside"),
        (a_file, "is a file", "choose another --data-dir"),
        (read_only, "read-only", "make it writable"),
    ],
)
def test_an_unusable_store_ends_the_command_with_one_line(
    tmp_path: Path,
    make: Callable[[Path], tuple[Path, Path]],
    what: str,
    todo: str,
) -> None:
    data_dir, culprit = make(tmp_path)
    try:
        done = run_command(data_dir, without_root_privileges() if make is read_only else None)
    finally:
        if data_dir.is_dir():
            data_dir.chmod(0o755)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output
    assert len(output.splitlines()) == 1, output
    assert str(culprit) in output and what in output and todo in output, output
    assert "serving" not in output
