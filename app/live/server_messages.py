"""Server → client messages of the session socket (``hello``, ``frame``, ``event``; ``error``
is ``commands.ErrorReply``, shared with the class socket): one pydantic model per ``type``.

They are the protocol's description: ``protocol.py`` makes its schema of them, the frame's
field list (``frames.FRAME_FIELDS``) is ``FrameMessage``'s, an event's kind is an
``EventKind``, and a hello's subscription and limits are built from their models. Frames
themselves are built as plain dicts and encoded once per view (the hot path, see
``frames.py``); tests/ws/test_protocol_schema.py reads real messages into these models, so a
field sent and not described (or described and not sent) fails there.
"""

from __future__ import annotations

from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.engine.model import PhaseKind
from app.service.access import Role
from app.service.session import Unit

from .training import StopConditions

PROTOCOL_VERSION: Final = 1

# NaN and infinity are sent as null (frames.encode): every number of the session may be null.
Number = float | None
Vector = list[Number]
Matrix = list[list[Number]]


class Described(BaseModel):
    """A message as the server sends it: every field it may carry is described."""

    model_config = ConfigDict(extra="forbid")


class PhaseRef(Described):
    kind: PhaseKind
    layer: int | None = Field(description="The layer it runs on; null for the loss.")


class PlayPace(Described):
    """How the session plays."""

    unit: Unit
    rate: float | None = Field(description="Units per second; null: as fast as possible.")


class Subscription(Described):
    """What one client asked for (``subscribe``)."""

    max_fps: float = Field(description="This client's frame cap.")
    fields: list[str] | None = Field(description="The frame fields it takes; null: all.")
    boundary_resolution: int = Field(description="The boundary grid's side; 0: no grid.")


class Limits(Described):
    """The server's limits that commands are checked against."""

    max_fps: float
    max_rate: float = Field(description="Units per second a play may ask for.")
    max_step_count: int = Field(description="Units one step command may run.")
    max_boundary_resolution: int
    max_message_bytes: int
    max_commands_per_second: float


class HelloMessage(Described):
    """The first message, once: the protocol's version, the client's role, the whole state."""

    type: Literal["hello"] = "hello"
    protocol: Literal[1] = Field(PROTOCOL_VERSION, description="The protocol's version.")
    role: Role = Field(description="control: every command; watch: subscribe only.")
    client: str = Field(description="This socket's name on the server (as in its logs).")
    state: dict[str, Any] = Field(description="Exactly GET /api/sessions/{id}.")
    dataset: dict[str, Any] = Field(description="Exactly GET /api/sessions/{id}/dataset.")
    play: PlayPace | None = Field(description="While the session plays; else null.")
    stop: StopConditions = Field(description="The session's stop conditions.")
    subscription: Subscription = Field(description="This client's starting subscription.")
    limits: Limits


class Summary(Described):
    """Over every entry of the batch's array."""

    mean: Number
    std: Number
    min: Number
    max: Number


class HistoryPoint(Described):
    """One entry of the session's history (one per epoch)."""

    step: int
    epoch: int
    train_loss: Number
    test_loss: Number
    train_accuracy: Number
    test_accuracy: Number


class LayerFrame(Described):
    """Layer k: its parameters, and its traces once this batch computed them (absent before)."""

    index: int
    activation: str
    W: Matrix = Field(description="(n_in, n_out).")
    b: Vector | None = Field(description="(n_out,); null without biases.")
    dead: list[list[bool]] | None = Field(
        None,
        description="Present only when the tfp penalty rule froze weights: W's shape, true "
        "where L1 took the weight across 0.",
    )
    activation_summary: Summary | None = Field(None, description="Of a = f(z) over the batch.")
    delta: Matrix | None = Field(None, description="∂L/∂z, the batch's first 32 rows.")
    delta_rows: int | None = Field(None, description="Rows in the batch.")
    delta_summary: Summary | None = None
    dW: Matrix | None = Field(None, description="∂L/∂W, with the L1/L2 term.")
    grad_norm: Number = Field(None, description="Frobenius ‖∂L/∂W‖.")
    db: Vector | None = Field(None, description="∂L/∂b.")
    output_error_mean: Vector | None = Field(
        None,
        description="The output layer's, once the loss phase ran: ∂L/∂ŷ per output unit, "
        "the mean over the batch's rows.",
    )


class Boundary(Described):
    """The network's output over the grid x × y of the data's plane: z[i][j] at y[i], x[j]."""

    resolution: int
    axes: list[str] = Field(description='The plane\'s coordinates, e.g. ["x1", "x2"].')
    inputs: list[str] = Field(description="The input features each point goes through.")
    x: Vector
    y: Vector
    z: Matrix = Field(description="The predicted class for multiclass, else the first output.")


class FrameMessage(Described):
    """The session as it is now (latest wins); a client's ``fields`` may leave some out."""

    type: Literal["frame"] = "frame"
    seq: int = Field(description="Frame number, increasing while connected.")
    t: float = Field(description="Server time it was taken, ms since the Unix epoch.")
    version: int = Field(description="The session's change counter.")
    step: int
    epoch: int
    phase: PhaseRef | None = Field(description="The phase just run; null before any.")
    next_phase: PhaseRef
    in_batch: bool
    position: int = Field(description="Samples of this epoch already trained on.")
    batch_size: int = Field(description="The effective batch size.")
    batch_indices: list[int] = Field(description="The batch's training rows (the first 32).")
    playing: bool
    play: PlayPace | None
    loss: Number = Field(description="Data loss on the whole training set, no penalty.")
    test_loss: Number
    accuracy: Number = Field(description="Classification only, else null.")
    test_accuracy: Number
    metrics_step: int = Field(description="The step the four figures above were computed at.")
    batch_loss: Number = Field(description="The current (or last) batch's data loss.")
    diverged: str | None = Field(description="Why the last batch was abandoned, or null.")
    history_point: HistoryPoint | None
    layers: list[LayerFrame]
    grad_norms: list[Number]
    boundary: Boundary | None = Field(description="With boundary_resolution > 0, else null.")


# Every top-level field of a frame; a client may ask for any subset (``subscribe.fields``).
FRAME_FIELDS: tuple[str, ...] = tuple(name for name in FrameMessage.model_fields if name != "type")

EventKind = Literal[
    "playing",
    "paused",
    "diverged",
    "stopped",
    "limit",
    "changed",
    "reset",
    "deleted",
    "recovered",
]


class EventMessage(Described):
    """Something happened to the session (never skipped for a client that reads)."""

    type: Literal["event"] = "event"
    event: EventKind
    message: str = Field(description="For people.")
    detail: dict[str, Any] = Field(description="More about it; {} when there is nothing more.")
    state: dict[str, Any] | None = Field(
        None, description="reset only: the new whole state, as in hello."
    )
