"""Load: 50 sessions stepping over REST and 50 playing over websockets, against one server.

Loopback only, bounded in time, stops by itself. Starts its own uvicorn on 127.0.0.1 with a
fresh data directory, then for ``--duration`` seconds (default 60):

- 50 REST clients each create a session and loop: step one batch, read the state;
- 50 websocket clients each create a session, send ``play`` and read frames (30/s cap).

Reports requests/s, p50/p95/p99 latency of the REST calls, the error count (target 0), the
frames the socket clients received, and the server's memory (VmRSS) before the sessions,
at the peak, and after every session is deleted (target: back within 10 % of before).

    .venv/bin/python bench/load.py            # 60 s
    .venv/bin/python bench/load.py --quick    # 10 s, 10 + 10 clients
    .venv/bin/python bench/load.py --json     # last line: one JSON object
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

ROOT = Path(__file__).resolve().parents[1]


# The load comes from one loopback client: its per-client quotas are the whole room's.
ONE_CLIENT_LOAD = {
    "PLAYGROUND_MAX_SESSIONS_PER_CLIENT": "1000",
    "PLAYGROUND_MAX_SESSIONS_PER_ADDRESS": "1000",
    "PLAYGROUND_MAX_SOCKETS_PER_CLIENT": "100000",
    "PLAYGROUND_MAX_SOCKETS_PER_ADDRESS": "100000",
    "PLAYGROUND_MAX_ANSWERS_PER_CLIENT": "100000",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_CLIENT": "1e9",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_ADDRESS": "1e9",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_PAGE": "1e9",
}


@dataclass
class Tally:
    latencies_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    frames: int = 0
    requests: int = 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


async def timed(client: httpx.AsyncClient, tally: Tally, method: str, url: str, **kw: Any) -> Any:
    start = time.perf_counter()
    try:
        response = await client.request(method, url, **kw)
    except httpx.HTTPError as error:
        tally.errors.append(f"{method} {url.split('/api/')[-1][:30]}: {error!r}")
        return None
    tally.latencies_ms.append((time.perf_counter() - start) * 1000)
    tally.requests += 1
    if response.status_code >= 400:
        tally.errors.append(f"{method} {response.status_code}: {response.text[:120]}")
        return None
    return response.json() if response.content else {}


async def rest_worker(base: str, tally: Tally, stop_at: float, created: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        session = await timed(client, tally, "POST", "/api/sessions", json={"preset": "circle"})
        if session is None:
            return
        created.append(session["id"])
        headers = {"Authorization": f"Bearer {session['token']}"}
        path = f"/api/sessions/{session['id']}"
        body = {"unit": "batch", "count": 1}
        while time.monotonic() < stop_at:
            await timed(client, tally, "POST", path + "/step", json=body, headers=headers)
            await timed(client, tally, "GET", path + "?include_trace=false", headers=headers)


async def socket_worker(base: str, tally: Tally, stop_at: float, created: list[str]) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        session = await timed(client, tally, "POST", "/api/sessions", json={"preset": "circle"})
    if session is None:
        return
    created.append(session["id"])
    url = base.replace("http", "ws") + f"/ws/sessions/{session['id']}?token={session['token']}"
    try:
        async with websockets.connect(url, max_size=2**24) as socket_:
            await socket_.send(json.dumps({"type": "subscribe", "max_fps": 30}))
            await socket_.send(json.dumps({"type": "play", "unit": "batch", "rate": None}))
            while time.monotonic() < stop_at:
                try:
                    message = await asyncio.wait_for(socket_.recv(), timeout=1.0)
                except TimeoutError:
                    continue
                kind = json.loads(message).get("type")
                if kind == "frame":
                    tally.frames += 1
                elif kind == "error":
                    tally.errors.append(f"socket error: {str(message)[:120]}")
            await socket_.send(json.dumps({"type": "pause"}))
    except (OSError, websockets.WebSocketException) as error:
        tally.errors.append(f"socket: {error!r}")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="playground-load-"))
    env = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_MAX_SESSIONS": "1000",
        "PLAYGROUND_LOG_LEVEL": "warning",
        **ONE_CLIENT_LOAD,
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "app.main:create_app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_up(base)
        await warm_up(base, data_dir, max(args.rest, args.sockets))
        memory_before = rss_mib(server.pid)
        tally, sockets = Tally(), Tally()
        rest_ids: list[str] = []
        socket_ids: list[str] = []
        started = time.monotonic()
        stop_at = started + args.duration
        await asyncio.gather(
            *(rest_worker(base, tally, stop_at, rest_ids) for _ in range(args.rest)),
            *(socket_worker(base, sockets, stop_at, socket_ids) for _ in range(args.sockets)),
        )
        elapsed = time.monotonic() - started
        memory_peak = rss_mib(server.pid)
        await asyncio.sleep(1.5)  # let the play tasks see their pause
        deleted = await delete_sessions(base, data_dir, rest_ids + socket_ids)
        await asyncio.sleep(2.0)  # the server trims its heap a second after the last delete
        memory_after = rss_mib(server.pid)
    finally:
        server.kill()
        server.wait(timeout=10)
    errors = tally.errors + sockets.errors
    return {
        "duration_s": round(elapsed, 1),
        "rest_clients": args.rest,
        "socket_clients": args.sockets,
        "requests": tally.requests,
        "requests_per_s": round(tally.requests / elapsed, 1),
        "p50_ms": round(percentile(tally.latencies_ms, 50), 1),
        "p95_ms": round(percentile(tally.latencies_ms, 95), 1),
        "p99_ms": round(percentile(tally.latencies_ms, 99), 1),
        "mean_ms": round(statistics.fmean(tally.latencies_ms), 1) if tally.latencies_ms else None,
        "socket_frames_per_client_per_s": round(sockets.frames / max(1, args.sockets) / elapsed, 1),
        "errors": len(errors),
        "first_errors": errors[:5],
        "sessions_deleted": deleted,
        "memory_before_mib": round(memory_before, 1),
        "memory_peak_mib": round(memory_peak, 1),
        "memory_after_mib": round(memory_after, 1),
        "memory_after_over_before": round(memory_after / memory_before, 3),
    }


async def wait_until_up(base: str) -> None:
    deadline = time.monotonic() + 30
    async with httpx.AsyncClient(base_url=base, timeout=2) as client:
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/api/health")).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            await asyncio.sleep(0.2)


async def warm_up(base: str, data_dir: Path, clients: int) -> None:
    """Every code path once, at the run's concurrency, then everything deleted: the memory
    measured after this is the server's steady baseline (imports, thread pool, caches)."""
    tally, ids = Tally(), []
    stop_at = time.monotonic() + 3
    await asyncio.gather(
        *(rest_worker(base, tally, stop_at, ids) for _ in range(clients)),
        *(socket_worker(base, tally, stop_at, ids) for _ in range(clients)),
    )
    await asyncio.sleep(1.0)
    await delete_sessions(base, data_dir, ids)
    await asyncio.sleep(2.0)  # the server trims its heap a second after the last delete
    gc.collect()


