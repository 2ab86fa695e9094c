"""Who may do what: a session's control token reads and changes it, its watch token only reads.

The REST dependencies and the websocket both ask ``role_of``, so one check decides for both.
"""

from __future__ import annotations

import hmac
from typing import Literal, Protocol

Role = Literal["control", "watch"]


class HasTokens(Protocol):
    """Anything holding a control and a watch token (a session, a set-aside session row)."""

    @property
    def token(self) -> str: ...

    @property
    def watch_token(self) -> str: ...


def same_token(given: str, expected: str) -> bool:
    """Compared in constant time; any text may be given (a lone surrogate included)."""
    return hmac.compare_digest(
        given.encode("utf-8", "surrogateescape"), expected.encode("utf-8", "surrogateescape")
    )


def role_of(owner: HasTokens, token: str) -> Role | None:
    """Which of the owner's tokens this is; None for neither."""
    if same_token(token, owner.token):
        return "control"
    if same_token(token, owner.watch_token):
        return "watch"
    return None
