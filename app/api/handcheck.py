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

from .deps import ManagerDep, ReadableSession, SettingsDep
from .errors import ApiError
from .grade import NOT_TRACED
from .sessions import BODY_ERRORS, CHANGE_ERRORS, READ_ERRORS
from .study_schemas import CHECK_EXAMPLES, CheckRequest, CheckResult

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
) -> dict[str, Any]:
    """Mark a hand-worked ∂L/∂W, ∂L/∂b or δ of the current batch, within a tolerance; with
    ``student``, it counts in the lesson's record."""
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
        )
    except grader.NotTracedError as error:
        raise ApiError(409, str(error), field="batch") from None
    if body.student is not None:
        checked["recorded"] = record_study(
            manager, session, body.student, "check", checked["correct"]
        )
    return checked


def _number(value: Any) -> str:
    """Five significant digits: what a hand calculation is marked to."""
    return "" if value is None else f"{float(value):.5g}"


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
        int | None, Query(ge=0, le=2**32 - 1, description="Default: the session's seed.")
    ] = None,
    rows: Annotated[
        int, Query(ge=1, description="Training rows; at most max_worksheet_rows.")
    ] = DEFAULT_WORKSHEET_ROWS,
    answers: Annotated[bool, Query(description="The answer key, for the teacher.")] = False,
) -> HTMLResponse:
    """A printable page: the network, its weights, a batch, blank cells for one step."""
    if rows > settings.max_worksheet_rows:
        raise ApiError(422, f"at most {settings.max_worksheet_rows}, got {rows}", field="rows")
    sheet = session.worksheet(seed, rows, settings.max_worksheet_units)
    return templates.TemplateResponse(
        request, "worksheet.html", {"sheet": sheet, "answers": answers, "fmt": _number}
    )
