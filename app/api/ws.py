"""The live socket: ``/ws/sessions/{id}?token=…`` (docs/protocol.md).

The token decides the role: the session's control token may send every command, its watch
token only ``subscribe``. Errors before the stream starts close the socket right after the
handshake, with a code and a reason a browser can read: 4404 no such session, 4401 bad
token, 4403 a foreign ``Origin`` (a page served elsewhere), 4429 too many clients on this session
(its last ``control_sockets_reserved`` places are for control sockets) or too many sockets of
this client or its address (``max_sockets_per_client``, ``max_sockets_per_address``).

A browser sends the page's ``Origin``: the server's own is accepted, and those listed in the
``cors_origins`` setting; a client that sends no ``Origin`` (not a browser) is accepted too.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocketDisconnect
from uvicorn.protocols.utils import ClientDisconnected

from app.live import LiveRegistry, serve_socket
from app.live.close_codes import CloseCode
from app.service.access import role_of
from app.service.manager import SessionManager, SessionNotFoundError
from app.service.quotas import Holdings, QuotaExceededError

from .clients import client_of
from .schemas import SessionUpdate


def get_live(app: Any) -> LiveRegistry:
    """The app's registry of live sessions, made on first use."""
    registry: LiveRegistry | None = getattr(app.state, "live", None)
    if registry is None:
        registry = app.state.live = LiveRegistry(
            app.state.manager, app.state.settings, SessionUpdate
        )
    return registry


@asynccontextmanager
async def live_lifespan(app: FastAPI) -> AsyncIterator[None]:
    """On shutdown, pause every playing session (each is stored first)."""
    yield
    registry: LiveRegistry | None = getattr(app.state, "live", None)
    if registry is not None:
        app.state.live = None
        await registry.close()


router = APIRouter(tags=["live"], lifespan=live_lifespan)


class GoneSocketsAreQuiet:
    """ASGI middleware: a socket whose client went away (during the handshake, before the
    close code could be sent, or mid-stream) ends quietly. Without it each such socket logs a
    5 KiB traceback, and one client aborting upgrades in a loop fills the log at MB/s."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        with contextlib.suppress(WebSocketDisconnect, ClientDisconnected):
            await self.app(scope, receive, send)


def origin_allowed(websocket: WebSocket, allowed: list[str]) -> bool:
    """No Origin (not a browser), the server's own (same host and port), or one allowed."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin.rstrip("/") in {entry.rstrip("/") for entry in allowed}:
        return True
    host = websocket.headers.get("host", "")
    scheme, _, netloc = origin.partition("://")
    return scheme in ("http", "https") and bool(host) and netloc.lower() == host.lower()


@router.websocket("/ws/sessions/{session_id}")
async def stream_session(websocket: WebSocket, session_id: str) -> None:
    """Stream one session: hello, then frames and events; commands from control clients."""
    registry = get_live(websocket.app)
    manager: SessionManager = registry.manager
    await websocket.accept()
    if not origin_allowed(websocket, registry.settings.cors_origins):
        await websocket.close(
            CloseCode.FOREIGN_ORIGIN, "this origin may not open the socket (see cors_origins)"
        )
        return
    try:
        session = await asyncio.to_thread(manager.get, session_id)
    except SessionNotFoundError:
        await websocket.close(CloseCode.NOT_FOUND, "no such session (it may have expired)")
        return
    role = role_of(session, websocket.query_params.get("token", ""))
    if role is None:
        await websocket.close(
            CloseCode.BAD_TOKEN, "bad token: use the session's control or watch token (?token=…)"
        )
        return
    settings = registry.settings
    hub = registry.hub_for(session)
    room = settings.max_clients_per_session
    reserved = min(settings.control_sockets_reserved, room // 2)
    if role != "control":  # the last places are kept for control sockets (the teacher's)
        room -= reserved
    if len(hub.clients) >= room:
        await websocket.close(
            CloseCode.TOO_MANY_SOCKETS,
            f"this session already has {len(hub.clients)} clients (max_clients_per_session; "
            f"the last {reserved} are for control sockets)",
        )
        return
    async with held_socket(websocket) as held:
        if held:
            await serve_socket(hub, websocket, role)


def socket_holdings(app: Any) -> Holdings:
    """The app's count of open sockets per client and per address, made on first use."""
    holdings: Holdings | None = getattr(app.state, "sockets_held", None)
    if holdings is None:
        settings = app.state.settings
        holdings = app.state.sockets_held = Holdings(
            "sockets",
            (settings.max_sockets_per_client, settings.max_sockets_per_address),
            ("max_sockets_per_client", "max_sockets_per_address"),
        )
    return holdings


@asynccontextmanager
async def held_socket(websocket: WebSocket) -> AsyncIterator[bool]:
    """Count this socket against its client's quota while it is open: True; or close it
    with 4429 naming the quota (and when to retry): False."""
    holdings, client = socket_holdings(websocket.app), client_of(websocket.scope)
    try:
        holdings.take(client)
    except QuotaExceededError as error:
        await websocket.close(
            CloseCode.TOO_MANY_SOCKETS, f"{error} (retry in {error.retry_after} s)"
        )
        yield False
        return
    try:
        yield True
    finally:
        holdings.give_back(client)
