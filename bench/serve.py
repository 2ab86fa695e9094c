"""The benchmarks' server: ``python -m app`` (as ``make run`` starts it) on a free loopback
port with its own data folder, in a process group of its own (killed whole at the end: Ray's
processes too, with ``--workers``)."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_server(
    data_dir: str, port: int, env: Mapping[str, str] = {}, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """The server, once its /api/health answers (SystemExit if it exits or stays silent for
    60 s); ``env``: settings on top of this process's environment and a quiet log."""
    command = [sys.executable, "-m", "app", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(
        [*command, "--data-dir", data_dir, *extra],
        cwd=ROOT,
        env={**os.environ, "PLAYGROUND_LOG_LEVEL": "warning", **env},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return server
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode}")
        time.sleep(0.1)
    server.kill()
    raise SystemExit("the server did not answer /api/health within 60 s")
