"""docs/protocol.md against the protocol's schema (``GET /api/protocol``, made from the message
models), and real messages against those models (issue #22, 4).

The page is read, never copied: its message tables must name every ``type`` the schema has
each way and every field of each message, and nothing the schema lacks; its close-code tables
every code each socket sends, with the meaning ``app/live/close_codes.py`` gives it. Real
messages of a session socket are read into their models, which forbid unknown fields: a field
sent and not described fails here, as a field described and never sent fails ``test_frames``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from starlette.testclient import TestClient, WebSocketTestSession

from app.cluster.proxy import RECOVERED
from app.live.close_codes import CLOSE_MEANINGS
from app.live.commands import Command
from app.live.protocol import SOCKETS, protocol_schema
from app.live.server_messages import EventKind, EventMessage
from app.service.session import Session

from .conftest import Message, is_event, is_type, manager_of, receive_until, url, watch_url

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
JSON_WORDS = {"null", "true", "false"}

Section = tuple[str, str | None]  # (the ## heading, the ### heading under it or None)
Table = list[dict[str, str]]


# ----- reading the page ---------------------------------------------------------------------


def sections(text: str) -> dict[Section, str]:
    """Each heading's own text (without the ### sections under a ##)."""
    found: dict[Section, list[str]] = {}
    h2, h3 = "", None
    for line in text.splitlines():
        if line.startswith("## "):
            h2, h3 = line[3:].strip(), None
        elif line.startswith("### "):
            h3 = line[4:].strip()
        found.setdefault((h2, h3), []).append(line)
    return {key: "\n".join(lines) for key, lines in found.items()}


def cells(line: str) -> list[str]:
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line.strip())[1:-1]]


def tables(text: str) -> Iterator[Table]:
    """Every markdown table in ``text``: its rows as {header: cell}."""
    lines = text.splitlines()
    k = 0
    while k < len(lines):
        if lines[k].startswith("|") and k + 1 < len(lines) and lines[k + 1].startswith("|---"):
            header = cells(lines[k])
            k += 2
            rows = []
            while k < len(lines) and lines[k].startswith("|"):
                rows.append(dict(zip(header, cells(lines[k]), strict=True)))
                k += 1
            yield rows
        k += 1


def table_with(text: str, *columns: str) -> Table:
    matching = [table for table in tables(text) if table and set(columns) <= set(table[0])]
    assert len(matching) == 1, f"one table with columns {columns}, found {len(matching)}"
    return matching[0]


def code_of(cell: str) -> str:
    return cell.strip("`")


def named(cell: str) -> tuple[set[str], set[str]]:
    """What a cell names in backticks: bare identifiers (`field`), and the strings quoted
    inside (`"batch"`, `{"kind", "layer"}`)."""
    bare, quoted = set(), set()
    for token in re.findall(r"`([^`]+)`", cell):
        if IDENTIFIER.fullmatch(token):
            bare.add(token)
        quoted.update(re.findall(r'"([^"]*)"', token))
    return bare - JSON_WORDS, quoted


# ----- reading the schema -------------------------------------------------------------------


