"""Client → server messages: one pydantic model per ``type``, checked against the limits.

``parse_command(text, settings, changes_schema)`` turns one socket message into a Command or
raises CommandError, whose ``field`` names the part at fault; the socket answers with an
``error`` message and stays open. ``set`` is checked by the schema the REST API checks
``PATCH`` with, handed in by the API (this layer never imports it). ``parse_message`` is the
part both sockets share (the class socket's messages are in ``class_messages.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, TypeVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, WrapValidator
from pydantic_core import PydanticCustomError

from app.service.session import Unit
from app.settings import Settings

from .server_messages import FRAME_FIELDS
from .training import StopConditions

MessageId = str | int | None


def one_error(message: str) -> WrapValidator:
    """A validator that refuses a value with one ``message`` (a union of types otherwise
    answers one error per member, each at a place like ``id.str``)."""

    def check(value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValidationError:
            raise PydanticCustomError("wrong_type", message) from None

    return WrapValidator(check)


GivenId = Annotated[
    MessageId,
    one_error("a string or an integer"),
    Field(description="Echoed in the error that answers it."),
]


class CommandError(ValueError):
    """A message the server will not act on; ``message`` says why, ``field`` what."""

    def __init__(
        self,
        message: str,
        field: str | None = None,
        command: str | None = None,
        message_id: MessageId = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.command = command
        self.message_id = message_id


class ErrorReply(BaseModel):
    """Server → client, on either socket: a message the server will not act on. The socket
    stays open; nothing changed."""

    type: Literal["error"] = "error"
    message: str = Field(description="What was wrong, in words a person can act on.")
    field: str | None = Field(description="The field at fault, when one was.")
    command: str | None = Field(description="The type of the message it answers, if known.")
    id: MessageId = Field(description="That message's id, echoed.")

    @classmethod
    def of(cls, error: CommandError) -> ErrorReply:
        return cls(
            message=error.message, field=error.field, command=error.command, id=error.message_id
        )


class Command(BaseModel):
    """Fields every message may carry. Unknown fields, wrong types, NaN: refused."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    type: str
    id: GivenId = None


class PlayCommand(Command):
    """Start training in the session's own task, or re-pace it."""

    type: Literal["play"]
    unit: Unit = "batch"
    rate: float | None = Field(None, gt=0, description="Units per second; null: flat out.")


class PauseCommand(Command):
    """Stop the training task; the session is stored."""

    type: Literal["pause"]


class StepCommand(Command):
    """Run ``count`` units now (pauses play first), as ``POST /step`` does."""

    type: Literal["step"]
    unit: Unit = "batch"
    count: int = Field(1, ge=1)


class SetCommand(Command):
    """Change hyperparameters, as ``PATCH /api/sessions/{id}`` does (the same body, checked
    by the same schema); the weights stay."""

    type: Literal["set"]
    changes: dict[str, Any]

    def changed(self) -> dict[str, Any]:
        return self.changes


class ResetCommand(Command):
    """Fresh weights from the config (with a new seed if given)."""

    type: Literal["reset"]
    seed: int | None = Field(None, ge=0)


class SubscribeCommand(Command):
    """This client's frames: cap, fields, boundary grid; and the session's stop conditions.
    Only the fields given change."""

    type: Literal["subscribe"]
    max_fps: float | None = Field(None, gt=0)
    fields: list[str] | None = None
    boundary_resolution: int | None = Field(None, ge=0)
    stop: StopConditions | None = None


COMMANDS: dict[str, type[Command]] = {
    "play": PlayCommand,
    "pause": PauseCommand,
    "step": StepCommand,
    "set": SetCommand,
    "reset": ResetCommand,
    "subscribe": SubscribeCommand,
}
WATCHER_COMMANDS = frozenset({"subscribe"})


def parse_command(
    text: str | bytes, settings: Settings, changes_schema: type[BaseModel]
) -> Command:
    """One socket message → a validated Command, or CommandError saying what is wrong."""
    command = parse_message(text, COMMANDS, settings.max_ws_message_bytes)
    if isinstance(command, SetCommand):
        try:
            changes = changes_schema.model_validate(command.changes)
        except ValidationError as error:
            raise _refusal(error, "set", changes_schema, ("changes",), command.id) from None
        command.changes = changes.model_dump(exclude_unset=True)
    check_limits(command, settings)
    return command


AnyCommand = TypeVar("AnyCommand", bound=Command)


def parse_message(
    text: str | bytes,
    models: Mapping[str, type[AnyCommand]],
    max_bytes: int,
    whole: str | None = None,
) -> AnyCommand:
    """One socket message → the model its ``type`` names, validated; or CommandError naming
    the field at fault (``whole``: the one named when the message as a whole is bad — too
    large, not JSON)."""
    size = len(text.encode() if isinstance(text, str) else text)
    if size > max_bytes:
        raise CommandError(f"message too large: {size} bytes, at most {max_bytes}", whole)
    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as error:
        raise CommandError(f"not valid JSON: {error}", whole) from None
    if not isinstance(data, dict):
        raise CommandError("a message must be a JSON object with a 'type'", field="type")
    message_id = data.get("id") if isinstance(data.get("id"), str | int) else None
    kind = data.get("type")
    model = models.get(kind) if isinstance(kind, str) else None
    if model is None:
        raise CommandError(
            f"unknown message type {kind!r}; send one of: {', '.join(models)}",
            field="type",
            message_id=message_id,
        )
    assert isinstance(kind, str)
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise _refusal(error, kind, model, (), message_id) from None


def _refusal(
    error: ValidationError,
    kind: str,
    model: type[BaseModel],
    under: tuple[str, ...],
    message_id: MessageId,
) -> CommandError:
    """The first validation error as a CommandError naming its field (``under`` prefixed)."""
    first = error.errors()[0]
    field = ".".join(str(part) for part in (*under, *first["loc"])) or None
    message = first["msg"]
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(name for name in model.model_fields if name != "type")
        message = f"{kind} has no field {field!r}; its fields: {allowed}"
    elif field:
        message = f"{field}: {message}"
    return CommandError(message, field=field, command=kind, message_id=message_id)


def check_limits(command: Command, settings: Settings) -> None:
    """The configured limits, each refused with the field that passes it."""

    def refuse(field: str, message: str) -> CommandError:
        return CommandError(f"{field}: {message}", field, command.type, command.id)

    rate = command.rate if isinstance(command, PlayCommand) else None
    if rate is not None and rate > settings.max_steps_per_second:
        raise refuse("rate", f"at most {settings.max_steps_per_second:g} units per second")
    if isinstance(command, SetCommand) and not command.changed():
        raise refuse("changes", "give at least one hyperparameter to change")
    if isinstance(command, StepCommand) and command.count > settings.max_units_per_step:
        raise refuse("count", f"at most {settings.max_units_per_step} per step command")
    if isinstance(command, SubscribeCommand):
        if command.max_fps is not None and command.max_fps > settings.max_frame_rate:
            raise refuse("max_fps", f"at most {settings.max_frame_rate:g} frames per second")
        resolution = command.boundary_resolution or 0
        if resolution and not 2 <= resolution <= settings.max_boundary_resolution:
            raise refuse(
                "boundary_resolution",
                f"0 (no grid) or 2…{settings.max_boundary_resolution}, got {resolution}",
            )
        unknown = sorted(set(command.fields or ()) - set(FRAME_FIELDS))
        if unknown:
            raise refuse(
                "fields", f"unknown frame field {unknown[0]!r}; known: {', '.join(FRAME_FIELDS)}"
            )
