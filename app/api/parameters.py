"""``PATCH /api/sessions/{id}/parameter``: set one weight or bias by hand (the control token).

TF Playground lets a student click a weight and type a value; this is that, for the page and
for a program. The next step trains from the new value; live watchers see it at once.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body
from pydantic import Field

from .deps import ControlledSession, ManagerDep
from .schemas import RequestBody, ResponseBody
from .sessions import CHANGE_ERRORS

MAX_PARAMETER = 1e6  # larger hand-typed values only diverge

router = APIRouter(prefix="/sessions", tags=["sessions"])


class ParameterEdit(RequestBody):
    """W[layer][i, j] = value, or with i null the bias b[layer][j] = value."""

    layer: int = Field(ge=0, description="Layer index (0 = the first dense layer).")
    i: int | None = Field(None, ge=0, description="Input index of the weight; null: the bias.")
    j: int = Field(ge=0, description="Unit index.")
    value: float = Field(ge=-MAX_PARAMETER, le=MAX_PARAMETER)


class ParameterSet(ResponseBody):
    """The parameter as it is now, and the session's version after the change."""

    layer: int
    i: int | None
    j: int
    value: float
    dead: bool = Field(
        description="True for a weight the tfp penalty rule froze (TF Playground's isDead): it "
        "takes the value, and keeps it, as TF Playground does: no update moves it."
    )
    version: int


EDIT_EXAMPLES: dict[str, Any] = {
    "weight": {
        "summary": "W[0→1] of layer 1 = 0.5",
        "value": {"layer": 1, "i": 0, "j": 1, "value": 0.5},
    },
    "bias": {
        "summary": "b[0] of layer 0 = −0.1",
        "value": {"layer": 0, "i": None, "j": 0, "value": -0.1},
    },
}


@router.patch(
    "/{id}/parameter",
    response_model=ParameterSet,
    responses=CHANGE_ERRORS,
)
def set_parameter(
    body: Annotated[ParameterEdit, Body(openapi_examples=EDIT_EXAMPLES)],
    session: ControlledSession,
    manager: ManagerDep,
) -> dict[str, Any]:
    """Set one weight (or bias) by hand; the weights around it stay."""
    now = session.set_parameter(body.layer, body.i, body.j, body.value, by="rest")
    manager.save(session)
    return {**body.model_dump(), **now}
