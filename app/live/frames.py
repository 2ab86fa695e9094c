"""Frames: what the page animates, read from the session in one visit and encoded once.

``build_frame`` holds the session (``Session.read``) only while it gathers references to the
session's arrays and a few reductions (summaries, norms); the JSON encoding happens after
the session is let go. That is safe because the engine never changes an array in place:
every update and every phase makes new arrays (see ``LayerTrace`` and ``Model._update``).

A Frame is encoded once per View (the fields a client asked for and its boundary grid), so
every client with the same view — all of them, by default — gets the very same string.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from app.engine import Model
from app.engine.model import DenseLayer, LayerTrace
from app.service.session import Session

# Sent whatever the field filter (``subscribe.fields``, of server_messages.FRAME_FIELDS): enough
# to order frames and place them on a chart.
ALWAYS_SENT = frozenset({"type", "seq", "t", "version", "step", "epoch"})
MAX_DELTA_ROWS = 32  # rows of δ (and batch indices) sent; summaries cover the whole batch
# Train/test metrics and the boundary grid are forward passes over many rows: for a big
# network they are recomputed at most often enough to spend this share of the time on them.
EXPENSIVE_SHARE = 0.1
PLAYING_METRICS_INTERVAL = 0.1  # s: while playing, train/test metrics at most 10 times a second

ORJSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _fallback(value: Any) -> Any:
    # orjson serializes C-contiguous arrays itself; anything else (a transposed view) lands here.
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    raise TypeError(f"cannot encode {type(value).__name__}")


def encode(message: dict[str, Any]) -> str:
    """One message as JSON text; NaN and infinity become null (orjson's rule)."""
    return orjson.dumps(message, default=_fallback, option=ORJSON_OPTIONS).decode()


@dataclass(frozen=True)
class View:
    """What one client wants in its frames: a field filter (None: all) and a boundary grid."""

    fields: frozenset[str] | None = None
    boundary_resolution: int = 0


@dataclass
class Frame:
    """One snapshot of the session, and its encodings, one per View, made at most once."""

    seq: int
    key: tuple[Any, ...]  # what the frame shows: see frame_key
    payload: dict[str, Any]
    boundaries: dict[int, dict[str, Any] | None]
    diverged: str | None
    views: frozenset[View] = frozenset()  # the views it was built for
    texts: dict[View, str] = field(default_factory=dict)
    published_at: float = 0.0  # its pacing slot (loop time): when play asked for it, or came

    def covers(self, view: View) -> bool:
        """Was this frame built with the boundary grid this view asks for?"""
        return view.boundary_resolution in self.boundaries

    def text(self, view: View) -> str:
        """The frame as this view sees it, encoded on first use and shared after."""
        text = self.texts.get(view)
        if text is None:
            message = dict(self.payload)
            message["boundary"] = self.boundaries.get(view.boundary_resolution)
            if view.fields is not None:
                message = {k: v for k, v in message.items() if k in view.fields or k in ALWAYS_SENT}
            text = self.texts[view] = encode(message)
        return text

    def encode_all(self) -> None:
        """Encode it for every view it was built for (where it was built, off the loop)."""
        for view in self.views:
            self.text(view)


class Throttled:
    """A value that depends on the weights, recomputed when they change — but while playing,
    when only the step moved, at most every ``cost / EXPENSIVE_SHARE`` seconds (a big
    network's metrics then lag a few frames instead of slowing training) and every
    ``min_interval``: the next frame follows soon. When not playing, every frame is fresh."""

    def __init__(self) -> None:
        self.identity: tuple[Any, ...] | None = None
        self.step = -1
        self.value: Any = None
        self.cost = 0.0
        self.computed_at = 0.0

    def get(
        self,
        identity: tuple[Any, ...],
        step: int,
        compute: Callable[[], Any],
        playing: bool = True,
        min_interval: float = 0.0,
    ) -> Any:
        now = time.perf_counter()
        same_weights_source = self.identity is not None and _same(self.identity, identity)
        if same_weights_source and step == self.step:
            return self.value
        wait = max(self.cost / EXPENSIVE_SHARE, min_interval)
        if playing and same_weights_source and now - self.computed_at < wait:
            return self.value
        self.value = compute()
        self.computed_at = time.perf_counter()
        self.cost = self.computed_at - now
        self.identity, self.step = identity, step
        return self.value

    def offer(self, identity: tuple[Any, ...], step: int, value: Any, computed_at: float) -> None:
        """Take a value computed elsewhere (at ``computed_at``, perf_counter) for these
        weights at ``step``, if it is newer; ``get`` then ages it from that time."""
        if self.identity is None or not _same(self.identity, identity) or step > self.step:
            self.value, self.identity, self.step = value, identity, step
            self.computed_at = computed_at


def _same(a: tuple[Any, ...], b: tuple[Any, ...]) -> bool:
    # The model compares by identity (a reset builds a new one), the config by value.
    return len(a) == len(b) and a[0] is b[0] and a[1:] == b[1:]


@dataclass
class FrameCaches:
    """Per-hub caches of the expensive parts of a frame."""

    metrics: Throttled = field(default_factory=Throttled)
    boundaries: dict[int, Throttled] = field(default_factory=dict)


def build_frame(
    session: Session,
    seq: int,
    views: Collection[View],
    caches: FrameCaches,
    play: dict[str, Any] | None,
) -> Frame:
    """A frame of the session as it is now, for these views (boundary grids they ask for)."""
    resolutions = {view.boundary_resolution for view in views if view.boundary_resolution > 0}

    def snapshot(session: Session) -> Frame:
        model = session.model
        identity = (model, model.config, session.edits)
        playing = play is not None  # another frame follows soon: it may show newer metrics
        last = session.last_metrics  # e.g. the history's point at an epoch's end, just now
        if playing and last is not None and last.model is model and last.edits == session.edits:
            caches.metrics.offer(identity, last.step, last.value, last.at)  # it may lag a bit
        metrics = caches.metrics.get(
            identity, model.step, session.metrics, playing, PLAYING_METRICS_INTERVAL
        )
        boundaries: dict[int, dict[str, Any] | None] = {0: None}
        for resolution in resolutions:
            if session.plane is None:
                boundaries[resolution] = None
                continue
            cache = caches.boundaries.setdefault(resolution, Throttled())
            grid = functools.partial(session.boundary, resolution)
            boundaries[resolution] = cache.get(identity, model.step, grid, playing)
        with np.errstate(all="ignore"):  # NaN and ±inf after a divergence: the encoder nulls them
            layers = [
                layer_frame(k, layer, trace)
                for k, (layer, trace) in enumerate(zip(model.layers, model.traces, strict=True))
            ]
            output_error = model.traces[-1].output_error
            if output_error is not None:  # the loss phase has run: ∂L/∂ŷ, mean over the batch
                layers[-1]["output_error_mean"] = np.add.reduce(output_error, axis=0) / len(
                    output_error
                )
        payload: dict[str, Any] = {
            "type": "frame",
            "seq": seq,
            "t": round(time.time() * 1000.0, 1),
            "version": session.version,
            "step": model.step,
            "epoch": model.epoch,
            "phase": last_phase(model),
            "next_phase": model.next_phase.as_dict(),
            "in_batch": model.in_batch,
            "position": model.position,
            "batch_size": model.batch_size,
            "batch_indices": model.batch_indices[:MAX_DELTA_ROWS],
            "playing": session.playing,
            "play": play,
            "loss": metrics["train_loss"],
            "test_loss": metrics["test_loss"],
            "accuracy": metrics["train_accuracy"],
            "test_accuracy": metrics["test_accuracy"],
            "metrics_step": metrics["step"],
            "batch_loss": model.loss,
            "diverged": model.diverged,
            "history_point": session.history[-1] if session.history else None,
            "layers": layers,
            "grad_norms": [layer.get("grad_norm") for layer in layers],
        }
        key = frame_key(session.version, session.playing, views, play)
        return Frame(seq, key, payload, boundaries, model.diverged, frozenset(views))

    return session.read(snapshot)


def frame_key(
    version: int, playing: bool, views: Collection[View], play: dict[str, Any] | None
) -> tuple[Any, ...]:
    """What a frame shows: two frames with the same key would be the same (but for ``t``)."""
    return (version, playing, frozenset(views), None if play is None else tuple(play.values()))


def layer_frame(k: int, layer: DenseLayer, trace: LayerTrace) -> dict[str, Any]:
    """Layer k's parameters and, once this batch computed them, its gradients and summaries.

    W (n_in, n_out), b (n_out,), dead (n_in, n_out; only when the tfp penalty rule froze
    some weights), dW = ∂L/∂W (n_in, n_out), db = ∂L/∂b (n_out,),
    delta = ∂L/∂z, the first MAX_DELTA_ROWS rows of (n, n_out). W, b, dW and db are copies:
    the batch step writes the next ones into the same memory (``engine/fast.py``), and a
    frame may be encoded for a new view after the lock is gone. Call it (and ``summary``)
    with floating-point errors ignored, as ``build_frame`` does: after a divergence the
    values hold NaN and ±inf.
    """
    out: dict[str, Any] = {
        "index": k,
        "activation": layer.activation.name,
        "W": layer.W.copy(),
        "b": None if layer.b is None else layer.b[0].copy(),
    }
    if layer.dead is not None:  # the tfp rule froze these (never written in place: no copy)
        out["dead"] = layer.dead
    if trace.output is not None:
        out["activation_summary"] = summary(trace.output)
    if trace.delta is not None:
        out["delta"] = trace.delta[:MAX_DELTA_ROWS]
        out["delta_rows"] = len(trace.delta)
        out["delta_summary"] = summary(trace.delta)
    if trace.dW is not None:
        out["dW"] = trace.dW.copy()
        flat = trace.dW.ravel()  # Frobenius ‖∂L/∂W‖, as np.linalg.norm: √(Σ dW²)
        out["grad_norm"] = float(np.sqrt(np.dot(flat, flat)))
    if trace.db is not None:
        out["db"] = trace.db[0].copy()
    return out


def summary(values: np.ndarray) -> dict[str, float]:
    """mean, std, min, max over every entry (NaN stays NaN: the encoder sends null; call it
    with floating-point errors ignored).

    np.mean and np.std's arithmetic (the mean, then the root of the mean squared deviation),
    with the ufuncs called directly: their Python wrappers cost more than a small layer's sums.
    """
    n = values.size
    mean = np.add.reduce(values, axis=None) / n
    deviation = values - mean
    variance = np.add.reduce(deviation * deviation, axis=None) / n
    return {
        "mean": float(mean),
        "std": float(np.sqrt(variance)),
        "min": float(np.minimum.reduce(values, axis=None)),
        "max": float(np.maximum.reduce(values, axis=None)),
    }


def last_phase(model: Model) -> dict[str, Any] | None:
    """The phase just run: the one before the cursor, the update after a completed batch,
    None before any phase (and after a divergence abandoned the batch)."""
    if model.cursor > 0:
        return model.phases[model.cursor - 1].as_dict()
    if model.diverged is None and model.traces[-1].dW is not None:
        return model.phases[-1].as_dict()
    return None
