"""One socket on a session: what it subscribed to, and the task that sends to it.

Frames are "latest wins": the client keeps no queue of frames, only the number of the last
one it sent. Its sender wakes when the hub has a newer frame, waits for its own frame-rate
slot, and sends whatever frame is newest then; frames made meanwhile are skipped. A client
whose socket is full blocks only its own sender, and holds at most the one frame it is
sending. Events and errors are few and must not be skipped: they wait in a short outbox,
whose oldest entries a client that never reads loses.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from typing import Protocol

from starlette.websockets import WebSocket

from app.service.access import Role
from app.settings import Settings

from .close_codes import CloseCode
from .frames import Frame, View
from .pacing import FramePacer, TokenBucket

OUTBOX_LIMIT = 256  # events and errors waiting for a client that is not reading
_labels = itertools.count(1)


class FrameSource(Protocol):
    """Where a client's sender finds the newest frame (the hub)."""

    latest: Frame | None

    def frame_cap(self) -> float:
        """Frames per second built at most: the highest cap among the clients."""
        ...


class Client:
    """A connected socket, its role, its subscription, and its sender's state."""

    def __init__(
        self, source: FrameSource, websocket: WebSocket, role: Role, settings: Settings
    ) -> None:
        self.source = source
        self.websocket = websocket
        self.role: Role = role
        self.label = f"ws:{next(_labels)}"  # passed as ``by`` so the hub knows who changed what
        self.view = View()
        self.max_fps = settings.default_frame_rate
        self.pacer = FramePacer(self.max_fps)
        self.commands = TokenBucket(settings.max_ws_commands_per_second)
        self.sent_seq = 0  # the newest frame this client has been sent
        self._outbox: deque[str] = deque(maxlen=OUTBOX_LIMIT)
        self._wake = asyncio.Event()
        self._close: tuple[CloseCode, str] | None = None

    def due(self, now: float) -> bool:
        """Would this client take a frame made now (its frame-rate slot has come)?"""
        return self.pacer.delay(now) <= 0

    def notify(self) -> None:
        """A newer frame exists."""
        self._wake.set()

    def send_message(self, text: str) -> None:
        """Queue an event or an error (already encoded) ahead of the next frame."""
        self._outbox.append(text)
        self._wake.set()

    def close(self, code: CloseCode, reason: str) -> None:
        """Send what is queued, then close the socket with this code."""
        self._close = (code, reason)
        self._wake.set()

    def subscribe(self, max_fps: float | None, view: View) -> None:
        if max_fps is not None:
            self.max_fps = max_fps
            self.pacer.set_rate(max_fps)
        self.view = view
        self.sent_seq = 0  # a subscribe is answered with a frame at once

    async def run_sender(self) -> None:
        """Send queued messages, then the newest frame at this client's pace, until closed."""
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._outbox:
                await self.websocket.send_text(self._outbox.popleft())
            if self._close is not None:
                await self.websocket.close(*self._close)
                return
            frame = self.source.latest
            if frame is None or frame.seq <= self.sent_seq or not frame.covers(self.view):
                continue  # (a frame with this client's new grid is on its way)
            # The hub builds frames at most at the highest cap: a client with that cap takes
            # every frame (pacing it again would only add lag); a lower cap skips some.
            paced = self.max_fps < self.source.frame_cap()
            delay = self.pacer.delay(loop.time()) if paced else 0.0
            if delay > 0:
                await asyncio.sleep(delay)
                self._wake.set()  # look again: a newer frame may exist by now
                continue
            await self.websocket.send_text(frame.text(self.view))
            # Paced by when frames were published, not by when this socket took them: a
            # client served late in a broadcast is not made to skip the next frame.
            self.pacer.record(frame.published_at)
            self.sent_seq = frame.seq
