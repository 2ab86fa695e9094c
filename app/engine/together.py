"""Many models' batch steps in one go: a class of alike networks shares its NumPy calls.

A small network's batch step is some forty NumPy calls on arrays of a few dozen numbers, so
it costs what the calls cost, not what they compute. Twenty-five students playing the same
preset run the same forty calls twenty-five times. ``step_batches`` stacks the models that are
alike — the same layer shapes, activations and loss, the same batch rows, the same kind of
update — along a first axis and runs the calls once for all of them:

    Z = A·W + b        (S, n, n_out) = (S, n, n_in) · (S, n_in, n_out) + (S, 1, n_out)
    δ, ∂E/∂W = Aᵀ·δ, ∂E/∂b = Σδ, δ·Wᵀ        likewise, one model per slice of the first axis
    θ' = θ − α·∇θ      one row of θ per model, α a column (each model's own rate)

Each slice is the very arithmetic of ``fast.train_batch`` (``np.matmul`` hands each slice to
the same BLAS call as ``np.dot``; sums run over the same axis in the same order; the rest is
elementwise), so every model ends with the weights its own step would give, bit for bit —
tests/engine/test_together.py checks it against the phase walk. The loss stays each model's
own call (its divergence check and its fused gradient are the model's), and so does all the
bookkeeping: the batch drawn, the trace, the weights' three flat vectors, the step counter.

Models that are alike with no other stay on ``Model.step_batch``, as do a half-walked batch,
a penalty (L1/L2) and an activation that is not one of the library's own.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence

import numpy as np

from . import fast
from .dense import Array
from .model import BatchResult, LayerTrace, Model, errors_ignored


def step_batches(models: Sequence[Model]) -> list[BatchResult]:
    """One SGD step for each model (as ``model.step_batch()`` would), alike ones together."""
    results: list[BatchResult | None] = [None] * len(models)
    groups: dict[Hashable, list[int]] = {}
    with errors_ignored():
        for i, model in enumerate(models):
            key = _stack_key(model)
            if key is None:
                results[i] = model.step_batch()
            else:
                groups.setdefault(key, []).append(i)
        for members in groups.values():
            if len(members) == 1:
                results[members[0]] = models[members[0]].step_batch()
                continue
            diverged = _train_stacked([models[i] for i in members])
            for i, why in zip(members, diverged, strict=True):
                results[i] = _result(models[i], why)
    return [result for result in results if result is not None]


def _result(model: Model, diverged: str | None) -> BatchResult:
    if diverged:  # as Model.step_batch says it
        return BatchResult(float(model.loss or np.nan), False, diverged)
    return BatchResult(float(model.loss or 0.0), model._epoch_just_ended)


def _stack_key(model: Model) -> Hashable | None:
    """What models must share to be stacked, or None when this one steps alone."""
    config = model.config
    if model.cursor != 0 or config.l1 != 0.0 or config.l2 != 0.0:
        return None
    n = model.n_samples
    if not n:
        return None
    flat = model.flat
    if flat is None or not fast.is_packed(flat, model.layers):
        flat = model.flat = fast.pack(model.layers)
        model._spare = fast.Spare()
    momentum = config.momentum != 0.0
    rows = min(model.batch_size, n - model.position)
    return config.architecture, rows, momentum, momentum and flat.velocity is not None


def _stack(arrays: list[Array]) -> Array:
    """Equal-shaped arrays as one (S, …) array (np.stack's Python costs a view per array)."""
    return np.concatenate(arrays).reshape(len(arrays), *arrays[0].shape)


def _train_stacked(models: list[Model]) -> list[str | None]:
    """``fast.train_batch`` for every model at once; returns why each diverged, if it did."""
    flats: list[fast.Flat] = []
    for model in models:  # packed by _stack_key
        assert model.flat is not None
        flats.append(model.flat)
        model._draw_batch()
    first, spans, S = models[0], flats[0].layout.spans, len(models)
    traces = [model.traces for model in models]

    # forward k: Z = A·W + b, A = f(Z)   — W, b: each model's row of Θ, seen per layer
    theta = _stack([flat.theta for flat in flats])
    blocks = [theta[:, span.at].reshape(S, span.rows, span.n_out) for span in spans]
    a = _stack([_batch_input(model) for model in models])
    stack_in, stack_z, stack_out = [], [], []
    own_out = list(a)  # each model's slice: its trace holds these views
    for k, (layer, span, block) in enumerate(zip(first.layers, spans, blocks, strict=True)):
        stack_in.append(a)
        z = np.matmul(a, block[:, : span.n_in])
        if span.has_bias:
            z += block[:, span.n_in :]
        a = layer.activation.f(z)
        stack_z.append(z)
        stack_out.append(a)
        own_in, own_z, own_out = own_out, list(z), list(a)
        for i, model in enumerate(models):
            trace, own = traces[i][k], model.layers[k]
            trace.input, trace.W, trace.b = own_in[i], own.W, own.b
            trace.z, trace.output = own_z[i], own_out[i]

    diverged, output_error = _loss_phase(models, a)
    for model, why in zip(models, diverged, strict=True):
        if why:
            fast.keep_loss_trace(model)
    going = [i for i, why in enumerate(diverged) if not why]
    if not going:
        return diverged

    # backward k: δ, ∂E/∂W = Aᵀ·δ and ∂E/∂b = Σδ into ∇Θ, δ·Wᵀ to layer k−1.
    # Rows of diverged models run along (their numbers are dropped): no gathering.
    last = len(spans) - 1
    fused = first.loss_fn.fused
    if fused:
        delta = _stack([_loss_delta(trace[last]) for trace in traces])
    elif output_error is None:
        output_error = _stack([_output_error(trace[last]) for trace in traces])
    grad = np.empty_like(theta)
    for k in range(last, -1, -1):
        span, block, layer = spans[k], blocks[k], first.layers[k]
        if not (fused and k == last):
            assert output_error is not None
            delta = layer.activation.backward(output_error, stack_z[k], stack_out[k])
        g = grad[:, span.at].reshape(S, span.rows, span.n_out)
        dW = g[:, : span.n_in]
        np.matmul(stack_in[k].transpose(0, 2, 1), delta, out=dW)
        own_delta, own_dW = list(delta), list(dW)
        own_db: list[Array | None] = [None] * S
        if span.has_bias:
            own_db = list(np.add.reduce(delta, axis=1, keepdims=True, out=g[:, span.n_in :]))
        if k > 0:
            output_error = np.matmul(delta, block[:, : span.n_in].transpose(0, 2, 1))
            own_error = list(output_error)
        for i in going:
            trace = traces[i][k]
            trace.delta = trace.loss_delta if fused and k == last else own_delta[i]
            trace.dW, trace.db, trace.dW_penalty = own_dW[i], own_db[i], None
            if k > 0:
                traces[i][k - 1].output_error = own_error[i]

    # update: Θ' = Θ − α·∇Θ, or V' = μV − α·∇Θ, Θ' = Θ + V' (α, μ: a column, one per model)
    dtype = theta.dtype
    lr = np.array([model.config.learning_rate for model in models], dtype=dtype)[:, None]
    velocity = None
    if first.config.momentum == 0.0:
        new_theta = np.subtract(theta, lr * grad)
    else:
        if flats[0].velocity is None:
            velocity = np.multiply(-lr, grad)
        else:
            mu = np.array([model.config.momentum for model in models], dtype=dtype)[:, None]
            v = _stack([_velocity(flat) for flat in flats])
            velocity = np.subtract(mu * v, lr * grad)
        new_theta = np.add(theta, velocity)
    finite = np.logical_and.reduce(np.isfinite(new_theta), axis=1)
    for i in going:
        model = models[i]
        new = fast.spare_for(model, flats[i])
        np.copyto(new.theta, new_theta[i])
        if velocity is not None:
            assert new.velocity is not None
            np.copyto(new.velocity, velocity[i])
        diverged[i] = fast.take_update(model, new, bool(finite[i]))
    return diverged


def _loss_phase(models: list[Model], output: Array) -> tuple[list[str | None], Array | None]:
    """Each model's loss phase — stacked where the loss can be (then ∂E/∂ŷ comes back as
    one stack too); returns why each diverged, if it did."""
    loss_fn = models[0].loss_fn
    if loss_fn.stacked is None:
        return [model._loss_phase() for model in models], None
    losses, output_error = loss_fn.stacked(_stack([_targets(model) for model in models]), output)
    diverged: list[str | None] = []
    for i, model in enumerate(models):
        last = model.traces[-1]
        last.output_error, last.loss_delta = output_error[i], None
        model.loss = float(losses[i])
        diverged.append(model._check_loss(model.loss))
    return diverged, output_error


def _targets(model: Model) -> Array:
    assert model.batch_y is not None
    return model.batch_y


def _loss_delta(trace: LayerTrace) -> Array:
    delta = trace.loss_delta
    assert delta is not None
    return delta


def _output_error(trace: LayerTrace) -> Array:
    error = trace.output_error
    assert error is not None
    return error


def _velocity(flat: fast.Flat) -> Array:
    assert flat.velocity is not None
    return flat.velocity


def _batch_input(model: Model) -> Array:
    x = model.traces[0].input
    assert x is not None
    return x
