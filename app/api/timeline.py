"""``/api/sessions/{id}/timeline``, ``…/at`` and ``…/branch``: rewind a session and branch it.

The timeline (``app.service.history``) keeps checkpoints and a log of what ran; a moment is
replayed from the nearest checkpoint, exactly, on the replay pool (``api/costly.py``): within
a time budget, off the threads other requests use, stopped when its caller leaves. Reading
needs either token.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request

from app.engine import ConfigError
from app.service.costly import CostlyWork, Job
from app.service.history import Moment
from app.service.quotas import ClientKey
from app.service.session import Session
from app.settings import Settings

from .costly import ReplaysDep, run_costly
from .deps import ClientDep, ManagerDep, ReadableSession, SettingsDep
from .errors import ApiError
from .schemas import ErrorMessage
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
    return session.timeline_summary()


BUSY: dict[int | str, dict[str, Any]] = {
    429: {
        "model": ErrorMessage,
        "description": "Too many replays at once: of this session, of this client or in all "
        "(the field names which); Retry-After says when.",
    }
}


@router.get(
    "/{id}/at",
    response_model=MomentState,
    response_model_exclude_unset=True,
    responses={**READ_ERRORS, 422: CHANGE_ERRORS[422], **BUSY},
)
async def read_moment(
    request: Request,
    session: ReadableSession,
    settings: SettingsDep,
    replays: ReplaysDep,
    client: ClientDep,
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
    """The session as it was at (epoch, batch, phase): weights, gradients, metrics, exactly.

    The replay runs on a pool of its own within ``timeline_max_replay_seconds``, and stops
    when its caller leaves."""
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

    def work(job: Job) -> dict[str, Any]:
        answer: dict[str, Any] = session.timeline.at(session, moment, inspect, job.should_stop)
        return answer

    return await replay(request, replays, session, client, work, settings)


@router.post(
    "/{id}/branch",
    status_code=201,
    response_model=BranchCreated,
    response_model_exclude_unset=True,
    responses={**READ_ERRORS, **CREATE_ERRORS, **BUSY},
)
async def branch_session(
    request: Request,
    body: Annotated[BranchRequest, Body(openapi_examples=BRANCH_EXAMPLES)],
    session: ReadableSession,
    manager: ManagerDep,
    settings: SettingsDep,
    replays: ReplaysDep,
    client: ClientDep,
) -> dict[str, Any]:
    """A new session that starts at (epoch, batch, phase) of this one, settings changed.

    The replay runs as ``…/at``'s does."""
    moment = Moment(body.epoch, body.batch, body.phase)
    changes = body.changes.model_dump(exclude_unset=True) if body.changes else {}

    def work(job: Job) -> dict[str, Any]:
        branched = session.timeline.branch(session, moment, job.should_stop)
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

    return await replay(request, replays, session, client, work, settings)


async def replay(
    request: Request,
    replays: CostlyWork,
    session: Session,
    client: ClientKey,
    work: Callable[[Job], dict[str, Any]],
    settings: Settings,
) -> dict[str, Any]:
    """``work`` on the replay pool, per browser (a class behind one school address scrubs
    one timeline at once), within the replay budget."""
    return await run_costly(
        request,
        replays,
        session.id,
        client.key,
        work,
        settings.timeline_max_replay_seconds,
        "timeline_max_replay_seconds",
    )
