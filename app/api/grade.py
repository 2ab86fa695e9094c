"""``/api/sessions/{id}/grade``: grade a student's own backprop on the current batch.

GET answers the batch (inputs, targets, weights) — a class's student's own with
``student`` (``service/variants.py``: rows drawn by their seed); POST takes the student's per-layer
gradients or updated weights and answers, per layer, the relative error against the engine
and the likely mistake (``app.service.grader``). Either token; nothing changes the session.
A grade runs on the grading pool (``api/costly.py``), apart from the session and within
``max_grade_seconds``: each mistake it tries is a backward pass of the batch.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from app.service import grader
from app.service.class_questions import record_study
from app.service.costly import Job
from app.service.variants import chosen_seed

from .costly import GradesDep, run_costly
from .deps import ClientDep, ManagerDep, ReadableSession, SettingsDep
from .errors import ApiError
from .schemas import ErrorMessage
from .sessions import BODY_ERRORS, READ_ERRORS
from .study_schemas import GRADE_EXAMPLES, MAX_SEED, GradeProblem, GradeRequest, GradeResult

router = APIRouter(prefix="/sessions", tags=["study"])

NOT_TRACED: dict[int | str, dict[str, Any]] = {
    409: {**READ_ERRORS[404], "description": "The batch diverged: nothing to grade."}
}
BUSY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorMessage,
        "description": "Too many grades at once: of this session, of this client or in all "
        "(the field names which); Retry-After says when.",
    },
    503: {"model": ErrorMessage, "description": "The server is stopping."},
}


StudentQuery = Annotated[
    str | None,
    Query(
        max_length=1000,
        description="A class's student: their own batch, drawn by their seed (sha256 of the "
        "session id and the name, names compared as class answers are).",
    ),
]
SeedQuery = Annotated[
    int | None,
    Query(ge=0, le=MAX_SEED, description="An explicit seed's batch; wins over `student`."),
]
BAD_STUDENT: dict[int | str, dict[str, Any]] = {
    422: {"model": ErrorMessage, "description": "A bad `student` (empty, too long) or `seed`."}
}


@router.get(
    "/{id}/grade",
    response_model=GradeProblem,
    responses={**READ_ERRORS, **NOT_TRACED, **BAD_STUDENT},
)
def read_grade_problem(
    session: ReadableSession,
    settings: SettingsDep,
    student: StudentQuery = None,
    seed: SeedQuery = None,
) -> dict[str, Any]:
    """The current batch — or with ``student`` (or ``seed``) the student's own: rows of the
    training data drawn by their seed, at the session's weights now —: x, y, the weights it
    runs with, the loss and the learning rate; ``seed`` says which."""
    chosen = chosen_seed(session.id, student, seed, settings.question_max_name_length)
    try:
        return {**session.grade_problem(chosen), "seed": chosen}
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None


@router.post(
    "/{id}/grade",
    response_model=GradeResult,
    responses={**READ_ERRORS, **NOT_TRACED, **BODY_ERRORS, **BUSY},
)
async def grade_backprop(
    request: Request,
    body: Annotated[GradeRequest, Body(openapi_examples=GRADE_EXAMPLES)],
    session: ReadableSession,
    settings: SettingsDep,
    grades: GradesDep,
    client: ClientDep,
    manager: ManagerDep,
) -> dict[str, Any]:
    """Grade your backprop: per layer the relative error, the first wrong layer, the cause.

    Within a time budget (``max_grade_seconds``): past it the search for the mistake stops,
    every layer's verdict stands and ``complete`` is false. A grade stops when its caller
    leaves. With ``student``, it counts in the lesson's record and grades the student's own
    batch (GET …/grade?student=…); ``seed`` wins over the student's."""
    submission = body.model_dump(exclude_none=True, exclude={"student", "seed"})
    chosen = chosen_seed(session.id, body.student, body.seed, settings.question_max_name_length)

    def work(job: Job) -> dict[str, Any]:
        graded = {**session.grade(submission, job, chosen), "seed": chosen}
        if body.student is not None:
            graded["recorded"] = record_study(
                manager, session, body.student, "grade", graded["passed"]
            )
        return graded

    try:
        return await run_costly(
            request,
            grades,
            session.id,
            client.key,  # per browser: a class behind one school address grades at once
            work,
            settings.max_grade_seconds,
            "max_grade_seconds",
        )
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None
