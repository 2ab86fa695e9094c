"""Classes: a short, stable code that always points at a teacher's current session.

A teacher opens a class on a session they control and gets a *code* (six letters and digits,
easy to read aloud and type) and a *teacher token*. Students follow the code; whenever the
teacher moves the class to another session (a new preset, data or network), every student
follows. A class that has ended is kept for a while so that its link can say so.

The code is the students' read-only key (it hands out the current session's watch token);
the teacher token moves and ends the class. Both travel in request bodies, headers or a
websocket's ``token=`` query (masked in the logs), never in a path. Classes live in memory:
a server restart ends them. No FastAPI import here.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from app.engine import ConfigError
from app.service.manager import LimitReachedError
from app.service.quotas import ANONYMOUS, ClientKey, check_counts

# No 0/O, 1/I/L: a code read off a projector is typed without guessing.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 6


class ClassNotFoundError(LookupError):
    """No class has that code (or that teacher token)."""


class ClassEndedError(ConfigError):
    """The teacher ended the class: it moves, asks and takes answers no more."""


class ClassSessionGoneError(ConfigError):
    """The session the class follows is gone (it expired, or was deleted)."""


@dataclass
class Classroom:
    """One class: the session students follow now, and how often the teacher moved it."""

    code: str
    teacher_token: str
    session_id: str
    watch_token: str
    version: int = 1  # +1 every time the class moves to another session
    ended: bool = False
    touched: float = field(default_factory=time.monotonic)
    owner: ClientKey = ANONYMOUS  # who opened it: their quota of classes


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalize_code(code: str) -> str:
    """What a student typed, as the code is stored: upper case, spaces and dashes dropped."""
    return "".join(code.split()).replace("-", "").upper()


class ClassRegistry:
    """Every class of this server, by code; thread-safe (REST handlers run in threads)."""

    def __init__(
        self,
        max_classes: int,
        ttl_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        per_client: tuple[int, int] = (1 << 30, 1 << 30),
    ) -> None:
        self.max_classes = max_classes
        self.per_client = per_client  # (max_classes_per_client, max_classes_per_address)
        self.ttl_seconds = ttl_seconds
        self.clock = clock
        self._classes: dict[str, Classroom] = {}
        self._lock = threading.Lock()

    def open(self, session_id: str, watch_token: str, owner: ClientKey = ANONYMOUS) -> Classroom:
        """A new class following `session_id`; LimitReachedError when there are too many,
        QuotaExceededError when ``owner`` (or its address) has its most open."""
        with self._lock:
            self._forget_expired()
            if len(self._classes) >= self.max_classes:
                raise LimitReachedError(
                    f"this server already runs {self.max_classes} classes (max_classes)",
                    "max_classes",
                )
            open_ = [room.owner for room in self._classes.values() if not room.ended]
            check_counts(
                "open classes",
                owner,
                (open_.count(owner), sum(o.address == owner.address for o in open_)),
                self.per_client,
                ("max_classes_per_client", "max_classes_per_address"),
                60.0,
                "end one (DELETE /api/classes/current) first",
            )
            code = new_code()
            while code in self._classes:
                code = new_code()
            classroom = Classroom(
                code=code,
                teacher_token=secrets.token_urlsafe(24),
                session_id=session_id,
                watch_token=watch_token,
                touched=self.clock(),
                owner=owner,
            )
            self._classes[code] = classroom
            return classroom

    def find(self, code: str) -> Classroom:
        """The class with this code (ended ones too, until they expire)."""
        with self._lock:
            self._forget_expired()
            classroom = self._classes.get(normalize_code(code))
            if classroom is None:
                raise ClassNotFoundError(code)
            return classroom

    def for_teacher(self, teacher_token: str) -> Classroom:
        """The class this teacher token opened, compared in constant time."""
        given = teacher_token.encode("utf-8", "surrogateescape")
        with self._lock:
            self._forget_expired()
            for classroom in self._classes.values():
                if hmac.compare_digest(given, classroom.teacher_token.encode()):
                    return classroom
        raise ClassNotFoundError("teacher token")

    def move(self, teacher_token: str, session_id: str, watch_token: str) -> Classroom:
        """Point the class at another session; its students follow."""
        classroom = self.for_teacher(teacher_token)
        with self._lock:
            if classroom.ended:
                raise ClassEndedError("Authorization", "this class has ended: open a new one")
            if classroom.session_id != session_id:
                classroom.session_id = session_id
                classroom.watch_token = watch_token
                classroom.version += 1
            classroom.touched = self.clock()
            return classroom

    def end(self, teacher_token: str) -> Classroom:
        """End the class: its link now says so (until it expires)."""
        classroom = self.for_teacher(teacher_token)
        with self._lock:
            classroom.ended = True
            classroom.touched = self.clock()
            return classroom

    def touch(self, code: str) -> None:
        """A student or the teacher is still there: the class does not expire meanwhile."""
        with self._lock:
            classroom = self._classes.get(code)
            if classroom is not None:
                classroom.touched = self.clock()

    def _forget_expired(self) -> None:
        cutoff = self.clock() - self.ttl_seconds
        for code in [c for c, room in self._classes.items() if room.touched < cutoff]:
            del self._classes[code]
