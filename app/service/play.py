"""Play's visits to a session: the units due in one frame interval, then the stop conditions,
whether a save is due and what the caller reads last (the live layer's frame) — all with the
session held, so they see one moment, and never waited for: a REST call that holds the
session (a step may take seconds) makes the visit ``busy``, and play comes back later.

Several sessions' batch visits may run together (``play_together``): each session is held
for the whole run, their batches run in one go (``together.step_together``), the rest as
alone. The live layer says what is due (``Visit``) and reads what happened (``Played``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from app.engine import ConfigError, Model

from .manager import SessionManager
from .session import Session, Unit
from .together import Play, step_together

PLAY = "play"  # the ``by`` of play's own steps: the live hub hears of them from ``Played``
P = TypeVar("P", bound="Played")


class StopRule(Protocol):
    """Pause when the training loss is at most ``target_loss`` or the epoch counter reaches
    ``epochs`` (None: no such condition)."""

    @property
    def target_loss(self) -> float | None: ...

    @property
    def epochs(self) -> int | None: ...


@dataclass(frozen=True)
class Visit:
    """One visit of play: up to ``count`` units within ``budget`` seconds, stopped before a
    unit once ``interrupted()``; ``then(session)`` last, the session still held."""

    session: Session
    manager: SessionManager
    unit: Unit
    count: int
    budget: float
    stop: StopRule
    interrupted: Callable[[], bool]
    then: Callable[[Session], None] | None = None


@dataclass
class Played:
    """What a visit did."""

    done: int = 0
    busy: bool = False  # the session was held by another call (a long REST step): nothing done
    diverged: str | None = None
    stop_met: str | None = None  # why a stop condition ends play
    error: str | None = None
    save_due: bool = False  # persist_interval_seconds have passed: the caller stores it


def play_alone(visit: Visit, played: P) -> P:
    """Train, check the stop conditions, see if a save is due, ``then``: one visit, filling
    ``played`` (busy, and nothing else, when the session is held by another call)."""
    session = visit.session
    if not session.lock.acquire(blocking=False):
        played.busy = True
        return played
    try:
        count = _count(session, visit)
        if count > 0:
            try:
                outcome = session.step(
                    visit.unit, count, visit.budget, by=PLAY, interrupted=visit.interrupted
                )
            except ConfigError as error:
                played.error = error.message
                return played
            played.done, played.diverged = outcome.done, outcome.diverged
        _finish(visit, played)
    finally:
        session.lock.release()
    return played


def play_together(visits: Sequence[Visit], played: Sequence[Played]) -> None:
    """``play_alone`` for several sessions' batch visits at once, filling ``played`` in
    order: their batches run together (alike networks share the engine's calls), then each
    session gets its stop conditions, save and ``then``, as alone. Their budgets add up."""
    held: list[int] = []  # the visits whose session this run holds
    plays: list[Play] = []
    members: list[int] = []  # the visits with batches to run, in the order of ``plays``
    try:
        for i, visit in enumerate(visits):
            session = visit.session
            if not session.model.n_samples:  # its ConfigError is its own: run it alone
                play_alone(visit, played[i])
                continue
            if not session.lock.acquire(blocking=False):
                played[i].busy = True
                continue
            held.append(i)
            count = _count(session, visit)
            if count > 0:
                plays.append(Play(session, count, visit.interrupted))
                members.append(i)
        budget = sum(visit.budget for visit in visits)
        for i, outcome in zip(members, step_together(plays, budget, PLAY), strict=True):
            played[i].done, played[i].diverged = outcome.done, outcome.diverged
        for i in held:
            _finish(visits[i], played[i])
    finally:
        for i in held:
            visits[i].session.lock.release()


def _count(session: Session, visit: Visit) -> int:
    """The units to run: the visit's, ending exactly where the epoch count is reached."""
    if visit.stop.epochs is None:
        return visit.count
    return min(visit.count, units_until_epoch(session.model, visit.unit, visit.stop.epochs))


def _finish(visit: Visit, played: Played) -> None:
    """After the training: the stop conditions, whether a save is due, ``then``."""
    session, stop = visit.session, visit.stop
    if not played.diverged and (stop.target_loss is not None or stop.epochs is not None):
        played.stop_met = stop_condition_met(session, stop)
    played.save_due = visit.manager.save_due(session)
    if visit.then is not None:
        visit.then(session)


def units_until_epoch(model: Model, unit: Unit, epochs: int) -> int:
    """How many phases, batches or epochs until the epoch counter reaches ``epochs``."""
    if model.epoch >= epochs:
        return 0
    if unit == "epoch":
        return epochs - model.epoch
    per_epoch = math.ceil(model.n_samples / model.batch_size)
    this_epoch = math.ceil((model.n_samples - model.position) / model.batch_size)
    batches = this_epoch + (epochs - model.epoch - 1) * per_epoch
    if unit == "batch":
        return batches
    return batches * len(model.phases) - model.cursor


def stop_condition_met(session: Session, stop: StopRule) -> str | None:
    """Why play should stop now, or None (call it with the session held)."""
    model = session.model
    if stop.epochs is not None and model.epoch >= stop.epochs:
        return f"epoch {model.epoch} reached (stop at {stop.epochs} epochs)"
    if stop.target_loss is not None and not model.in_batch:
        loss = session.train_loss()
        if math.isfinite(loss) and loss <= stop.target_loss:
            return f"training loss {loss:.6g} ≤ target {stop.target_loss:g} at step {model.step}"
    return None
