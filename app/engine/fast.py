"""The batch step in one go: ``Model.step_batch`` for a new batch, as fast as plain NumPy.

A batch walked phase by phase (``Model.step_phase``) spends, on a small network, more time
in Python between NumPy calls than in them. This path does the very same arithmetic, in the
same order — forward 0…L−1, loss, backward L−1…0, update — so it gives the same weights, bit
for bit (tests/engine/test_model.py checks it on every architecture), with two changes of
bookkeeping only:

- every layer's W and b are views into one flat vector θ, and the gradients ∂L/∂W, ∂L/∂b are
  written into one flat vector ∇θ, so the update is a single ``θ − α·∇θ`` (with momentum:
  ``v ← μv − α·∇θ; θ + v``) instead of four operations per layer — elementwise, hence the
  same numbers;
- the update writes θ (and v) into memory kept for it, and the layers take views of it made
  once: three Flats take turns — the current weights, the ones before the last update (kept
  for a divergence to restore), and the spare the next update writes into. So an array a
  layer or a trace holds is rewritten two batch steps later; ∇θ, and with it a trace's dW and
  db, by the next one. Readers that keep values across steps copy them (frames do);
- the loop over layers runs here, with the arrays in local variables;
- with the tfp penalty rule, ∇θ holds the data's gradients alone (the update's first step)
  and a trace's dW is its own array, xᵀ·δ + ∂P/∂W; the penalty's step then runs on each
  layer's W in θ' (``penalties.tfp_penalty_step``, the walk's very call).

Shapes as in ``model.py``: x (n, n_in), W (n_in, n_out), b (1, n_out), z / a / δ (n, n_out).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .dense import Array
from .penalties import penalty_gradient, tfp_penalty_step

if TYPE_CHECKING:
    from .model import DenseLayer, Model


UPDATE_OVERFLOW = "the update would make the weights non-finite"  # the walk's words too


def all_finite(values: Array) -> bool:
    """No NaN or ±inf among the entries: the test both batch paths make of new weights.
    (Not a sum: a sum of huge finite weights overflows or not depending on its order.)"""
    return bool(np.logical_and.reduce(np.isfinite(values), axis=None))


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
        """The layer's (rows, n_out) block of a flat vector: W is its first n_in rows."""
        return flat[self.at].reshape(self.rows, self.n_out)


@dataclass(frozen=True)
class Views:
    """One layer's views of a flat vector θ (and v): W, b, v_W, v_b as the layer holds them."""

    W: Array
    b: Array | None
    velocity_W: Array | None
    velocity_b: Array | None


class Layout:
    """Where each layer lies in θ, and the gradient vector ∇θ with each layer's (dW, db) views.

    One ∇θ per model, written by every batch step: a trace's dW and db are views of it, valid
    until the next batch step rewrites the trace anyway.
    """

    def __init__(self, spans: list[Span], like: Array) -> None:
        self.spans = spans
        self.grad = np.empty_like(like)
        self.grads: list[tuple[Array, Array | None]] = []
        for span in spans:
            block = span.block(self.grad)
            self.grads.append((block[: span.n_in], block[span.n_in :] if span.has_bias else None))

    def __deepcopy__(self, memo: dict[int, Any]) -> Layout:
        # Shared, not copied: a copied model's layers hold arrays of their own, not views of
        # its copied θ, so its first step packs them anew (a Layout of its own, ``is_packed``)
        # and no copied Flat is ever written into (``_fits`` wants the current Layout).
        return self


class Flat:
    """θ, the velocities v (or None), and each layer's views of them, made once."""

    def __init__(self, theta: Array, velocity: Array | None, layout: Layout) -> None:
        self.theta, self.velocity, self.layout = theta, velocity, layout
        self.views = [_views(span, theta, velocity) for span in layout.spans]

    def __deepcopy__(self, memo: dict[int, Any]) -> Flat:
        velocity = None if self.velocity is None else self.velocity.copy()
        return Flat(self.theta.copy(), velocity, copy.deepcopy(self.layout, memo))


