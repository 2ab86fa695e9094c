"""Sessions stepped together (service/together.py) end as each would by its own Session.step:
weights bit for bit, counters, history, timeline, outcome and its "step" event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.service.manager import SessionManager
from app.service.session import Session
from app.service.store import open_store
from app.service.together import Play, step_together
from app.settings import Settings


def classes(tmp_path: Path, n: int) -> tuple[list[Session], list[Session]]:
    """n circle sessions (their own seeds, data and rates), and a twin of each."""
    pairs = []
    for name in ("together", "alone"):
        folder = tmp_path / name
        manager = SessionManager(Settings(data_dir=folder), open_store(folder))
        pairs.append(
            [
                manager.create(
                    {
                        "preset": "circle",
                        "model": {"seed": i, "learning_rate": 0.03 * (1 + i)},
                        "data": {"seed": i},
                    }
                )
                for i in range(n)
            ]
        )
    return pairs[0], pairs[1]


def events(session: Session) -> list[tuple[str, dict[str, Any]]]:
    seen: list[tuple[str, dict[str, Any]]] = []
    session.add_listener(lambda _session, kind, detail: seen.append((kind, detail)))
    return seen


def assert_same(a: Session, b: Session) -> None:
    for la, lb in zip(a.model.layers, b.model.layers, strict=True):
        assert np.array_equal(la.W, lb.W) and np.array_equal(la.b, lb.b)
    ma, mb = a.model, b.model
    assert (ma.step, ma.epoch, ma.position, ma.loss) == (mb.step, mb.epoch, mb.position, mb.loss)
    assert a.history == b.history
    assert a.timeline.done == b.timeline.done
    assert a.timeline.log == b.timeline.log
    kept_a, kept_b = a.timeline.checkpoints, b.timeline.checkpoints
    assert [c.model.step for c in kept_a] == [c.model.step for c in kept_b]
    for ca, cb in zip(kept_a, kept_b, strict=True):  # the weights as they were then
        for la, lb in zip(ca.model.layers, cb.model.layers, strict=True):
            assert np.array_equal(la.W, lb.W) and np.array_equal(la.b, lb.b)


def test_sessions_stepped_together_end_as_each_alone(tmp_path: Path) -> None:
    together, alone = classes(tmp_path, 4)
    for session in together + alone:  # checkpoints mid-run: each a copy of the model then
        timeline = session.timeline
        timeline.configure(7, timeline.max_bytes, timeline.max_replay_seconds)
    assert len({s.model.config.architecture for s in together}) == 1  # alike: they stack
    counts = [30, 27, 30, 5]  # past an epoch's end (25 batches of 10 in 250 rows), or not
    seen = [events(s) for s in together]
    outcomes = step_together(
        [Play(s, c, lambda: False) for s, c in zip(together, counts, strict=True)], 60.0, "play"
    )
    for session, twin, count, outcome, heard in zip(
        together, alone, counts, outcomes, seen, strict=True
    ):
        expected = twin.step("batch", count, by="play")
        assert (outcome.done, outcome.stopped, outcome.units) == (
            expected.done,
            expected.stopped,
            expected.units,
        )
        assert_same(session, twin)
        assert heard == [("step", {"unit": "batch", "count": count, "by": "play"})]
    assert all(len(s.history) >= 1 for s in together if s.model.epoch)  # an epoch's point


def test_an_interrupted_session_stops_alone_and_the_budget_stops_all(tmp_path: Path) -> None:
    together, alone = classes(tmp_path, 3)
    asked = {"n": 0}

    def after_three() -> bool:  # play's pause, asked before each batch
        asked["n"] += 1
        return asked["n"] > 3

    plays = [Play(together[0], 10, after_three)] + [
        Play(s, 10, lambda: False) for s in together[1:]
    ]
    outcomes = step_together(plays, 60.0, "play")
    assert [(o.done, o.stopped) for o in outcomes] == [(3, "interrupted"), (10, None), (10, None)]
    for session, twin, outcome in zip(together, alone, outcomes, strict=True):
        twin.step("batch", outcome.done)
        assert_same(session, twin)

    outcomes = step_together([Play(s, 10, lambda: False) for s in together], 0.0, "play")
    assert [(o.done, o.stopped) for o in outcomes] == [(1, "time budget")] * 3


@pytest.mark.parametrize("diverging", [0, 2])
def test_a_diverging_session_stops_its_own_play_only(tmp_path: Path, diverging: int) -> None:
    together, alone = classes(tmp_path, 3)
    for session in together + alone:  # unbounded outputs: a huge rate overflows
        session.set_hyperparameters({"activations": ["relu", "relu", "linear"]})
    for session in (together[diverging], alone[diverging]):
        session.set_hyperparameters({"learning_rate": 1e300})
    outcomes = step_together([Play(s, 8, lambda: False) for s in together], 60.0, "play")
    for i, (session, twin, outcome) in enumerate(zip(together, alone, outcomes, strict=True)):
        expected = twin.step("batch", 8)
        assert (outcome.done, outcome.stopped, outcome.diverged) == (
            expected.done,
            expected.stopped,
            expected.diverged,
        )
        assert (outcome.stopped == "diverged") == (i == diverging)
        assert_same(session, twin)