async def delete_sessions(base: str, data_dir: Path, ids: list[str]) -> int:
    """Delete every session the run made; the tokens are read back from the server's store
    (the clients kept only the ids), as an operator clearing a class would."""
    import sqlite3

    db = sqlite3.connect(data_dir / "playground.sqlite3")
    tokens = dict(db.execute("SELECT id, token FROM sessions").fetchall())
    db.close()
    deleted = 0
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for session_id in ids:
            token = tokens.get(session_id)
            if token is None:
                continue
            response = await client.delete(
                f"/api/sessions/{session_id}", headers={"Authorization": f"Bearer {token}"}
            )
            deleted += response.status_code == 204
    return deleted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    parser.add_argument("--rest", type=int, default=50, help="REST clients")
    parser.add_argument("--sockets", type=int, default=50, help="websocket clients")
    parser.add_argument("--quick", action="store_true", help="10 s, 10 + 10 clients")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    if args.quick:
        args.duration, args.rest, args.sockets = 10.0, 10, 10
    result = asyncio.run(run(args))
    for key, value in result.items():
        print(f"{key:34} {value}")
    checks = {
        "errors == 0": result["errors"] == 0,
        "memory back within 10 %": result["memory_after_over_before"] <= 1.10,
    }
    for name, ok in checks.items():
        print(f"target {name:28} {'PASS' if ok else 'MISS'}")
    if args.json:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
