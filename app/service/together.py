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

from app.engine import BatchResult, Model, errors_ignored
from app.engine.together import Stack, group, next_rows

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
    rest stop with "time budget", as ``Session.step`` says it).

    Alike models step in stacks (``engine.together``); a stacked model is written back
    whenever its session reads more than its counters (an epoch's end: the history's point;
    a checkpoint of the timeline) and when it leaves its stack.
    """
    deadline = time.monotonic() + budget_seconds
    outcomes = [StepOutcome("batch", play.count) for play in plays]
    models = [play.session.model for play in plays]
    stacks: dict[int, Stack] = {}  # play → the stack its model steps in (none: alone)
    with errors_ignored():
        try:
            for members in group(models)[1]:
                made = Stack([models[i] for i in members])
                stacks.update((i, made) for i in members)
            going = list(range(len(plays)))
            while True:
                for i in going:
                    if plays[i].interrupted():
                        outcomes[i].stopped = "interrupted"
                ended = [i for i in going if not _due(outcomes[i], plays[i])]
                _leave(stacks, ended, models)
                going = [i for i in going if _due(outcomes[i], plays[i])]
                if not going:
                    break
                rows = {id(stack): next_rows(stack.models[0]) for stack in set(stacks.values())}
                # another batch size (an epoch's short end): alone from now
                _leave(stacks, [i for i in going if _rows_differ(stacks, i, models, rows)], models)
                batches = _round(going, models, stacks)
                for i in going:
                    session, batch = plays[i].session, batches[i]
                    stack = stacks.get(i)
                    if batch.diverged:
                        stacks.pop(i, None)  # (it left its stack, written back)
                    elif stack is not None and (
                        batch.epoch_done or session.timeline.checkpoint_due(session.model)
                    ):
                        stack.sync(session.model)
                    outcomes[i].add(session.batch_done(batch))
                if time.monotonic() > deadline:
                    for i in going:
                        if _due(outcomes[i], plays[i]):
                            outcomes[i].stopped = "time budget"
                    break
        finally:
            for stack in set(stacks.values()):
                stack.release()
    for play, outcome in zip(plays, outcomes, strict=True):
        play.session.stepped(outcome, by)
    return outcomes


def _due(outcome: StepOutcome, play: Play) -> bool:
    return outcome.stopped is None and outcome.done < play.count


def _leave(stacks: dict[int, Stack], plays: list[int], models: list[Model]) -> None:
    """These plays' models leave their stacks (written back), each stack's at once."""
    leaving: dict[int, tuple[Stack, list[Model]]] = {}
    for i in plays:
        stack = stacks.pop(i, None)
        if stack is not None and models[i] in stack.models:
            leaving.setdefault(id(stack), (stack, []))[1].append(models[i])
    for stack, gone in leaving.values():
        stack.leave(gone)


def _rows_differ(
    stacks: dict[int, Stack], i: int, models: list[Model], rows: dict[int, int]
) -> bool:
    stack = stacks.get(i)
    return stack is not None and next_rows(models[i]) != rows[id(stack)]


def _round(
    going: list[int], models: list[Model], stacks: dict[int, Stack]
) -> dict[int, BatchResult]:
    """One batch of each model still going: a step of each stack, the others alone."""
    batches: dict[int, BatchResult] = {}
    stepped: set[int] = set()
    index = {id(models[i]): i for i in going}
    for i in going:
        stack = stacks.get(i)
        if stack is None:
            batches[i] = models[i].step_batch()
        elif id(stack) not in stepped:
            stepped.add(id(stack))
            members = list(stack.models)
            for model, batch in zip(members, stack.step(), strict=True):
                batches[index[id(model)]] = batch
    return batches
