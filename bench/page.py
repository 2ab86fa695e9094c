"""Benchmark: does the page keep up with the live stream?

    .venv/bin/python bench/page.py              # 10 s per case, a table
    .venv/bin/python bench/page.py --seconds 5  # shorter
    .venv/bin/python bench/page.py --json       # the last line is one JSON object

A real server (uvicorn in a subprocess on a free port, a temporary data folder) and Debian's
headless Chromium (/usr/bin/chromium, driven by Playwright) on the same machine. The page
opens on the default network (preset "circle": 2 → 4 → 2 → 1 tanh, batch 10) and plays; the
server sends at most 30 frames/s. After a second's warm-up, over the measured window, the
page's own counters (``window.playgroundStats``) give:

- frames received and applied per second (applied: taken by the page on an animation frame;
  the socket keeps only the newest unapplied frame, so there is never a backlog — a frame
  replaced before it was drawn counts as received, not applied);
- lag: when the page applied a frame minus the frame's server timestamp ``t`` (one clock);
- the average time each view took to draw (ms) and how often a redraw was put off to a later
  animation frame by the frame budget;
- the renderer's main-thread busy time (Chrome's Performance.getMetrics TaskDuration).

Cases: the default speed (300 batches/s) and as fast as possible, at 1280×720 (diagram,
loss and boundary on screen) and 1920×1080 (the heatmaps too). Bounded in time.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CASES = [  # (viewport, speed option)
    ((1280, 720), "300"),
    ((1280, 720), "max"),
    ((1920, 1080), "300"),
    ((1920, 1080), "max"),
]
STATS_JS = """() => ({received: playgroundStats.received, applied: playgroundStats.applied,
  dropped: playgroundStats.dropped, deferred: playgroundStats.deferred,
  lag: playgroundStats.lagPercentiles(), viewMs: {...playgroundStats.viewMs},
  step: playgroundState.step})"""


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


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def server() -> Iterator[str]:
    """uvicorn serving app.main:create_app on a free port, stopped on exit."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PLAYGROUND_DATA_DIR": data_dir,
            "PLAYGROUND_LOG_LEVEL": "warning",
            **ONE_CLIENT_LOAD,
        }
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=ROOT, env=env)
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/api/health", timeout=2):
                        break
                except OSError:
                    if time.monotonic() > deadline or process.poll() is not None:
                        raise RuntimeError("the server did not start") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def measure(page: Page, url: str, speed: str, seconds: float) -> dict[str, Any]:
    """Open the page, play at `speed`, and read its counters over `seconds`."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    page.goto(url)
    page.wait_for_function("window.playgroundState && window.playgroundState.connection === 'live'")
    page.select_option("#speed", speed)
    page.click("#play-button")
    page.wait_for_function("window.playgroundState.playing")
    page.wait_for_timeout(1000)

    def busy_ms() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["TaskDuration"]) * 1000

    before, busy_before, started = page.evaluate(STATS_JS), busy_ms(), time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    after, busy_after, elapsed = page.evaluate(STATS_JS), busy_ms(), time.monotonic() - started
    page.click("#play-button")  # pause: the session must not train on after the page goes
    page.wait_for_function("!window.playgroundState.playing")
    return {
        "speed": speed,
        "received_per_s": round((after["received"] - before["received"]) / elapsed, 1),
        "applied_per_s": round((after["applied"] - before["applied"]) / elapsed, 1),
        "replaced_per_s": round((after["dropped"] - before["dropped"]) / elapsed, 1),
        "deferred_per_s": round((after["deferred"] - before["deferred"]) / elapsed, 1),
        "lag_p50_ms": round(after["lag"]["p50"]),
        "lag_p95_ms": round(after["lag"]["p95"]),
        "steps_per_s": round((after["step"] - before["step"]) / elapsed),
        "main_thread_busy": round((busy_after - busy_before) / (elapsed * 1000), 2),
        "view_ms": {name: round(ms, 1) for name, ms in after["viewMs"].items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per case")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    results = []
    with server() as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for (width, height), speed in CASES:
            page = browser.new_page(viewport={"width": width, "height": height})
            result = {"viewport": f"{width}x{height}", **measure(page, url, speed, args.seconds)}
            page.close()
            results.append(result)
            print(
                f"{result['viewport']:>9}  speed {speed:>4}  "
                f"received {result['received_per_s']:5.1f}/s  "
                f"applied {result['applied_per_s']:5.1f}/s  "
                f"lag p50 {result['lag_p50_ms']:4d} ms  p95 {result['lag_p95_ms']:4d} ms  "
                f"busy {result['main_thread_busy']:.0%}  ms per draw {result['view_ms']}",
                flush=True,
            )
        browser.close()
    if args.json:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
        print(json.dumps({"machine": machine, "seconds": args.seconds, "cases": results}))


if __name__ == "__main__":
    main()
