"""The session's host: where a session lives and trains, as the live layer sees it.

The hub never touches a Session: it asks its host. ``SessionHost`` is that small interface —
every call async, every argument and answer plain data (a Frame is a few strings and
numbers) — so the host can be this process (``LocalHost``) or, later, a worker process or
another machine, with the hub unchanged.

``LocalHost`` runs a play slice whose units cost little (the usual case: a small network)
on the event loop itself, for at most INLINE_SECONDS: a slice there needs no thread hop
and, above all, no hand-over of the GIL, which a second busy Python thread would make the
loop wait for at every turn (measured: that wait, not the work, held a class to a few
students); paced batch play there goes through the registry's cohort, which runs the slices
due at one frame tick together. A session whose one unit costs more (a big network) plays
on the registry's one training thread, where such sessions queue in turn. Everything else
(hello, frames after a REST change, commands, saves) runs on the registry's general threads,
where waiting for the session's lock is allowed.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import replace
from typing import Any, Protocol, TypeVar

from app.service.manager import SessionManager
from app.service.session import Session, StepOutcome, Unit

from .cohort import Cohort
from .frames import Frame, FrameCaches, View, build_frame, frame_key
from .training import Slice, SliceOrder, SliceResult, run_slice

log = logging.getLogger("app.live")
T = TypeVar("T")
INLINE_SECONDS = 0.004  # the longest a slice runs on the event loop (when a unit takes less)
ChangeListener = Callable[[str, dict[str, Any]], None]  # (kind, detail), from any thread


class SessionHost(Protocol):
    """What the live layer may ask of the place a session lives."""

    session_id: str

    async def hello(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the whole state, the dataset summary), read together."""
        ...

    async def state(self) -> dict[str, Any]:
        """The whole state (without the dataset)."""
        ...

    async def on_plane(self) -> bool:
        """Do the inputs lie on a plane (x1, x2) (a boundary grid can be drawn)?"""
        ...

    async def advance(self, order: SliceOrder) -> SliceResult:
        """One slice of play (see ``training.run_slice``)."""
        ...

    async def frame(
        self, views: frozenset[View], play: dict[str, Any] | None, unless_key: Any
    ) -> Frame | None:
        """A frame of the session now, or None when it would show ``unless_key`` again."""
        ...

    async def step(self, unit: Unit, count: int, budget: float, by: str) -> StepOutcome: ...

    async def set(self, changes: dict[str, Any], by: str) -> None: ...

    async def reset(self, seed: int | None, by: str) -> None: ...

    async def save(self) -> None: ...

    async def begin_play(self) -> None:
        """The session is playing from now on (its state says so); no interruption pending."""
        ...

    def interrupt(self) -> None:
        """End the running slice after its current unit (from the loop, at once)."""
        ...

    async def end_play(self) -> int:
        """The session is no longer playing; answers its step counter."""
        ...

    async def listen(self, listener: ChangeListener) -> None:
        """Call ``listener`` on every change made by anyone but play itself."""
        ...

    async def unlisten(self, listener: ChangeListener) -> None: ...


