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
from app.settings import Settings

from .errors import ApiError

T = TypeVar("T")
POLL_SECONDS = 0.1
RETRY_AFTER_SECONDS = 2


# The app's pools (``app.state.pools``): gradient checks, rewind or branch replays, grades.
POOLS = {"costly": "costly call", "replay": "rewind or branch replay", "grade": "grade"}


def open_pools(settings: Settings) -> dict[str, CostlyWork]:
    return {kind: CostlyWork.from_settings(settings, kind, noun) for kind, noun in POOLS.items()}


def close_pools(pools: dict[str, CostlyWork] | None) -> None:
    """Refuse new work; running work stops at its next piece."""
    for pool in (pools or {}).values():
        pool.close()


def pool_of(request: Request, kind: str) -> CostlyWork:
    """One of the app's pools; new ones if the app's last stop closed them and no lifespan
    has started since (a test client, a tool)."""
    pools: dict[str, CostlyWork] | None = request.app.state.pools
    if pools is None:
        pools = request.app.state.pools = open_pools(request.app.state.settings)
    return pools[kind]


async def get_costly(request: Request) -> CostlyWork:
    return pool_of(request, "costly")


async def get_replays(request: Request) -> CostlyWork:
    return pool_of(request, "replay")


async def get_grades(request: Request) -> CostlyWork:
    return pool_of(request, "grade")


CostlyDep = Annotated[CostlyWork, Depends(get_costly)]
ReplaysDep = Annotated[CostlyWork, Depends(get_replays)]
GradesDep = Annotated[CostlyWork, Depends(get_grades)]


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
