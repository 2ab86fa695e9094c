"""The live protocol's JSON schema, made from the message models (docs/protocol.md).

Both sockets, each way, one schema per message ``type`` — the session socket's commands
(``commands.py``) and messages (``server_messages.py``), the class socket's
(``class_messages.py``) — with the close codes each socket sends (``close_codes.py``).
``GET /api/protocol`` serves it; tests/ws/test_protocol_schema.py checks docs/protocol.md
against it and real messages against its models.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from .class_messages import (
    CLASS_COMMANDS,
    AnswerCount,
    Answered,
    ClassMoved,
    QuestionAsked,
    Reveal,
    StudentCount,
    StudentReveal,
)
from .close_codes import CloseCode, close_code_table
from .commands import COMMANDS, ErrorReply
from .server_messages import PROTOCOL_VERSION, EventMessage, FrameMessage, HelloMessage

REF_TEMPLATE = "#/$defs/{model}"


@dataclass(frozen=True)
class Socket:
    """One socket: where it is, the messages each way by ``type``, the codes it closes with."""

    path: str
    client: Mapping[str, Any]  # type → its model (or a union of models)
    server: Mapping[str, Any]
    close_codes: tuple[CloseCode, ...]


SOCKETS: dict[str, Socket] = {
    "session": Socket(
        "/ws/sessions/{id}?token=<control or watch token>",
        COMMANDS,
        {"hello": HelloMessage, "frame": FrameMessage, "event": EventMessage, "error": ErrorReply},
        (
            CloseCode.FOREIGN_ORIGIN,
            CloseCode.BAD_TOKEN,
            CloseCode.NOT_FOUND,
            CloseCode.TOO_MANY_SOCKETS,
            CloseCode.SERVICE_RESTART,
            CloseCode.INTERNAL_ERROR,
        ),
    ),
    "class": Socket(
        "/ws/classes?token=<class code or teacher token>",
        CLASS_COMMANDS,
        {
            "class": ClassMoved,
            "students": StudentCount,
            "question": QuestionAsked,
            "answers": AnswerCount,
            "answered": Answered,
            "reveal": Reveal | StudentReveal,  # a teacher's, a student's (with their mark)
            "error": ErrorReply,
        },
        (
            CloseCode.FOREIGN_ORIGIN,
            CloseCode.NOT_FOUND,
            CloseCode.TOO_MANY_SOCKETS,
            CloseCode.SERVICE_RESTART,
            CloseCode.INTERNAL_ERROR,
        ),
    ),
}


def protocol_schema() -> dict[str, Any]:
    """Both sockets' messages as JSON schemas (2020-12), sharing one ``$defs``: a client's
    message as the server reads it, a server's as it sends it."""
    definitions: dict[str, Any] = {}

    def schema_of(model: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        schema = TypeAdapter(model).json_schema(mode=mode, ref_template=REF_TEMPLATE)
        for name, definition in schema.pop("$defs", {}).items():
            if definitions.setdefault(name, definition) != definition:
                raise ValueError(f"two message parts are both called {name}")
        return schema

    sockets = {
        name: {
            "path": socket.path,
            "client": {kind: schema_of(m, "validation") for kind, m in socket.client.items()},
            "server": {kind: schema_of(m, "serialization") for kind, m in socket.server.items()},
            "close_codes": [int(code) for code in socket.close_codes],
        }
        for name, socket in SOCKETS.items()
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Backprop Playground's live protocol",
        "version": PROTOCOL_VERSION,
        "sockets": sockets,
        "close_codes": close_code_table(),
        "$defs": definitions,
    }
