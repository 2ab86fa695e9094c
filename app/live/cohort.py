"""The batch-play slices due at one frame tick, run as one.

Players pace batch play on a shared grid of frame ticks (``player.py``), so a class playing
at the page's default pace asks for its slices in the same turn of the event loop. The
cohort gathers the slices asked for in that turn and runs them in one go when the turn is
over (``training.run_together``): the students' alike networks share the engine's NumPy
calls instead of each paying for its own — the work of a class, not of its loop.
"""

from __future__ import annotations

import asyncio
import logging

from .training import Slice, SliceResult, run_slice, run_together

log = logging.getLogger("app.live")


class Cohort:
    """Slices waiting for the end of the loop's turn; one per app, on the event loop."""

    def __init__(self) -> None:
        self._waiting: list[tuple[Slice, asyncio.Future[SliceResult]]] = []

    async def run(self, part: Slice) -> SliceResult:
        """Run ``part`` with every slice asked for in this turn of the loop."""
        loop = asyncio.get_running_loop()
        if not self._waiting:
            loop.call_soon(self._run_waiting)
        future: asyncio.Future[SliceResult] = loop.create_future()
        self._waiting.append((part, future))
        return await future

    def _run_waiting(self) -> None:
        waiting, self._waiting = self._waiting, []
        try:
            results = run_together([part for part, _ in waiting])
        except Exception:  # a fault in one session must not end the others' play
            log.exception(
                "a run of %d slices together failed; running them one by one", len(waiting)
            )
            for part, future in waiting:
                _settle(future, part)
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():  # (a player cancelled meanwhile: its slice ran all the same)
                future.set_result(result)


def _settle(future: asyncio.Future[SliceResult], part: Slice) -> None:
    """Run ``part`` alone; its result, or its exception (its player logs it and ends play)."""
    try:
        result = run_slice(part)
    except Exception as error:
        if not future.done():
            future.set_exception(error)
        return
    if not future.done():
        future.set_result(result)
