"""The cost of the hop to a worker: REST step p50 on an idle server, in-process vs ``--workers``.

Starts the server (``python -m app``, loopback, a fresh data folder) with the given extra
options, creates one circle session and times ``--calls`` sequential ``POST …/step`` calls of
one batch (after 20 untimed ones), then a ``GET`` of the session (its whole state). Prints
p50 and p95 of each, in ms.

    .venv/bin/python bench/hop.py                    # sessions in the server process
    .venv/bin/python bench/hop.py -- --workers 2     # sessions on 2 Ray workers
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time

import httpx
from startup import serving

WARMUP_CALLS = 20


def timed(call: httpx.Client, method: str, url: str, n: int, **kw: object) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = call.request(method, url, **kw)  # type: ignore[arg-type]
        times.append((time.perf_counter() - started) * 1000)
        response.raise_for_status()
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("server_args", nargs="*", help="extra options for the server command")
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as data_dir,
        serving(args.server_args, data_dir) as (port, _),
    ):
        api = httpx.Client(base_url=f"http://127.0.0.1:{port}/api", timeout=30)
        session = api.post("/sessions", json={"preset": "circle"}).json()
        api.headers["Authorization"] = f"Bearer {session['token']}"
        url = f"/sessions/{session['id']}"
        body = {"json": {"unit": "batch", "count": 1}}
        timed(api, "POST", f"{url}/step", WARMUP_CALLS, **body)
        steps = timed(api, "POST", f"{url}/step", args.calls, **body)
        reads = timed(api, "GET", url, args.calls)
    q = statistics.quantiles
    result = {
        "server_args": args.server_args,
        "step_p50_ms": round(statistics.median(steps), 2),
        "step_p95_ms": round(q(steps, n=20)[18], 2),
        "read_p50_ms": round(statistics.median(reads), 2),
        "read_p95_ms": round(q(reads, n=20)[18], 2),
    }
    print(
        f"{' '.join(args.server_args) or 'default'}: step p50 {result['step_p50_ms']} ms "
        f"p95 {result['step_p95_ms']} ms; read p50 {result['read_p50_ms']} ms "
        f"p95 {result['read_p95_ms']} ms"
    )
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