class Spare:
    """The Flat the next update writes into (the one before the last good weights, reused).
    Not copied with the model: it holds nothing worth keeping."""

    def __init__(self, flat: Flat | None = None) -> None:
        self.flat = flat

    def __deepcopy__(self, memo: dict[int, Any]) -> Spare:
        return Spare()


def _views(span: Span, theta: Array, velocity: Array | None) -> Views:
    block = span.block(theta)
    W, b = block[: span.n_in], block[span.n_in :] if span.has_bias else None
    if velocity is None:
        return Views(W, b, None, None)
    block = span.block(velocity)
    return Views(W, b, block[: span.n_in], block[span.n_in :] if span.has_bias else None)


def spans_of(layers: list[DenseLayer]) -> list[Span]:
    spans, start = [], 0
    for layer in layers:
        n_in, n_out = layer.W.shape
        rows = n_in + (layer.b is not None)
        spans.append(Span(slice(start, start + rows * n_out), rows, n_in, n_out))
        start += rows * n_out
    return spans


def is_packed(flat: Flat | None, layers: list[DenseLayer]) -> bool:
    """Do the layers (still) hold ``flat``'s views? Anyone may have set ``layer.W`` to an
    array of their own: the phase walk's update, an import, a test."""
    if flat is None:
        return False
    for layer, views in zip(layers, flat.views, strict=True):
        if (
            layer.W is not views.W
            or layer.b is not views.b
            or layer.velocity_W is not views.velocity_W
            or layer.velocity_b is not views.velocity_b
        ):
            return False
    return True


def pack(layers: list[DenseLayer]) -> Flat:
    """Copy the layers' parameters (and velocities) into flat vectors; the layers now view them."""
    theta = np.concatenate([p.ravel() for layer in layers for p in _params(layer)])
    velocity = None
    if all(layer.velocity_W is not None for layer in layers):
        velocity = np.concatenate(
            [v.ravel() for layer in layers for v in _velocities(layer) if v is not None]
        )
    flat = Flat(theta, velocity, Layout(spans_of(layers), theta))
    point_layers(layers, flat)
    return flat


def _params(layer: DenseLayer) -> list[Array]:
    return [layer.W] if layer.b is None else [layer.W, layer.b]


def _velocities(layer: DenseLayer) -> list[Array | None]:
    return [layer.velocity_W] if layer.b is None else [layer.velocity_W, layer.velocity_b]


def point_layers(layers: list[DenseLayer], flat: Flat) -> None:
    """Make each layer's W, b (and velocities) the views of θ (and v)."""
    for layer, views in zip(layers, flat.views, strict=True):
        layer.W, layer.b = views.W, views.b
        layer.velocity_W, layer.velocity_b = views.velocity_W, views.velocity_b


