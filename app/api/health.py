"""``/api/health``: the server is up and its store answers (for HEALTHCHECK, probes)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .costly import CostlyDep
from .deps import ManagerDep, SettingsDep
from .errors import ApiError
from .schemas import ErrorMessage, Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get(
    "",
    response_model=Health,
    responses={503: {"model": ErrorMessage, "description": "The store does not answer."}},
)
def read_health(manager: ManagerDep, settings: SettingsDep, costly: CostlyDep) -> dict[str, Any]:
    """Report that the server is up, with its session counts; ``degraded`` while sessions
    whose stored rows could not be read are set aside (``damaged_sessions``)."""
    try:
        stored = manager.store.count_sessions()
        damaged = manager.damaged_ids()
    except manager.store.errors as error:
        raise ApiError(503, f"the session store does not answer: {error}") from None
    return {
        "status": "degraded" if damaged else "ok",
        "damaged_sessions": damaged,
        "sessions_loaded": len(manager.loaded()),
        "sessions_stored": stored,
        "max_sessions": settings.max_sessions,
        "costly_calls": costly.admitted,
    }
