"""Several sessions' batch steps run together: a class playing the same preset shares the
engine's NumPy calls (``app.engine.together``), one batch of every session at a time.

Each session gets what its own ``Session.step("batch", count, …)`` would give — the same
weights, the same timeline and history, its own outcome and its own "step" event — only the
batches of alike models are computed in one go. Every session's lock is the caller's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from app.engine import errors_ignored
from app.engine.together import step_batches

from .session import Session, StepOutcome


@dataclass(frozen=True)
class Play:
    """One session's share of a run: up to ``count`` batches; ``interrupted()`` ends it
    before its next batch (play's pause)."""

    session: Session
    count: int
    interrupted: Callable[[], bool]


def step_together(plays: Sequence[Play], budget_seconds: float, by: str) -> list[StepOutcome]:
    """Batch steps for every play, a round at a time — one batch of each session still due —
    until each has its count, diverges or is interrupted, or the budget is spent (then the
    rest stop with "time budget", as ``Session.step`` says it)."""
    deadline = time.monotonic() + budget_seconds
    outcomes = [StepOutcome("batch", play.count) for play in plays]
    going = list(range(len(plays)))
    with errors_ignored():
        while True:
            for i in going:
                if plays[i].interrupted():
                    outcomes[i].stopped = "interrupted"
            going = [
                i
                for i in going
                if outcomes[i].stopped is None and outcomes[i].done < plays[i].count
            ]
            if not going:
                break
            batches = step_batches([plays[i].session.model for i in going])
            for i, batch in zip(going, batches, strict=True):
                outcomes[i].add(plays[i].session.batch_done(batch))
            if time.monotonic() > deadline:
                for i in going:
                    if outcomes[i].stopped is None and outcomes[i].done < plays[i].count:
                        outcomes[i].stopped = "time budget"
                break
    for play, outcome in zip(plays, outcomes, strict=True):
        play.session.stepped(outcome, by)
    return outcomes
