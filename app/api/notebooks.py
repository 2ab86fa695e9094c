"""``/api/sessions/{id}/notebook``: the run as a Jupyter notebook that continues it.

Either token: the notebook is a read (``app.service.notebook`` writes it). An exercise's
check carries the session's watch token, never the control token, whichever token asked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from app.service import notebook

from .deps import ReadableSession, SettingsDep
from .handcheck import JSON_ERROR
from .sessions import CHANGE_ERRORS, READ_ERRORS

router = APIRouter(prefix="/sessions", tags=["study"])

NOTEBOOK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The notebook (nbformat 4), as a file: `Content-Disposition` names it.",
        "content": {notebook.MEDIA_TYPE: {"schema": {"type": "object"}}},
    },
    **{
        code: {**entry, "content": JSON_ERROR}
        for code, entry in {**READ_ERRORS, 422: CHANGE_ERRORS[422]}.items()
    },
}


@router.get("/{id}/notebook", response_class=Response, responses=NOTEBOOK_RESPONSES)
def export_notebook(
    request: Request,
    session: ReadableSession,
    settings: SettingsDep,
    style: Annotated[
        notebook.Style,
        Query(
            description="lesson003: FCLayer, ActivationLayer, the loss, Network (any network). "
            "lesson000: TwoLayerNetwork with the lesson's named steps (lesson 000's network "
            "only: two sigmoid layers without biases, sse, full batch, no momentum or L1/L2; "
            "422 naming `style` otherwise)."
        ),
    ] = "lesson003",
    exercise: Annotated[
        bool,
        Query(
            description="Leave the backward pass for the student to write, with a check: "
            "central differences, then this server's grader (read with the watch token)."
        ),
    ] = False,
) -> Response:
    """The run as a notebook in the lesson's plain NumPy; running it continues the training:
    its next batch steps equal this session's next ones, bit for bit."""
    base = settings.public_url or str(request.base_url)
    written = notebook.notebook_of(session, style, exercise, base.rstrip("/"))
    return Response(
        written.text,
        media_type=notebook.MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{written.filename}"'},
    )