class LocalHost:
    """A session of this process; its calls run on the registry's threads."""

    def __init__(
        self,
        session: Session,
        manager: SessionManager,
        trainer: Executor,
        workers: Executor,
        cohort: Cohort,
    ) -> None:
        self.session = session
        self.session_id = session.id
        self.manager = manager
        self._trainer = trainer
        self._workers = workers
        self._cohort = cohort
        self._caches = FrameCaches()
        self._seq = 0
        self._interrupted = threading.Event()
        self._unit_seconds = 0.0  # CPU per unit (and its share of the frame) in the last slice
        self._saving: asyncio.Future[None] | None = None  # a store under way
        self._listeners: dict[ChangeListener, Callable[[Session, str, dict[str, Any]], None]] = {}

    async def _run(self, executor: Executor, fn: Callable[..., T], *args: Any) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(executor, functools.partial(fn, *args))

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    # ----- reading -------------------------------------------------------------------------

    async def hello(self) -> tuple[dict[str, Any], dict[str, Any]]:
        return await self._run(self._workers, self.session.state_and_dataset)

    async def state(self) -> dict[str, Any]:
        return await self._run(self._workers, self.session.state)

    async def on_plane(self) -> bool:
        return self.session.plane is not None

    async def frame(
        self, views: frozenset[View], play: dict[str, Any] | None, unless_key: Any
    ) -> Frame | None:
        seq = self._next_seq()
        return await self._run(self._workers, self._frame, seq, views, play, unless_key)

    def _frame(
        self, seq: int, views: frozenset[View], play: dict[str, Any] | None, unless_key: Any
    ) -> Frame | None:
        def unless_shown(session: Session) -> Frame | None:
            if frame_key(session.version, session.playing, views, play) == unless_key:
                return None
            return build_frame(session, seq, views, self._caches, play)

        frame = self.session.read(unless_shown)
        if frame is not None:
            frame.encode_all()
        return frame

    # ----- play ----------------------------------------------------------------------------

    async def advance(self, order: SliceOrder) -> SliceResult:
        seq = self._next_seq() if order.views is not None else 0
        if self._unit_seconds < INLINE_SECONDS:
            order = replace(order, budget=min(order.budget, INLINE_SECONDS))
            part = self._slice(order, seq)
            if order.together:
                result = await self._cohort.run(part)
            else:
                result = self._timed_slice(part)
        else:
            result = await self._run(self._trainer, self._timed_slice, self._slice(order, seq))
        if not result.busy:  # the CPU a unit costs here: on the loop, or on the trainer?
            self._unit_seconds = result.cpu / max(1, result.done)
        self._store_if_due(result)
        return result

    def _slice(self, order: SliceOrder, seq: int) -> Slice:
        return Slice(self.session, self.manager, order, self._interrupted, self._caches, seq)

    def _timed_slice(self, part: Slice) -> SliceResult:
        # The CPU the slice took (thread time): not the time it waited for the GIL or a core.
        started = time.thread_time()
        result = run_slice(part)
        result.cpu = time.thread_time() - started
        return result

    def _store_if_due(self, result: SliceResult) -> None:
        """Store a playing session every persist interval, on a worker thread: a write waits
        for the disk (fsync), which neither the loop nor the training thread may."""
        if not result.save_due or self._saving is not None:
            return
        self._saving = asyncio.get_running_loop().run_in_executor(
            self._workers, self.manager.save, self.session
        )
        self._saving.add_done_callback(self._saved)

    def _saved(self, future: asyncio.Future[None]) -> None:
        self._saving = None
        if not future.cancelled() and future.exception() is not None:
            log.error("storing session %s failed: %s", self.session_id[:8], future.exception())

    async def begin_play(self) -> None:
        self._interrupted.clear()
        self.session.set_playing(True)

    def interrupt(self) -> None:
        self._interrupted.set()

    async def end_play(self) -> int:
        self.session.set_playing(False)
        return self.session.model.step

    # ----- changing ------------------------------------------------------------------------

    async def step(self, unit: Unit, count: int, budget: float, by: str) -> StepOutcome:
        return await self._run(self._workers, self._step_and_save, unit, count, budget, by)

    def _step_and_save(self, unit: Unit, count: int, budget: float, by: str) -> StepOutcome:
        outcome = self.session.step(unit, count, budget, by=by)
        self.manager.save(self.session)
        return outcome

    async def set(self, changes: dict[str, Any], by: str) -> None:
        await self._run(self._workers, self._set_and_save, changes, by)

    def _set_and_save(self, changes: dict[str, Any], by: str) -> None:
        self.session.set_hyperparameters(changes, by)
        self.manager.save(self.session)

    async def reset(self, seed: int | None, by: str) -> None:
        await self._run(self._workers, self._reset_and_save, seed, by)

    def _reset_and_save(self, seed: int | None, by: str) -> None:
        self.session.reset(seed, by)
        self.manager.save(self.session)

    async def save(self) -> None:
        await self._run(self._workers, self.manager.save, self.session)

    # ----- listening -----------------------------------------------------------------------

    async def listen(self, listener: ChangeListener) -> None:
        def on_change(session: Session, kind: str, detail: dict[str, Any]) -> None:
            listener(kind, detail)

        self._listeners[listener] = on_change
        # add_listener takes the session's lock, which a long REST step may hold: a thread.
        await self._run(self._workers, self.session.add_listener, on_change)

    async def unlisten(self, listener: ChangeListener) -> None:
        on_change = self._listeners.pop(listener, None)
        if on_change is not None:
            await self._run(self._workers, self.session.remove_listener, on_change)
