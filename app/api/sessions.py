"""``/api/sessions``: create, read, step, change, reset, delete, inspect, export and import.

Reading needs either token, changing needs the control token (see ``deps``). A call that
changes a session stores it before it answers, so a restart — even ``kill -9`` — loses
nothing a client was told. Handlers that compute are plain ``def``: FastAPI runs them in
its thread pool and the event loop never waits on NumPy or the disk. The gradient check,
the costliest read, runs on a pool of its own within a time budget (``api/costly.py``).
"""

from __future__ import annotations

import functools
from typing import Annotated, Any

import numpy as np
from fastapi import APIRouter, Body, Query, Request, Response

from app.engine import ConfigError
from app.engine.gradcheck import NotCheckableError
from app.service.gradcheck import check_session
from app.service.session import Session

from .costly import CostlyDep, run_costly
from .deps import (
    OPTIONAL_UPLOAD_TOKEN,
    ClientDep,
    ControlledSession,
    DeletableSessionId,
    ManagerDep,
    ReadableSession,
    SettingsDep,
    UploadTokenDep,
)
from .errors import ApiError
from .examples import SESSION_EXPORT_EXAMPLE
from .schemas import (
    CREATE_EXAMPLES,
    PREDICT_EXAMPLES,
    RESET_EXAMPLES,
    STEP_EXAMPLES,
    UPDATE_EXAMPLES,
    Boundary,
    ChainResult,
    DatasetPublic,
    ErrorMessage,
    GradcheckResult,
    PredictRequest,
    PredictResult,
    ResetRequest,
    SessionCreate,
    SessionCreated,
    SessionExport,
    SessionState,
    SessionUpdate,
    StepRequest,
    StepResult,
)

router = APIRouter(prefix="/sessions", tags=["sessions"])

DEFAULT_BOUNDARY_RESOLUTION = 50
IncludeTrace = Annotated[
    bool, Query(description="Include each layer's trace of the current batch (input, z, a, δ …).")
]

_ERROR = {"model": ErrorMessage}
READ_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "No bearer token."},
    403: {**_ERROR, "description": "Not this session's token."},
    404: {**_ERROR, "description": "No such session (it may have expired)."},
    409: {**_ERROR, "description": "Its stored row is unreadable: it was set aside."},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {**_ERROR, "description": "The body could not be read (not UTF-8 JSON)."},
    413: {**_ERROR, "description": "The body is over max_request_bytes."},
    422: {**_ERROR, "description": "A bad value; `field` (or `loc`) names it."},
}
CHANGE_ERRORS: dict[int | str, dict[str, Any]] = {
    **READ_ERRORS,
    **BODY_ERRORS,
    403: {**_ERROR, "description": "Not the control token (the watch token only reads)."},
}
CREATE_ERRORS: dict[int | str, dict[str, Any]] = {
    **BODY_ERRORS,
    429: {**_ERROR, "description": "The server holds its maximum number of sessions."},
}

# ----- creating -----------------------------------------------------------------------------


def creation_request(body: SessionCreate) -> dict[str, Any]:
    """The body as ``resolve_config`` takes it: with a preset only the fields given override
    it; without one, the schema's defaults fill in the rest."""
    with_preset = body.preset is not None
    if not with_preset and body.model is None:
        raise ConfigError("model", "give a preset, or a model config with its layers")
    if not with_preset and body.data is None:
        raise ConfigError("data", "give a preset, or data: a built-in dataset or an upload")
    request: dict[str, Any] = {"preset": body.preset}
    if body.model is not None:
        model = body.model.model_dump(exclude_unset=with_preset)
        if model.get("input_size") is None:
            model.pop("input_size", None)  # taken from the data
        request["model"] = model
    if body.data is not None:
        request["data"] = body.data.model_dump(exclude_unset=with_preset)
    return request


def request_field(field: str) -> str:
    """An engine field name as the create request spells it (``learning_rate`` → ``model.…``)."""
    if field.split(".")[0].split("[")[0] in ("model", "data", "preset"):
        return field
    if field in ("x", "y"):
        return "data"
    return f"model.{field}"


def created(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "token": session.token,
        "watch_token": session.watch_token,
        "state": session.state(),
    }


@router.post(
    "",
    response_model=SessionCreated,
    response_model_exclude_unset=True,
    status_code=201,
    responses=CREATE_ERRORS,
    openapi_extra=OPTIONAL_UPLOAD_TOKEN,
)
def create_session(
    body: Annotated[SessionCreate, Body(openapi_examples=CREATE_EXAMPLES)],
    manager: ManagerDep,
    upload_token: UploadTokenDep,
    client: ClientDep,
) -> dict[str, Any]:
    """Create a session from a preset, a full config, or a preset with overrides.

    Training on an upload (``data.upload``) needs its upload token as
    ``Authorization: Bearer <token>``: only its owner may use it."""
    request = creation_request(body)
    try:
        session = manager.create(request, upload_token, client)
    except ConfigError as error:
        raise ConfigError(request_field(error.field), error.message) from None
    return created(session)


