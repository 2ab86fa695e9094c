"""The batch-play slices due at one frame tick, run as one.

Players pace batch play on a shared grid of frame ticks (``player.py``), so a class playing
at the page's default pace asks for its slices in the same turn of the event loop. The
cohort gathers the slices asked for in that turn and runs them in one go when the turn is
over (``training.run_together``): the students' alike networks share the engine's NumPy
calls instead of each paying for its own — the work of a class, not of its loop.
"""

from __future__ import annotations

import asyncio

from .training import Slice, SliceResult, run_together


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
        except Exception as error:  # each player logs it and ends its play
            for _, future in waiting:
                if not future.done():
                    future.set_exception(error)
            return
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():  # (a player cancelled meanwhile: its slice ran all the same)
                future.set_result(result)
