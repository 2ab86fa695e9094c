"""The request-size limit: 413 with a JSON message, from the Content-Length or as bytes arrive.

A declared Content-Length over the limit is refused before any byte is read; a body sent
without one (chunked) is counted as it streams in, and refused the moment it passes the limit.
"""

from __future__ import annotations

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import ApiError, error_body
from .responses import OrjsonResponse


def too_large_message(max_bytes: int) -> str:
    return f"the request body is larger than the limit of {max_bytes} bytes"


class RequestSizeLimit:
    """ASGI middleware: no request body over ``max_bytes`` reaches a handler."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.strip().isdigit() and int(declared) > self.max_bytes:
            body = error_body(too_large_message(self.max_bytes), "body")
            await OrjsonResponse(body, status_code=413)(scope, receive, send)
            return
        received = 0

        async def receive_within_limit() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # An HTTPException: FastAPI re-raises it from body parsing, and the
                    # app's handler answers it as JSON.
                    raise ApiError(413, too_large_message(self.max_bytes), field="body")
            return message

        await self.app(scope, receive_within_limit, send)
