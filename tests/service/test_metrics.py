"""Session.metrics() is worked out once per moment and shared (the history's point, a state, a
frame): after training, an edited weight, a changed loss or a reset it is fresh again."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.service.manager import SessionManager
from app.service.session import Session
from app.service.store import open_store
from app.settings import Settings


@pytest.fixture
def session(tmp_path: Path) -> Session:
    manager = SessionManager(Settings(data_dir=tmp_path), open_store(tmp_path))
    return manager.create({"preset": "circle"})


def independent(session: Session) -> dict[str, Any]:
    """Train/test loss and accuracy from a forward pass written out here (±1 labels)."""
    out: dict[str, Any] = {}
    data = session.dataset
    for split, x, y in (("train", data.x_train, data.y_train), ("test", data.x_test, data.y_test)):
        a = x
        for layer in session.model.layers:
            a = np.tanh(a @ layer.W + layer.b)
        r = a - y
        loss = (
            0.5 * float(np.mean(r * r))
            if session.config["model"]["loss"] == "square"
            else (float(np.mean(r * r)))
        )
        out[f"{split}_loss"] = loss
        out[f"{split}_accuracy"] = float(np.mean((a > 0) == (y > 0)))
    return out


def assert_fresh(session: Session) -> None:
    got, want = session.metrics(), independent(session)
    assert got["step"] == session.model.step
    for name, value in want.items():
        assert got[name] == pytest.approx(value, rel=1e-12, abs=1e-15), name


def test_metrics_follow_every_kind_of_change(session: Session) -> None:
    assert_fresh(session)
    first = session.metrics()
    assert session.metrics() is first  # the same moment: worked out once
    session.step("batch", 30)
    assert_fresh(session)
    before = session.metrics()
    session.set_parameter(0, 0, 0, 3.0)  # the same step, other weights
    assert session.metrics() != before
    assert_fresh(session)
    session.set_hyperparameters({"loss": "mse"})  # the same weights, another loss
    assert_fresh(session)
    session.reset(seed=5)
    assert_fresh(session)
    session.step("phase", 2)  # mid-batch: the weights are those of the last update
    assert_fresh(session)


def test_the_history_point_is_the_metrics_of_its_moment(session: Session) -> None:
    session.step("epoch", 2)
    point = session.history[-1]
    assert point["step"] == session.model.step
    assert session.metrics() is point  # a frame or a state at that moment reuses it
    assert_fresh(session)
