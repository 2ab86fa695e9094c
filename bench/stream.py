"""Benchmark: the live stream — frame cost, training while streaming, 100 watchers.

    .venv/bin/python bench/stream.py            # full run, a table
    .venv/bin/python bench/stream.py --quick    # shorter windows
    .venv/bin/python bench/stream.py --json     # the last line is one JSON object

All on the default network (preset "circle": TF Playground's 2 → 4 → 2 → 1 tanh, batch 10,
250 training points):

1. Frame: bytes of one full frame (no boundary grid) and the time to build it from the
   session (under its lock) and to encode it (orjson), in this process.
2. Training: engine steps/s untraced (``Model.step_batch()`` in a loop, in this process),
   against the steps/s the server's play task reaches (as fast as possible) while one client
   receives every frame at 30 frames/s — read from the frames' step counters and server
   timestamps. The two are measured in turns, several rounds, and the ratio is the median of
   the rounds' ratios. Target: streaming keeps ≥ 70 % of untraced throughput.
3. Broadcast: one session playing as fast as possible, 100 watchers subscribed at
   20 frames/s. For each watcher, frames received per second and each frame's lag (arrival
   time − the frame's server timestamp ``t``; same machine, same clock). Targets: every
   watcher ≥ 19 frames/s, p95 lag < 100 ms.

The server is a real uvicorn in a subprocess on 127.0.0.1 (a free port), killed at the end,
with uvicorn's defaults, as ``make run`` serves it — websocket per-message-deflate included
(``--no-deflate`` turns it off, for comparison); the clients use the ``websockets`` asyncio
client in this process, which asks for deflate as browsers do. Bounded in time: about 45 s
(``--quick``: about 25 s).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import orjson
from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from app.engine import Model  # noqa: E402
from app.live.frames import FrameCaches, View, build_frame  # noqa: E402
from app.service.session import (  # noqa: E402
    Session,
    build_dataset,
    model_config_for,
    resolve_config,
)

PRESET = "circle"
STREAM_FPS = 30
WATCHERS = 100
WATCHER_FPS = 20
TARGET_RATIO = 0.7
TARGET_WATCHER_FPS = 19.0
TARGET_LAG_P95_MS = 100.0


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


def new_session() -> Session:
    config = resolve_config({"preset": PRESET})
    dataset = build_dataset(config["data"], lambda _: {})
    config["model"] = model_config_for(config["model"], dataset)
    return Session(config, dataset)


# ----- 1. one frame ---------------------------------------------------------------------------


def measure_frame(rounds: int) -> dict[str, float]:
    """Bytes, build and encode time of a full frame mid-training (every trace present)."""
    session = new_session()
    session.step("batch", 50)
    view = View()
    build, encode, size = [], [], 0
    for seq in range(rounds):
        session.step("batch", 1)  # new weights each round: no cache hit on the metrics
        started = time.perf_counter()
        frame = build_frame(session, seq, [view], FrameCaches(), None)
        built = time.perf_counter()
        text = frame.text(view)
        encoded = time.perf_counter()
        build.append(built - started)
        encode.append(encoded - built)
        size = len(text.encode())
    return {
        "frame_bytes": size,
        "frame_build_ms": statistics.median(build) * 1e3,
        "frame_encode_ms": statistics.median(encode) * 1e3,
    }


# ----- 2. training throughput -----------------------------------------------------------------


def measure_untraced(model: Model, seconds: float) -> float:
    """Engine steps/s: ``Model.step_batch()`` in a loop for ``seconds``."""
    steps, started = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - started) < seconds:
        for _ in range(100):
            model.step_batch()
        steps += 100
    return steps / elapsed


async def measure_streaming(server: Server, seconds: float) -> dict[str, float]:
    """Steps/s of the play task while one client takes every frame at STREAM_FPS."""
    created = server.create_session({"preset": PRESET})
    async with connect(server.ws_path(created, "token"), max_size=None) as ws:
        await ws.recv()  # hello
        await send(ws, {"type": "subscribe", "max_fps": STREAM_FPS})
        await send(ws, {"type": "play"})
        await frames_for(ws, 0.5)  # warm-up
        frames = await frames_for(ws, seconds)
        await send(ws, {"type": "pause"})
    first, last = frames[0], frames[-1]
    span = (last["t"] - first["t"]) / 1e3
    return {
        "streaming_steps_per_s": (last["step"] - first["step"]) / span,
        "streaming_frames_per_s": (len(frames) - 1) / span,
    }


def measure_throughput(server: Server, seconds: float, rounds: int) -> dict[str, float]:
    """Untraced and streaming in turns, so a change in the machine's load hits both alike;
    the medians of the rounds, and the median of the per-round ratios."""
    model = new_session().model
    measure_untraced(model, 0.5)  # warm-up
    untraced, streaming, frame_rates, ratios = [], [], [], []
    for _ in range(rounds):
        untraced.append(measure_untraced(model, seconds / rounds))
        result = asyncio.run(measure_streaming(server, seconds / rounds))
        streaming.append(result["streaming_steps_per_s"])
        frame_rates.append(result["streaming_frames_per_s"])
        ratios.append(streaming[-1] / untraced[-1])
    return {
        "untraced_steps_per_s": statistics.median(untraced),
        "streaming_steps_per_s": statistics.median(streaming),
        "streaming_frames_per_s": statistics.median(frame_rates),
        "streaming_throughput_ratio": statistics.median(ratios),
    }


async def frames_for(ws: ClientConnection, seconds: float) -> list[dict[str, Any]]:
    frames = []
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), left))
        except TimeoutError:
            break
        if message["type"] == "frame":
            frames.append(message)
    return frames


# ----- 3. broadcast to watchers ---------------------------------------------------------------


async def measure_watchers(server: Server, seconds: float) -> dict[str, float]:
    """WATCHERS watch one session playing flat out, each at WATCHER_FPS."""
    created = server.create_session({"preset": PRESET})
    started = asyncio.Event()
    results: list[tuple[int, list[float]]] = []

    async def watch() -> None:
        async with connect(server.ws_path(created, "watch_token"), max_size=None) as ws:
            await ws.recv()  # hello
            await send(ws, {"type": "subscribe", "max_fps": WATCHER_FPS})
            await started.wait()
            await frames_for(ws, 1.0)  # warm-up
            count, lags = 0, []
            deadline = time.monotonic() + seconds
            while (left := deadline - time.monotonic()) > 0:
                try:
                    text = await asyncio.wait_for(ws.recv(), left)
                except TimeoutError:
                    break
                arrived = time.time() * 1e3
                message = orjson.loads(text)
                if message["type"] == "frame":
                    count += 1
                    lags.append(arrived - message["t"])
            results.append((count, lags))

    async with connect(server.ws_path(created, "token"), max_size=None) as control:
        await control.recv()
        await send(control, {"type": "subscribe", "max_fps": WATCHER_FPS, "fields": ["step"]})
        watchers = [asyncio.create_task(watch()) for _ in range(WATCHERS)]
        await asyncio.sleep(2.0)  # every watcher connected and subscribed
        await send(control, {"type": "play"})
        started.set()
        await asyncio.gather(*watchers)
        await send(control, {"type": "pause"})
    rates = [count / seconds for count, _ in results]
    lags = np.array([lag for _, watcher_lags in results for lag in watcher_lags])
    return {
        "watchers": len(results),
        "watcher_frames_per_s_min": min(rates),
        "watcher_frames_per_s_median": statistics.median(rates),
        "watcher_lag_p50_ms": float(np.percentile(lags, 50)),
        "watcher_lag_p95_ms": float(np.percentile(lags, 95)),
        "watcher_lag_max_ms": float(lags.max()),
    }


# ----- the server -----------------------------------------------------------------------------


class Server:
    def __init__(self, port: int, process: subprocess.Popen[bytes]) -> None:
        self.port = port
        self.process = process

    def create_session(self, body: dict[str, Any]) -> dict[str, Any]:
        response = httpx.post(f"http://127.0.0.1:{self.port}/api/sessions", json=body, timeout=10)
        response.raise_for_status()
        created: dict[str, Any] = response.json()
        return created

    def ws_path(self, created: dict[str, Any], token: str) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/sessions/{created['id']}?token={created[token]}"


@contextmanager
def running_server(deflate: bool) -> Iterator[Server]:
    """uvicorn on a free loopback port with a throw-away data folder; killed at the end.

    ``deflate=False`` turns websocket per-message-deflate off: on, it compresses every frame
    once per socket, on the event loop (a frame's 4.4 kB become about 2 kB).
    """
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PLAYGROUND_DATA_DIR": data_dir,
            "PLAYGROUND_LOG_LEVEL": "warning",
            **ONE_CLIENT_LOAD,
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app"]
        options = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
        options += ["--ws-per-message-deflate", "true" if deflate else "false"]
        process = subprocess.Popen(
            [*command, *options],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 30
            while httpx_ok(f"http://127.0.0.1:{port}/api/health") is False:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the server did not start")
                time.sleep(0.1)
            yield Server(port, process)
        finally:
            process.kill()
            process.wait(timeout=10)


def httpx_ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.TransportError:
        return False


async def send(ws: ClientConnection, message: dict[str, Any]) -> None:
    await ws.send(orjson.dumps(message).decode())


# ----- report ---------------------------------------------------------------------------------


def run(quick: bool, deflate: bool) -> dict[str, Any]:
    window = 2.0 if quick else 5.0
    results: dict[str, Any] = {
        "preset": PRESET,
        "quick": quick,
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    results.update(measure_frame(50 if quick else 200))
    with running_server(deflate) as server:
        results.update(measure_throughput(server, 2 * window, rounds=3 if quick else 5))
        results.update(asyncio.run(measure_watchers(server, window)))
    results["per_message_deflate"] = deflate
    results["targets_met"] = {
        "streaming_throughput_ratio": results["streaming_throughput_ratio"] >= TARGET_RATIO,
        "watcher_frames_per_s_min": results["watcher_frames_per_s_min"] >= TARGET_WATCHER_FPS,
        "watcher_lag_p95_ms": results["watcher_lag_p95_ms"] < TARGET_LAG_P95_MS,
    }
    return results


def print_table(r: dict[str, Any]) -> None:
    rows = [
        ("frame bytes (default network, no grid)", f"{r['frame_bytes']:,}", ""),
        ("frame build (under the session lock)", f"{r['frame_build_ms']:.3f} ms", ""),
        ("frame encode (orjson, once)", f"{r['frame_encode_ms']:.3f} ms", ""),
        ("engine steps/s, untraced", f"{r['untraced_steps_per_s']:,.0f}", ""),
        (
            f"play steps/s while streaming at {STREAM_FPS} frames/s",
            f"{r['streaming_steps_per_s']:,.0f}",
            f"{r['streaming_frames_per_s']:.1f} frames/s received",
        ),
        (
            "streaming ÷ untraced",
            f"{r['streaming_throughput_ratio']:.2f}",
            f"target ≥ {TARGET_RATIO}",
        ),
        (
            f"{r['watchers']} watchers at {WATCHER_FPS}/s: frames/s min / median",
            f"{r['watcher_frames_per_s_min']:.1f} / {r['watcher_frames_per_s_median']:.1f}",
            f"target ≥ {TARGET_WATCHER_FPS}",
        ),
        (
            "watcher lag p50 / p95 / max",
            f"{r['watcher_lag_p50_ms']:.1f} / {r['watcher_lag_p95_ms']:.1f} / "
            f"{r['watcher_lag_max_ms']:.1f} ms",
            f"target p95 < {TARGET_LAG_P95_MS:g} ms",
        ),
    ]
    width = max(len(name) for name, _, _ in rows)
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>22}  {note}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="shorter measuring windows")
    parser.add_argument("--json", action="store_true", help="end with one line of JSON")
    parser.add_argument(
        "--no-deflate",
        dest="deflate",
        action="store_false",
        help="serve without websocket per-message-deflate (uvicorn's default is on)",
    )
    args = parser.parse_args(argv)
    results = run(args.quick, args.deflate)
    print_table(results)
    if args.json:
        print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
