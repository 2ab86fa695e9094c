"""The web process's forwarding layer: ``/api/**`` and ``/ws/**`` go to the owning worker.

The web process serves the page, static files, ``/docs`` and ``/api/health`` itself (the app
it wraps); every other API call and every socket is forwarded to the worker that owns it
(``owner.worker_for``). A worker that died is restarted by Ray; meanwhile a read (GET, HEAD)
is tried again for up to ``RETRY_SECONDS``, a change answers 503 (it may or may not have been
made: read and try again). A socket bridged through a worker that restarted is opened again
on it (the session loads from the store), its last ``subscribe`` sent again, and the client
is told with a ``recovered`` event before the new ``hello``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import orjson

from .asgi import ASGIApp, Message, Request, Response, Scope
from .owner import forwarded, worker_for

log = logging.getLogger("app.cluster")

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RETRY_SECONDS = 60.0  # how long a read, or a bridged socket, waits for a restarting worker
TAKE_WAIT_SECONDS = 10.0  # one take waits this long for the app's next message
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
RECOVERED = {
    "type": "event",
    "event": "recovered",
    "message": "the session's worker restarted: the session was loaded again from the store "
    "(play since its last save may be lost; play has stopped)",
    "detail": {},
}


def worker_errors() -> tuple[type[BaseException], ...]:
    """What Ray raises when a worker died or is restarting."""
    from ray.exceptions import ActorUnavailableError, RayActorError

    return (RayActorError, ActorUnavailableError)


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(status, [(b"content-type", b"application/json")], orjson.dumps(body))


class ClusterProxy:
    """ASGI: forwards the API and the sockets to the workers, the rest to ``app``."""

    def __init__(self, app: ASGIApp, workers: Sequence[Any], max_request_bytes: int) -> None:
        self.app = app
        self.workers = list(workers)
        self.max_request_bytes = max_request_bytes
        self.retryable = worker_errors()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not forwarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        worker = self.workers[worker_for(scope["path"], len(self.workers))]
        if scope["type"] == "http":
            await self.forward_http(worker, scope, receive, send)
        else:
            await SocketRelay(worker, request_of(scope), self.retryable).run(receive, send)

    async def forward_http(self, worker: Any, scope: Scope, receive: Receive, send: Send) -> None:
        body = await read_body(receive, self.max_request_bytes + 1)  # the worker answers 413
        request = request_of(scope, body)
        response = await self.call_worker(worker, request)
        await send(
            {"type": "http.response.start", "status": response.status, "headers": response.headers}
        )
        await send({"type": "http.response.body", "body": response.body})

    async def call_worker(self, worker: Any, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_SECONDS
        delay = 0.1
        while True:
            try:
                response: Response = await worker.http.remote(request)
                return response
            except self.retryable as error:
                if request.method not in SAFE_METHODS or loop.time() > deadline:
                    log.warning("a worker failed a %s call: %s", request.method, type(error))
                    return json_response(
                        503,
                        {
                            "detail": "the session's worker restarted while answering: the "
                            "change may or may not have been made; read the session and "
                            "try again"
                        },
                    )
            except Exception:
                log.exception("a worker failed to answer %s %s", request.method, request.path)
                return json_response(502, {"detail": "the session's worker failed to answer"})
            await asyncio.sleep(delay)
            delay = min(1.0, delay * 2)


def request_of(scope: Scope, body: bytes = b"") -> Request:
    return Request(
        method=scope.get("method", "GET"),
        path=scope["path"],
        query=scope.get("query_string", b""),
        headers=[(bytes(k), bytes(v)) for k, v in scope.get("headers", [])],
        body=body,
        client=tuple(scope["client"]) if scope.get("client") else None,
        scheme=scope.get("scheme", "http"),
        server=tuple(scope["server"]) if scope.get("server") else None,
    )


async def read_body(receive: Receive, limit: int) -> bytes:
    """The request body, at most ``limit`` bytes of it."""
    chunks: list[bytes] = []
    size = 0
    more = True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunk = message.get("body", b"")
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)


def is_subscribe(message: Message) -> bool:
    text = message.get("text")
    if not isinstance(text, str) or '"subscribe"' not in text:
        return False
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return False
    return isinstance(parsed, dict) and parsed.get("type") == "subscribe"


class SocketRelay:
    """One client socket bridged to its worker: the client's messages in, the app's out."""

    def __init__(
        self, worker: Any, request: Request, retryable: tuple[type[BaseException], ...]
    ) -> None:
        self.worker = worker
        self.request = request
        self.retryable = retryable
        self.connection = secrets.token_urlsafe(12)
        self.accepted = False
        self.client_gone = False
        self.last_subscribe: Message | None = None

    async def run(self, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if not await self.open():
            await send({"type": "websocket.close", "code": 1011, "reason": "no worker answered"})
            return
        pushing = asyncio.create_task(self.push_client_messages(receive))
        try:
            await self.relay_app_messages(send)
        finally:
            pushing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pushing
            with contextlib.suppress(Exception):
                await self.worker.ws_close.remote(self.connection)

    async def open(self) -> bool:
        """Open the app's side on the worker, waiting for a restarting one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_SECONDS
        while True:
            try:
                await self.worker.ws_open.remote(self.connection, self.request)
                return True
            except self.retryable:
                if loop.time() > deadline:
                    return False
                await asyncio.sleep(0.25)

    async def push_client_messages(self, receive: Receive) -> None:
        while True:
            message = await receive()
            if message["type"] == "websocket.receive" and is_subscribe(message):
                self.last_subscribe = message
            # A worker restarting loses the message: the relay reopens and says so.
            with contextlib.suppress(*self.retryable):
                await self.worker.ws_push.remote(self.connection, message)
            if message["type"] == "websocket.disconnect":
                self.client_gone = True
                return

    async def relay_app_messages(self, send: Send) -> None:
        while True:
            try:
                messages = await self.worker.ws_take.remote(self.connection, TAKE_WAIT_SECONDS)
            except self.retryable:
                messages = [{"type": "bridge.lost"}]
            for message in messages:
                kind = message["type"]
                if kind == "bridge.lost":
                    if not await self.recover(send):
                        return
                    break
                if kind == "bridge.end":
                    if not self.accepted:
                        await send({"type": "websocket.close", "code": 1011, "reason": ""})
                    return
                if kind == "websocket.accept":
                    if self.accepted:
                        continue  # reopened after a restart: the client's socket is open
                    self.accepted = True
                await send(message)
                if kind == "websocket.close":
                    return

    async def recover(self, send: Send) -> bool:
        """The worker restarted: open the socket on it again, tell the client, resubscribe."""
        if self.client_gone:
            return False
        log.warning("a worker restarted under socket %s: reopening", self.connection[:8])
        if not await self.open():
            await send({"type": "websocket.close", "code": 1011, "reason": "worker lost"})
            return False
        if self.accepted:
            await send({"type": "websocket.send", "text": orjson.dumps(RECOVERED).decode()})
        if self.last_subscribe is not None:
            with contextlib.suppress(*self.retryable):
                await self.worker.ws_push.remote(self.connection, self.last_subscribe)
        return True
