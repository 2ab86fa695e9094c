"""A class on one server: K students playing at the page's default pace, and one REST caller.

Starts the real server as ``make run`` does (``python -m app``) on a free loopback port with a
fresh data folder. For each class size K, for ``--seconds`` (after a short warm-up):

- K students each create a session from the circle preset, open its websocket, subscribe at
  30 frames/s and play batches at 300/s (the page's default pace);
- one more client creates its own session and times ``POST …/step`` (one batch) every 200 ms.

Per K it prints each student's batches/s and frames/s (minimum and median), the REST p50/p95
and the server's CPU (cores, from /proc), then the class capacity: the largest K at which
every student gets ≥ 90 % of the asked rate and ≥ 25 frames/s while REST p95 < 100 ms.
``--json`` prints one JSON line last: ``class_capacity``, ``per_student_core_share`` (server
CPU ÷ K at K = 10), ``added_core_per_student`` (the CPU each student past 10 adds, up to the
largest K run) and the rows. ``--flat-out`` adds one more student playing as fast as
possible (fairness); ``--watch`` has the K students watch one session that the first of
them plays (a class following the teacher's network). Loopback only, bounded: every socket
and session is closed after each K.

    .venv/bin/python bench/class.py                     # K = 1 5 10 20 25 30 40
    .venv/bin/python bench/class.py --sizes 10 25 --json
    .venv/bin/python bench/class.py --sizes 20 --flat-out
    .venv/bin/python bench/class.py --sizes 10 20 -- --workers 2   # sessions on 2 workers
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import websockets

# bench/serve.py, beside this file (also when a test loads this one by its path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve

RATE = 300.0  # batches per second: the page's default pace
FPS = 30.0  # the page's default frame cap
WARMUP = 2.0  # seconds before counting
REST_EVERY = 0.2  # seconds between two timed REST step calls
RATE_SHARE, MIN_FPS, REST_P95_MS = 0.9, 25.0, 100.0  # what "holds the class" means
CLK_TCK = os.sysconf("SC_CLK_TCK")


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
class Student:
    """One playing socket: the steps and frames it saw inside the counting window."""

    first: tuple[float, int] | None = None  # (time, step) of the first frame counted
    last: tuple[float, int] | None = None
    frames: int = 0
    errors: list[str] = field(default_factory=list)

    def rate(self) -> float:
        if self.first is None or self.last is None or self.last[0] <= self.first[0]:
            return 0.0
        return (self.last[1] - self.first[1]) / (self.last[0] - self.first[0])


def cpu_seconds(pid: int) -> float:
    """User + system CPU so far of a process and every process under it (with ``--workers``:
    Ray's processes and the session workers), their threads included."""
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            child = int(stat.parent.name)
            parents[child] = int(fields[1])
            used[child] = (int(fields[11]) + int(fields[12])) / CLK_TCK
    tree, grew = {pid}, True
    while grew:
        below = {child for child, parent in parents.items() if parent in tree} - tree
        tree |= below
        grew = bool(below)
    return sum(used.get(member, 0.0) for member in tree)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def start_server(data_dir: str, port: int, extra: list[str]) -> subprocess.Popen[bytes]:
    return serve.start_server(
        data_dir, port, {**ONE_CLIENT_LOAD, "PLAYGROUND_MAX_SESSIONS": "1000"}, extra
    )


async def create(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/sessions", json={"preset": "circle"})
    response.raise_for_status()
    result: dict[str, Any] = response.json()
    return result


async def play(
    base: str,
    session: dict[str, Any],
    rate: float | None,
    window: tuple[float, float],
    plays: bool = True,
) -> Student:
    """Play one session (or only watch it, ``plays`` false) and count what arrives inside
    ``window`` (monotonic start, end)."""
    student = Student()
    url = base.replace("http", "ws") + f"/ws/sessions/{session['id']}?token={session['token']}"
    async with websockets.connect(url, max_size=2**24) as ws:
        await ws.send(json.dumps({"type": "subscribe", "max_fps": FPS}))
        if plays:
            await ws.send(json.dumps({"type": "play", "unit": "batch", "rate": rate}))
        while time.monotonic() < window[1]:
            try:
                data = await asyncio.wait_for(
                    ws.recv(decode=False), timeout=window[1] - time.monotonic()
                )
            except TimeoutError:
                break
            now = time.monotonic()
            step = frame_step(data)
            if step is None:  # not a frame: read it whole
                message = json.loads(data)
                if message.get("type") == "error":
                    student.errors.append(str(message.get("message")))
                continue
            if now < window[0]:
                continue
            student.frames += 1
            student.last = (now, step)
            if student.first is None:
                student.first = student.last
        if plays:
            await ws.send(json.dumps({"type": "pause"}))
    return student


FRAME_START = b'{"type":"frame",'
STEP = re.compile(rb',"step":(\d+),')


def frame_step(data: bytes) -> int | None:
    """A frame's step, read from its head without parsing the rest (a laptop in the class
    parses its own frames; here one process reads every student's, on the server's machine,
    so it reads no more than it counts). None for any other message."""
    if not data.startswith(FRAME_START):
        return None
    found = STEP.search(data, 0, 200)
    return None if found is None else int(found.group(1))


def time_rest(base: str, stop: threading.Event, latencies: list[float]) -> None:
    """Every REST_EVERY seconds, one timed step call on a session of its own (own thread)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        session = client.post("/api/sessions", json={"preset": "circle"}).json()
        headers = {"Authorization": f"Bearer {session['token']}"}
        url = f"/api/sessions/{session['id']}/step"
        while not stop.is_set():
            started = time.perf_counter()
            response = client.post(url, json={"unit": "batch", "count": 1}, headers=headers)
            elapsed = time.perf_counter() - started
            if response.status_code == 200 and not stop.is_set():
                latencies.append(elapsed * 1000)
            stop.wait(max(0.0, REST_EVERY - elapsed))
        client.delete(f"/api/sessions/{session['id']}", headers=headers)


async def run_class(
    base: str, pid: int, k: int, seconds: float, flat_out: bool, watch: bool = False
) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        if watch:  # one session, played by the first student; the others watch it
            sessions = [await create(client)]
            shown = sessions * k
        else:
            sessions = [await create(client) for _ in range(k + int(flat_out))]
            shown = sessions
        latencies: list[float] = []
        stop = threading.Event()
        prober = threading.Thread(target=time_rest, args=(base, stop, latencies))
        start = time.monotonic()
        window = (start + WARMUP, start + WARMUP + seconds)
        rates: list[float | None] = [RATE] * k + [None] * int(flat_out)
        players = [
            play(base, s, r, window, plays=not watch or i == 0)
            for i, (s, r) in enumerate(zip(shown, rates, strict=True))
        ]
        prober.start()
        cpu_task = asyncio.create_task(measure_cpu(pid, window))
        students = await asyncio.gather(*players)
        stop.set()
        await asyncio.to_thread(prober.join)
        cores = await cpu_task
        for s in sessions:
            headers = {"Authorization": f"Bearer {s['token']}"}
            await client.delete(f"/api/sessions/{s['id']}", headers=headers)
    class_ = students[:k]
    row: dict[str, Any] = {
        "students": k,
        "watching": watch,
        "rate_min": min(s.rate() for s in class_),
        "rate_median": statistics.median(s.rate() for s in class_),
        "fps_min": min(s.frames / seconds for s in class_),
        "fps_median": statistics.median(s.frames / seconds for s in class_),
        "rest_p50_ms": percentile(latencies, 50),
        "rest_p95_ms": percentile(latencies, 95),
        "rest_calls": len(latencies),
        "server_cores": cores,
        "errors": sum(len(s.errors) for s in students),
    }
    if flat_out:
        row["flat_out_rate"] = students[-1].rate()
    row["holds"] = (
        row["rate_min"] >= RATE_SHARE * RATE
        and row["fps_min"] >= MIN_FPS
        and row["rest_p95_ms"] < REST_P95_MS
        and row["errors"] == 0
    )
    return row


async def measure_cpu(pid: int, window: tuple[float, float]) -> float:
    await asyncio.sleep(max(0.0, window[0] - time.monotonic()))
    cpu0, t0 = cpu_seconds(pid), time.monotonic()
    await asyncio.sleep(max(0.0, window[1] - time.monotonic()))
    return (cpu_seconds(pid) - cpu0) / (time.monotonic() - t0)


def show(row: dict[str, Any]) -> None:
    flat = f"  flat-out {row['flat_out_rate']:6.0f}/s" if "flat_out_rate" in row else ""
    print(
        f"K={row['students']:3d}  batches/s min {row['rate_min']:6.1f}"
        f" med {row['rate_median']:6.1f}"
        f"  frames/s min {row['fps_min']:5.1f} med {row['fps_median']:5.1f}"
        f"  REST p50 {row['rest_p50_ms']:6.1f} p95 {row['rest_p95_ms']:6.1f} ms"
        f"  server {row['server_cores']:.2f} cores  errors {row['errors']}"
        f"  {'holds' if row['holds'] else 'does not hold'}{flat}",
        flush=True,
    )


def added_per_student(rows: list[dict[str, Any]]) -> float | None:
    """The server's CPU each student adds: (cores at the largest K − at K = 10) ÷ (K − 10).
    What a class costs beyond the server's own fixed cost (with ``--workers``, Ray's
    processes and the workers' idle loops), which CPU ÷ K at K = 10 counts in too."""
    at_10 = next((row for row in rows if row["students"] == 10), None)
    largest = max(rows, key=lambda row: row["students"], default=None)
    if at_10 is None or largest is None or largest["students"] <= 10:
        return None
    added: float = (largest["server_cores"] - at_10["server_cores"]) / (largest["students"] - 10)
    return round(added, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 5, 10, 20, 25, 30, 40])
    parser.add_argument("--seconds", type=float, default=8.0, help="counted seconds per K")
    parser.add_argument("--flat-out", action="store_true", help="add one student at full speed")
    parser.add_argument(
        "--watch", action="store_true", help="the K students watch one session (a class link)"
    )
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    parser.add_argument("server_args", nargs="*", help="extra options for the server command")
    args = parser.parse_args(argv)
    if args.watch and args.flat_out:
        parser.error("--watch and --flat-out: one at a time")
    port = serve.free_port()
    base = f"http://127.0.0.1:{port}"
    rows = []
    with tempfile.TemporaryDirectory() as data_dir:
        server = start_server(data_dir, port, args.server_args)
        try:
            for k in args.sizes:
                row = asyncio.run(
                    run_class(base, server.pid, k, args.seconds, args.flat_out, args.watch)
                )
                rows.append(row)
                show(row)
        finally:
            server.terminate()
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                server.kill()
            with contextlib.suppress(ProcessLookupError):
                os.killpg(server.pid, signal.SIGKILL)
    capacity = max((row["students"] for row in rows if row["holds"]), default=0)
    at_10 = next((row for row in rows if row["students"] == 10), None)
    share = at_10["server_cores"] / 10 if at_10 else None
    added = added_per_student(rows)
    print(
        f"class capacity: {capacity} students; per-student share at K=10: {share}; "
        f"added per student, K = 10 → largest: {added}"
    )
    if args.json:
        summary = {
            "class_capacity": capacity,
            "per_student_core_share": share,
            "added_core_per_student": added,
            "rows": rows,
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
