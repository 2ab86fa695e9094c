"""``/api/protocol``: the live protocol's JSON schema (docs/protocol.md), made from the
sockets' message models (``app.live.protocol``)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from fastapi import APIRouter

from app.live.protocol import protocol_schema

router = APIRouter(prefix="/protocol", tags=["live"])


@lru_cache(maxsize=1)
def cached_schema() -> dict[str, Any]:
    return protocol_schema()


@router.get("", response_model=dict[str, Any])
def read_protocol() -> dict[str, Any]:
    """The websockets' messages, each way, one JSON schema per ``type``, and their close
    codes: ``/ws/sessions/{id}`` (a session's frames and commands) and ``/ws/classes`` (a
    class and its predict-then-reveal)."""
    return cached_schema()
