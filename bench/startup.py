"""Startup: the time from the command to ``/api/health`` answering, for each way of running.

- ``default``: ``python -m app`` (sessions in the server process, the SQLite file);
- ``workers``: ``python -m app --workers 2`` (starts a local Ray instance and 2 workers);
- ``join-first``: ``python -m app --ray-address …`` to a running Ray cluster with no workers
  yet (this web process starts them, detached);
- ``join``: the same once the workers run (a second, third … web process).

The Ray cluster for the ``join`` modes is ``ray.cluster_utils.Cluster`` (one node, 2 CPUs,
127.0.0.1), made and shut down here. Loopback only; every server is stopped after its run.

    .venv/bin/python bench/startup.py --runs 3 --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on 127.0.0.1 only


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(options: list[str], data_dir: str) -> Iterator[tuple[int, float]]:
    """``python -m app`` on a free loopback port until the block ends, then stopped with
    every process it started: (its port, seconds from the command to /api/health's 200)."""
    port = free_port()
    command = [sys.executable, "-m", "app", "--port", str(port), "--data-dir", data_dir]
    env = {**os.environ, "PLAYGROUND_LOG_LEVEL": "warning"}
    started = time.monotonic()
    server = subprocess.Popen(
        [*command, *options],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # Ray's processes go with it at the end
    )
    try:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                    break
            if server.poll() is not None or time.monotonic() - started > 180:
                raise SystemExit(f"{' '.join(options) or 'default'}: the server did not start")
            time.sleep(0.02)
        yield port, time.monotonic() - started
    finally:
        server.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(10)


def time_to_health(data_dir: str, options: list[str]) -> float:
    """Seconds from starting the command to the first 200 of /api/health; then stop it."""
    with serving(options, data_dir) as (_, seconds):
        return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    results: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as data_dir:
        results["default"] = [time_to_health(data_dir, []) for _ in range(args.runs)]
        results["workers"] = [
            time_to_health(data_dir, ["--workers", "2"]) for _ in range(args.runs)
        ]
        from ray.cluster_utils import Cluster

        cluster = Cluster(
            initialize_head=True,
            head_node_args={"num_cpus": 2, "include_dashboard": False},
        )
        try:
            join = ["--ray-address", cluster.address, "--workers", "2"]
            results["join-first"] = [time_to_health(data_dir, join)]
            results["join"] = [time_to_health(data_dir, join) for _ in range(args.runs)]
        finally:
            cluster.shutdown()
    summary = {mode: round(statistics.median(times), 2) for mode, times in results.items()}
    for mode, times in results.items():
        print(f"{mode:10s} median {summary[mode]:6.2f} s   runs {[round(t, 2) for t in times]}")
    if args.json:
        print(json.dumps({"median_seconds": summary, "runs": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
