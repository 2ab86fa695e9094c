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

from app.live.close_codes import CloseCode
from app.live.server_messages import EventMessage

from .asgi import ASGIApp, Message, Request, Response, Scope
from .owner import forwarded, worker_for
from .takes import ChannelLostError, TakeChannel

log = logging.getLogger("app.cluster")

Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

RETRY_SECONDS = 60.0  # how long a read, or a bridged socket, waits for a restarting worker
TAKE_WAIT_SECONDS = 10.0  # one take waits this long for the app's next message
INBOX_LIMIT = 2  # takes waiting for one client's socket; past it, the pump leaves it out
# At most one take per worker per default frame interval: messages that come meanwhile go
# together, so a class costs ≤ 30 takes a second per worker, however many sockets (a frame
# waits ≤ 33 ms; measured at 10 students: 0.91 → 0.77 core against a 20 ms interval).
TAKE_INTERVAL_SECONDS = 0.033
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
CHANGE_IN_FLIGHT = (
    "the session's worker restarted while answering: the change may or may not have been "
    "made; read the session and try again"
)
WORKER_AWAY = f"the session's worker has not come back within {RETRY_SECONDS:.0f} s; try later"
RECOVERED = EventMessage(
    event="recovered",
    message="the session's worker restarted: the session was loaded again from the store "
    "(play since its last save may be lost; play has stopped)",
    detail={},
).model_dump(exclude_none=True)


def worker_errors() -> tuple[type[BaseException], ...]:
    """What Ray raises when a worker died or is restarting."""
    from ray.exceptions import ActorUnavailableError, RayActorError

    return (RayActorError, ActorUnavailableError)


def worker_unreachable(reason: str) -> Message:
    """The client's socket closed because its session's worker cannot be reached."""
    return {"type": "websocket.close", "code": CloseCode.INTERNAL_ERROR, "reason": reason}


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(status, [(b"content-type", b"application/json")], orjson.dumps(body))


class ClusterProxy:
    """ASGI: forwards the API and the sockets to the workers, the rest to ``app``."""

    def __init__(self, app: ASGIApp, workers: Sequence[Any], max_request_bytes: int) -> None:
        self.app = app
        self.workers = list(workers)
        self.max_request_bytes = max_request_bytes
        self.retryable = worker_errors()
        self.pumps: dict[int, WorkerPump] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or not forwarded(scope["path"]):
            await self.app(scope, receive, send)
            return
        index = worker_for(scope["path"], len(self.workers))
        if scope["type"] == "http":
            await self.forward_http(self.workers[index], scope, receive, send)
            return
        pump = self.pumps.get(index)
        if pump is None:
            pump = self.pumps[index] = WorkerPump(self.workers[index], self.retryable)
        await SocketRelay(pump, request_of(scope), self.retryable).run(receive, send)

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
                if request.method not in SAFE_METHODS:
                    log.warning("a worker failed a %s call: %s", request.method, type(error))
                    return json_response(503, {"detail": CHANGE_IN_FLIGHT})
                if loop.time() > deadline:
                    return json_response(503, {"detail": WORKER_AWAY})
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