IMPORT_EXAMPLES: dict[str, Any] = {
    "xor": {
        "summary": "The XOR lesson after two batch steps (as GET …/export answers it)",
        "value": SESSION_EXPORT_EXAMPLE,
    }
}


def check_export(body: SessionExport) -> None:
    """What the schema cannot say: the parts of an export agree with each other."""
    n_layers = len(body.config.model.layers)
    if len(body.model.layers) != n_layers:
        raise ConfigError(
            "model.layers",
            f"{len(body.model.layers)} layers of weights for a config of {n_layers} layers",
        )
    if body.model.cursor > 2 * n_layers + 1:
        raise ConfigError(
            "model.cursor",
            f"must be 0…{2 * n_layers + 1} (a batch step's phases), got {body.model.cursor}",
        )
    n_train = len(body.data.x_train)
    if n_train < 1:
        raise ConfigError("data.x_train", "an export needs at least one training row")
    if body.model.position >= n_train:
        raise ConfigError("model.position", f"must be below the {n_train} training rows")
    order = body.model.order
    if order and sorted(order) != list(range(n_train)):
        raise ConfigError("model.order", f"must be a permutation of the {n_train} training rows")
    if body.model.order_drawn and not order:
        raise ConfigError("model.order", "order_drawn is true but the order is empty")


@router.post(
    "/import",
    response_model=SessionCreated,
    response_model_exclude_unset=True,
    status_code=201,
    responses=CREATE_ERRORS,
)
def import_session(
    body: Annotated[SessionExport, Body(openapi_examples=IMPORT_EXAMPLES)],
    manager: ManagerDep,
    client: ClientDep,
) -> dict[str, Any]:
    """Import an export as a new session (new id and tokens) that trains on exactly as the
    original would have."""
    check_export(body)
    try:
        session = manager.import_session(body.model_dump(), client)
    except ConfigError:
        raise
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        # The export passed the schema but NumPy refused a part of it (the RNG state …).
        raise ConfigError("model", f"the export is malformed: {error}") from None
    return created(session)


# ----- reading ------------------------------------------------------------------------------


@router.get(
    "/{id}",
    response_model=SessionState,
    response_model_exclude_unset=True,
    responses=READ_ERRORS,
)
def read_session(session: ReadableSession, include_trace: IncludeTrace = True) -> dict[str, Any]:
    """Read the whole state: config, counters, weights, the last trace, history."""
    return session.state(include_trace)


@router.get("/{id}/dataset", response_model=DatasetPublic, responses=READ_ERRORS)
def read_session_dataset(session: ReadableSession) -> dict[str, Any]:
    """Read the session's rows: train and test inputs and targets."""
    return session.dataset_summary()


@router.get("/{id}/export", response_model=SessionExport, responses=READ_ERRORS)
def export_session(session: ReadableSession) -> dict[str, Any]:
    """Export the whole session as JSON (weights bit-exact, counters, history, RNG state)."""
    return session.export()


# ----- changing -----------------------------------------------------------------------------


@router.post(
    "/{id}/step",
    response_model=StepResult,
    response_model_exclude_unset=True,
    responses=CHANGE_ERRORS,
)
def step_session(
    session: ControlledSession,
    manager: ManagerDep,
    settings: SettingsDep,
    body: Annotated[StepRequest, Body(openapi_examples=STEP_EXAMPLES)] = StepRequest(),  # noqa: B008
    include_trace: IncludeTrace = True,
) -> dict[str, Any]:
    """Run phases, batch steps or epochs; answer the loss after each and the final state."""
    if body.count > settings.max_units_per_step:
        raise ApiError(
            422,
            f"at most {settings.max_units_per_step} units per call, got {body.count}",
            field="count",
        )
    outcome, state = session.step_and_state(
        body.unit, body.count, settings.max_step_seconds, include_trace
    )
    manager.save(session)
    return {
        "unit": outcome.unit,
        "requested": outcome.requested,
        "done": outcome.done,
        "stopped": outcome.stopped,
        "diverged": outcome.diverged,
        "losses": [unit.get("loss") for unit in outcome.units],
        "units": outcome.units,
        "state": state,
    }


