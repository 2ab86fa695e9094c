"""Benchmark: what storing a session costs, against the training it follows.

    .venv/bin/python bench/store.py             # full run, a table
    .venv/bin/python bench/store.py --quick     # short rounds
    .venv/bin/python bench/store.py --json      # the last line is one JSON object

A REST call that changes a session stores it before answering (``manager.save``): the
export (weights, RNG, history and the data, as JSON with shortest-round-trip floats), then
one SQLite ``INSERT OR REPLACE`` committed with ``synchronous=FULL`` (an fsync). This
measures each part, the batch step it follows, and a whole ``POST …/step`` of one batch
through the app (TestClient, ``include_trace=false``), for:

  default        TF Playground's default (circle preset: 2-4-2-1 tanh, 250 train rows)
  large network  2-256-256-256-1 tanh (132,609 parameters), 250 train rows
  large data     2-4-2-1, the circle with 10,000 points (5,000 train rows: the row limit)
  both           2-256-256-256-1 on the 10,000 points

Storing is timed on each session after exactly 10 epochs (11 history points; the history
keeps at most 2,000, about 150 bytes each). Every figure is the median of timed repetitions
after a warm-up; the SQLite file is in a temporary directory on the filesystem of
``--data-dir`` (default: the system's temp dir).
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from fastapi.testclient import TestClient  # noqa: E402

from app.main import create_app  # noqa: E402
from app.service.manager import SessionManager  # noqa: E402
from app.service.session import Session  # noqa: E402
from app.service.sqlite_store import SqliteStore  # noqa: E402
from app.service.store import dumps  # noqa: E402
from app.settings import Settings  # noqa: E402

LARGE_LAYERS = [{"units": 256, "activation": "tanh"}] * 3 + [{"units": 1, "activation": "tanh"}]
EPOCHS_BEFORE_SAVING = 10
CASES: dict[str, dict[str, Any]] = {
    "default": {"preset": "circle"},
    "large network": {"preset": "circle", "model": {"layers": LARGE_LAYERS}},
    "large data": {"preset": "circle", "data": {"n_samples": 10_000}},
    "both": {"preset": "circle", "model": {"layers": LARGE_LAYERS}, "data": {"n_samples": 10_000}},
}


def median_seconds(action: Callable[[], object], repeats: int, warmup: int = 2) -> float:
    """The median wall time of ``action`` over ``repeats`` runs, after ``warmup`` runs."""
    for _ in range(warmup):
        action()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def step_seconds(session: Session, minimum_seconds: float) -> float:
    """Seconds per batch step (median of loops of at least ``minimum_seconds``)."""
    session.step("batch", 20)
    loops = []
    for _ in range(5):
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < minimum_seconds:
            session.step("batch", 10)
            count += 10
        loops.append((time.perf_counter() - start) / count)
    return statistics.median(loops)


def measure(name: str, body: dict[str, Any], data_dir: Path, quick: bool) -> dict[str, Any]:
    repeats = 7 if quick else 25
    settings = Settings(data_dir=data_dir / name.replace(" ", "-"))
    store = SqliteStore(settings.data_dir)
    manager = SessionManager(settings, store)
    session = manager.create(body)
    session.step("epoch", EPOCHS_BEFORE_SAVING)  # a fixed state: 11 history points
    exported = session.export()
    encoded = dumps(exported)
    export = median_seconds(session.export, repeats)
    encode = median_seconds(lambda: dumps(exported), repeats)
    store_write = median_seconds(
        lambda: store.save_session(exported, session.token, session.watch_token), repeats
    )
    save = median_seconds(lambda: manager.save(session), repeats)
    step = step_seconds(session, 0.05 if quick else 0.2)
    store.close()

    app_settings = Settings(data_dir=data_dir / (name.replace(" ", "-") + "-app"))
    with TestClient(create_app(app_settings)) as client:
        created = client.post("/api/sessions", json=body).json()
        url = f"/api/sessions/{created['id']}/step"
        headers = {"Authorization": f"Bearer {created['token']}"}

        def rest_step() -> None:
            response = client.post(
                url,
                json={"unit": "batch", "count": 1},
                params={"include_trace": "false"},
                headers=headers,
            )
            assert response.status_code == 200, response.text

        rest = median_seconds(rest_step, repeats)
    n_parameters = sum(layer.W.size + layer.b.size for layer in session.model.layers)
    return {
        "case": name,
        "parameters": int(n_parameters),
        "train_rows": len(session.dataset.x_train),
        "export_bytes": len(encoded),
        "batch_step_ms": step * 1e3,
        "export_ms": export * 1e3,
        "encode_ms": encode * 1e3,
        "write_ms": max(store_write - encode, 0.0) * 1e3,
        "save_ms": save * 1e3,
        "save_per_step": save / step,
        "rest_step_ms": rest * 1e3,
    }


def table(rows: list[dict[str, Any]]) -> str:
    header = (
        "| case | parameters | train rows | stored size | batch step | export | encode "
        "| SQLite write + fsync | save (total) | save ÷ step | REST step call |\n"
        "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"
    )
    lines = [header]
    for r in rows:
        lines.append(
            f"| {r['case']} | {r['parameters']:,} | {r['train_rows']:,} "
            f"| {r['export_bytes'] / 1024:,.0f} KiB | {r['batch_step_ms']:.3f} ms "
            f"| {r['export_ms']:.2f} ms | {r['encode_ms']:.2f} ms | {r['write_ms']:.2f} ms "
            f"| {r['save_ms']:.2f} ms | {r['save_per_step']:,.0f}× | {r['rest_step_ms']:.2f} ms |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short rounds")
    parser.add_argument("--json", action="store_true", help="end with one JSON line")
    parser.add_argument("--data-dir", type=Path, default=None, help="where the SQLite files go")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.data_dir) as directory:
        rows = [measure(name, body, Path(directory), args.quick) for name, body in CASES.items()]
    print(
        f"Python {platform.python_version()}, NumPy {np.__version__}, "
        f"SQLite {__import__('sqlite3').sqlite_version}, {os.cpu_count()} CPUs, "
        f"{platform.machine()} {platform.system()}"
    )
    print(table(rows))
    if args.json:
        print(json.dumps({row["case"]: row for row in rows}))


if __name__ == "__main__":
    main()
