"""Benchmark: how fast the page first shows the network, and does it keep up with the stream?

    .venv/bin/python bench/page.py              # first loads, then 10 s per stream case
    .venv/bin/python bench/page.py --seconds 5  # shorter
    .venv/bin/python bench/page.py --json       # the last line is one JSON object
    .venv/bin/python bench/page.py --first-load-only --before /tmp/main-before
        # first loads only, alternating between this checkout's server and another's

First load: a new browser context (empty cache) opens the page at 1280×720; the time is from
the navigation's start to the first network diagram drawn (its first neuron in the DOM, seen
by a MutationObserver put in by Playwright, which the page's CSP does not block), and the bytes
are every HTTP response as transferred (Chrome's encodedDataLength: headers and the body as
sent, compressed or not) until the network is idle after that. The websocket's bytes are
counted apart. Two way-marks say where the time goes: Plotly received (its responseEnd) and
the deferred scripts run (DOMContentLoaded's end: Plotly's evaluation, then the modules').
``--mbps N`` throttles the first loads to N Mbit/s (Chrome's network emulation), a phone's
share of a classroom's Wi-Fi. ``--before DIR`` serves a second checkout (e.g. ``git archive
main``) too and alternates first loads between the two, so a slow spell hits both alike.

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
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, sync_playwright

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
FIRST_LOAD_VIEWPORT = {"width": 1280, "height": 720}
# Put in before the page's own scripts: when the first neuron of the network diagram (a Plotly
# layout shape) enters the DOM, note the time since the navigation began.
FIRST_NETWORK_OBSERVER = """
new MutationObserver((records, observer) => {
  if (document.querySelector('#network-diagram .shapelayer path')) {
    window.benchFirstNetworkMs = performance.now();
    observer.disconnect();
  }
}).observe(document, {childList: true, subtree: true});
"""
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
def server(root: Path = ROOT) -> Iterator[str]:
    """uvicorn serving the checkout `root`'s app.main:create_app on a free port, until exit."""
    port = free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {
            **os.environ,
            "PYTHONPATH": str(root),  # that checkout's app, not the installed one
            "PLAYGROUND_DATA_DIR": data_dir,
            "PLAYGROUND_LOG_LEVEL": "warning",
            **ONE_CLIENT_LOAD,
        }
        command = [
            sys.executable, "-m", "uvicorn", "--factory", "app.main:create_app",
            "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        ]  # fmt: skip
        process = subprocess.Popen(command, cwd=root, env=env)
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
    # Functions, not expressions: Playwright evaluates a bare expression with eval, which the
    # page's Content-Security-Policy (script-src 'self') refuses.
    page.wait_for_function(
        "() => window.playgroundState && window.playgroundState.connection === 'live'"
    )
    page.select_option("#speed", speed)
    page.click("#play-button")
    page.wait_for_function("() => window.playgroundState.playing")
    page.wait_for_timeout(1000)

    def busy_ms() -> float:
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return float(metrics["TaskDuration"]) * 1000

    before, busy_before, started = page.evaluate(STATS_JS), busy_ms(), time.monotonic()
    page.wait_for_timeout(seconds * 1000)
    after, busy_after, elapsed = page.evaluate(STATS_JS), busy_ms(), time.monotonic() - started
    page.click("#play-button")  # pause: the session must not train on after the page goes
    page.wait_for_function("() => !window.playgroundState.playing")
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


def first_load(browser: Browser, url: str, mbps: float | None = None) -> dict[str, Any]:
    """One first visit with an empty cache: ms to the first drawn network, bytes transferred."""
    context = browser.new_context(viewport=FIRST_LOAD_VIEWPORT)
    page = context.new_page()
    page.add_init_script(FIRST_NETWORK_OBSERVER)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if mbps is not None:  # a phone's share of the room's Wi-Fi
        throughput = mbps * 1e6 / 8
        conditions = {"offline": False, "latency": 5, "downloadThroughput": throughput}
        cdp.send("Network.emulateNetworkConditions", {**conditions, "uploadThroughput": throughput})
    http_bytes: dict[str, float] = {}
    ws_bytes = [0]
    cdp.on(
        "Network.loadingFinished",
        lambda event: http_bytes.__setitem__(event["requestId"], event["encodedDataLength"]),
    )
    cdp.on(
        "Network.webSocketFrameReceived",
        lambda event: ws_bytes.__setitem__(0, ws_bytes[0] + len(event["response"]["payloadData"])),
    )
    page.goto(url)
    first_network_ms = page.wait_for_function(
        "() => window.benchFirstNetworkMs", timeout=60_000
    ).json_value()
    page.wait_for_load_state("networkidle")
    # The deferred scripts (Plotly, then the modules) have run by DOMContentLoaded's end.
    scripts_ms = page.evaluate(
        "() => performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
    )
    plotly_ms = page.evaluate(
        "() => performance.getEntriesByType('resource')"
        ".find(e => e.name.includes('/vendor/plotly.min.js')).responseEnd"
    )
    result = {
        "first_network_ms": round(first_network_ms),
        "plotly_received_ms": round(plotly_ms),
        "scripts_run_ms": round(scripts_ms),
        "http_bytes": int(sum(http_bytes.values())),
        "http_responses": len(http_bytes),
        "ws_bytes": ws_bytes[0],
    }
    context.close()
    return result


def first_loads(
    browser: Browser, urls: dict[str, str], loads: int, mbps: float | None = None
) -> dict[str, Any]:
    """`loads` first visits to each server, alternating between them; medians and all runs."""
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in urls}
    for _ in range(loads):
        for name, url in urls.items():
            runs[name].append(first_load(browser, url, mbps))
    summary = {}
    for name, results in runs.items():
        summary[name] = {
            "first_network_ms_median": statistics.median(r["first_network_ms"] for r in results),
            "first_network_ms": [r["first_network_ms"] for r in results],
            "plotly_received_ms_median": statistics.median(
                r["plotly_received_ms"] for r in results
            ),
            "scripts_run_ms_median": statistics.median(r["scripts_run_ms"] for r in results),
            "http_bytes_median": statistics.median(r["http_bytes"] for r in results),
            "http_responses": results[-1]["http_responses"],
            "ws_bytes_median": statistics.median(r["ws_bytes"] for r in results),
        }
        row = summary[name]
        print(
            f"first load  {name:>6}  network drawn {row['first_network_ms_median']:6.0f} ms "
            f"(median of {loads}: {row['first_network_ms']}; Plotly received "
            f"{row['plotly_received_ms_median']:.0f} ms, "
            f"scripts run {row['scripts_run_ms_median']:.0f} ms)  "
            f"HTTP {row['http_bytes_median'] / 1e6:5.2f} MB in {row['http_responses']} responses  "
            f"websocket {row['ws_bytes_median'] / 1e3:6.1f} kB",
            flush=True,
        )
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="measured window per case")
    parser.add_argument("--loads", type=int, default=5, help="first loads per server")
    parser.add_argument(
        "--before", type=Path, metavar="DIR", help="also serve this checkout; alternate loads"
    )
    parser.add_argument(
        "--mbps", type=float, help="first loads over a link of this many Mbit/s (5 ms latency)"
    )
    parser.add_argument("--first-load-only", action="store_true", help="skip the stream cases")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    args = parser.parse_args()
    results = []
    with ExitStack() as stack, sync_playwright() as playwright:
        url = stack.enter_context(server())
        urls = {"this": url}
        if args.before is not None:
            urls = {"before": stack.enter_context(server(args.before.resolve())), "this": url}
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        loads = first_loads(browser, urls, args.loads, args.mbps)
        for (width, height), speed in [] if args.first_load_only else CASES:
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
        print(
            json.dumps(
                {
                    "machine": machine,
                    "first_loads": loads,
                    "seconds": args.seconds,
                    "cases": results,
                }
            )
        )


if __name__ == "__main__":
    main()
