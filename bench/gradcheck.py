"""Forty gradient checks dropped after 3 s: /api/health's latency meanwhile, the server's memory
after, and how long a SIGTERM during such a burst takes to stop it (issue 21's attack).

The session is the red team's: 2 → 32 → 32 → 32 → 1 on 10,000 rows, full batch. Every call
uses the watch token, as any student of a class could. ``--admit-all`` raises the per-session
and per-client caps so that all forty are admitted (what the pool alone holds up). Loopback
only; the server is stopped after each run.

    .venv/bin/python bench/gradcheck.py --json
    .venv/bin/python bench/gradcheck.py --admit-all --json
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from startup import serving

CALLS = 40
DROP_AFTER_SECONDS = 3.0
HEALTH_TIMEOUT_SECONDS = 10.0
SESSION = {
    "model": {
        "layers": [{"units": 32, "activation": "tanh"}] * 3 + [{"units": 1, "activation": "tanh"}],
        "batch_size": None,
    },
    "data": {"dataset": "circle", "n_samples": 10_000, "train_ratio": 1.0, "labels": "pm1"},
}
ADMIT_ALL = {
    "PLAYGROUND_MAX_COSTLY_PER_SESSION": str(CALLS),
    "PLAYGROUND_MAX_COSTLY_PER_CLIENT": str(CALLS),
    "PLAYGROUND_MAX_COSTLY_WAITING": str(CALLS),
}


def server_pid(port: int) -> int:
    for entry in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = entry.split()
        if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
            inode = fields[9]
            for proc in Path("/proc").iterdir():
                if proc.name.isdigit():
                    with contextlib.suppress(OSError):
                        for fd in (proc / "fd").iterdir():
                            if os.readlink(fd) == f"socket:[{inode}]":
                                return int(proc.name)
    raise SystemExit("no server process found")


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def burst(base: str, session: dict[str, Any], timeout: float) -> list[threading.Thread]:
    """``CALLS`` gradchecks at once, their clients made before (tens of ms of CPU each, which
    would otherwise fall in the measured window)."""
    url = f"{base}/api/sessions/{session['id']}/gradcheck"
    headers = {"Authorization": f"Bearer {session['watch_token']}"}
    clients = [httpx.Client(timeout=timeout) for _ in range(CALLS)]

    def call(client: httpx.Client) -> None:
        with client, contextlib.suppress(httpx.HTTPError):
            client.get(url, headers=headers)

    threads = [threading.Thread(target=call, args=(client,), daemon=True) for client in clients]
    for thread in threads:
        thread.start()
    return threads


def health_latencies(base: str, seconds: float) -> list[float]:
    """/api/health over one kept-alive connection, as a load balancer's probe asks it."""
    latencies = []
    end = time.monotonic() + seconds
    with httpx.Client(base_url=base, timeout=HEALTH_TIMEOUT_SECONDS) as http:
        while time.monotonic() < end:
            began = time.monotonic()
            try:
                http.get("/api/health")
                latencies.append(time.monotonic() - began)
            except httpx.HTTPError:
                latencies.append(HEALTH_TIMEOUT_SECONDS)
            time.sleep(0.02)
    return latencies


def traced(base: str) -> dict[str, Any]:
    session: dict[str, Any] = httpx.post(f"{base}/api/sessions", json=SESSION, timeout=30).json()
    headers = {"Authorization": f"Bearer {session['token']}"}
    httpx.post(f"{base}/api/sessions/{session['id']}/step", json={}, headers=headers, timeout=60)
    return session


def run(admit_all: bool) -> dict[str, Any]:
    if admit_all:
        os.environ.update(ADMIT_ALL)
    figures: dict[str, Any] = {"admit_all": admit_all}
    with tempfile.TemporaryDirectory() as data, serving([], data) as (port, _):
        base = f"http://127.0.0.1:{port}"
        pid = server_pid(port)
        session = traced(base)
        before = rss_mib(pid)
        threads = burst(base, session, DROP_AFTER_SECONDS)
        latencies = sorted(health_latencies(base, DROP_AFTER_SECONDS + 1))
        for thread in threads:
            thread.join()
        time.sleep(5)  # the dropped calls' work ends (or not), the heap is trimmed
        figures |= {
            "health_p50_ms": round(1000 * latencies[len(latencies) // 2], 1),
            "health_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1),
            "health_max_ms": round(1000 * latencies[-1], 1),
            "rss_before_mib": round(before, 1),
            "rss_after_mib": round(rss_mib(pid), 1),
        }
        burst(base, session, 30.0)
        time.sleep(1.0)
        began = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        while Path(f"/proc/{pid}").exists() and time.monotonic() - began < 60:
            status = Path(f"/proc/{pid}/status")
            with contextlib.suppress(OSError):
                if "zombie" in status.read_text():
                    break
            time.sleep(0.05)
        figures["sigterm_exit_s"] = round(time.monotonic() - began, 2)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admit-all", action="store_true", help="raise the per-caller caps")
    parser.add_argument("--json", action="store_true", help="print one JSON line")
    args = parser.parse_args()
    figures = run(args.admit_all)
    print(json.dumps(figures) if args.json else "\n".join(f"{k}: {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
