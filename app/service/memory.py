"""Give freed memory back to the operating system after sessions go away.

Deleting a session frees its arrays, but glibc keeps freed heap pages (one arena per
worker thread) for reuse, so the process's resident memory stays high after a class has
left. ``release_memory`` collects cycles and asks glibc to trim its heaps; elsewhere
(another libc) it only collects. ``memory_budget`` models what one session costs, so the
``max_session_bytes`` budget can refuse one before it is built.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading
import time
from dataclasses import dataclass

from app.engine import ConfigError

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


# ----- what a session costs ------------------------------------------------------------------
# Measured (tracemalloc: a session created, one batch step, its state read; issue 21) and
# fitted by least squares over eight shapes (2 to 4 hidden layers of 16 to 256 units, 1,000
# to 10,000 rows, batches of 10 to the full one) to within 1.2 %: each (batch row × unit)
# entry costs ~4 float64s (z, a, δ and the trace's copies), each parameter ~5 (W, its
# gradient, the optimiser's, the trace), each data cell ~11 (the rows, their standardized
# and plane copies, the summary). tests/harden/test_memory_budget.py holds the model to it.
BYTES_PER_BATCH_UNIT = 32
BYTES_PER_PARAMETER = 41
BYTES_PER_DATA_CELL = 88
BYTES_PER_SESSION = 50_000  # the session's objects, its history, an empty timeline


@dataclass(frozen=True)
class SessionShape:
    """What a session's memory depends on."""

    layer_units: list[int]
    n_inputs: int
    n_train: int
    n_rows: int  # train and test
    batch_size: int | None  # None: the full batch

    @property
    def batch(self) -> int:
        return self.n_train if self.batch_size is None else min(self.batch_size, self.n_train)

    @property
    def parameters(self) -> int:
        total, fan_in = 0, self.n_inputs
        for units in self.layer_units:
            total += fan_in * units + units
            fan_in = units
        return total

    def parts(self) -> dict[str, float]:
        """Bytes by the field that sets them: the batch, the data, the network."""
        outputs = self.layer_units[-1] if self.layer_units else 1
        return {
            "model.batch_size": BYTES_PER_BATCH_UNIT
            * self.batch
            * (self.n_inputs + sum(self.layer_units)),
            "data.n_samples": BYTES_PER_DATA_CELL * self.n_rows * (self.n_inputs + outputs),
            "model.layers": BYTES_PER_PARAMETER * self.parameters,
        }

    def bytes(self) -> int:
        """The session's memory, modelled."""
        return int(BYTES_PER_SESSION + sum(self.parts().values()))


def check_memory_budget(shape: SessionShape, max_bytes: int) -> None:
    """ConfigError naming the largest part (the batch, the data or the network) when a
    session of this shape would cost more than ``max_bytes``."""
    total = shape.bytes()
    if total <= max_bytes:
        return
    parts = shape.parts()
    field = max(parts, key=lambda name: parts[name])
    raise ConfigError(
        field,
        f"this session would need about {total / 1e6:.0f} MB, over the memory budget of "
        f"{max_bytes / 1e6:.0f} MB (max_session_bytes): a batch of {shape.batch} rows × "
        f"{shape.n_inputs + sum(shape.layer_units)} units "
        f"{parts['model.batch_size'] / 1e6:.0f} MB, {shape.n_rows} data rows "
        f"{parts['data.n_samples'] / 1e6:.0f} MB, {shape.parameters} parameters "
        f"{parts['model.layers'] / 1e6:.0f} MB; take a smaller batch, fewer rows or units",
    )
