"""Costly reads (a gradient check; a rewind or branch's replay) on threads of their own, bounded
in number, time and asker.

A gradient check perturbs every checked weight twice and runs the whole batch forward each
time: on a large batch one call is seconds or minutes of CPU. Run on the threads every other
request uses, a few of them at once starve the rest of the server, ``/api/health`` included.
So costly work:

- runs on a small pool of its own (``costly_threads``), never on the request threads;
- is admitted only while the session, the client and the server are under their caps
  (``max_costly_per_session``, ``max_costly_per_client``, ``costly_threads`` +
  ``max_costly_waiting`` in all): past one of them ``BusyError`` names it, at once;
- has a time budget from when it starts, and is cancelled when its caller leaves or the
  server stops (``stopping.py``): the work asks ``job.should_stop()`` between its small
  pieces and answers what it has done.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from typing import TypeVar

from app.settings import Settings

from .memory import release_memory
from .stopping import stopping

T = TypeVar("T")


class BusyError(Exception):
    """Costly work refused for now: ``field`` names the cap that is full."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class Job:
    """One piece of costly work: its time budget and whether it was cancelled."""

    def __init__(self, seconds: float, setting: str = "") -> None:
        self.seconds = seconds
        self.setting = setting  # the setting the budget comes from, named when it runs out
        self.deadline = float("inf")  # set when the job starts running
        self.cancelled = threading.Event()
        self.cancelled_because = ""

    def start(self) -> None:
        self.deadline = time.monotonic() + self.seconds

    def cancel(self, because: str = "its caller left") -> None:
        if not self.cancelled.is_set():
            self.cancelled_because = because
            self.cancelled.set()

    def should_stop(self) -> bool:
        """True once the job is cancelled, the process stopping or the time budget spent."""
        return self.cancelled.is_set() or stopping() or time.monotonic() >= self.deadline

    @property
    def stopped_because(self) -> str:
        """Why ``should_stop`` turned true, in words."""
        if self.cancelled.is_set():
            return self.cancelled_because
        if stopping():
            return "the server is stopping"
        setting = f" ({self.setting})" if self.setting else ""
        return f"its time budget of {self.seconds:g} s{setting} ran out"


class CostlyWork:
    """The pool costly reads run on, with the caps that keep it from filling up."""

    def __init__(
        self,
        threads: int,
        max_waiting: int,
        per_session: int,
        per_client: int,
        kind: str = "costly",
        noun: str = "costly call",
    ) -> None:
        self.kind = kind  # its settings' names: {kind}_threads, max_{kind}_waiting, …
        self.noun = noun  # one of its jobs, in words
        self.threads = threads
        self.max_waiting = max_waiting
        self.per_session = per_session
        self.per_client = per_client
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix=kind)
        self._lock = threading.Lock()
        self._by_session: Counter[str] = Counter()
        self._by_client: Counter[str] = Counter()
        self._jobs: set[Job] = set()
        self._closed = False

    @classmethod
    def from_settings(
        cls, settings: Settings, kind: str = "costly", noun: str = "costly call"
    ) -> CostlyWork:
        """The pool of one kind of costly work, sized by its four settings."""
        return cls(
            threads=getattr(settings, f"{kind}_threads"),
            max_waiting=getattr(settings, f"max_{kind}_waiting"),
            per_session=getattr(settings, f"max_{kind}_per_session"),
            per_client=getattr(settings, f"max_{kind}_per_client"),
            kind=kind,
            noun=noun,
        )

    @property
    def admitted(self) -> int:
        """Jobs running or waiting for a thread."""
        return len(self._jobs)

    def submit(
        self,
        session_id: str,
        client: str,
        work: Callable[[Job], T],
        seconds: float,
        setting: str = "",
    ) -> tuple[Job, Future[T]]:
        """Start ``work(job)`` on the pool with ``seconds`` of budget (from ``setting``), or
        raise ``BusyError``."""
        job = Job(seconds, setting)
        with self._lock:
            self._admit(session_id, client)
            self._by_session[session_id] += 1
            self._by_client[client] += 1
            self._jobs.add(job)
        future = self._pool.submit(self._run, job, work)
        future.add_done_callback(lambda _: self._release(job, session_id, client))
        return job, future

    def _admit(self, session_id: str, client: str) -> None:
        if self._closed:
            raise BusyError("server", "the server is stopping")
        kind, noun = self.kind, self.noun
        if self._by_session[session_id] >= self.per_session:
            raise BusyError(
                "session",
                f"this session already has {self.per_session} {noun}(s) running (at most "
                f"{self.per_session} at once, max_{kind}_per_session): wait for it to answer",
            )
        if self._by_client[client] >= self.per_client:
            raise BusyError(
                "client",
                f"you already have {self.per_client} {noun}(s) running (at most "
                f"{self.per_client} at once, max_{kind}_per_client): wait for one to answer",
            )
        if len(self._jobs) >= self.threads + self.max_waiting:
            raise BusyError(
                "server",
                f"the server is running {len(self._jobs)} {noun}s, its most at once "
                f"({kind}_threads + max_{kind}_waiting): try again in a few seconds",
            )

    @staticmethod
    def _run(job: Job, work: Callable[[Job], T]) -> T:
        if job.should_stop():  # its caller left, or the server stops, while it waited
            raise CancelledError
        job.start()
        try:
            return work(job)
        finally:
            release_memory()  # a check's copies of a large batch are gone: give pages back

    def _release(self, job: Job, session_id: str, client: str) -> None:
        with self._lock:
            self._jobs.discard(job)
            for counter, key in ((self._by_session, session_id), (self._by_client, client)):
                counter[key] -= 1
                if counter[key] <= 0:
                    del counter[key]

    def close(self) -> None:
        """Refuse new work, cancel what waits or runs; running work stops at its next piece."""
        with self._lock:
            self._closed = True
            jobs = list(self._jobs)
        for job in jobs:
            job.cancel("the server is stopping")
        self._pool.shutdown(wait=False, cancel_futures=True)
