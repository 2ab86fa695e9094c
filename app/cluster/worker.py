"""``SessionWorker``: the ordinary app (``app.main.create_app``) in a Ray worker process.

The web process forwards a request as plain data; the worker runs it through its own app,
in-process, and answers plain data (``asgi.Request`` → ``asgi.Response``). A forwarded
websocket is a ``SocketBridge`` kept here by the web process's connection id. Sessions live in
this worker's memory only if their id hashes here (``owner.owner_of``): one it created or read
for another worker (a new session, a class's session) is forgotten after the call, so a
session is in one worker's memory at a time. Any worker loads a session it does not hold from
the shared store, so a restarted worker (Ray restarts it, maybe on another node) carries on
from the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from typing import Any

from .asgi import ASGIApp, Message, Request, Response, SocketBridge, call_http
from .owner import owner_of
from .takes import TakeServer

log = logging.getLogger("app.cluster")

STALE_BRIDGE_SECONDS = 60.0  # a bridge no web process took from this long is closed
SWEEP_SECONDS = 10.0


class SessionWorker:
    """Hosts the sessions whose ids hash to ``index`` of ``workers`` (a Ray async actor)."""

    def __init__(self, index: int, workers: int, environment: dict[str, str]) -> None:
        os.environ.update(environment)  # the web process's PLAYGROUND_* settings
        from app.logs import configure_logging
        from app.main import create_app
        from app.settings import Settings

        settings = Settings()
        configure_logging(settings.log_level)
        self.index = index
        self.workers = workers
        self.app = create_app(settings)
        # Its expiry deletes stored sessions of its own only: another worker's may be live.
        self.app.state.manager.hosts = lambda session_id: owner_of(session_id, workers) == index
        self.asgi: ASGIApp = self.app
        self.bridges: dict[str, SocketBridge] = {}  # by connection id
        self._relay_of: dict[str, str] = {}  # connection → the web process ("relay") taking it
        # Per web process, set when one of its sockets has output (kept: a few web processes).
        self._relay_ready: dict[str, asyncio.Event] = {}
        self._woken: set[str] = set()
        self._taken_at: dict[str, float] = {}
        self._lifespan: contextlib.AbstractAsyncContextManager[Any] | None = None
        self._starting = asyncio.Lock()  # bound to the actor's loop at first use
        self._sweeper: asyncio.Task[None] | None = None
        self.takes = TakeServer(self.ws_take)

    async def _started(self) -> None:
        """Run the app's lifespan once (its session sweeper), on the actor's event loop."""
        if self._lifespan is not None:
            return
        async with self._starting:
            if self._lifespan is None:
                import ray

                node_address: str = ray.util.get_node_ip_address()  # type: ignore[no-untyped-call]
                await self.takes.start(node_address)
                lifespan = self.app.router.lifespan_context(self.app)
                await lifespan.__aenter__()
                self._lifespan = lifespan
                self._sweeper = asyncio.create_task(self._sweep_bridges())

    async def info(self) -> dict[str, Any]:
        """Who this worker is: index, process, sessions in memory (for tests and logs)."""
        await self._started()
        import ray

        context = ray.get_runtime_context()
        return {
            "index": self.index,
            "pid": os.getpid(),
            "node_id": context.get_node_id(),
            "restarted": context.was_current_actor_reconstructed,
            "sessions": sorted(s.id for s in self.app.state.manager.loaded()),
            "sockets": len(self.bridges),
        }

    async def http(self, request: Request) -> Response:
        """One forwarded HTTP request, answered by this worker's app."""
        await self._started()
        response = await call_http(self.asgi, request)
        if request.method != "GET":
            self._forget_foreign()
        return response

    def _forget_foreign(self) -> None:
        manager = self.app.state.manager
        for session in manager.loaded():
            if owner_of(session.id, self.workers) != self.index:
                manager.forget(session.id)

    # ----- websockets ------------------------------------------------------------------------
    # A web process ("relay") takes the messages of all its sockets on this worker with one
    # take per frame interval, not one per socket, on its take stream (``takes.py``).

    async def take_address(self) -> dict[str, Any]:
        """Where this worker's take stream listens, and its secret."""
        await self._started()
        return self.takes.where()

    def _ready(self, relay: str) -> asyncio.Event:
        return self._relay_ready.setdefault(relay, asyncio.Event())

    async def ws_open(self, relay: str, connection: str, request: Request) -> None:
        """Start the app's side of a forwarded websocket (the client has connected)."""
        await self._started()
        old = self._drop(connection)
        if old is not None:
            await old.stop()
        ready = self._ready(relay)
        self.bridges[connection] = SocketBridge(self.asgi, request, ready.set)
        self._relay_of[connection] = relay
        self._taken_at[connection] = time.monotonic()

    async def ws_push(self, connection: str, message: Message) -> None:
        """A message from the client to the app."""
        bridge = self.bridges.get(connection)
        if bridge is not None:
            await bridge.push(message)

    async def ws_take(
        self, relay: str, connections: list[str], wait: float
    ) -> dict[str, list[Message]]:
        """The app's messages for these sockets of one web process, as soon as one has any
        (at most ``wait`` seconds; sooner, empty, after ``ws_wake``). A socket this worker
        does not know (it restarted since it was opened) gets ``bridge.lost``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + wait
        ready = self._ready(relay)
        self._woken.discard(relay)
        while True:
            ready.clear()
            now = time.monotonic()
            for connection, owner in self._relay_of.items():
                if owner == relay:
                    self._taken_at[connection] = now  # its web process is alive
            taken: dict[str, list[Message]] = {}
            for connection in connections:
                bridge = self.bridges.get(connection)
                if bridge is None:
                    taken[connection] = [{"type": "bridge.lost"}]
                    continue
                messages = bridge.drain()
                if messages:
                    taken[connection] = messages
                    if messages[-1]["type"] == "bridge.end":
                        self._drop(connection)
            remaining = deadline - loop.time()
            if taken or remaining <= 0 or relay in self._woken:
                self._woken.discard(relay)
                return taken
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await ready.wait()

    async def ws_wake(self, relay: str) -> None:
        """End the web process's waiting take now (it has a new or a ready socket to add)."""
        self._woken.add(relay)
        self._ready(relay).set()

    async def ws_close(self, connection: str) -> None:
        """The client is gone: end the app's side."""
        bridge = self._drop(connection)
        if bridge is not None:
            await bridge.stop()

    def _drop(self, connection: str) -> SocketBridge | None:
        self._taken_at.pop(connection, None)
        self._relay_of.pop(connection, None)
        return self.bridges.pop(connection, None)

    async def _sweep_bridges(self) -> None:
        """Close bridges whose web process stopped taking (it died): no socket leaks here."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            cutoff = time.monotonic() - STALE_BRIDGE_SECONDS
            for connection in [c for c, t in self._taken_at.items() if t < cutoff]:
                log.info("closing a socket its web process left: %s", connection[:8])
                await self.ws_close(connection)
