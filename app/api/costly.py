"""Running a costly read for a request: on the costly pool, cancelled when the caller leaves.

The handler stays on the event loop only to wait: every ``POLL_SECONDS`` it asks whether the
client is still connected, and cancels the job when it is not, so a dropped call stops within
one piece of its work instead of running its whole budget for nobody.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from app.service.costly import BusyError, CostlyWork, Job

from .errors import ApiError

T = TypeVar("T")
POLL_SECONDS = 0.1
RETRY_AFTER_SECONDS = 2


async def get_costly(request: Request) -> CostlyWork:
    """The app's costly-work pool (``app.state.costly``); a new one if the app's last stop
    closed it and no lifespan has started since (a test client, a tool)."""
    costly: CostlyWork | None = request.app.state.costly
    if costly is None:
        costly = request.app.state.costly = CostlyWork.from_settings(request.app.state.settings)
    return costly


CostlyDep = Annotated[CostlyWork, Depends(get_costly)]


async def run_costly(
    request: Request,
    costly: CostlyWork,
    session_id: str,
    client: str,
    work: Callable[[Job], T],
    seconds: float,
    setting: str,
) -> T:
    """``work(job)`` on the costly pool within ``seconds`` (the value of ``setting``): 429
    naming the cap when it is full."""
    try:
        job, future = costly.submit(session_id, client, work, seconds, setting)
    except BusyError as busy:
        raise ApiError(
            429, busy.message, field=busy.field, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        ) from None
    waiting = asyncio.wrap_future(future)
    try:
        while True:
            done, _ = await asyncio.wait({waiting}, timeout=POLL_SECONDS)
            if done:
                break
            if not job.cancelled.is_set() and await request.is_disconnected():
                job.cancel()  # the answer would reach nobody: stop at the next piece
    except asyncio.CancelledError:  # the server is stopping, or the task was cancelled
        job.cancel()
        raise
    try:
        return waiting.result()
    except asyncio.CancelledError:  # cancelled before it ran: the server is stopping
        raise ApiError(503, "the server is stopping; try again", field="server") from None
