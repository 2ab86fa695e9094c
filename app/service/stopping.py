"""The process is stopping: long work (a gradient check, a step call) ends at its next piece.

The server's SIGTERM handler calls ``request_stop``; loops that may run for seconds ask
``stopping()`` between their pieces, so a stop takes a fraction of a second instead of the
longest budget. Only a flag is set: safe in a signal handler, which may interrupt a thread
that holds any lock.
"""

from __future__ import annotations

_stopping = False


def request_stop() -> None:
    """Every long loop in this process ends at its next piece."""
    global _stopping
    _stopping = True


def stopping() -> bool:
    """Has the process been told to stop?"""
    return _stopping
