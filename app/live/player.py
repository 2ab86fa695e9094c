"""The play task: trains a session in short chunks on its own thread, at the teacher's pace.

The socket never sets the pace. Each chunk runs ``Session.step`` (under the session's lock)
for at most CHUNK_SECONDS or as many units as the rate says are due, then checks the stop
conditions and stores the session if ``persist_interval_seconds`` have passed. A chunk
steps in slices of SLICE_SECONDS and ends after the slice in which the hub asked for a
frame, so a frame waits about a slice for the lock, not a chunk. Between chunks
the event loop is free and the lock is released, so REST calls and frames interleave.

Phase play at a rate the frame cap can show publishes one frame after every phase before
the next one runs, so the page can animate the backward pass layer by layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.engine import ConfigError, Model
from app.service.manager import SessionManager
from app.service.session import Session

from .commands import StopConditions, Unit

if TYPE_CHECKING:
    from .hub import Hub

log = logging.getLogger("app.live")

CHUNK_SECONDS = 0.02  # longest a chunk holds the session's lock
SLICE_SECONDS = 0.002  # a chunk looks whether a frame is waiting (and yields) this often
MAX_BACKLOG_SECONDS = 0.25  # a rate the machine can't reach drops its backlog past this
FLAT_OUT_COUNT = {"phase": 1_000_000, "batch": 1_000_000, "epoch": 1_000}


class PlayThread(threading.local):
    """Which session the current thread is playing, if any: the hub ignores the step notices
    of its own play task (it asks for a frame after each chunk instead), so training never
    wakes the event loop, which would take the GIL from it."""

    session: Session | None = None


play_thread = PlayThread()


@dataclass
class ChunkResult:
    """What one chunk did, read on the worker thread."""

    done: int
    diverged: str | None = None
    stop_met: str | None = None  # why a stop condition ended play
    error: str | None = None


def run_chunk(
    session: Session,
    manager: SessionManager,
    unit: Unit,
    count: int,
    stop: StopConditions,
    deleted: threading.Event,
    frame_wanted: threading.Event,
) -> ChunkResult:
    """Up to ``count`` units for at most CHUNK_SECONDS — ending early, within a slice, when a
    frame is wanted — then the stop conditions and storage."""
    deadline = time.monotonic() + CHUNK_SECONDS
    result = ChunkResult(0)
    play_thread.session = session
    try:
        with session.lock:
            if stop.epochs is not None:  # end the chunk exactly where the epoch count is reached
                count = min(count, units_until_epoch(session.model, unit, stop.epochs))
            while result.done < count:
                budget = max(0.0, min(SLICE_SECONDS, deadline - time.monotonic()))
                try:
                    outcome = session.step(unit, count - result.done, budget_seconds=budget)
                except ConfigError as error:
                    result.error = error.message
                    return result
                result.done += outcome.done
                result.diverged = outcome.diverged
                if result.diverged or frame_wanted.is_set() or time.monotonic() >= deadline:
                    break
                # Hand the GIL over: a thread waiting for it (the event loop, a REST handler)
                # would otherwise wait up to the 5 ms switch interval, at each of its hops.
                time.sleep(0)
    finally:
        play_thread.session = None
    if not result.diverged and not stop.empty:
        result.stop_met = stop_condition_met(session, stop)
    if not deleted.is_set():
        manager.save_if_due(session)
    return result


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
    """Why play should stop now, or None."""
    with session.lock:
        model = session.model
        if stop.epochs is not None and model.epoch >= stop.epochs:
            return f"epoch {model.epoch} reached (stop at {stop.epochs} epochs)"
        if stop.target_loss is not None and not model.in_batch:
            loss = session.train_loss()
            if math.isfinite(loss) and loss <= stop.target_loss:
                return (
                    f"training loss {loss:.6g} ≤ target {stop.target_loss:g} at step {model.step}"
                )
    return None


class Player:
    """Plays one session; owned by its Hub, run on the event loop."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.unit: Unit = "batch"
        self.rate: float | None = None
        self.task: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()
        self._stop_reason = "pause"
        self._origin = 0.0  # when pacing (re)started
        self._done = 0  # units done since then
        self._idle = asyncio.Event()  # set while no chunk runs
        self._idle.set()

    @property
    def playing(self) -> bool:
        return self.task is not None and not self.task.done()

    def describe(self) -> dict[str, Any] | None:
        return {"unit": self.unit, "rate": self.rate} if self.playing else None

    def start(self, unit: Unit, rate: float | None) -> None:
        """Play (or, when playing, re-pace from now)."""
        self.unit, self.rate = unit, rate
        self._origin, self._done = time.monotonic(), 0
        if self.playing:
            return
        self._stop_requested.clear()
        self._stop_reason = "pause"
        self.hub.session.playing = True
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self, reason: str) -> None:
        """Ask the task to end after its current chunk, and wait for it (it saves)."""
        if not self.playing:
            return
        assert self.task is not None
        self._stop_reason = reason
        self._stop_requested.set()
        await asyncio.shield(self.task)

    async def between_chunks(self) -> None:
        """Return when no chunk is running; the play task then waits for ``hub.building``."""
        await self._idle.wait()

    def _due(self) -> tuple[float, int]:
        """(seconds to wait, units due now) by the rate."""
        if self.rate is None:
            return 0.0, FLAT_OUT_COUNT[self.unit]
        elapsed = time.monotonic() - self._origin
        due = math.floor(elapsed * self.rate) + 1 - self._done
        if due <= 0:
            return self._done / self.rate - elapsed, 0
        if due > max(1.0, self.rate * MAX_BACKLOG_SECONDS):
            self._origin = time.monotonic() - self._done / self.rate
            due = 1
        return 0.0, due

    def _frame_per_phase(self) -> bool:
        return self.unit == "phase" and self.rate is not None and self.rate <= self.hub.frame_cap()

    async def _run(self) -> None:
        hub = self.hub
        reason, message = "pause", ""
        # Every chunk on the same thread: a pool would hand them to its threads in turn, and
        # moving the training from thread to thread costs about 15 % of its speed here.
        thread = ThreadPoolExecutor(1, thread_name_prefix=f"play-{hub.session.id[:8]}")
        try:
            while not self._stop_requested.is_set():
                wait, due = self._due()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop_requested.wait(), wait)
                    continue
                if self._frame_per_phase():
                    due = 1
                self._idle.clear()
                try:
                    chunk = functools.partial(
                        run_chunk,
                        hub.session,
                        hub.manager,
                        self.unit,
                        due,
                        hub.stop_conditions,
                        hub.deleted,
                        hub.frame_wanted,
                    )
                    result = await asyncio.get_running_loop().run_in_executor(thread, chunk)
                finally:
                    self._idle.set()
                hub.request_frame()
                await asyncio.sleep(0)  # the publisher may start a frame now, between chunks
                if hub.building is not None:  # a frame waits for the lock: let it go first
                    await asyncio.shield(hub.building)
                self._done += result.done
                if result.error:
                    reason, message = "error", result.error
                    break
                if result.diverged:
                    hub.announce_divergence(result.diverged)
                    reason, message = "diverged", result.diverged
                    break
                if result.stop_met:
                    hub.stop_condition_met(result.stop_met)
                    reason, message = "stopped", result.stop_met
                    break
                if self._frame_per_phase():
                    await hub.publish()
            else:
                reason = self._stop_reason
        except Exception:
            log.exception("play task of session %s failed", hub.session.id[:8])
            reason, message = "error", "the training task failed; see the server log"
        finally:
            hub.session.playing = False
            thread.shutdown(wait=False)
        await hub.play_ended(reason, message)
