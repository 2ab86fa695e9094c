"""Who listens to each class, and telling them: students hear where the class is now (or that
it ended) and the teacher's questions, teachers hear how many students follow and the answers.

One ``ClassroomHub`` per app, on the event loop. A listener is a queue of messages (the models
of ``class_messages.py``); the socket that owns it drains it. Nothing here knows about
sessions or FastAPI.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Literal

from .class_messages import StudentCount, Told

Listener = Literal["student", "teacher"]
Message = Told
QUEUE_SIZE = 16  # a student who lags keeps only the newest messages: each one is whole


@dataclass
class _Room:
    students: set[asyncio.Queue[Message]] = field(default_factory=set)
    teachers: set[asyncio.Queue[Message]] = field(default_factory=set)


def _put_latest(queue: asyncio.Queue[Message], message: Message) -> None:
    """Enqueue, dropping the oldest message when the queue is full."""
    if queue.full():
        queue.get_nowait()
    queue.put_nowait(message)


class ClassroomHub:
    """The listeners of every class, by code: ``listen`` to join, ``tell_students`` to send."""

    def __init__(self) -> None:
        self._rooms: dict[str, _Room] = {}

    def students(self, code: str) -> int:
        room = self._rooms.get(code)
        return len(room.students) if room else 0

    @asynccontextmanager
    async def listen(self, code: str, who: Listener) -> AsyncIterator[asyncio.Queue[Message]]:
        """A queue of this class's messages for as long as the block runs."""
        room = self._rooms.setdefault(code, _Room())
        queue: asyncio.Queue[Message] = asyncio.Queue(QUEUE_SIZE)
        members = room.students if who == "student" else room.teachers
        members.add(queue)
        if who == "student":
            self._tell_count(code)
        try:
            yield queue
        finally:
            members.discard(queue)
            if who == "student":
                self._tell_count(code)
            if not room.students and not room.teachers:
                self._rooms.pop(code, None)

    def tell_students(self, code: str, message: Message) -> None:
        """Every student of the class gets `message` (and the teachers too)."""
        room = self._rooms.get(code)
        if room is None:
            return
        for queue in (*room.students, *room.teachers):
            _put_latest(queue, message)

    def tell_teachers(self, code: str, message: Message) -> None:
        """Only the teachers of the class get `message` (the answers to a question)."""
        room = self._rooms.get(code)
        if room is None:
            return
        for queue in room.teachers:
            _put_latest(queue, message)

    def _tell_count(self, code: str) -> None:
        room = self._rooms.get(code)
        if room is None:
            return
        message = StudentCount(count=len(room.students))
        for queue in room.teachers:
            _put_latest(queue, message)
