"""Every live hub of one app, by session id; the threads their sessions' hosts run on.

The registry is where a session's host is chosen: today every session lives in this process
(``LocalHost``). Its threads: one training thread that every playing session's slices share
in turn (with the GIL, a second one would only take turns with the first while handing the
GIL to and fro), and a pool for everything that may wait for a session's lock.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from pydantic import BaseModel

from app.service.manager import SessionManager
from app.service.session import Session
from app.settings import Settings

from .cohort import Cohort
from .host import LocalHost
from .hub import Hub

WORKER_THREADS = 32  # hellos, frames after REST changes, commands, saves: short jobs
SHUTDOWN_SECONDS = 2.0  # the longest shutdown waits for background work (listeners, events)


class LiveRegistry:
    """Every hub of one app, by session id, and the threads their hosts use."""

    def __init__(
        self, manager: SessionManager, settings: Settings, changes_schema: type[BaseModel]
    ) -> None:
        self.manager = manager
        self.settings = settings
        self.changes_schema = changes_schema
        self.hubs: dict[str, Hub] = {}
        self._sessions: dict[str, Session] = {}  # the session each hub's host holds
        self.trainer = ThreadPoolExecutor(1, thread_name_prefix="train")
        self.workers = ThreadPoolExecutor(WORKER_THREADS, thread_name_prefix="live")
        self.cohort = Cohort()  # batch play due at one frame tick, run together

    def hub_for(self, session: Session) -> Hub:
        """The session's hub (a new one if its session object was replaced, by a reload)."""
        hub = self.hubs.get(session.id)
        if hub is not None and self._sessions.get(session.id) is not session:
            if not hub.player.playing and not hub.clients:
                hub.close()
            hub = None
        if hub is None:
            host = LocalHost(session, self.manager, self.trainer, self.workers, self.cohort)
            hub = self.hubs[session.id] = Hub(
                host, self.settings, self.changes_schema, self._discard
            )
            self._sessions[session.id] = session
        return hub

    def _discard(self, hub: Hub) -> None:
        session_id = hub.host.session_id
        if self.hubs.get(session_id) is hub:
            del self.hubs[session_id]
            self._sessions.pop(session_id, None)

    async def close(self) -> None:
        """Server shutdown: pause every playing session (each is stored), drop every hub."""
        hubs = list(self.hubs.values())
        for hub in hubs:
            await hub.shutdown()
        await asyncio.gather(*(hub.drain(SHUTDOWN_SECONDS) for hub in hubs))
        self.trainer.shutdown(wait=False, cancel_futures=True)
        self.workers.shutdown(wait=False, cancel_futures=True)
