"""Sessions stepped together (service/together.py) end as each would by its own Session.step:
weights bit for bit, counters, history, timeline, outcome and its "step" event."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from app.engine import together as engine_together
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


def stack_sizes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every stack step run: the test must see sessions really stacked."""
    sizes: list[int] = []
    real = engine_together.Stack.step

    def counted(stack: engine_together.Stack) -> Any:
        sizes.append(len(stack.models))
        return real(stack)

    monkeypatch.setattr(engine_together.Stack, "step", counted)
    return sizes


def assert_same_penalised(a: Session, b: Session) -> None:
    """``assert_same``, and what a penalty leaves besides the weights: velocities, the tfp
    rule's dead weights, the last batch's gradients with and without the penalty."""
    assert_same(a, b)
    for la, lb, ta, tb in zip(
        a.model.layers, b.model.layers, a.model.traces, b.model.traces, strict=True
    ):
        for x, y in (
            (la.velocity_W, lb.velocity_W),
            (la.velocity_b, lb.velocity_b),
            (la.dead, lb.dead),
            (ta.dW, tb.dW),
            (ta.dW_data, tb.dW_data),
            (ta.dW_penalty, tb.dW_penalty),
            (ta.db, tb.db),
        ):
            assert (x is None) == (y is None)
            assert x is None or np.array_equal(x, y)


@pytest.mark.parametrize("rule", ["gradient", "tfp"])
def test_penalised_sessions_in_a_class_stack_and_end_as_each_alone(
    tmp_path: Path, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A class playing with L1 and L2 on (momentum too) steps as one stack, and each session
    ends as its own Session.step would leave it: weights, velocities, dead weights (the tfp
    rule kills some on the way), gradients, history, timeline and checkpoints."""
    sizes = stack_sizes(monkeypatch)
    together, alone = classes(tmp_path, 4)
    changes = {"l1": 0.03, "l2": 0.001, "penalty_rule": rule, "momentum": 0.5}
    for session in together + alone:
        session.set_hyperparameters(changes)
        timeline = session.timeline
        timeline.configure(7, timeline.max_bytes, timeline.max_replay_seconds)
    counts = [60, 57, 60, 20]
    outcomes = step_together(
        [Play(s, c, lambda: False) for s, c in zip(together, counts, strict=True)], 60.0, "play"
    )
    assert 4 in sizes  # they really ran as one stack
    for session, twin, count, outcome in zip(together, alone, counts, outcomes, strict=True):
        expected = twin.step("batch", count, by="play")
        assert (outcome.done, outcome.stopped) == (expected.done, expected.stopped)
        assert_same_penalised(session, twin)
    dead = [layer.dead for session in together for layer in session.model.layers]
    assert any(mask is not None for mask in dead) == (rule == "tfp")


@pytest.mark.parametrize("rule", ["gradient", "tfp"])
def test_a_class_with_and_without_a_penalty_stacks_as_one(
    tmp_path: Path, rule: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Of four students under one penalty rule, one turns on L1, one L2, one both, one
    neither: one stack, each its own penalty (a column of them), each session as alone."""
    sizes = stack_sizes(monkeypatch)
    together, alone = classes(tmp_path, 4)
    penalties = [{"l1": 0.03}, {"l2": 0.01}, {"l1": 0.01, "l2": 0.003}, {}]
    for i, penalty in enumerate(penalties):
        for session in (together[i], alone[i]):
            session.set_hyperparameters({**penalty, "penalty_rule": rule})
    outcomes = step_together([Play(s, 40, lambda: False) for s in together], 60.0, "play")
    assert sizes and set(sizes) == {4}
    for session, twin, outcome in zip(together, alone, outcomes, strict=True):
        expected = twin.step("batch", 40, by="play")
        assert (outcome.done, outcome.stopped) == (expected.done, expected.stopped)
        assert_same_penalised(session, twin)
