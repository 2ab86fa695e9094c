"""The live socket: ``/ws/sessions/{id}?token=…`` (docs/protocol.md).

The token decides the role: the session's control token may send every command, its watch
token only ``subscribe``. Errors before the stream starts close the socket right after the
handshake, with a code and a reason a browser can read: 4404 no such session, 4401 bad
token, 4429 too many clients on this session.
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI, WebSocket

from app.live import LiveRegistry, Role, serve_socket
from app.service.manager import SessionManager, SessionNotFoundError
from app.service.session import Session

from .schemas import SessionUpdate

CLOSE_BAD_TOKEN = 4401
CLOSE_NO_SESSION = 4404
CLOSE_TOO_MANY_CLIENTS = 4429


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


def role_for(session: Session, token: str) -> Role | None:
    """control, watch, or None for a wrong token (compared in constant time)."""
    if hmac.compare_digest(token.encode(), session.token.encode()):
        return "control"
    if hmac.compare_digest(token.encode(), session.watch_token.encode()):
        return "watch"
    return None


@router.websocket("/ws/sessions/{session_id}")
async def stream_session(websocket: WebSocket, session_id: str) -> None:
    """Stream one session: hello, then frames and events; commands from control clients."""
    registry = get_live(websocket.app)
    manager: SessionManager = registry.manager
    await websocket.accept()
    try:
        session = await asyncio.to_thread(manager.get, session_id)
    except SessionNotFoundError:
        await websocket.close(CLOSE_NO_SESSION, "no such session (it may have expired)")
        return
    role = role_for(session, websocket.query_params.get("token", ""))
    if role is None:
        await websocket.close(
            CLOSE_BAD_TOKEN, "bad token: use the session's control or watch token (?token=…)"
        )
        return
    hub = registry.hub_for(session)
    if len(hub.clients) >= registry.settings.max_clients_per_session:
        await websocket.close(
            CLOSE_TOO_MANY_CLIENTS,
            f"this session already has {registry.settings.max_clients_per_session} clients",
        )
        return
    await serve_socket(hub, websocket, role)
