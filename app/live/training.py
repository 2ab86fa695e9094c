"""One slice of play: the units due in one frame interval, then the stop conditions and,
when a client is due one, the frame — all in one visit to the session (``service/play.py``
holds it). Several sessions' batch slices may run together (``run_together``): their
batches in one go, the rest as alone.

This is the host's side of play (see ``host.py``): it runs wherever the session lives. The
player on the event loop only says what is due (``SliceOrder``) and reads what happened
(``SliceResult``): both are plain, picklable data.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from app.service.manager import SessionManager
from app.service.play import Played, Visit, play_alone, play_together
from app.service.session import Session, Unit

from .frames import Frame, FrameCaches, View, build_frame


class StopConditions(BaseModel):
    """Pause playing when the training loss is at most ``target_loss`` or the epoch counter
    reaches ``epochs``; a condition is cleared once it has been met."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    target_loss: float | None = Field(None, ge=0)
    epochs: int | None = Field(None, ge=1)


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
class SliceResult(Played):
    """What a slice did (``Played``), its frame, and the CPU it took."""

    frame: Frame | None = None
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

    Never waits for the session: a REST call that holds it (a step may take seconds) makes
    this slice ``busy``, and the player tries again at the next frame interval.
    """
    result = SliceResult()
    return play_alone(_visit(part, result), result)


def run_together(slices: Sequence[Slice]) -> list[SliceResult]:
    """``run_slice`` for several sessions of batch play at once: their batches run together
    (``app.service.together``: alike networks share the engine's calls), then each session
    gets its stop conditions, save and frame, as alone. Their budgets add up."""
    started = time.thread_time()
    results = [SliceResult() for _ in slices]
    play_together(
        [_visit(part, result) for part, result in zip(slices, results, strict=True)], results
    )
    per_unit = (time.thread_time() - started) / max(1, sum(r.done for r in results))
    for result in results:
        result.cpu = per_unit * result.done
    return results


def _visit(part: Slice, result: SliceResult) -> Visit:
    """The slice as a visit of play: its frame, if a client is due one, built last."""
    order = part.order
    then = None if order.views is None else functools.partial(_frame, part, result)
    return Visit(
        part.session,
        part.manager,
        order.unit,
        order.count,
        order.budget,
        order.stop,
        part.interrupted.is_set,
        then,
    )


def _frame(part: Slice, result: SliceResult, session: Session) -> None:
    """The slice's frame, built and encoded while the visit holds the session."""
    assert part.order.views is not None
    result.frame = build_frame(session, part.seq, part.order.views, part.caches, part.order.play)
    result.frame.encode_all()
