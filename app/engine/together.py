"""Many models' batch steps in one go: a class of alike networks shares its NumPy calls.

A small network's batch step is some forty NumPy calls on arrays of a few dozen numbers, so
it costs what the calls cost, not what they compute. Twenty-five students playing the same
preset run the same forty calls twenty-five times. A ``Stack`` holds the models that are
alike — the same layer shapes, activations and loss, the same batch rows, the same kind of
update — along a first axis and runs the calls once for all of them:

    Z = A·W + b        (S, n, n_out) = (S, n, n_in) · (S, n_in, n_out) + (S, 1, n_out)
    δ, ∂E/∂W = Aᵀ·δ, ∂E/∂b = Σδ, δ·Wᵀ        likewise, one model per slice of the first axis
    θ' = θ − α·∇θ      one row of θ per model, α a column (each model's own rate)
    L1/L2              the same penalty in every member (it is in the key): its gradient
                       joins ∇Θ, or the tfp rule's step follows, one mask of dead weights
                       (S, n_in, n_out) per layer

Each slice is the very arithmetic of ``fast.train_batch`` (``np.matmul`` hands each slice to
the same BLAS call as ``np.dot``; sums run over the same axis in the same order; the rest is
elementwise), so every model ends with the weights its own steps would give, bit for bit —
tests/engine/test_together.py checks it against the phase walk.

Between batches a stack keeps its models' θ (and v) as rows of its own arrays; each model's
counters (step, epoch, position, its batch drawn, its loss) move on with every batch, and
its weights, velocities and trace are written back (``sync``) when someone needs them: when
it leaves the stack (``leave``, ``release``), at a divergence (the model's own rules then
restore or refuse, as in its own step), and whenever its caller asks (an epoch's end, a
checkpoint). Until then the model must not be read but for its counters.

Models that are alike with no other stay on ``Model.step_batch``, as does a half-walked
batch.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from . import fast
from .dense import Array
from .model import BatchResult, Model, errors_ignored, loss_and_gradients
from .penalties import Mask, penalty_gradient, tfp_penalty_step

T = TypeVar("T")


def step_batches(models: Sequence[Model]) -> list[BatchResult]:
    """One SGD step for each model (as ``model.step_batch()`` would), alike ones together."""
    results: list[BatchResult | None] = [None] * len(models)
    alone, groups = group(models)
    with errors_ignored():
        for i in alone:
            results[i] = models[i].step_batch()
        for members in groups:
            stack = Stack([models[i] for i in members])
            for i, result in zip(members, stack.step(), strict=True):
                results[i] = result
            stack.release()
    return [result for result in results if result is not None]


def group(models: Sequence[Model]) -> tuple[list[int], list[list[int]]]:
    """(the models that step alone, the groups of alike ones), by index."""
    keyed: dict[Hashable, list[int]] = {}
    alone: list[int] = []
    for i, model in enumerate(models):
        key = stack_key(model)
        if key is None:
            alone.append(i)
        else:
            keyed.setdefault(key, []).append(i)
    groups = []
    for members in keyed.values():
        if len(members) == 1:
            alone.extend(members)
        else:
            groups.append(members)
    return sorted(alone), groups


def stack_key(model: Model) -> Hashable | None:
    """What models must share to be stacked, or None when this one steps alone."""
    config = model.config
    if model.cursor != 0:
        return None
    n = model.n_samples
    if not n:
        return None
    flat = model.flat
    if flat is None or not fast.is_packed(flat, model.layers):
        flat = model.flat = fast.pack(model.layers)
        model._spare = fast.Spare()
    momentum = config.momentum != 0.0
    penalty = (config.l1, config.l2, config.penalty_rule)
    if penalty[:2] == (0.0, 0.0):  # no penalty: the rules agree, but the tfp rule's dead
        dead = any(layer.dead is not None for layer in model.layers)  # weights stay
        penalty = (0.0, 0.0, "tfp" if dead else "gradient")
    velocities = momentum and flat.velocity is not None
    return config.architecture, next_rows(model), momentum, velocities, penalty


def next_rows(model: Model) -> int:
    """The rows of the model's next batch (fewer at an epoch's end)."""
    return min(model.batch_size, model.n_samples - model.position)


@dataclass
class _Round:
    """One batch's stacked arrays, kept for the members' traces until they are written back."""

    inputs: list[Array]  # per layer: (S, n, n_in)
    zs: list[Array]
    outputs: list[Array]
    output_error: Array  # ∂E/∂ŷ, (S, n, k)
    loss_delta: Array | None  # a fused loss's δ of the output layer
    deltas: dict[int, Array] | None = None  # by layer, once the backward pass ran
    dWs: dict[int, Array] | None = None  # ∂E/∂W with the penalty's gradient, if any
    dW_datas: dict[int, Array] | None = None  # xᵀ·δ alone, where a trace keeps it
    dW_penalties: dict[int, Array] | None = None
    dbs: dict[int, Array | None] | None = None
    errors: dict[int, Array] | None = None  # layer k ≥ 1: the ∂E/∂a handed to layer k − 1


class Stack:
    """Alike models (``group`` made them so) stepped together, batch after batch."""

    def __init__(self, models: list[Model]) -> None:
        self.models = list(models)
        first = models[0]
        assert first.flat is not None
        self.spans = first.flat.layout.spans
        self.fused = first.loss_fn.fused
        self.momentum = first.config.momentum != 0.0
        self.l1, self.l2 = first.config.l1, first.config.l2  # the same in every member
        self.tfp = first.config.penalty_rule == "tfp"
        flats = [_flat(model) for model in models]
        self.cur = _stack([flat.theta for flat in flats])  # θ the next batch uses
        self.prev: Array | None = None  # θ before the last update (None: none made here yet)
        self.vcur: Array | None = None
        self.vprev: Array | None = None
        if self.momentum and flats[0].velocity is not None:
            self.vcur = _stack([_velocity(flat) for flat in flats])
        # The tfp rule's dead weights per layer, (S, n_in, n_out); None: no member has any.
        self.dead = [_stack_masks(models, k) for k in range(len(self.spans))]
        self.dead_prev: list[Mask | None] | None = None  # those the last update here used
        self.synced = [True] * len(models)  # is the model's own state the stack's row?
        self.last: _Round | None = None
        self._columns()

    def _columns(self) -> None:
        dtype = self.cur.dtype
        self.lr = np.array([m.config.learning_rate for m in self.models], dtype=dtype)[:, None]
        self.mu = np.array([m.config.momentum for m in self.models], dtype=dtype)[:, None]
        # α·l1 and α·l2 of each member, as its own step makes them (a number times W)
        rates = [m.config.learning_rate for m in self.models]
        self.l1_step = np.array([lr * self.l1 for lr in rates], dtype=dtype)[:, None, None]
        self.l2_step = np.array([lr * self.l2 for lr in rates], dtype=dtype)[:, None, None]

    # ----- one batch of every member --------------------------------------------------------

    def step(self) -> list[BatchResult]:
        """One batch of each member; a member that diverges is written back and leaves."""
        models, spans, S = self.models, self.spans, len(self.models)
        for model in models:
            model._draw_batch()
        blocks = [self.cur[:, span.at].reshape(S, span.rows, span.n_out) for span in spans]

        # forward k: Z = A·W + b, A = f(Z)
        a = _stack([_batch_input(model) for model in models])
        inputs, zs, outputs = [], [], []
        for layer, span, block in zip(models[0].layers, spans, blocks, strict=True):
            inputs.append(a)
            z = np.matmul(a, block[:, : span.n_in])
            if span.has_bias:
                z += block[:, span.n_in :]
            a = layer.activation.f(z)
            zs.append(z)
            outputs.append(a)

        # loss: E(y, ŷ) and ∂E/∂ŷ (with a fused loss, the output layer's δ as well)
        losses, output_error, loss_delta = self._loss(zs[-1], a)
        this = self.last = _Round(inputs, zs, outputs, output_error, loss_delta)
        for model, loss in zip(models, losses, strict=True):
            model.loss = loss
        lost = {i for i, loss in enumerate(losses) if not np.isfinite(loss)}

        # backward k: δ, ∂E/∂W = Aᵀ·δ and ∂E/∂b = Σδ into ∇Θ, δ·Wᵀ to layer k − 1.
        # Rows of diverged models run along (their numbers are dropped): no gathering.
        grad = np.empty_like(self.cur)
        last = len(spans) - 1
        deltas: dict[int, Array] = {}
        dWs: dict[int, Array] = {}
        dbs: dict[int, Array | None] = {}
        errors: dict[int, Array] = {}  # k ≥ 1: the ∂E/∂a layer k hands to layer k − 1
        error = output_error
        for k in range(last, -1, -1):
            span, block, layer = spans[k], blocks[k], models[0].layers[k]
            if self.fused and k == last:
                assert loss_delta is not None
                delta = loss_delta
            else:
                delta = layer.activation.backward(error, zs[k], outputs[k])
            g = grad[:, span.at].reshape(S, span.rows, span.n_out)
            dW = g[:, : span.n_in]
            np.matmul(inputs[k].transpose(0, 2, 1), delta, out=dW)
            dbs[k] = (
                np.add.reduce(delta, axis=1, keepdims=True, out=g[:, span.n_in :])
                if span.has_bias
                else None
            )
            if k > 0:
                error = errors[k] = np.matmul(delta, block[:, : span.n_in].transpose(0, 2, 1))
            deltas[k], dWs[k] = delta, dW
        this.deltas, this.dWs, this.dbs, this.errors = deltas, dWs, dbs, errors
        self._penalty_gradients(blocks, this)

        # update: Θ' = Θ − α·∇Θ, or V' = μV − α·∇Θ, Θ' = Θ + V'
        velocity = None
        if not self.momentum:
            theta = np.subtract(self.cur, self.lr * grad)
        else:
            if self.vcur is None:
                velocity = np.multiply(-self.lr, grad)
            else:
                velocity = np.subtract(self.mu * self.vcur, self.lr * grad)
            theta = np.add(self.cur, velocity)
        dead = self._penalty_step(blocks, theta)
        finite = np.logical_and.reduce(np.isfinite(theta), axis=1)

        results: list[BatchResult] = []
        leaving: list[int] = []
        for i, model in enumerate(models):
            if i in lost:  # the model's own rule: back to the weights before the last update
                self._write_back(i, used=self.cur, before=self.prev, vused=self.vcur,
                                 vbefore=self.vprev, backward=False, dused=self.dead,
                                 dbefore=self.dead_prev)  # fmt: skip
                results.append(_diverged(model, model._check_loss(model.loss or np.nan)))
                leaving.append(i)
            elif not finite[i]:  # refused: the weights stay those this batch used
                self._write_back(i, used=self.cur, before=self.prev, vused=self.vcur,
                                 vbefore=self.vprev, backward=True, dused=self.dead,
                                 dbefore=self.dead_prev)  # fmt: skip
                results.append(_diverged(model, model._diverge(fast.UPDATE_OVERFLOW)))
                leaving.append(i)
            else:
                model.step += 1
                model._epoch_just_ended = model._advance_position()
                self.synced[i] = False
                results.append(BatchResult(float(model.loss or 0.0), model._epoch_just_ended))
        self.prev, self.cur = self.cur, theta
        if velocity is not None:
            self.vprev, self.vcur = self.vcur, velocity
        self.dead_prev, self.dead = self.dead, dead
        self._drop(leaving)
        return results

    def _penalty_gradients(self, blocks: list[Array], this: _Round) -> None:
        """∂P/∂W of every member's W: into ∇Θ (the gradient rule, as ``fast`` adds it), or
        beside it (the tfp rule: ∇Θ keeps xᵀ·δ for the data's step)."""
        dWs = this.dWs
        assert dWs is not None
        if (self.l1, self.l2) == (0.0, 0.0):
            this.dW_datas = dict(dWs)
            return
        pens = this.dW_penalties = {}
        datas: dict[int, Array] = {}
        for k, (span, block) in enumerate(zip(self.spans, blocks, strict=True)):
            pen = pens[k] = _present(penalty_gradient(block[:, : span.n_in], self.l1, self.l2))
            if self.tfp:
                datas[k], dWs[k] = dWs[k], dWs[k] + pen
            else:
                np.add(dWs[k], pen, out=dWs[k])
        this.dW_datas = datas if self.tfp else None

    def _penalty_step(self, blocks: list[Array], theta: Array) -> list[Mask | None]:
        """The tfp rule's step on each member's W in Θ' (in place); the dead weights after it."""
        dead = list(self.dead)
        if not self.tfp or ((self.l1, self.l2) == (0.0, 0.0) and all(d is None for d in dead)):
            return dead
        S = len(self.models)
        for k, (span, block) in enumerate(zip(self.spans, blocks, strict=True)):
            stepped = theta[:, span.at].reshape(S, span.rows, span.n_out)[:, : span.n_in]
            W, dead[k] = tfp_penalty_step(
                block[:, : span.n_in], stepped, dead[k], self.l1_step, self.l2_step
            )
            stepped[...] = W
        return dead

    def _loss(self, z: Array, a: Array) -> tuple[list[float], Array, Array | None]:
        """Each member's E, and ∂E/∂ŷ (and a fused loss's δ) as stacks."""
        models = self.models
        targets = _stack([_targets(model) for model in models])
        loss_fn = models[0].loss_fn
        if loss_fn.stacked is not None:
            losses, output_error = loss_fn.stacked(targets, a)
            return [float(loss) for loss in losses], output_error, None
        values, errors, deltas = [], [], []
        for i in range(len(models)):
            value, error, delta = loss_and_gradients(loss_fn, targets[i], z[i], a[i])
            values.append(value)
            errors.append(error)
            deltas.append(delta)
        fused = None if deltas[0] is None else _stack([_present(d) for d in deltas])
        return values, _stack(errors), fused

    # ----- writing back ---------------------------------------------------------------------

    def sync(self, model: Model) -> None:
        """Write the stack's row of ``model`` back into it: weights, velocities, the trace of
        its last batch. The model stays in the stack."""
        i = self.models.index(model)
        if not self.synced[i]:
            self._write_back(i, used=self.prev, before=self.prev, vused=self.vprev,
                             vbefore=None, backward=True, current=self.cur,
                             vcurrent=self.vcur, dused=self.dead_prev,
                             dcurrent=self.dead)  # fmt: skip

    def leave(self, models: list[Model]) -> None:
        """These members step on alone (each is written back first)."""
        for model in models:
            self.sync(model)
        self._drop([self.models.index(model) for model in models])

    def release(self) -> None:
        """Every member written back; the stack is empty."""
        for model in list(self.models):
            self.sync(model)
        self._drop(list(range(len(self.models))))

    def _write_back(
        self,
        i: int,
        used: Array | None,
        before: Array | None,
        vused: Array | None,
        vbefore: Array | None,
        backward: bool,
        current: Array | None = None,
        vcurrent: Array | None = None,
        dused: list[Mask | None] | None = None,
        dbefore: list[Mask | None] | None = None,
        dcurrent: list[Mask | None] | None = None,
    ) -> None:
        """Model i's state as its own steps would have left it.

        After a completed batch (``sync``): θ = ``current``, the weights before the update =
        the ones the batch ``used``. At a divergence, before the update: θ = ``used``, the
        ones before it = ``before`` (None: no update made here yet, the model's own are
        right). ``backward``: the trace holds the backward pass (else only the forward pass
        and ∂E/∂ŷ, as a loss that diverged leaves it). The dead weights (``d…``, each
        layer's stacked masks) go alike.
        """
        model = self.models[i]
        assert model.flat is not None
        layout, plain = model.flat.layout, model.flat.velocity  # plain SGD keeps v as it is
        if current is not None:  # a completed batch: the update's θ, and the θ it used
            assert used is not None
            kept = _row(used, vused, i, plain, layout)
            new = _row(current, vcurrent, i, plain, layout)
            model._before_update, model.flat, model._spare = kept, new, fast.Spare()
            fast.point_layers(model.layers, new)
            _write_dead(model, i, _present(dcurrent), _present(dused))
            weights_used = kept
        elif before is not None:  # diverged after updates made here: their θ, written back
            assert used is not None
            now = _row(used, vused, i, plain, layout)
            model._before_update = _row(before, vbefore, i, plain, layout)
            model.flat, model._spare = now, fast.Spare()
            fast.point_layers(model.layers, now)
            _write_dead(model, i, _present(dused), _present(dbefore))
            weights_used = now
        else:  # diverged at the stack's first batch: the model's own state is the row's
            weights_used = model.flat
        self._trace(i, model, weights_used, backward)
        self.synced[i] = True

    def _trace(self, i: int, model: Model, used: fast.Flat, backward: bool) -> None:
        """The model's trace of the last batch: row i of each stacked array."""
        this = self.last
        assert this is not None
        traces = model.traces
        for k, (trace, views) in enumerate(zip(traces, used.views, strict=True)):
            trace.input, trace.W, trace.b = this.inputs[k][i], views.W, views.b
            trace.z, trace.output = this.zs[k][i], this.outputs[k][i]
        last = traces[-1]
        last.output_error = this.output_error[i]
        last.loss_delta = None if this.loss_delta is None else this.loss_delta[i]
        fast.keep_loss_trace(model)  # the forward pass and ∂E/∂ŷ; the backward pass below
        if not backward:
            return
        assert this.deltas is not None and this.dWs is not None
        assert this.dbs is not None and this.errors is not None
        for k, trace in enumerate(traces):
            fused = last.loss_delta is not None and k == len(traces) - 1
            trace.delta = last.loss_delta if fused else this.deltas[k][i]
            trace.dW = this.dWs[k][i]
            trace.dW_data = None if this.dW_datas is None else this.dW_datas[k][i]
            trace.dW_penalty = None if this.dW_penalties is None else this.dW_penalties[k][i]
            db = this.dbs[k]
            trace.db = None if db is None else db[i]
            if k > 0:
                traces[k - 1].output_error = this.errors[k][i]

    def _drop(self, rows: list[int]) -> None:
        """Members that left: their rows go (each was written back)."""
        if not rows:
            return
        gone = set(rows)
        keep = [i for i in range(len(self.models)) if i not in gone]
        self.models = [self.models[i] for i in keep]
        self.synced = [self.synced[i] for i in keep]
        self.cur = self.cur[keep]
        self.prev = None if self.prev is None else self.prev[keep]
        self.vcur = None if self.vcur is None else self.vcur[keep]
        self.vprev = None if self.vprev is None else self.vprev[keep]
        self.dead = _take_masks(self.dead, keep)
        self.dead_prev = None if self.dead_prev is None else _take_masks(self.dead_prev, keep)
        self.last = None if not keep or self.last is None else _take_rows(self.last, keep)
        if keep:
            self._columns()


def _take_rows(this: _Round, keep: list[int]) -> _Round:
    def rows(arrays: dict[int, Array] | None) -> dict[int, Array] | None:
        return None if arrays is None else {k: array[keep] for k, array in arrays.items()}

    return _Round(
        [array[keep] for array in this.inputs],
        [array[keep] for array in this.zs],
        [array[keep] for array in this.outputs],
        this.output_error[keep],
        None if this.loss_delta is None else this.loss_delta[keep],
        rows(this.deltas),
        rows(this.dWs),
        rows(this.dW_datas),
        rows(this.dW_penalties),
        None
        if this.dbs is None
        else {k: None if b is None else b[keep] for k, b in this.dbs.items()},
        rows(this.errors),
    )


def _stack_masks(models: list[Model], k: int) -> Mask | None:
    """Layer k's dead weights of every member, (S, n_in, n_out); None when none has any."""
    masks = [model.layers[k].dead for model in models]
    if all(mask is None for mask in masks):
        return None
    shape = models[0].layers[k].W.shape
    return np.stack([np.zeros(shape, dtype=bool) if m is None else m for m in masks])


def _take_masks(masks: list[Mask | None], keep: list[int]) -> list[Mask | None]:
    return [None if mask is None else mask[keep] for mask in masks]


def _write_dead(model: Model, i: int, now: list[Mask | None], before: list[Mask | None]) -> None:
    """Member i's dead weights (and those before its last update) from the stack's masks."""

    def row(mask: Mask | None) -> Mask | None:
        return None if mask is None or not mask[i].any() else mask[i].copy()

    for layer, mask in zip(model.layers, now, strict=True):
        layer.dead = row(mask)
    model._dead_before = [row(mask) for mask in before]


def _row(
    theta: Array, velocity: Array | None, i: int, plain: Array | None, layout: fast.Layout
) -> fast.Flat:
    """Row i of a stack as a model's own Flat (plain SGD: the velocities it had, unchanged)."""
    return fast.Flat(theta[i].copy(), plain if velocity is None else velocity[i].copy(), layout)


def _diverged(model: Model, why: str | None) -> BatchResult:
    assert why is not None
    return BatchResult(float(model.loss or np.nan), False, why)  # as Model.step_batch says it


def _stack(arrays: list[Array]) -> Array:
    """Equal-shaped arrays as one (S, …) array (np.stack's Python costs a view per array)."""
    return np.concatenate(arrays).reshape(len(arrays), *arrays[0].shape)


def _flat(model: Model) -> fast.Flat:
    assert model.flat is not None
    return model.flat


def _velocity(flat: fast.Flat) -> Array:
    assert flat.velocity is not None
    return flat.velocity


def _batch_input(model: Model) -> Array:
    x = model.traces[0].input
    assert x is not None
    return x


def _targets(model: Model) -> Array:
    assert model.batch_y is not None
    return model.batch_y


def _present(value: T | None) -> T:
    assert value is not None
    return value
