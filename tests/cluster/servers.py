"""Web processes of the playground for the cluster tests: ``python -m app`` with options, on
loopback, in a process group of their own (killed whole at the end: a local Ray instance
and its workers go with it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from ws.server import ROOT, Server, free_port

if TYPE_CHECKING:
    from ray.cluster_utils import Cluster

START_SECONDS = 120.0  # Ray takes ~5-10 s to start here; more when the machine is busy
LOOPBACK_RAY = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
NODE_OBJECT_STORE_BYTES = 10**8  # frames and requests are small


def ray_head() -> Cluster:
    """A Ray head on this machine (one CPU: one session worker), for web processes to join
    with ``--ray-address``; ``shutdown()`` ends it."""
    from ray.cluster_utils import Cluster

    return Cluster(
        initialize_head=True,
        head_node_args={
            "num_cpus": 1,
            "include_dashboard": False,
            "object_store_memory": NODE_OBJECT_STORE_BYTES,
        },
    )


def start_server(data_dir: Path, *options: str, **env: str) -> Server:
    """``python -m app --port P OPTIONS…``, answering /api/health."""
    port = free_port()
    environment = {**os.environ, **LOOPBACK_RAY, "PLAYGROUND_LOG_LEVEL": "warning", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--data-dir", str(data_dir), *options],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    server = Server(process, port)
    deadline = time.monotonic() + START_SECONDS
    while True:
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(f"{server.http}/api/health", timeout=2).status_code == 200:
                return server
        if process.poll() is not None or time.monotonic() > deadline:
            stop_server(server)
            raise RuntimeError(f"the server {' '.join(options)} did not start")
        time.sleep(0.2)


def stop_server(server: Server, signal_number: int = signal.SIGTERM) -> None:
    """Stop it (SIGTERM: uvicorn and Ray shut down), then kill its whole process group."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal_number)
    with contextlib.suppress(subprocess.TimeoutExpired):
        server.process.wait(timeout=30)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=10)


@contextlib.contextmanager
def running(data_dir: Path, *options: str, **env: str) -> Iterator[Server]:
    server = start_server(data_dir, *options, **env)
    try:
        yield server
    finally:
        stop_server(server)
