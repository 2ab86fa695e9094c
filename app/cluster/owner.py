"""Which worker owns a request: one fact, the same in every web process and every worker.

A session lives on the worker its id hashes to (blake2b of the id, modulo the number of
workers: stable across processes and machines, unlike Python's ``hash``). Requests that
name no session (creating one, importing, presets, datasets, classes and their socket) go to
worker 0: a class lives in one worker's memory, and every web process must find it there.
"""

from __future__ import annotations

import hashlib

NAMESPACE = "backprop-playground"  # the Ray namespace of the named workers
NAME_PREFIX = "playground-worker-"
DEFAULT_WORKER = 0
HEALTH_PATH = "/api/health"  # answered by the web process itself


def worker_name(index: int) -> str:
    """The Ray actor name of worker ``index``."""
    return f"{NAME_PREFIX}{index}"


def owner_of(session_id: str, workers: int) -> int:
    """The index of the worker that hosts this session."""
    digest = hashlib.blake2b(session_id.encode("utf-8", "surrogateescape"), digest_size=8)
    return int.from_bytes(digest.digest(), "big") % workers


def session_in_path(path: str) -> str | None:
    """The session id a path names (``/api/sessions/{id}/…``, ``/ws/sessions/{id}``), if any."""
    parts = path.split("/")
    # ['', 'api', 'sessions', id, …] or ['', 'ws', 'sessions', id]
    if len(parts) >= 4 and parts[1] in ("api", "ws") and parts[2] == "sessions" and parts[3]:
        if parts[1] == "api" and parts[3] == "import" and len(parts) == 4:
            return None  # POST /api/sessions/import makes a new session
        return parts[3]
    return None


def forwarded(path: str) -> bool:
    """Is this path served by a worker (the API and the sockets, health excepted)?"""
    if path == HEALTH_PATH:
        return False
    return path.startswith(("/api/", "/ws/"))


def worker_for(path: str, workers: int) -> int:
    """The worker that serves this path."""
    session_id = session_in_path(path)
    return DEFAULT_WORKER if session_id is None else owner_of(session_id, workers)