def resolve(schema: dict[str, Any], definitions: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The schema and every schema inside it, references followed (each definition once)."""
    seen: set[str] = set()
    stack = [schema]
    while stack:
        node = stack.pop()
        ref = node.get("$ref")
        if isinstance(ref, str):
            name = ref.rsplit("/", 1)[-1]
            if name not in seen:
                seen.add(name)
                stack.append(definitions[name])
            continue
        yield node
        for value in node.values():
            if isinstance(value, dict):
                stack.append(value)
            elif isinstance(value, list):
                stack.extend(item for item in value if isinstance(item, dict))


def top_fields(schema: dict[str, Any], definitions: dict[str, Any]) -> set[str]:
    """The message's own fields (of each member, for a union), without ``type``."""
    members = schema.get("anyOf", [schema])
    fields: set[str] = set()
    for member in members:
        node = next(resolve(member, definitions))
        fields |= set(node.get("properties", {}))
    return fields - {"type"}


def words_of(schema: dict[str, Any], definitions: dict[str, Any]) -> set[str]:
    """Every field name and every enumerated value anywhere in a message's schema."""
    words: set[str] = set()
    for node in resolve(schema, definitions):
        properties = node.get("properties")
        if isinstance(properties, dict) and all(isinstance(p, dict) for p in properties.values()):
            words |= set(properties)
        words |= {str(value) for value in node.get("enum", [])}
        if "const" in node:
            words.add(str(node["const"]))
    return words


@pytest.fixture(scope="module")
def schema() -> dict[str, Any]:
    return protocol_schema()


@pytest.fixture(scope="module")
def doc() -> dict[Section, str]:
    return sections(DOC.read_text())


CLASS_SECTION = "The class socket: `/ws/classes?token=…`"
MESSAGE_TABLES = {  # (socket, direction) → where its table is
    ("session", "client"): ("Client → server", None),
    ("session", "server"): ("Server → client", None),
    ("class", "client"): (CLASS_SECTION, "Client → server (students only)"),
    ("class", "server"): (CLASS_SECTION, "Server → client"),
}
CLOSE_TABLES = {"session": ("Connecting", None), "class": (CLASS_SECTION, None)}


# ----- the page against the schema ----------------------------------------------------------


@pytest.mark.parametrize(("socket", "direction"), list(MESSAGE_TABLES))
def test_the_page_names_every_message_and_field_and_nothing_else(
    schema: dict[str, Any], doc: dict[Section, str], socket: str, direction: str
) -> None:
    messages = schema["sockets"][socket][direction]
    definitions = schema["$defs"]
    rows = table_with(doc[MESSAGE_TABLES[socket, direction]], "type", "fields")
    documented = {code_of(row["type"]): row["fields"] for row in rows}
    assert set(documented) == set(messages)
    # The fields any client message may carry (``id``) are said once, under the table.
    types = {kind for side in ("client", "server") for kind in schema["sockets"][socket][side]}
    shared = set(Command.model_fields) - {"type"} if direction == "client" else set()
    for name in shared:
        assert f"may carry an `{name}`" in doc[MESSAGE_TABLES[socket, direction]]
    for kind, message in messages.items():
        bare, quoted = named(documented[kind])
        missing = top_fields(message, definitions) - shared - bare
        assert not missing, f"{socket} {kind}: the page does not name {sorted(missing)}"
        unknown = (bare | quoted) - words_of(message, definitions) - types  # (`answered` gave)
        assert not unknown, f"{socket} {kind}: the schema has no {sorted(unknown)}"


def test_the_page_lists_each_event_kind_once(schema: dict[str, Any], doc: dict[Section, str]):
    event = schema["sockets"]["session"]["server"]["event"]
    kinds = event["properties"]["event"]["enum"]
    rows = table_with(doc["Server → client, in detail", "`event`"], "event", "to")
    assert [code_of(row["event"]) for row in rows] == list(kinds)
    assert list(kinds) == list(EventKind.__args__)  # type: ignore[attr-defined]


def test_the_page_gives_each_close_code_its_meaning(
    schema: dict[str, Any], doc: dict[Section, str]
) -> None:
    rows = table_with(doc["Close codes", None], "code", "name", "meaning", "final")
    documented = {
        row["code"]: {
            "name": code_of(row["name"]),
            "meaning": row["meaning"],
            "final": {"yes": True, "no": False}[row["final"]],
        }
        for row in rows
    }
    assert documented == schema["close_codes"]
    assert len(rows) == len(CLOSE_MEANINGS)


@pytest.mark.parametrize("socket", list(CLOSE_TABLES))
def test_each_sockets_close_table_lists_the_codes_it_sends(
    schema: dict[str, Any], doc: dict[Section, str], socket: str
) -> None:
    rows = table_with(doc[CLOSE_TABLES[socket]], "close code", "when")
    assert {int(row["close code"]) for row in rows} == set(schema["sockets"][socket]["close_codes"])
    assert set(schema["sockets"][socket]["close_codes"]) <= {int(c) for c in schema["close_codes"]}


def test_the_page_is_the_schemas_version_and_names_where_it_is(
    schema: dict[str, Any], doc: dict[Section, str]
) -> None:
    text = DOC.read_text()
    assert text.splitlines()[0].endswith(f"version {schema['version']}")
    assert f"The protocol version is **{schema['version']}**" in text
    assert "`GET /api/protocol`" in doc["The schema", None]
    for name, socket in SOCKETS.items():
        path = socket.path.split("?", 1)[0].replace("{id}", "")
        assert path in text, f"the {name} socket's path"


def test_the_api_serves_the_schema(live_client: TestClient, schema: dict[str, Any]) -> None:
    answer = live_client.get("/api/protocol")
    assert answer.status_code == 200
    assert answer.json() == schema


# ----- real messages against the models -----------------------------------------------------

SERVER_MODELS: dict[str, type[BaseModel]] = {
    kind: model
    for kind, model in SOCKETS["session"].server.items()
    if isinstance(model, type) and issubclass(model, BaseModel)
}


def checked(message: Message) -> Message:
    """The message, once its model (which forbids unknown fields) has read it."""
    SERVER_MODELS[message["type"]].model_validate(message)
    return message


def read_until(ws: WebSocketTestSession, accept: Callable[[Message], bool]) -> Message:
    """The first message ``accept`` takes, every message up to it checked against its model."""
    return receive_until(ws, lambda message: accept(checked(message)))


def events_until(ws: WebSocketTestSession, last: str) -> list[str]:
    """The kinds of the events ``ws`` is told, up to the first ``last``."""
    events: list[str] = []
    while last not in events:
        message = checked(ws.receive_json())
        if message["type"] == "event":
            events.append(message["event"])
    return events


def test_real_messages_are_what_their_models_describe(
    live_client: TestClient, session: Session
) -> None:
    """hello; frames before a batch, mid-batch with the traces, with the boundary grid and with
    frozen weights; every event the socket sends here; an error."""
    assert set(SERVER_MODELS) == set(SOCKETS["session"].server)
    seen: set[str] = set()
    with (
        live_client.websocket_connect(url(session)) as ws,
        live_client.websocket_connect(watch_url(session)) as watcher,
    ):
        for socket in (ws, watcher):
            seen.add(read_until(socket, is_type("hello"))["role"])
        ws.send_json({"type": "subscribe", "boundary_resolution": 5})
        frame = read_until(ws, lambda m: m["type"] == "frame" and m["boundary"] is not None)
        assert set(frame["boundary"]) == {"resolution", "axes", "inputs", "x", "y", "z"}
        for _ in range(8):  # a whole batch, phase by phase: δ, dW, ∂L/∂ŷ appear
            ws.send_json({"type": "step", "unit": "phase"})
        traced = read_until(
            ws, lambda m: m["type"] == "frame" and m["phase"] == {"kind": "update", "layer": None}
        )
        assert {"delta", "dW", "db", "output_error_mean"} <= set(traced["layers"][-1])
        ws.send_json({"type": "set", "changes": {"l1": 0.5, "penalty_rule": "tfp"}})
        read_until(watcher, is_event("changed"))
        ws.send_json({"type": "step", "unit": "epoch", "count": 3})
        frozen = read_until(ws, lambda m: m["type"] == "frame" and "dead" in m["layers"][0])
        assert any(any(row) for row in frozen["layers"][0]["dead"])
        ws.send_json({"type": "play", "unit": "batch", "rate": 50})
        read_until(ws, is_event("playing"))
        ws.send_json({"type": "pause"})
        read_until(ws, is_event("paused"))
        ws.send_json({"type": "reset", "seed": 3})
        assert read_until(ws, is_event("reset"))["state"]["config"]["model"]["seed"] == 3
        ws.send_json({"type": "jump"})
        assert read_until(ws, is_type("error"))["field"] == "type"
        assert (
            live_client.delete(
                f"/api/sessions/{session.id}", headers={"Authorization": f"Bearer {session.token}"}
            ).status_code
            == 204
        )
        read_until(ws, is_event("deleted"))
    assert seen == {"control", "watch"}
    EventMessage.model_validate(RECOVERED)  # the cluster proxy's own event


def test_a_step_past_its_budget_tells_its_sender_alone(make_app: Callable[..., Any]) -> None:
    app = make_app(max_step_seconds=0.05, max_units_per_step=10**6)
    with TestClient(app) as client:
        session = manager_of(app).create({"preset": "circle"})
        with (
            client.websocket_connect(url(session)) as ws,
            client.websocket_connect(watch_url(session)) as watcher,
        ):
            for socket in (ws, watcher):
                read_until(socket, is_type("hello"))
            ws.send_json({"type": "step", "unit": "epoch", "count": 10**6})
            limit = read_until(ws, is_event("limit"))
            assert 0 < limit["detail"]["done"] < limit["detail"]["requested"] == 10**6
            ws.send_json({"type": "reset"})  # told to everyone, after any limit event
            events = events_until(watcher, "reset")
            assert "limit" not in events and events[-1] == "reset"
