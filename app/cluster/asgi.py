"""One HTTP request, or one websocket, run against an ASGI app in this process.

A worker receives a forwarded request as plain data (``Request``) and answers plain data
(``Response``); a forwarded websocket is a ``SocketBridge``: the client's messages go in
through ``push``, the app's come out through ``drain``. Its outgoing queue is short: when the
web process reads slowly, the app's ``send`` waits, so its latest-wins clients skip frames
instead of a queue growing here.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

Message = MutableMapping[str, Any]
Scope = MutableMapping[str, Any]
ASGIApp = Callable[
    [Scope, Callable[[], Awaitable[Message]], Callable[[Message], Awaitable[None]]],
    Awaitable[None],
]

OUTGOING_LIMIT = 4  # the app's messages waiting for the web process to take them
INCOMING_LIMIT = 64  # the client's messages waiting for the app to read them


@dataclass
class Request:
    """What the web process forwards of a request: enough to rebuild its ASGI scope."""

    method: str
    path: str
    query: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes = b""
    client: tuple[str, int] | None = None
    scheme: str = "http"
    server: tuple[str, int] | None = None

    def scope(self, kind: str) -> Scope:
        scope: Scope = {
            "type": kind,
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "path": self.path,
            "raw_path": self.path.encode("utf-8", "surrogateescape"),
            "root_path": "",
            "query_string": self.query,
            "headers": self.headers,
            "client": self.client,
            "server": self.server,
            "scheme": self.scheme,
        }
        if kind == "http":
            scope["method"] = self.method
        else:
            scope["subprotocols"] = []
        return scope


@dataclass
class Response:
    status: int
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    body: bytes = b""


async def call_http(app: ASGIApp, request: Request) -> Response:
    """Run one HTTP request through the app; its whole answer."""
    response = Response(500)
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:  # the body was read: the client is "gone" only once the answer is done
            await asyncio.Event().wait()
        sent = True
        return {"type": "http.request", "body": request.body, "more_body": False}

    chunks: list[bytes] = []

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            response.status = message["status"]
            response.headers = [(bytes(k), bytes(v)) for k, v in message.get("headers", [])]
        elif message["type"] == "http.response.body":
            chunks.append(bytes(message.get("body", b"")))

    await app(request.scope("http"), receive, send)
    response.body = b"".join(chunks)
    return response


class SocketBridge:
    """One forwarded websocket: the app runs it here; the web process pushes and drains.

    ``notify`` is called whenever the app has sent a message (the worker wakes the web
    process's waiting take)."""

    def __init__(self, app: ASGIApp, request: Request, notify: Callable[[], None]) -> None:
        self.incoming: asyncio.Queue[Message] = asyncio.Queue(INCOMING_LIMIT)
        self.outgoing: asyncio.Queue[Message] = asyncio.Queue(OUTGOING_LIMIT)
        self.incoming.put_nowait({"type": "websocket.connect"})
        self.notify = notify
        self.closed = False
        self.task = asyncio.create_task(self._run(app, request))

    async def _send(self, message: Message) -> None:
        await self.outgoing.put(message)  # waits while the queue is full: latest-wins upstream
        self.notify()

    async def _run(self, app: ASGIApp, request: Request) -> None:
        try:
            await app(request.scope("websocket"), self.incoming.get, self._send)
        finally:
            self.closed = True
            self.notify()

    async def push(self, message: Message) -> None:
        """A message from the client (``websocket.receive`` or ``websocket.disconnect``)."""
        if not self.closed:
            await self.incoming.put(message)

    def drain(self) -> list[Message]:
        """The app's messages waiting now (at most ``OUTGOING_LIMIT``); ``bridge.end`` last
        once the app is done with the socket."""
        messages: list[Message] = []
        while not self.outgoing.empty():
            messages.append(self.outgoing.get_nowait())
        if self.closed and self.outgoing.empty():
            messages.append({"type": "bridge.end"})
        return messages

    async def stop(self) -> None:
        """End the app's side (the client left, or the web process is gone)."""
        if not self.task.done():
            with contextlib.suppress(asyncio.QueueFull):
                self.incoming.put_nowait({"type": "websocket.disconnect", "code": 1001})
            try:
                await asyncio.wait_for(asyncio.shield(self.task), 5)
            except TimeoutError:
                self.task.cancel()
            except Exception:  # the app's own error is logged by the app
                pass
