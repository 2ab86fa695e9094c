"""Starting with workers: Ray or PostgreSQL unreachable, or the extra missing, ends the command
with one line naming what and where, a non-zero code, no traceback. The default never imports
Ray."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from ws.server import ROOT, free_port

from .servers import LOOPBACK_RAY


def run_command(
    tmp_path: Path, *options: str, python: tuple[str, ...] = ("-m", "app")
) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, *python, "--data-dir", str(tmp_path / "data"), *options]
    return subprocess.run(
        [*command, "--port", str(free_port())],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **LOOPBACK_RAY},
    )


def one_line(done: subprocess.CompletedProcess[str]) -> str:
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output and "serving" not in output, output
    assert len(output.splitlines()) == 1, output
    return output


@pytest.mark.slow
def test_an_unreachable_ray_is_named_with_its_address(tmp_path: Path) -> None:
    address = f"127.0.0.1:{free_port()}"
    output = one_line(run_command(tmp_path, "--workers", "2", "--ray-address", address))
    assert f"Ray could not be reached at {address}" in output


@pytest.mark.slow
def test_an_address_where_something_else_answers_is_named(tmp_path: Path) -> None:
    with socket.socket() as listener:  # answers like an HTTP/1 server, not Ray's gRPC
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        address = f"127.0.0.1:{listener.getsockname()[1]}"

        def answer() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(100)
                connection.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")

        thread = threading.Thread(target=answer, daemon=True)
        thread.start()
        done = run_command(tmp_path, "--workers", "2", "--ray-address", address)
        thread.join(5)
    output = one_line(done)
    assert f"Ray could not be reached at {address}" in output and "not a Ray head" in output


@pytest.mark.slow
def test_an_unreachable_postgresql_is_named_before_ray_starts(tmp_path: Path) -> None:
    port = free_port()
    url = f"postgresql://teacher:s3cret-pw@127.0.0.1:{port}/playground"
    output = one_line(run_command(tmp_path, "--workers", "2", "--database-url", url))
    assert "PostgreSQL" in output and f"127.0.0.1:{port}" in output
    assert "s3cret-pw" not in output


@pytest.mark.slow
def test_workers_without_the_extra_say_which_extra_to_install(tmp_path: Path) -> None:
    without_ray = (
        "import sys; sys.modules['ray'] = None; from app.cli import main; main(sys.argv[1:])"
    )
    output = one_line(run_command(tmp_path, "--workers", "2", python=("-c", without_ray)))
    assert "pip install 'backprop-playground[cluster]'" in output


@pytest.mark.slow
def test_a_bad_worker_count_is_named(tmp_path: Path) -> None:
    output = one_line(run_command(tmp_path, "--workers", "0"))
    assert "--workers" in output


@pytest.mark.slow
def test_the_default_command_never_imports_ray(tmp_path: Path) -> None:
    # uvicorn.Server.run replaced: what the command imported up to serving is printed instead.
    probe = (
        "import sys, uvicorn; "
        "uvicorn.Server.run = lambda self, *a, **kw: print(self.config.app, 'ray' in sys.modules, "
        "'app.cluster' in sys.modules); "
        "from app.cli import main; main(sys.argv[1:])"
    )
    done = run_command(tmp_path, python=("-c", probe))
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["app.main:create_app", "False", "False"]
