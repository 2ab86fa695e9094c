"""``/api/sessions/{id}/lesson``: a lesson's walk-through on the session's current batch.

Each step names the quantity as the lesson does, with its formula, the phase that computes
it, where it lives in the diagram, and its current values (see ``app.service.lessons``).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from .deps import ReadableSession
from .sessions import CHANGE_ERRORS, READ_ERRORS

router = APIRouter(prefix="/sessions", tags=["sessions"])


class PhaseRef(BaseModel):
    kind: Literal["forward", "loss", "backward", "update"]
    layer: int | None


class LessonStep(BaseModel):
    index: int
    id: str = Field(description="Stable id, e.g. 'delta_output_sum'.")
    title: str = Field(description="The quantity as the lesson names it.")
    formula: str
    explanation: str
    phase_index: int = Field(description="Index into the session's phases that computes it.")
    phase: PhaseRef
    layer: int | None = Field(description="The layer to highlight (None: the loss).")
    part: Literal["forward", "loss", "backward", "update"]
    available: bool = Field(description="Has its phase run in the current batch?")
    values: dict[str, Any] | None = Field(
        description="Name → number or rows, as the lesson names them; null until available."
    )


class LessonGuide(BaseModel):
    lesson: Literal["lesson-000", "lesson-003"]
    phases_run: int = Field(description="How many of the batch's phases have run.")
    n_phases: int
    step: int
    epoch: int
    batch_indices: list[int]
    current: int | None = Field(description="The last available step, if any.")
    steps: list[LessonStep]


@router.get(
    "/{id}/lesson",
    response_model=LessonGuide,
    responses={**READ_ERRORS, 422: CHANGE_ERRORS[422]},
)
def read_lesson(
    session: ReadableSession,
    name: Annotated[
        Literal["lesson-000", "lesson-003"],
        Query(description="lesson-000 (needs lesson 000's network) or lesson-003 (any)."),
    ] = "lesson-003",
) -> dict[str, Any]:
    """Walk a lesson's steps on the current batch: names, formulas, values."""
    return session.lesson(name)