def train_batch(model: Model) -> str | None:
    """One new batch, every phase; returns why it diverged, if it did (as the walk would)."""
    flat = model.flat
    if flat is None or not is_packed(flat, model.layers):
        flat = model.flat = pack(model.layers)
        model._spare = Spare()
    layers, traces, config = model.layers, model.traces, model.config
    model._draw_batch()  # (every trace field is written below: none needs clearing first)

    # forward k: z = x·W + b, a = f(z)       (dense.fc_forward, then the activation)
    a = traces[0].input
    assert a is not None
    for layer, trace in zip(layers, traces, strict=True):
        trace.input = a
        trace.W, trace.b = layer.W, layer.b
        z = np.dot(a, layer.W)
        if layer.b is not None:
            z += layer.b
        trace.z = z
        a = trace.output = layer.activation.f(z)

    diverged = model._loss_phase()  # E(y, ŷ) and ∂E/∂ŷ, as the walk's loss phase
    if diverged:
        keep_loss_trace(model)
        return diverged

    # backward k: δ = ∂E/∂a ⊙ f'(z); ∂E/∂W = xᵀ·δ (+ penalty) and ∂E/∂b = Σδ into ∇θ
    layout = flat.layout
    l1, l2 = config.l1, config.l2
    penalised = l1 != 0.0 or l2 != 0.0
    tfp = config.penalty_rule == "tfp"
    for k in range(len(layers) - 1, -1, -1):
        layer, trace = layers[k], traces[k]
        assert trace.output_error is not None and trace.z is not None
        assert trace.output is not None and trace.input is not None
        if trace.loss_delta is not None:  # a fused loss gave the output layer's δ itself
            delta = trace.delta = trace.loss_delta
        else:
            delta = trace.delta = layer.activation.backward(
                trace.output_error, trace.z, trace.output
            )
        dW, db = layout.grads[k]
        np.dot(trace.input.T, delta, out=dW)
        trace.dW_penalty = penalty_gradient(layer.W, l1, l2) if penalised else None
        if trace.dW_penalty is None:
            trace.dW = trace.dW_data = dW
        elif tfp:  # ∇θ keeps xᵀ·δ for the data's step; the penalty has a step of its own
            trace.dW_data, trace.dW = dW, dW + trace.dW_penalty
        else:
            trace.dW, trace.dW_data = np.add(dW, trace.dW_penalty, out=dW), None
        trace.db = None if db is None else np.add.reduce(delta, axis=0, keepdims=True, out=db)
        if k > 0:
            traces[k - 1].output_error = np.dot(delta, layer.W.T)

    # update, into the spare θ: θ' = θ − α·∇θ, or v' = μv − α·∇θ, θ' = θ + v'
    grad, lr, mu = layout.grad, config.learning_rate, config.momentum
    new = model._spare.flat
    if new is None or not _fits(new, flat, mu):
        new = _twin_for(flat, mu)
    if mu == 0.0:
        np.subtract(flat.theta, lr * grad, out=new.theta)
    else:
        assert new.velocity is not None
        if flat.velocity is None:
            np.multiply(-lr, grad, out=new.velocity)
        else:
            np.subtract(mu * flat.velocity, lr * grad, out=new.velocity)
        np.add(flat.theta, new.velocity, out=new.theta)
    dead = [layer.dead for layer in layers] if tfp else None  # (None: the gradient rule's)
    if dead is not None and (penalised or any(mask is not None for mask in dead)):
        for k, (old, stepped) in enumerate(zip(flat.views, new.views, strict=True)):
            W, dead[k] = tfp_penalty_step(old.W, stepped.W, dead[k], lr * l1, lr * l2)
            stepped.W[...] = W
    if not all_finite(new.theta):
        model._spare.flat = new
        return model._diverge(UPDATE_OVERFLOW)
    # The last good weights, should these overflow; the ones before them become the spare.
    before = model._before_update
    model._spare.flat = before if isinstance(before, Flat) else None
    model._before_update = flat
    model.flat = new
    point_layers(layers, new)
    if dead is not None:
        model._dead_before = [layer.dead for layer in layers]
        for layer, mask in zip(layers, dead, strict=True):
            layer.dead = mask
    model.step += 1
    model._epoch_just_ended = model._advance_position()
    model.cursor = 0
    return None


def keep_loss_trace(model: Model) -> None:
    """After a loss that diverged, leave the trace as the walk does: this batch's forward
    pass and ∂E/∂ŷ, nothing of a backward pass."""
    last = model.traces[-1]
    output_error, loss_delta = last.output_error, last.loss_delta
    for trace in model.traces:
        trace.clear_backward()
    last.output_error, last.loss_delta = output_error, loss_delta


def _fits(new: Flat, flat: Flat, mu: float) -> bool:
    """Can ``new`` take the next θ? Plain SGD keeps the velocities as they are (none, or the
    last ones, the very arrays); momentum writes fresh ones, never over the current ones."""
    if new.layout is not flat.layout:
        return False
    if mu == 0.0:
        return new.velocity is flat.velocity
    return new.velocity is not None and new.velocity is not flat.velocity


def _twin_for(flat: Flat, mu: float) -> Flat:
    """A Flat of ``flat``'s layout for the next θ (see ``_fits``)."""
    if mu == 0.0:
        return Flat(np.empty_like(flat.theta), flat.velocity, flat.layout)
    return Flat(np.empty_like(flat.theta), np.empty_like(flat.theta), flat.layout)
