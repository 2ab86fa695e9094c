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
- the loop over layers runs here, with the arrays in local variables.

Shapes as in ``model.py``: x (n, n_in), W (n_in, n_out), b (1, n_out), z / a / δ (n, n_out).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .dense import Array
from .penalties import penalty_gradient

if TYPE_CHECKING:
    from .model import DenseLayer, Model


UPDATE_OVERFLOW = "the update would make the weights non-finite"  # the walk's words too


@dataclass(frozen=True)
class Span:
    """Where one layer lies in θ: its W (n_in, n_out) then its b (1, n_out), row after row —
    one block of shape (rows, n_out), rows = n_in + 1 (n_in for a layer without bias)."""

    at: slice
    rows: int
    n_in: int
    n_out: int

    def block(self, flat: Array) -> Array:
        """The layer's (rows, n_out) block of a flat vector: W is its first n_in rows."""
        return flat[self.at].reshape(self.rows, self.n_out)


@dataclass
class Flat:
    """θ, the velocities v (or None), and where each layer lies in them."""

    theta: Array
    velocity: Array | None
    spans: list[Span]


def spans_of(layers: list[DenseLayer]) -> list[Span]:
    spans, start = [], 0
    for layer in layers:
        n_in, n_out = layer.W.shape
        rows = n_in + (layer.b is not None)
        spans.append(Span(slice(start, start + rows * n_out), rows, n_in, n_out))
        start += rows * n_out
    return spans


def is_packed(flat: Flat | None, layers: list[DenseLayer]) -> bool:
    """Are the layers' parameters (still) the views of ``flat``? Anyone may have set
    ``layer.W`` to an array of their own: the phase walk's update, an import, a test."""
    if flat is None:
        return False
    theta, velocity = flat.theta, flat.velocity
    for layer in layers:
        if layer.W.base is not theta or (layer.b is not None and layer.b.base is not theta):
            return False
        if velocity is None:
            if layer.velocity_W is not None:
                return False
        elif layer.velocity_W is None or layer.velocity_W.base is not velocity:
            return False
    return True


def pack(layers: list[DenseLayer]) -> Flat:
    """Copy the layers' parameters (and velocities) into flat vectors; the layers now view them."""
    spans = spans_of(layers)
    theta = np.concatenate([p.ravel() for layer in layers for p in _params(layer)])
    velocity = None
    if all(layer.velocity_W is not None for layer in layers):
        velocity = np.concatenate(
            [v.ravel() for layer in layers for v in _velocities(layer) if v is not None]
        )
    flat = Flat(theta, velocity, spans)
    point_layers(layers, flat)
    return flat


def _params(layer: DenseLayer) -> list[Array]:
    return [layer.W] if layer.b is None else [layer.W, layer.b]


def _velocities(layer: DenseLayer) -> list[Array | None]:
    return [layer.velocity_W] if layer.b is None else [layer.velocity_W, layer.velocity_b]


def point_layers(layers: list[DenseLayer], flat: Flat) -> None:
    """Make each layer's W, b (and velocities) the views of θ (and v)."""
    theta, velocity = flat.theta, flat.velocity
    for layer, span in zip(layers, flat.spans, strict=True):
        block = span.block(theta)
        layer.W = block[: span.n_in]
        if layer.b is not None:
            layer.b = block[span.n_in :]
        if velocity is None:
            layer.velocity_W = layer.velocity_b = None
        else:
            block = span.block(velocity)
            layer.velocity_W = block[: span.n_in]
            if layer.b is not None:
                layer.velocity_b = block[span.n_in :]


def train_batch(model: Model) -> str | None:
    """One new batch, every phase; returns why it diverged, if it did (as the walk would)."""
    if not is_packed(model.flat, model.layers):
        model.flat = pack(model.layers)
    flat = model.flat
    assert flat is not None
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
        a = trace.output = layer.activation.forward(z)

    diverged = model._loss_phase()  # E(y, ŷ) and ∂E/∂ŷ, as the walk's loss phase
    if diverged:  # leave the trace as the walk does: this batch's forward pass and ∂E/∂ŷ
        last = traces[-1]
        output_error, loss_delta = last.output_error, last.loss_delta
        for trace in traces:
            trace.clear_backward()
        last.output_error, last.loss_delta = output_error, loss_delta
        return diverged

    # backward k: δ = ∂E/∂a ⊙ f'(z); ∂E/∂W = xᵀ·δ (+ penalty) and ∂E/∂b = Σδ into ∇θ
    grad = np.empty_like(flat.theta)
    l1, l2 = config.l1, config.l2
    for k in range(len(layers) - 1, -1, -1):
        layer, trace, span = layers[k], traces[k], flat.spans[k]
        assert trace.output_error is not None and trace.z is not None
        assert trace.output is not None and trace.input is not None
        if trace.loss_delta is not None:  # a fused loss gave the output layer's δ itself
            delta = trace.delta = trace.loss_delta
        else:
            delta = trace.delta = layer.activation.backward(
                trace.output_error, trace.z, trace.output
            )
        block = span.block(grad)
        dW = block[: span.n_in]
        np.dot(trace.input.T, delta, out=dW)
        trace.dW_penalty = penalty_gradient(layer.W, l1, l2)
        if trace.dW_penalty is not None:
            np.add(dW, trace.dW_penalty, out=dW)
        trace.dW = dW
        if layer.b is not None:
            trace.db = np.add.reduce(delta, axis=0, keepdims=True, out=block[span.n_in :])
        else:
            trace.db = None
        if k > 0:
            traces[k - 1].output_error = np.dot(delta, layer.W.T)

    # update: θ ← θ − α·∇θ, or v ← μv − α·∇θ, θ ← θ + v
    lr, mu = config.learning_rate, config.momentum
    velocity = flat.velocity
    if mu == 0.0:
        theta = flat.theta - lr * grad
    else:
        velocity = -lr * grad if velocity is None else mu * velocity - lr * grad
        theta = flat.theta + velocity
    if not math.isfinite(float(np.add.reduce(theta, axis=None))):
        return model._diverge(UPDATE_OVERFLOW)
    model._before_update = flat  # the last good weights, should these overflow
    model.flat = Flat(theta, velocity, flat.spans)
    point_layers(layers, model.flat)
    model.step += 1
    model._epoch_just_ended = model._advance_position()
    model.cursor = 0
    return None