@router.patch(
    "/{id}",
    response_model=SessionState,
    response_model_exclude_unset=True,
    responses=CHANGE_ERRORS,
)
def update_session(
    body: Annotated[SessionUpdate, Body(openapi_examples=UPDATE_EXAMPLES)],
    session: ControlledSession,
    manager: ManagerDep,
) -> dict[str, Any]:
    """Change hyperparameters between steps; the weights stay."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise ApiError(422, "give at least one hyperparameter to change", field="body")
    try:
        session.set_hyperparameters(changes, by="rest")
    except ConfigError as error:
        if error.field == "layer" or error.field.startswith("layers"):
            raise ConfigError("activations", error.message) from None
        raise
    manager.save(session)
    return session.state()


@router.post(
    "/{id}/reset",
    response_model=SessionState,
    response_model_exclude_unset=True,
    responses=CHANGE_ERRORS,
)
def reset_session(
    session: ControlledSession,
    manager: ManagerDep,
    body: Annotated[ResetRequest, Body(openapi_examples=RESET_EXAMPLES)] = ResetRequest(),  # noqa: B008
) -> dict[str, Any]:
    """Start again from fresh weights (a new seed if given); counters and history cleared."""
    session.reset(body.seed, by="rest")
    manager.save(session)
    return session.state()


@router.delete("/{id}", status_code=204, responses=CHANGE_ERRORS)
def delete_session(session_id: DeletableSessionId, manager: ManagerDep) -> Response:
    """Delete the session, from memory and from the store (a set-aside damaged one too)."""
    manager.delete(session_id)
    return Response(status_code=204)


# ----- inspecting ---------------------------------------------------------------------------


@router.post(
    "/{id}/predict",
    response_model=PredictResult,
    responses={**READ_ERRORS, **BODY_ERRORS},
)
def predict_session(
    body: Annotated[PredictRequest, Body(openapi_examples=PREDICT_EXAMPLES)],
    session: ReadableSession,
    settings: SettingsDep,
) -> dict[str, Any]:
    """Compute the network's outputs for the given input rows."""
    if len(body.inputs) > settings.max_predict_rows:
        raise ApiError(
            422,
            f"at most {settings.max_predict_rows} rows per call, got {len(body.inputs)}",
            field="inputs",
        )
    width = session.model.config.input_size
    for r, row in enumerate(body.inputs):
        if len(row) != width:
            raise ConfigError(f"inputs[{r}]", f"has {len(row)} values; the network takes {width}")
    outputs = session.predict(np.asarray(body.inputs, dtype=np.float64))
    return {"outputs": outputs.tolist()}


@router.get(
    "/{id}/boundary",
    response_model=Boundary,
    responses={**READ_ERRORS, 422: CHANGE_ERRORS[422]},
)
def read_boundary(
    session: ReadableSession,
    settings: SettingsDep,
    resolution: Annotated[
        int | None,
        Query(
            ge=2,
            description="Grid side n (n × n points); at most max_boundary_resolution. "
            f"Default {DEFAULT_BOUNDARY_RESOLUTION}.",
            examples=[40],
        ),
    ] = None,
) -> dict[str, Any]:
    """Compute the output over an n × n grid of the data's plane (x1, x2), each point mapped
    through the input features first (data on a plane only: not Iris or wider uploads)."""
    limit = settings.max_boundary_resolution
    n = min(DEFAULT_BOUNDARY_RESOLUTION, limit) if resolution is None else resolution
    if n > limit:
        raise ApiError(422, f"at most {limit}, got {n}", field="resolution")
    return session.boundary(n)


@router.get(
    "/{id}/gradcheck",
    response_model=GradcheckResult,
    responses={
        **READ_ERRORS,
        409: {
            **_ERROR,
            "description": "No batch traced yet, the last one diverged, or its loss or "
            "gradients are not finite at its weights.",
        },
        429: {
            **_ERROR,
            "description": "Too many costly calls at once: of this session, of "
            "this client or in all (the field names which); Retry-After says when.",
        },
    },
)
async def check_gradients(
    request: Request,
    session: ReadableSession,
    settings: SettingsDep,
    costly: CostlyDep,
    client: ClientDep,
) -> dict[str, Any]:
    """Compare backprop's gradients with central differences, layer by layer.

    Within a time budget (``max_gradcheck_seconds``): past it the answer says what was checked
    (``complete`` false). A check stops when its caller leaves."""
    work = functools.partial(check_session, session, settings.max_gradcheck_entries)
    try:
        return await run_costly(
            request,
            costly,
            session.id,
            client.address,  # per address: invented browser ids must not multiply the cap
            work,
            settings.max_gradcheck_seconds,
            "max_gradcheck_seconds",
        )
    except NotCheckableError as error:
        raise ApiError(409, str(error), field="batch") from None


@router.get(
    "/{id}/chain",
    response_model=ChainResult,
    responses={
        **READ_ERRORS,
        409: {**_ERROR, "description": "That layer has no backward pass yet."},
        422: CHANGE_ERRORS[422],
    },
)
def read_chain(
    session: ReadableSession,
    layer: Annotated[int, Query(ge=0, description="Layer index (0 = first dense layer).")],
    j: Annotated[int, Query(ge=0, description="Unit (output) index of the weight.")],
    i: Annotated[
        int | None, Query(ge=0, description="Input index of the weight; omit it for the bias b[j].")
    ] = None,
) -> dict[str, Any]:
    """Break one weight's gradient into its chain-rule factors, per batch row."""
    return session.chain_rule(layer, i, j)
