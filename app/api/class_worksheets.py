"""``GET /api/classes/current/worksheets``: the class's printable file, one sheet per student.

Each student's sheet is their own (``service/variants.py``: the seed of the class's session
and their name), so neighbours cannot copy numbers; the same file comes again after a reload
or a restart. The teacher token as the bearer: the file holds the answer keys.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse

from .classes import TEACHER_ERRORS, ClassesDep, TeachersClass
from .deps import SettingsDep
from .handcheck import DEFAULT_WORKSHEET_ROWS, JSON_ERROR, Rows, check_rows, print_number, templates
from .sessions import CHANGE_ERRORS

router = APIRouter(prefix="/classes", tags=["classes"])


@router.get(
    "/current/worksheets",
    response_class=HTMLResponse,
    responses={
        code: {**entry, "content": JSON_ERROR}
        for code, entry in {**TEACHER_ERRORS, 422: CHANGE_ERRORS[422]}.items()
    },
)
async def read_class_worksheets(
    classroom: TeachersClass,
    classes: ClassesDep,
    settings: SettingsDep,
    name: Annotated[
        list[str],
        Query(
            description="A student, once per student (as they answer: names compare as class "
            "answers do). None: every student of the lesson's record. At most "
            "max_worksheets_per_file.",
        ),
    ] = [],  # noqa: B006 — FastAPI copies a parameter's default
    rows: Rows = DEFAULT_WORKSHEET_ROWS,
    keys: Annotated[bool, Query(description="Each sheet's answer key after the sheets.")] = True,
) -> HTMLResponse:
    """One printable page: each student's own worksheet on the class's session, a page each,
    then (``keys``) their answer keys in the same order."""
    check_rows(rows, settings)

    def printed() -> str:  # 300 students' sheets take a second or two: not on the event loop
        sheets = classes.worksheets(classroom, name, rows)
        page = templates.get_template("class_worksheets.html")
        return page.render(sheets=sheets, keys=keys, fmt=print_number)

    return HTMLResponse(await asyncio.to_thread(printed))
