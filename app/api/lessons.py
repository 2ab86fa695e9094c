"""``/api/sessions/{id}/lesson``: a lesson's walk-through on the session's current batch.

Each step names the quantity as the lesson does, with its formula, the phase that computes
it, where it lives in the diagram, and its current values (see ``app.service.lessons``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from app.engine.model import PhaseKind
from app.service.lessons import DEFAULT_LESSON, LESSONS, LessonName

from .deps import ReadableSession
from .sessions import CHANGE_ERRORS, READ_ERRORS

router = APIRouter(prefix="/sessions", tags=["sessions"])


class PhaseRef(BaseModel):
    kind: PhaseKind
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
    part: PhaseKind
    available: bool = Field(description="Has its phase run in the current batch?")
    values: dict[str, Any] | None = Field(
        description="Name → number or rows, as the lesson names them; null until available."
    )


class LessonGuide(BaseModel):
    lesson: LessonName
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
        LessonName,
        Query(description="; ".join(f"{k}: needs {lesson.needs}" for k, lesson in LESSONS.items())),
    ] = DEFAULT_LESSON,
) -> dict[str, Any]:
    """Walk a lesson's steps on the current batch: names, formulas, values."""
    return session.lesson(name)
