"""Benchmark: how soon does the digits preset pass 90 % on its held-out images, played at the
page's default pace — and how large are its frames?

Starts the real server as ``make run`` does (``python -m app``) on a free loopback port with a
fresh data folder, creates a session from the ``digits`` preset (64 → 32 tanh → 10 softmax,
batches of 16) and plays it over its websocket as the page does by default (batches at 300 a
second, frames at most 30 a second), until the frames' test accuracy reaches 90 % or
``--seconds`` pass. It prints the seconds and batches to 90 % (and to 95 %), the batches a
second it played at, and the frames' size as sent (mean and largest, bytes and kB/s at the
frame rate). ``--json`` prints one JSON line last. Loopback only, bounded.

    .venv/bin/python bench/digits.py
    .venv/bin/python bench/digits.py --runs 3 --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import websockets

# bench/serve.py, beside this file (also when a test loads this one by its path)
sys.path.insert(0, str(Path(__file__).resolve().parent))
import serve

RATE = 300  # batches a second: the page's default pace
FPS = 30  # the page's frame cap
TARGETS = (0.90, 0.95)


async def one_run(port: int, seconds: float) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}/api", timeout=30) as http:
        created = (await http.post("/sessions", json={"preset": "digits"})).json()
    url = f"ws://127.0.0.1:{port}/ws/sessions/{created['id']}?token={created['token']}"
    reached: dict[float, tuple[float, int]] = {}
    sizes: list[int] = []
    async with websockets.connect(url, max_size=None) as ws:
        await ws.recv()  # hello
        await ws.send(json.dumps({"type": "subscribe", "max_fps": FPS}))
        started = time.monotonic()
        await ws.send(json.dumps({"type": "play", "unit": "batch", "rate": RATE}))
        step = 0
        while time.monotonic() - started < seconds and len(reached) < len(TARGETS):
            text = await asyncio.wait_for(ws.recv(), 10)
            message = json.loads(text)
            if message.get("type") != "frame":
                continue
            sizes.append(len(text.encode() if isinstance(text, str) else text))
            step = int(message["step"])
            accuracy = message.get("test_accuracy")
            for target in TARGETS:
                if target not in reached and accuracy is not None and accuracy >= target:
                    reached[target] = (time.monotonic() - started, step)
        elapsed = time.monotonic() - started
        await ws.send(json.dumps({"type": "pause"}))
    return {
        "seconds_to": {
            f"{t:.0%}": None if t not in reached else round(reached[t][0], 2) for t in TARGETS
        },
        "batches_to": {f"{t:.0%}": None if t not in reached else reached[t][1] for t in TARGETS},
        "batches_per_second": round(step / elapsed, 1),
        "frame_bytes_mean": round(statistics.mean(sizes)) if sizes else None,
        "frame_bytes_max": max(sizes) if sizes else None,
        "frame_kB_per_second_at_cap": round(statistics.mean(sizes) * FPS / 1000, 1)
        if sizes
        else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=60.0, help="the most per run")
    parser.add_argument("--json", action="store_true", help="last line: one JSON object")
    args = parser.parse_args()
    port = serve.free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        server = serve.start_server(data_dir, port)
        try:
            runs = [asyncio.run(one_run(port, args.seconds)) for _ in range(args.runs)]
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
    for k, run in enumerate(runs, start=1):
        print(f"run {k}: 90 % after {run['seconds_to']['90%']} s ({run['batches_to']['90%']} "
              f"batches), 95 % after {run['seconds_to']['95%']} s; "
              f"{run['batches_per_second']} batches/s; frames {run['frame_bytes_mean']} B mean, "
              f"{run['frame_bytes_max']} B largest, {run['frame_kB_per_second_at_cap']} kB/s "
              f"at {FPS}/s")  # fmt: skip
    if args.json:
        print(json.dumps({"runs": runs}))


if __name__ == "__main__":
    main()
