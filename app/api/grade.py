"""``/api/sessions/{id}/grade``: grade a student's own backprop on the current batch.

GET answers the batch (inputs, targets, weights); POST takes the student's per-layer
gradients or updated weights and answers, per layer, the relative error against the engine
and the likely mistake (``app.service.grader``). Either token; nothing changes the session.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from app.service import grader

from .deps import ReadableSession
from .errors import ApiError
from .sessions import BODY_ERRORS, READ_ERRORS
from .study_schemas import GRADE_EXAMPLES, GradeProblem, GradeRequest, GradeResult

router = APIRouter(prefix="/sessions", tags=["study"])

NOT_TRACED: dict[int | str, dict[str, Any]] = {
    409: {**READ_ERRORS[404], "description": "The batch diverged: nothing to grade."}
}


@router.get("/{id}/grade", response_model=GradeProblem, responses={**READ_ERRORS, **NOT_TRACED})
def read_grade_problem(session: ReadableSession) -> dict[str, Any]:
    """The current batch: x, y, the weights it runs with, the loss and the learning rate."""
    try:
        return session.grade_problem()
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None


@router.post(
    "/{id}/grade",
    response_model=GradeResult,
    responses={**READ_ERRORS, **NOT_TRACED, **BODY_ERRORS},
)
def grade_backprop(
    body: Annotated[GradeRequest, Body(openapi_examples=GRADE_EXAMPLES)],
    session: ReadableSession,
) -> dict[str, Any]:
    """Grade your backprop: per layer the relative error, the first wrong layer, the cause."""
    try:
        return session.grade(body.model_dump(exclude_none=True))
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None
