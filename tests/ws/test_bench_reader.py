"""bench/class.py reads a frame's step from its head (it counts every student's frames in one
process): that head must stay where the reader looks, whatever a frame carries."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

from fastapi import FastAPI

from app.live.frames import FrameCaches, View, build_frame, encode

from .conftest import manager_of

BENCH = Path(__file__).resolve().parents[2] / "bench" / "class.py"


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_class", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_class"] = module
    spec.loader.exec_module(module)
    return module


def test_the_bench_reads_the_step_of_every_kind_of_frame(make_app: Callable[[], FastAPI]) -> None:
    bench = bench_module()
    session = manager_of(make_app()).create({"preset": "circle"})
    caches = FrameCaches()
    views = [View(), View(fields=frozenset({"loss"})), View(boundary_resolution=8)]
    for unit in ("batch", "phase", "phase"):
        session.step(unit, 7)
        frame = build_frame(session, 1, views, caches, {"unit": "batch", "rate": 300.0})
        for view in views:
            assert bench.frame_step(frame.text(view).encode()) == session.model.step
    for other in ({"type": "error", "message": "x"}, {"type": "state", "step": 3}):
        assert bench.frame_step(encode(other).encode()) is None