class WorkerPump:
    """This web process's sockets on one worker: one take at a time, on the worker's take
    stream (``takes.py``), brings the messages of all of them (one per frame interval, not
    one per socket).

    A socket whose client is slow (its inbox full) is left out of the take, so the worker's
    short queue for it fills and the app skips frames for it; when it drains, the pump wakes
    the waiting take to add it back."""

    def __init__(self, worker: Any, retryable: tuple[type[BaseException], ...]) -> None:
        self.worker = worker
        self.retryable = retryable
        self.relay = secrets.token_urlsafe(12)  # this web process, as the worker knows it
        self.channel = TakeChannel(worker, self.relay)
        self.lost: tuple[type[BaseException], ...] = (ChannelLostError, *retryable)
        self.sockets: dict[str, SocketRelay] = {}
        self.in_take: set[str] = set()  # the sockets of the take in flight
        self.taking = False
        self.next_take = 0.0  # event-loop time of the earliest next take
        self.changed = asyncio.Event()
        self.task: asyncio.Task[None] | None = None

    def add(self, socket: SocketRelay) -> None:
        self.sockets[socket.connection] = socket
        if self.task is None or self.task.done():
            self.task = asyncio.create_task(self.run())
        self.wake(socket.connection)

    def remove(self, connection: str) -> None:
        self.sockets.pop(connection, None)

    def wake(self, connection: str) -> None:
        """The socket can take messages again: make sure the next take includes it."""
        if self.taking and connection not in self.in_take:
            self.in_take.add(connection)  # one wake is enough
            self.worker.ws_wake.remote(self.relay)  # the answer is not needed
        self.changed.set()

    async def run(self) -> None:
        while self.sockets:
            ready = [c for c, s in self.sockets.items() if s.open and not s.inbox.full()]
            if not ready:
                self.changed.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.changed.wait(), 1.0)
                continue
            await asyncio.sleep(self.next_take - asyncio.get_running_loop().time())
            self.next_take = asyncio.get_running_loop().time() + TAKE_INTERVAL_SECONDS
            self.in_take = set(ready)
            self.taking = True
            try:
                taken = await self.channel.take(ready, TAKE_WAIT_SECONDS)
            except self.lost as error:
                reason = str(error) if isinstance(error, ChannelLostError) else type(error)
                log.warning("the take stream to a worker is lost (%s): reopening", reason)
                for socket in self.sockets.values():
                    socket.lost()
                await asyncio.sleep(0.25)
                continue
            finally:
                self.taking = False
            for connection, messages in taken.items():
                relay = self.sockets.get(connection)
                if relay is not None and relay.open:
                    if messages[-1]["type"] == "bridge.lost":
                        relay.lost()
                    else:
                        relay.inbox.put_nowait(messages)


class SocketRelay:
    """One client socket bridged to its worker: the client's messages in, the app's out."""

    def __init__(
        self, pump: WorkerPump, request: Request, retryable: tuple[type[BaseException], ...]
    ) -> None:
        self.pump = pump
        self.worker = pump.worker
        self.request = request
        self.retryable = retryable
        self.connection = secrets.token_urlsafe(12)
        self.inbox: asyncio.Queue[list[Message]] = asyncio.Queue(INBOX_LIMIT)
        self.open = False  # the worker has this socket's bridge (as far as we know)
        self.accepted = False
        self.client_gone = False
        self.last_subscribe: Message | None = None

    def lost(self) -> None:
        """The worker restarted: what waits is moot; the relay reopens the socket."""
        self.open = False
        while not self.inbox.empty():
            self.inbox.get_nowait()
        self.inbox.put_nowait([{"type": "bridge.lost"}])

    async def run(self, receive: Receive, send: Send) -> None:
        if (await receive())["type"] != "websocket.connect":
            return
        if not await self.open_bridge():
            await send(worker_unreachable("no worker answered"))
            return
        pushing = asyncio.create_task(self.push_client_messages(receive))
        try:
            await self.relay_app_messages(send)
        except OSError:  # the client went away while we sent (uvicorn's ClientDisconnected)
            pass
        finally:
            self.pump.remove(self.connection)
            pushing.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await pushing
            with contextlib.suppress(Exception):
                await self.worker.ws_close.remote(self.connection)

    async def open_bridge(self) -> bool:
        """Open the app's side on the worker, waiting for a restarting one."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + RETRY_SECONDS
        while True:
            try:
                await self.worker.ws_open.remote(self.pump.relay, self.connection, self.request)
                break
            except self.retryable:
                if loop.time() > deadline:
                    return False
                await asyncio.sleep(0.25)
        self.open = True
        self.pump.add(self)
        return True

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
            was_full = self.inbox.full()
            messages = await self.inbox.get()
            if was_full:
                self.pump.wake(self.connection)
            for message in messages:
                kind = message["type"]
                if kind == "bridge.lost":
                    if not await self.recover(send):
                        return
                    break
                if kind == "bridge.end":
                    if not self.accepted:
                        await send(worker_unreachable(""))
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
        if not await self.open_bridge():
            await send(worker_unreachable("worker lost"))
            return False
        if self.accepted:
            await send({"type": "websocket.send", "text": orjson.dumps(RECOVERED).decode()})
        if self.last_subscribe is not None:
            with contextlib.suppress(*self.retryable):
                await self.worker.ws_push.remote(self.connection, self.last_subscribe)
        return True
