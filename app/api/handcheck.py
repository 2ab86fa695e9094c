"""``/api/sessions/{id}/check`` and ``…/worksheet``: hand calculations, marked and printed.

Either token: neither changes the session (see ``app.service.handcheck``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from app.paths import templates_dir
from app.service import grader
from app.service.class_questions import record_study
from app.service.variants import chosen_seed, student_name
from app.settings import Settings

from .deps import ManagerDep, ReadableSession, SettingsDep
from .errors import ApiError
from .grade import NOT_TRACED, StudentQuery
from .sessions import BODY_ERRORS, CHANGE_ERRORS, READ_ERRORS
from .study_schemas import CHECK_EXAMPLES, MAX_SEED, CheckRequest, CheckResult

router = APIRouter(prefix="/sessions", tags=["study"])
templates = Jinja2Templates(directory=templates_dir())

DEFAULT_WORKSHEET_ROWS = 3
# The page answers HTML, its errors JSON: say so, or the schema would list them as HTML.
JSON_ERROR = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorMessage"}}}
WORKSHEET_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {**entry, "content": JSON_ERROR}
    for code, entry in {**READ_ERRORS, 422: CHANGE_ERRORS[422]}.items()
}


@router.post(
    "/{id}/check",
    response_model=CheckResult,
    response_model_exclude_unset=True,
    responses={**READ_ERRORS, **NOT_TRACED, **BODY_ERRORS},
)
def check_hand_calculation(
    body: Annotated[CheckRequest, Body(openapi_examples=CHECK_EXAMPLES)],
    session: ReadableSession,
    manager: ManagerDep,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Mark a hand-worked ∂L/∂W, ∂L/∂b or δ of the current batch, within a tolerance; with
    ``student``, on the student's own batch (GET …/grade?student=…), counted in the lesson's
    record; ``seed`` wins over the student's."""
    chosen = chosen_seed(session.id, body.student, body.seed, settings.question_max_name_length)
    try:
        checked = session.check_hand_calculation(
            body.quantity,
            body.layer,
            body.j,
            body.value,
            body.tolerance,
            i=body.i,
            row=body.row,
            reveal=body.reveal,
            seed=chosen,
        )
        checked["seed"] = chosen
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None
    if body.student is not None:
        checked["recorded"] = record_study(
            manager, session, body.student, "check", checked["correct"]
        )
    return checked


def print_number(value: Any) -> str:
    """Five significant digits: what a hand calculation is marked to."""
    return "" if value is None else f"{float(value):.5g}"


Rows = Annotated[int, Query(ge=1, description="Training rows; at most max_worksheet_rows.")]


def check_rows(rows: int, settings: Settings) -> None:
    """422 naming ``rows`` past ``max_worksheet_rows``."""
    if rows > settings.max_worksheet_rows:
        raise ApiError(422, f"at most {settings.max_worksheet_rows}, got {rows}", field="rows")


@router.get(
    "/{id}/worksheet",
    response_class=HTMLResponse,
    responses=WORKSHEET_ERRORS,
)
def read_worksheet(
    request: Request,
    session: ReadableSession,
    settings: SettingsDep,
    seed: Annotated[
        int | None,
        Query(
            ge=0,
            le=MAX_SEED,
            description="Default: the student's own seed with `student`, else the session's.",
        ),
    ] = None,
    student: StudentQuery = None,
    rows: Rows = DEFAULT_WORKSHEET_ROWS,
    answers: Annotated[bool, Query(description="The answer key, for the teacher.")] = False,
) -> HTMLResponse:
    """A printable page: the network, its weights, a batch, blank cells for one step; with
    ``student``, that student's own sheet (their seed: the same after a reload), its key
    with ``answers``."""
    check_rows(rows, settings)
    name = None if student is None else student_name(student, settings.question_max_name_length)
    chosen = chosen_seed(session.id, name, seed, settings.question_max_name_length)
    sheet = {**session.worksheet(chosen, rows, settings.max_worksheet_units), "student": name}
    return templates.TemplateResponse(
        request, "worksheet.html", {"sheet": sheet, "answers": answers, "fmt": print_number}
    )
