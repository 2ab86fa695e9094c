"""Every live hub of one app, by session id, with the worker threads they share."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.service.manager import SessionManager
from app.service.session import Session
from app.settings import Settings

from .hub import Hub

T = TypeVar("T")

LIVE_THREADS = 32  # play chunks, frame builds, hellos, saves: short jobs, many sessions
SHUTDOWN_SECONDS = 2.0  # the longest shutdown waits for background work (listeners, events)


class LiveRegistry:
    """Every hub of one app, by session id; its worker threads; its background tasks."""

    def __init__(self, manager: SessionManager, settings: Settings) -> None:
        self.manager = manager
        self.settings = settings
        self.hubs: dict[str, Hub] = {}
        self.executor = ThreadPoolExecutor(LIVE_THREADS, thread_name_prefix="live")
        self._tasks: set[asyncio.Task[Any]] = set()

    def hub_for(self, session: Session) -> Hub:
        hub = self.hubs.get(session.id)
        if hub is None or hub.session is not session:
            if hub is not None and not hub.player.playing and not hub.clients:
                hub.close()
            hub = self.hubs[session.id] = Hub(self, session)
        return hub

    def discard(self, hub: Hub) -> None:
        if self.hubs.get(hub.session.id) is hub:
            del self.hubs[hub.session.id]

    async def run_in_thread(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a live worker thread (the loop stays free meanwhile)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.executor, functools.partial(fn, *args))

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run a coroutine in the background, keeping a reference until it ends."""
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def close(self) -> None:
        """Server shutdown: pause every playing session (each is stored), drop every hub."""
        for hub in list(self.hubs.values()):
            await hub.player.stop("shutdown")
            for client in list(hub.clients):
                client.close(1012, "the server is restarting")
            hub.close()
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=SHUTDOWN_SECONDS)
        self.executor.shutdown(wait=False, cancel_futures=True)
