"""``/api/sessions/{id}/coach``: the gradient coach's findings on the session now."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from .deps import ReadableSession
from .sessions import READ_ERRORS
from .study_schemas import CoachReport

router = APIRouter(prefix="/sessions", tags=["study"])


@router.get("/{id}/coach", response_model=CoachReport, responses=READ_ERRORS)
def read_coach(session: ReadableSession) -> dict[str, Any]:
    """What is going wrong, one sentence each: saturated units or output, gradients vanishing
    with depth, dead ReLUs, lr too high, stuck at the majority class."""
    return session.coach()
