"""Logging: one line per request and per session event, at a configurable level, no tokens.

Tokens travel in the Authorization header and in the websocket's query string; request
lines are written from the path alone, and every query string uvicorn logs is dropped.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

# A query string after a path, up to the next blank (a closing quote is kept): whatever its
# spelling (``?tok%65n=…`` is read as ``token``), the whole query goes.
QUERY_STRING = re.compile(r"(?<=[\w/%.~-])\?\S+?(\"?)(?=\s|$)")
log = logging.getLogger("app.requests")


class MaskTokens(logging.Filter):
    """Rewrites a record's message with every query string masked (uvicorn logs websocket
    paths, query string included, when it accepts or refuses them)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_tokens(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def mask_tokens_in_server_logs() -> None:
    """Install MaskTokens on uvicorn's loggers (idempotent)."""
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, MaskTokens) for f in logger.filters):
            logger.addFilter(MaskTokens())


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("app").setLevel(level.upper())


def mask_tokens(text: str) -> str:
    """``/ws/sessions/a?tok%65n=abc&x=1`` → ``/ws/sessions/a?***``."""
    return QUERY_STRING.sub(r"?***\1", text)


Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


class RequestLogMiddleware:
    """ASGI middleware: ``METHOD path status ms`` for each HTTP request; a line per socket."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = {"code": 0}

        async def send_and_note(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:  # a socket's messages pass unwrapped: only an HTTP answer has a status to note
            await self.app(scope, receive, send_and_note if scope["type"] == "http" else send)
        finally:
            elapsed_ms = (time.perf_counter() - start) * 1000
            path = mask_tokens(scope.get("path", ""))
            if scope["type"] == "http":
                log.info("%s %s %d %.1fms", scope["method"], path, status["code"], elapsed_ms)
            else:
                log.info("websocket %s closed after %.1fs", path, elapsed_ms / 1000)
