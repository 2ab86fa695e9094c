"""The parameters' one form: a flat vector θ with per-layer views, for one model or a stack.

Every layer's W (n_in, n_out) and b (1, n_out) are views into one flat vector θ (P,), and the
gradients ∂E/∂W, ∂E/∂b views into one ∇θ (P,), so the update is one ``θ − α·∇θ`` (with
momentum, ``v ← μv − α·∇θ; θ + v``) instead of four operations per layer — elementwise, hence
the same numbers: that is what makes the step fast. A stack of K alike models (``together.py``)
holds θ as (K, P), one row per model; its views have the stack's axis first, W (K, n_in, n_out),
and a model in a stack views its row (``Flat.row``).

``Params`` holds a model's (or a stack's) three Flats of one Layout, which take turns: the
current weights, the ones before the last update (what a divergence restores: the same form),
and the spare the next update writes into. So an array a layer or a trace holds is rewritten
two batch steps later; ∇θ, and with it a trace's dW and db, by the next one. Readers that keep
values across steps copy them (frames do).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dense import Array
from .penalties import Mask


@dataclass(frozen=True)
class Span:
    """Where one layer lies in θ: its W (n_in, n_out) then its b (1, n_out), row after row —
    one block of shape (rows, n_out), rows = n_in + 1 (n_in for a layer without bias)."""

    at: slice
    rows: int
    n_in: int
    n_out: int

    @property
    def has_bias(self) -> bool:
        return self.rows > self.n_in

    def block(self, flat: Array) -> Array:
        """The layer's (…, rows, n_out) block of a flat vector (…, P): W is its first n_in rows."""
        return flat[..., self.at].reshape(*flat.shape[:-1], self.rows, self.n_out)

    def parts(self, flat: Array) -> tuple[Array, Array | None]:
        """(W, b) of the layer, views of a flat vector (…, P): (…, n_in, n_out), (…, 1, n_out)."""
        block = self.block(flat)
        W = block[..., : self.n_in, :]
        return W, block[..., self.n_in :, :] if self.has_bias else None


def spans_of(shapes: Sequence[tuple[int, int, bool]]) -> list[Span]:
    """Each layer's Span, from its (n_in, n_out, has a bias)."""
    spans, start = [], 0
    for n_in, n_out, bias in shapes:
        rows = n_in + bias
        spans.append(Span(slice(start, start + rows * n_out), rows, n_in, n_out))
        start += rows * n_out
    return spans


class Layout:
    """Where each layer lies in θ, and the gradient vector ∇θ with each layer's (dW, db) views.

    One ∇θ per model (or stack), written by every batch step: a trace's dW and db are views of
    it, valid until the next batch step rewrites the trace anyway.
    """

    def __init__(self, spans: list[Span], like: Array) -> None:
        self.spans = spans
        self.grad = np.empty_like(like)
        self.grads = [span.parts(self.grad) for span in spans]

    def __deepcopy__(self, memo: dict[int, Any]) -> Layout:
        # A ∇θ of its own, as it stands: a copy taken mid-batch updates with its gradients.
        layout = Layout(self.spans, self.grad)
        layout.grad[...] = self.grad
        return layout


@dataclass(frozen=True)
class Views:
    """One layer's views of a flat vector θ (and v): W, b, v_W, v_b as the layer holds them."""

    W: Array
    b: Array | None
    velocity_W: Array | None
    velocity_b: Array | None


class Flat:
    """θ, the velocities v (or None), and each layer's views of them, made once."""

    def __init__(self, theta: Array, velocity: Array | None, layout: Layout) -> None:
        self.theta, self.velocity, self.layout = theta, velocity, layout
        self.views = [_views(span, theta, velocity) for span in layout.spans]
        self._rows: dict[int, Flat] = {}

    def row(self, i: int, layout: Layout, velocity: Array | None) -> Flat:
        """Model i's row of a stack's Flat, made once: views of θ[i] (and v[i], or the model's
        own ``velocity`` when the stack keeps none) in the model's own ``layout``."""
        row = self._rows.get(i)
        if row is None:
            own = velocity if self.velocity is None else self.velocity[i]
            row = self._rows[i] = Flat(self.theta[i], own, layout)
        return row

    def __deepcopy__(self, memo: dict[int, Any]) -> Flat:
        velocity = None if self.velocity is None else self.velocity.copy()
        return Flat(self.theta.copy(), velocity, copy.deepcopy(self.layout, memo))


def _views(span: Span, theta: Array, velocity: Array | None) -> Views:
    W, b = span.parts(theta)
    if velocity is None:
        return Views(W, b, None, None)
    velocity_W, velocity_b = span.parts(velocity)
    return Views(W, b, velocity_W, velocity_b)


def pack(
    Ws: Sequence[Array],
    bs: Sequence[Array | None],
    velocities: Sequence[tuple[Array, Array | None]] | None = None,
) -> Flat:
    """A Flat holding copies of the layers' W, b (and velocities): each W (…, n_in, n_out)."""
    spans = spans_of(
        [(W.shape[-2], W.shape[-1], b is not None) for W, b in zip(Ws, bs, strict=True)]
    )
    lead = Ws[0].shape[:-2]
    theta = np.concatenate([_flatten(lead, W, b) for W, b in zip(Ws, bs, strict=True)], axis=-1)
    layout = Layout(spans, theta)
    velocity = None
    if velocities is not None:
        velocity = np.concatenate([_flatten(lead, vW, vb) for vW, vb in velocities], axis=-1)
    return Flat(theta, velocity, layout)


def _flatten(lead: tuple[int, ...], W: Array, b: Array | None) -> Array:
    parts = [W] if b is None else [W, b]
    return np.concatenate([part.reshape(*lead, -1) for part in parts], axis=-1)


class Params:
    """One model's (or one stack's) parameters: the current Flat ``cur``, the one ``before``
    the last update (None: no update yet), the ``spare`` the next update writes into (None:
    none yet), and each layer's dead weights under the tfp penalty rule — ``dead`` now and
    ``dead_before`` the last update (bool, W's shape, or None: none; replaced, never written
    in place)."""

    def __init__(self, cur: Flat) -> None:
        self.cur = cur
        self.before: Flat | None = None
        self.spare: Flat | None = None
        n_layers = len(cur.layout.spans)
        self.dead: list[Mask | None] = [None] * n_layers
        self.dead_before: list[Mask | None] = [None] * n_layers

    @property
    def layout(self) -> Layout:
        return self.cur.layout

    def next_flat(self, momentum: bool) -> Flat:
        """The Flat the next update writes into: the spare if it fits, else a new one. Plain
        SGD keeps the velocities as they are (none, or the last ones, the very arrays);
        momentum writes fresh ones, never over the current ones."""
        cur, spare = self.cur, self.spare
        if spare is not None and spare.layout is cur.layout:
            if momentum and spare.velocity is not None and spare.velocity is not cur.velocity:
                return spare
            if not momentum and spare.velocity is cur.velocity:
                return spare
        theta = np.empty_like(cur.theta)
        return Flat(theta, np.empty_like(theta) if momentum else cur.velocity, cur.layout)

    def commit(self, new: Flat, dead: list[Mask | None]) -> None:
        """The update is taken: ``new`` is current, the current ones are those before it."""
        self.spare, self.before, self.cur = self.before, self.cur, new
        self.dead_before, self.dead = self.dead, dead

    def restore(self) -> bool:
        """Back to the weights before the last update (a divergence); False if there are none."""
        if self.before is None:
            return False
        self.cur, self.before, self.spare = self.before, None, self.cur
        self.dead, self.dead_before = self.dead_before, [None] * len(self.dead)
        return True
