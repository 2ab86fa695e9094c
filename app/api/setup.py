"""Builds the app: store and manager, error handlers, limits, routers, static files, lifespan.

``app.main.create_app`` calls ``configure_app``; every app gets its own store and manager,
so tests build as many independent apps as they like.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter, Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette_compress import CompressMiddleware

from app.api import (
    class_questions,
    class_worksheets,
    classes,
    coach,
    datasets,
    docs,
    grade,
    handcheck,
    health,
    lessons,
    notebooks,
    pages,
    parameters,
    presets,
    protocol,
    sessions,
    timeline,
    ws,
)
from app.live.classes import Classes
from app.logs import RequestLogMiddleware, mask_tokens_in_server_logs
from app.service.manager import SessionManager
from app.service.store import open_store
from app.settings import Settings

from .assets import mount_static
from .clients import ClientIdentity
from .costly import close_pools, open_pools
from .deps import reject_unknown_query, reopen_store
from .errors import install_error_handlers
from .limits import RequestSizeLimit
from .responses import OrjsonResponse
from .schemas import ErrorMessage
from .security import SecurityHeadersMiddleware

log = logging.getLogger("app.api")

MAX_EXPIRY_INTERVAL_SECONDS = 60.0

API_DESCRIPTION = """
Train a small neural network step by step and look inside it: weights, activations, deltas
and gradients of every layer, phase by phase.

**Tokens.** `POST /api/sessions` answers a session `id`, a control `token` and a `watch_token`.
Send one as `Authorization: Bearer <token>`: either token reads a session; only the control
token changes it (step, PATCH, reset, DELETE). No token: 401; the wrong one: 403.
`POST /api/datasets` answers an upload `token`: only it lists that upload, creates a session on
it (sent with `POST /api/sessions`) or deletes it.

**Errors** are JSON and name the field at fault: `{"detail": "message", "field": "count"}`, or
for schema errors `{"detail": [{"loc": ["body", "count"], "msg": "...", "type": "..."}]}`.
422: a bad value; 404: no such session; 409: nothing to inspect yet (or a stored session that
could not be read, set aside); 413: a body too large; 429: the server (or your quota) is full.

**Numbers.** NaN and infinity are sent as `null`; a diverged session says why in `diverged`.
Layer indices are 0-based: layer 0 is the first dense layer after the inputs.
"""

OPENAPI_TAGS = [
    {"name": "sessions", "description": "Create, train, inspect, export and import sessions."},
    {"name": "timeline", "description": "Revisit any earlier moment of a session; branch it."},
    {"name": "study", "description": "Grade your own backprop, the gradient coach, hand checks."},
    {"name": "presets", "description": "Named starting points: the lessons, TF Playground."},
    {"name": "datasets", "description": "Built-in datasets and CSV uploads."},
    {"name": "classes", "description": "A class link that follows the teacher's current session."},
    {"name": "health", "description": "Liveness of the server and its store."},
    {"name": "live", "description": "The websockets' protocol, as a JSON schema."},
]


def api_router() -> APIRouter:
    """Every REST resource's router, under one roof (mounted at ``/api``)."""
    router = APIRouter(
        dependencies=[Depends(reject_unknown_query)],
        responses={422: {"model": ErrorMessage, "description": "A bad value; it is named."}},
    )
    for resource in (
        sessions,
        parameters,
        timeline,
        grade,
        coach,
        handcheck,
        notebooks,
        lessons,
        presets,
        datasets,
        classes,
        class_questions,
        protocol,
        class_worksheets,
        health,
    ):
        router.include_router(resource.router)
    return router


def expiry_interval(settings: Settings) -> float:
    return max(0.05, min(MAX_EXPIRY_INTERVAL_SECONDS, settings.session_ttl_seconds / 4))


async def expire_idle_sessions(manager: SessionManager, interval: float) -> None:
    """Forever: every ``interval`` seconds, forget the sessions idle past their time."""
    while True:
        await asyncio.sleep(interval)
        try:
            expired = await asyncio.to_thread(manager.expire_idle)
        except Exception:  # a failed sweep must not end the sweeping
            log.exception("expiring idle sessions failed")
            continue
        if expired:
            log.info("expired %d idle session(s)", len(expired))


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Sweep idle sessions while the app runs; close the store when it stops."""
    if app.state.store_closed:  # started again (a TestClient entered twice, a test tool)
        reopen_store(app)
    manager: SessionManager = app.state.manager
    if app.state.pools is None:  # started again: the last stop closed the pools
        app.state.pools = open_pools(manager.settings)
    sweeper = asyncio.create_task(expire_idle_sessions(manager, expiry_interval(manager.settings)))
    try:
        yield
    finally:
        sweeper.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeper
        pools, app.state.pools = app.state.pools, None
        close_pools(pools)  # (None: another lifespan of the same app closed them)
        app.state.store.close()
        app.state.store_closed = True


def app_version() -> str:
    try:
        return version("backprop-playground")
    except PackageNotFoundError:
        return "0.0.0"


def configure_app(settings: Settings) -> FastAPI:
    """A new app serving the REST API, the websocket, the page and its static files."""
    mask_tokens_in_server_logs()
    store = open_store(settings.data_dir, settings.database_url)
    manager = SessionManager(settings, store)
    app = FastAPI(
        title="Backprop Playground",
        version=app_version(),
        description=API_DESCRIPTION,
        openapi_tags=OPENAPI_TAGS,
        default_response_class=OrjsonResponse,
        lifespan=lifespan,
        docs_url=None,  # /docs is ours (app/api/docs.py): Swagger UI served locally, no CDN
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.store_closed = False
    app.state.manager = manager
    app.state.classes = Classes(manager)
    app.state.pools = open_pools(settings)
    install_error_handlers(app)
    # Added last = outermost: the log sees every request, the size limit runs before CORS.
    # Innermost: every text response is compressed (zstd, brotli or gzip, as the browser
    # accepts); websockets pass untouched (their deflate is `ws_compression`).
    app.add_middleware(CompressMiddleware)
    app.add_middleware(RequestSizeLimit, max_bytes=settings.max_request_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PATCH", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(ws.GoneSocketsAreQuiet)
    app.add_middleware(ClientIdentity, settings=settings)
    app.add_middleware(RequestLogMiddleware)
    app.include_router(api_router(), prefix="/api")
    app.include_router(ws.router)
    app.include_router(classes.ws_router)
    app.include_router(pages.router)
    app.include_router(docs.router)
    mount_static(app)
    return app
