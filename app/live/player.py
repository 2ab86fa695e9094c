"""The play task: paces a session's training at the teacher's rate, one slice per frame.

Every frame interval (the highest frame cap among the clients: 1/30 s by default) the task
asks the session's host for one slice: the units the rate says are due since the last
slice, then — if a client is due a frame — the frame, built and encoded right after the
training, in the same visit to the session. So a playing session costs one thread hop and
one lock per frame interval, whatever its rate; the loop only sends the frame.

Paced play wakes on frame ticks — multiples of the interval on the loop's clock, the same
for every session at the same frame rate — so a class's batch slices come due in the same
turn of the loop and run together (``cohort.py``).

Phase play at a rate the frame cap can show runs one phase per slice with a frame each, so
the page animates the backward pass layer by layer. Playing "as fast as possible" takes
slices of FLAT_OUT_SECONDS with a pause as long as each took: a session playing flat out
holds the event loop (or the training thread) at most half the time, whatever it trains.
"""

from __future__ import annotations

import asyncio
import logging
import math
from typing import Any, Protocol

from app.service.session import Unit

from .frames import Frame, View
from .host import SessionHost
from .pacing import tick_after, tick_at
from .training import SliceOrder, SliceResult, StopConditions

log = logging.getLogger("app.live")

SLICE_SHARE = 0.5  # a paced slice trains for at most this share of its frame interval
FLAT_OUT_SECONDS = 0.01  # a flat-out slice's length (on the loop: INLINE_SECONDS at most)
MAX_BACKLOG_SECONDS = 0.25  # a rate the machine can't reach drops its backlog past this
BUSY_RETRY_SECONDS = 0.01  # the session's lock was held (a REST step): try again this soon
FLAT_OUT_COUNT = {"phase": 1_000_000, "batch": 1_000_000, "epoch": 1_000}


class PlayListener(Protocol):
    """What the player tells the hub, and asks of it (the hub implements this)."""

    stop_conditions: StopConditions

    def frame_interval(self) -> float:
        """Seconds between two frames at the highest cap among the clients."""
        ...

    def frame_views(self, every_slice: bool) -> frozenset[View] | None:
        """The views a frame should be built for now, or None if no client is due one."""
        ...

    def frame_ready(self, frame: Frame, asked_at: float | None = None) -> None: ...

    def diverged(self, message: str) -> None: ...

    def stop_met(self, why: str) -> None: ...

    async def play_ended(self, reason: str, message: str, step: int) -> None:
        """Play has ended (the host no longer says playing); ``step``: the session's step."""
        ...


class Player:
    """Plays one session; owned by its hub, run on the event loop."""

    def __init__(self, host: SessionHost, listener: PlayListener) -> None:
        self.host = host
        self.listener = listener
        self.unit: Unit = "batch"
        self.rate: float | None = None
        self.task: asyncio.Task[None] | None = None
        self._stop_requested = asyncio.Event()
        self._waking: asyncio.Future[None] | None = None  # the pause under way, if any
        self._stop_reason = "pause"
        self._origin = 0.0  # when pacing (re)started, loop time
        self._done = 0  # units done since then

    @property
    def playing(self) -> bool:
        return self.task is not None and not self.task.done()

    def describe(self) -> dict[str, Any] | None:
        return {"unit": self.unit, "rate": self.rate} if self.playing else None

    def start(self, unit: Unit, rate: float | None) -> None:
        """Play (or, when playing, re-pace from now)."""
        loop = asyncio.get_running_loop()
        self.unit, self.rate = unit, rate
        self._origin, self._done = loop.time(), 0
        if self.playing:
            return
        self._stop_requested.clear()
        self._stop_reason = "pause"
        self.task = loop.create_task(self._run())

    async def stop(self, reason: str) -> None:
        """End play within the running slice's current unit, and wait for the task (it saves)."""
        if not self.playing:
            return
        assert self.task is not None
        self._stop_reason = reason
        self._stop_requested.set()
        if self._waking is not None:
            _wake(self._waking)
        self.host.interrupt()
        await asyncio.shield(self.task)

    def _due(self, now: float) -> tuple[float, int]:
        """(seconds until a unit is due, units due now) by the rate."""
        if self.rate is None:
            return 0.0, FLAT_OUT_COUNT[self.unit]
        elapsed = now - self._origin
        due = math.floor(elapsed * self.rate) + 1 - self._done
        if due <= 0:
            return self._done / self.rate - elapsed, 0
        if due > max(1.0, self.rate * MAX_BACKLOG_SECONDS):  # can't keep up: drop the backlog
            self._origin = now - self._done / self.rate
            due = 1
        return 0.0, due

    def _frame_per_phase(self) -> bool:
        interval = self.listener.frame_interval()
        return self.unit == "phase" and self.rate is not None and self.rate * interval <= 1.0

    async def _pause_for(self, seconds: float) -> None:
        await self._pause_until(asyncio.get_running_loop().time() + seconds)

    async def _pause_until(self, when: float) -> None:
        """Sleep until loop time ``when``, but wake at once when asked to stop (a future and
        a timer: once per frame interval, ``asyncio.wait_for``'s task and timeout cost more
        than a slice's bookkeeping)."""
        loop = asyncio.get_running_loop()
        if when <= loop.time() or self._stop_requested.is_set():
            return
        self._waking = loop.create_future()
        timer = loop.call_at(when, _wake, self._waking)
        try:
            await self._waking
        finally:
            timer.cancel()
            self._waking = None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        reason, message = "pause", ""
        await self.host.begin_play()
        try:
            while not self._stop_requested.is_set():
                started = loop.time()
                wait, due = self._due(started)
                interval = self.listener.frame_interval()
                if due == 0:  # (paced play only) wake on the tick by which a unit is due
                    await self._pause_until(tick_at(started + wait, interval))
                    continue
                per_phase = self._frame_per_phase()
                if per_phase:
                    due = 1
                budget = FLAT_OUT_SECONDS if self.rate is None else SLICE_SHARE * interval
                order = SliceOrder(
                    self.unit,
                    due,
                    budget,
                    self.listener.stop_conditions,
                    self.listener.frame_views(per_phase),
                    self.describe(),
                    together=self.rate is not None and self.unit == "batch",
                )
                result = await self.host.advance(order)
                if result.busy:
                    await self._pause_for(BUSY_RETRY_SECONDS)
                    continue
                ended = self._take(result, started)
                if ended is not None:
                    reason, message = ended
                    break
                if self.rate is None:  # flat out: as long a pause as the slice took, so a
                    await self._pause_for(loop.time() - started)  # slice on the loop leaves
                else:  # it at least half the time: sockets, REST calls, other sessions
                    await self._pause_until(tick_after(started, interval))
            else:
                reason = self._stop_reason
        except Exception:
            log.exception("play task of session %s failed", self.host.session_id[:8])
            reason, message = "error", "the training task failed; see the server log"
        finally:
            step = await self.host.end_play()
        await self.listener.play_ended(reason, message, step)

    def _take(self, result: SliceResult, asked_at: float) -> tuple[str, str] | None:
        """Pass the slice's frame and news on; (reason, message) when play must end."""
        self._done += result.done
        if result.frame is not None:
            self.listener.frame_ready(result.frame, asked_at)
        if result.error:
            return "error", result.error
        if result.diverged:
            self.listener.diverged(result.diverged)
            return "diverged", result.diverged
        if result.stop_met:
            self.listener.stop_met(result.stop_met)
            return "stopped", result.stop_met
        if self._stop_requested.is_set():
            return self._stop_reason, ""
        return None


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
