"""The codes both sockets close with (docs/protocol.md), each once, with what it means.

Every sender of a close code in ``app`` names it here; the page is given the table (``page
config``) and the protocol's schema lists it (``protocol.py``), so neither keeps a copy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import Any


class CloseCode(IntEnum):
    """A websocket close code the server sends: the standard ones it uses, and its own
    4000–4999 codes, numbered after the HTTP status they stand for."""

    INTERNAL_ERROR = 1011
    SERVICE_RESTART = 1012
    BAD_TOKEN = 4401
    FOREIGN_ORIGIN = 4403
    NOT_FOUND = 4404
    TOO_MANY_SOCKETS = 4429


@dataclass(frozen=True)
class CloseMeaning:
    """What a close code means, in words a page may show when a close frame carries no
    reason; ``final``: the token names nothing the socket may open, so trying again is
    useless (a page stops reconnecting)."""

    meaning: str
    final: bool = False


CLOSE_MEANINGS: dict[CloseCode, CloseMeaning] = {
    CloseCode.INTERNAL_ERROR: CloseMeaning(
        "the session's worker could not be reached (--workers / --ray-address only)"
    ),
    CloseCode.SERVICE_RESTART: CloseMeaning("the server is restarting"),
    CloseCode.BAD_TOKEN: CloseMeaning("the token was refused", final=True),
    CloseCode.FOREIGN_ORIGIN: CloseMeaning("a page from another origin may not open the socket"),
    CloseCode.NOT_FOUND: CloseMeaning(
        "no such session or class: never opened, deleted, expired or forgotten", final=True
    ),
    CloseCode.TOO_MANY_SOCKETS: CloseMeaning(
        "too many sockets: on this session, or of this client or its address"
    ),
}


def close_code_table() -> dict[str, dict[str, Any]]:
    """The table as JSON (the protocol's schema and the page's config): code → its name, its
    meaning and whether it is final."""
    return {
        str(int(code)): {"name": code.name, "meaning": rule.meaning, "final": rule.final}
        for code, rule in CLOSE_MEANINGS.items()
    }
