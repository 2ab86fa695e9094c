"""One slice of play: the units due in one frame interval, then the stop conditions and,
when a client is due one, the frame — all in one visit to the session. Several sessions'
batch slices may run together (``run_together``): their batches in one go, the rest as alone.

This is the host's side of play (see ``host.py``): it reads and changes the Session, and runs
wherever the session lives. The player on the event loop only says what is due
(``SliceOrder``) and reads what happened (``SliceResult``): both are plain, picklable data.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.engine import ConfigError, Model
from app.service.manager import SessionManager
from app.service.session import Session, Unit
from app.service.together import Play, step_together

from .frames import Frame, FrameCaches, View, build_frame

PLAY = "play"  # the ``by`` of play's own steps: the hub is told of them by the slice result


class StopConditions(BaseModel):
    """Pause playing when the training loss is at most ``target_loss`` or the epoch counter
    reaches ``epochs``; a condition is cleared once it has been met."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    target_loss: float | None = Field(None, ge=0)
    epochs: int | None = Field(None, ge=1)

    @property
    def empty(self) -> bool:
        return self.target_loss is None and self.epochs is None


@dataclass(frozen=True)
class SliceOrder:
    """What one slice should do: up to ``count`` units within ``budget`` seconds, then a
    frame for ``views`` (None: no client is due a frame)."""

    unit: Unit
    count: int
    budget: float
    stop: StopConditions
    views: frozenset[View] | None
    play: dict[str, Any] | None  # the frame's ``play`` field
    together: bool = False  # paced batch play on the frame ticks: may run with others due


@dataclass
class SliceResult:
    """What a slice did."""

    done: int = 0
    busy: bool = False  # the session was busy (a long REST step holds it): nothing was done
    diverged: str | None = None
    stop_met: str | None = None  # why a stop condition ends play
    error: str | None = None
    frame: Frame | None = None
    save_due: bool = False  # persist_interval_seconds have passed: the host stores it (off here)
    cpu: float = 0.0  # thread CPU seconds it took (run together: its units' share)


@dataclass(frozen=True)
class Slice:
    """One session's slice: the order, and what running it needs."""

    session: Session
    manager: SessionManager
    order: SliceOrder
    interrupted: threading.Event
    caches: FrameCaches
    seq: int


def run_slice(part: Slice) -> SliceResult:
    """Train, check the stop conditions, see if a save is due, build the frame: one visit.

    Never waits for the session's lock: a REST call that holds it (a step may take seconds)
    makes this slice ``busy``, and the player tries again at the next frame interval.
    """
    session, order = part.session, part.order
    result = SliceResult()
    if not session.lock.acquire(blocking=False):
        result.busy = True
        return result
    try:
        count = _count(session, order)
        if count > 0:
            try:
                outcome = session.step(
                    order.unit, count, order.budget, by=PLAY, interrupted=part.interrupted.is_set
                )
            except ConfigError as error:
                result.error = error.message
                return result
            result.done, result.diverged = outcome.done, outcome.diverged
        _finish(part, result)
    finally:
        session.lock.release()
    return result


def run_together(slices: Sequence[Slice]) -> list[SliceResult]:
    """``run_slice`` for several sessions of batch play at once: their batches run together
    (``app.service.together``: alike networks share the engine's calls), then each session
    gets its stop conditions, save and frame, as alone. Their budgets add up."""
    started = time.thread_time()
    results = [SliceResult() for _ in slices]
    held: list[int] = []  # the slices whose session's lock this run holds
    plays: list[Play] = []
    members: list[int] = []  # the slices with batches to run, in the order of ``plays``
    try:
        for i, part in enumerate(slices):
            session = part.session
            if not session.model.n_samples:  # its ConfigError is its own: run it alone
                results[i] = run_slice(part)
                continue
            if not session.lock.acquire(blocking=False):
                results[i].busy = True
                continue
            held.append(i)
            count = _count(session, part.order)
            if count > 0:
                plays.append(Play(session, count, part.interrupted.is_set))
                members.append(i)
        budget = sum(part.order.budget for part in slices)
        for i, outcome in zip(members, step_together(plays, budget, PLAY), strict=True):
            results[i].done, results[i].diverged = outcome.done, outcome.diverged
        for i in held:
            _finish(slices[i], results[i])
    finally:
        for i in held:
            slices[i].session.lock.release()
    per_unit = (time.thread_time() - started) / max(1, sum(r.done for r in results))
    for result in results:
        result.cpu = per_unit * result.done
    return results


def _count(session: Session, order: SliceOrder) -> int:
    """The units to run: the order's, ending exactly where the epoch count is reached."""
    if order.stop.epochs is None:
        return order.count
    return min(order.count, units_until_epoch(session.model, order.unit, order.stop.epochs))


def _finish(part: Slice, result: SliceResult) -> None:
    """After the training: the stop conditions, whether a save is due, the frame."""
    session, order = part.session, part.order
    if not result.diverged and not order.stop.empty:
        result.stop_met = stop_condition_met(session, order.stop)
    result.save_due = part.manager.save_due(session)
    if order.views is not None:
        result.frame = build_frame(session, part.seq, order.views, part.caches, order.play)
        result.frame.encode_all()


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


def stop_condition_met(session: Session, stop: StopConditions) -> str | None:
    """Why play should stop now, or None (the caller holds the session's lock)."""
    model = session.model
    if stop.epochs is not None and model.epoch >= stop.epochs:
        return f"epoch {model.epoch} reached (stop at {stop.epochs} epochs)"
    if stop.target_loss is not None and not model.in_batch:
        loss = session.train_loss()
        if math.isfinite(loss) and loss <= stop.target_loss:
            return f"training loss {loss:.6g} ≤ target {stop.target_loss:g} at step {model.step}"
    return None
