"""Give freed memory back to the operating system after sessions go away.

Deleting a session frees its arrays, but glibc keeps freed heap pages (one arena per
worker thread) for reuse, so the process's resident memory stays high after a class has
left. ``release_memory`` collects cycles and asks glibc to trim its heaps; elsewhere
(another libc) it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time

MIN_INTERVAL_SECONDS = 1.0  # a burst of deletes trims once, not once per delete

_lock = threading.Lock()
_last = 0.0
_pending: threading.Timer | None = None


def _malloc_trim() -> None:
    name = ctypes.util.find_library("c")
    if not name:
        return
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc
        return
    trim(0)


def _release_now() -> None:
    global _last, _pending
    with _lock:
        _last = time.monotonic()
        _pending = None
    gc.collect()
    _malloc_trim()


def release_memory() -> None:
    """Collect garbage and trim the heap: now, or — in a burst of deletes — once more a
    second after the last one, so the final state is always trimmed."""
    global _pending
    with _lock:
        wait = _last + MIN_INTERVAL_SECONDS - time.monotonic()
        if wait > 0:
            if _pending is None:
                _pending = threading.Timer(wait, _release_now)
                _pending.daemon = True
                _pending.start()
            return
    _release_now()
