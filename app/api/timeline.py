"""``/api/sessions/{id}/timeline``, ``…/at`` and ``…/branch``: rewind a session and branch it.

The timeline (``app.service.history``) keeps checkpoints and a log of what ran; a moment is
replayed from the nearest checkpoint, exactly. Reading needs either token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Query

from app.engine import ConfigError
from app.service.history import Moment
from app.service.session import Session

from .deps import ClientDep, ManagerDep, ReadableSession, SettingsDep
from .errors import ApiError
from .sessions import CHANGE_ERRORS, CREATE_ERRORS, READ_ERRORS
from .timeline_schemas import (
    BRANCH_EXAMPLES,
    BranchCreated,
    BranchRequest,
    MomentState,
    TimelineSummary,
)

router = APIRouter(prefix="/sessions", tags=["timeline"])

MomentQuery = Annotated[int, Query(ge=0, le=2**53 - 1)]


@router.get("/{id}/timeline", response_model=TimelineSummary, responses=READ_ERRORS)
def read_timeline(session: ReadableSession) -> dict[str, Any]:
    """What can be revisited: each epoch's batches, now, and the checkpoints' memory."""
    with session.lock:
        return session.timeline.summary(session)


@router.get(
    "/{id}/at",
    response_model=MomentState,
    response_model_exclude_unset=True,
    responses={**READ_ERRORS, 422: CHANGE_ERRORS[422]},
)
def read_moment(
    session: ReadableSession,
    settings: SettingsDep,
    epoch: Annotated[MomentQuery, Query(description="Epochs completed.")],
    batch: Annotated[MomentQuery, Query(description="Batch within the epoch (0-based).")],
    phase: Annotated[
        MomentQuery, Query(description="Index into the state's `phases`: just before it runs.")
    ] = 0,
    include_trace: Annotated[bool, Query(description="Each layer's trace of that batch.")] = True,
    resolution: Annotated[
        int | None,
        Query(ge=2, description="Also the decision boundary on an n × n grid (2-D inputs)."),
    ] = None,
) -> dict[str, Any]:
    """The session as it was at (epoch, batch, phase): weights, gradients, metrics, exactly."""
    if resolution is not None and resolution > settings.max_boundary_resolution:
        raise ApiError(
            422, f"at most {settings.max_boundary_resolution}, got {resolution}", field="resolution"
        )
    moment = Moment(epoch, batch, phase)

    def inspect(replayed: Session) -> dict[str, Any]:
        state = replayed.state(include_trace)
        state.update(id=session.id, version=session.version, playing=False)
        answer: dict[str, Any] = {"moment": moment.as_dict(), "state": state}
        if resolution is not None:
            answer["boundary"] = replayed.boundary(resolution)
        return answer

    answer: dict[str, Any] = session.timeline.at(session, moment, inspect)
    return answer


@router.post(
    "/{id}/branch",
    status_code=201,
    response_model=BranchCreated,
    response_model_exclude_unset=True,
    responses={**READ_ERRORS, **CREATE_ERRORS},
)
def branch_session(
    body: Annotated[BranchRequest, Body(openapi_examples=BRANCH_EXAMPLES)],
    session: ReadableSession,
    manager: ManagerDep,
    client: ClientDep,
) -> dict[str, Any]:
    """A new session that starts at (epoch, batch, phase) of this one, settings changed."""
    moment = Moment(body.epoch, body.batch, body.phase)
    branched = session.timeline.branch(session, moment)
    changes = body.changes.model_dump(exclude_unset=True) if body.changes else {}
    if changes:
        try:
            branched.set_hyperparameters(changes, by="branch")
        except ConfigError as error:
            field = "activations" if error.field.startswith("layer") else error.field
            raise ConfigError(f"changes.{field}", error.message) from None
    manager.add(branched, client)  # the caller's quota of sessions
    return {
        "id": branched.id,
        "token": branched.token,
        "watch_token": branched.watch_token,
        "state": branched.state(),
        "branched_from": session.id,
        "moment": moment.as_dict(),
    }
