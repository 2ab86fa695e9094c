"""Many models' batch steps in one go: a class of alike networks shares its NumPy calls.

A small network's batch step is some forty NumPy calls on arrays of a few dozen numbers, so
it costs what the calls cost, not what they compute. Twenty-five students playing the same
preset run the same forty calls twenty-five times. A ``Stack`` holds the models that are
alike — the same layer shapes, activations and loss, the same batch rows, the same kind of
update and penalty rule — along a first axis, and runs the kernel's phases (``kernel.py``)
once for all of them: the very functions a model's own step runs, on arrays with the stack's
axis first, each model its own learning rate, momentum, L1 and L2 (columns; penalised or not,
a class trains together). So every model ends with the
weights its own steps would give, bit for bit (tests/engine/test_together.py checks it
against the phase walk).

While a model is in a stack its parameters are its row of the stack's (``Row``): its layers
view that row, live. Its counters (step, epoch, position) move on with every batch; its last
batch — rows, targets, loss and trace — is written back (``sync``) when someone needs it:
when it leaves the stack (``leave``, ``release``), at a divergence (the model's own rules then
restore or refuse, as in its own step), and whenever its caller asks (an epoch's end, a
checkpoint). Until then the model must not be read but for its counters and weights. The
stack draws every member's batch at once, from its own copy of their epochs' rows (the
orders drawn by each model's own generator, when its own step would draw them).

Models that are alike with no other stay on ``Model.step_batch``, as does a half-walked batch.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Hashable, Sequence
from dataclasses import fields
from typing import Any

import numpy as np

from . import kernel
from .dense import Array
from .fast import Flat, Layout, Params
from .kernel import UPDATE_OVERFLOW, LayerTrace, Rates
from .model import BatchResult, Model, errors_ignored
from .penalties import Mask

TRACE_FIELDS = [field.name for field in fields(LayerTrace)]


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
    if model.cursor != 0 or not model.n_samples or isinstance(model._params, Row):
        return None
    momentum = config.momentum != 0.0
    velocities = momentum and model._params.cur.velocity is not None
    # The penalty's rule, not its values: each model's L1 and L2 are its own (``_rates``).
    return config.architecture, next_rows(model), momentum, velocities, config.penalty_rule


def next_rows(model: Model) -> int:
    """The rows of the model's next batch (fewer at an epoch's end)."""
    return min(model.batch_size, model.n_samples - model.position)


class Row:
    """A stacked model's parameters: row ``i`` of its stack's, read live (``Model._params``
    while it is in the stack). ``own`` are the model's parameters from before it joined: the
    weights before its last update are theirs until the stack makes one."""

    def __init__(self, stack: Stack, i: int, own: Params) -> None:
        self.stack, self.i, self.own = stack, i, own
        self._dead: tuple[list[Mask | None], list[Mask | None]] | None = None
        self._dead_before: tuple[list[Mask | None], list[Mask | None]] | None = None

    def _row(self, flat: Flat) -> Flat:
        return flat.row(self.i, self.own.layout, self.own.cur.velocity)

    @property
    def cur(self) -> Flat:
        return self._row(self.stack.params.cur)

    @property
    def before(self) -> Flat | None:
        before = self.stack.params.before
        return self.own.before if before is None else self._row(before)

    @property
    def layout(self) -> Layout:
        return self.own.layout

    @property
    def dead(self) -> list[Mask | None]:
        masks = self.stack.params.dead
        if self._dead is None or self._dead[0] is not masks:
            self._dead = (masks, _rows_of(masks, self.i))
        return self._dead[1]

    @property
    def dead_before(self) -> list[Mask | None]:
        if self.stack.params.before is None:
            return self.own.dead_before
        masks = self.stack.params.dead_before
        if self._dead_before is None or self._dead_before[0] is not masks:
            self._dead_before = (masks, _rows_of(masks, self.i))
        return self._dead_before[1]

    def detached(self) -> Params:
        """The model's own parameters, as they stand: views of its row (the stack writes the
        rows of those who left no more: ``Stack._drop`` takes new arrays)."""
        params = Params(self.cur)
        params.before = self.before
        params.dead, params.dead_before = list(self.dead), list(self.dead_before)
        return params

    def __deepcopy__(self, memo: dict[int, Any]) -> Params:
        return copy.deepcopy(self.detached(), memo)  # a copy steps alone


def _rows_of(masks: list[Mask | None], i: int) -> list[Mask | None]:
    """Row i of each layer's stacked dead weights; None where it has none (as alone)."""
    return [None if mask is None or not mask[i].any() else mask[i] for mask in masks]


class Stack:
    """Alike models (``group`` made them so) stepped together, batch after batch."""

    def __init__(self, models: list[Model]) -> None:
        self.models = list(models)
        first = models[0]
        self.activations = list(first.activations)
        self.loss_fn = first.loss_fn
        config = first.config
        self.momentum_on = config.momentum != 0.0
        self.tfp = config.penalty_rule == "tfp"
        own = [model._own() for model in models]
        theta = _stack([params.cur.theta for params in own])
        velocity = None
        if self.momentum_on and own[0].cur.velocity is not None:
            velocity = _stack([_present(params.cur.velocity) for params in own])
        self.params = Params(Flat(theta, velocity, Layout(own[0].layout.spans, theta)))
        self.params.dead = [_stack_masks(own, k) for k in range(len(self.activations))]
        self.traces = [LayerTrace() for _ in self.activations]  # the stack's, (K, …) each
        self.synced = [True] * len(models)  # is the model's own trace the stack's row?
        self.rows = [Row(self, i, params) for i, params in enumerate(own)]
        for model, row in zip(models, self.rows, strict=True):
            model._params = row
        self.rates = self._rates()
        # Every member's epoch rows (x_train[order], y_train[order]) one after the other, so
        # a batch of each is one gather: member i's lie at offsets[i] … offsets[i] + sizes[i].
        sizes = [model.n_samples for model in models]
        self.sizes = np.array(sizes)
        self.offsets = np.cumsum([0, *sizes[:-1]])
        self.batch_sizes = np.array([model.batch_size for model in models])
        self.positions = np.array([model.position for model in models])
        dtype = theta.dtype
        self.epoch_x = np.empty((sum(sizes), first.config.input_size), dtype=dtype)
        self.epoch_y = np.empty((sum(sizes), first.config.layers[-1].units), dtype=dtype)
        self.undrawn = []  # members whose epoch rows are still to be drawn (at their next batch)
        self._first_rows: dict[int, Array] = {}  # by rows: each member's first rows' indices
        for i, model in enumerate(models):
            if model.order_drawn:
                self._copy_epoch(i, model._epoch_rows or model._epoch_data())
            else:
                self.undrawn.append(i)
        self.starts = self.positions  # where each member's last batch began,
        self.batch_rows = 0  # its rows
        self.y = np.empty((len(models), 0, self.epoch_y.shape[1]), dtype=dtype)  # its targets
        self.losses: list[float] = [np.nan] * len(models)  # and its loss
        self.fresh = True  # no batch run yet

    def _rates(self) -> Rates:
        """Each member's α and μ as columns (K, 1); its L1 and L2 (numbers when every member
        has the same), α·l1 and α·l2 as (K, 1, 1)."""
        dtype = self.params.cur.theta.dtype
        configs = [model.config for model in self.models]
        rates = [config.learning_rate for config in configs]
        l1s, l2s = [config.l1 for config in configs], [config.l2 for config in configs]
        self.penalised = [l1 != 0.0 or l2 != 0.0 for l1, l2 in zip(l1s, l2s, strict=True)]

        def column(values: list[float]) -> Array:
            return np.array(values, dtype=dtype)[:, None, None]

        def per_member(values: list[float]) -> float | Array:
            return values[0] if len(set(values)) == 1 else column(values)

        some = any(self.penalised) and not all(self.penalised)
        return Rates(
            learning_rate=np.array(rates, dtype=dtype)[:, None],
            momentum=np.array([config.momentum for config in configs], dtype=dtype)[:, None],
            momentum_on=self.momentum_on,
            l1=per_member(l1s),
            l2=per_member(l2s),
            tfp=self.tfp,
            l1_step=column([lr * l1 for lr, l1 in zip(rates, l1s, strict=True)]),
            l2_step=column([lr * l2 for lr, l2 in zip(rates, l2s, strict=True)]),
            penalised_rows=np.array(self.penalised)[:, None, None] if some else True,
        )

    # ----- one batch of every member --------------------------------------------------------

    def step(self) -> list[BatchResult]:
        """One batch of each member; a member that diverges is written back and leaves."""
        models, params, traces = self.models, self.params, self.traces
        x, y, rows = self._draw()
        traces[0].input = x
        E = kernel.run_forward(traces, self.activations, params.cur, self.loss_fn, y)
        fine = np.isfinite(E)
        stepped = None
        if fine.any():  # (rows of diverged models run along; their numbers are dropped)
            kernel.run_backward(traces, self.activations, params, self.rates)
            stepped = kernel.update(params, self.rates)
            fine &= stepped[2]
        ends = self.positions + rows
        ended = ends >= self.sizes
        self.positions = np.where(ended, 0, ends)

        results: list[BatchResult] = []
        leaving: list[int] = []
        self.losses = losses = E.tolist()
        for i, (model, loss, ok, end, epoch_done) in enumerate(
            zip(models, losses, fine.tolist(), ends.tolist(), ended.tolist(), strict=True)
        ):
            if ok:
                model.step += 1
                if epoch_done:
                    model._end_epoch()
                    self.undrawn.append(i)
                else:
                    model.position = end
                results.append(BatchResult(loss, epoch_done))
                continue
            leaving.append(i)
            model.loss = loss
            if not math.isfinite(loss):  # its own rule: back to the weights before the update
                self._write_back(i, params.cur, backward=False)
                results.append(_diverged(model, model._check_loss(loss)))
            else:  # the update is refused: the weights stay those this batch used
                self._write_back(i, params.cur, backward=True)
                results.append(_diverged(model, model._diverge(UPDATE_OVERFLOW)))
        self.synced = [False] * len(models)
        if stepped is not None:
            params.commit(stepped[0], stepped[1])
        self._drop(leaving)
        return results

    def _draw(self) -> tuple[Array, Array, int]:
        """Each member's next batch, x (K, n, n_in) and y (K, n, k): the next n rows of its
        epoch's order, as its own step draws them (an epoch's order when its batch begins)."""
        models = self.models
        if self.fresh:
            for model in models:
                model.diverged = None
            self.fresh = False
        for i in self.undrawn:
            self._copy_epoch(i, models[i]._epoch_data())
        self.undrawn = []
        counts = np.minimum(self.batch_sizes, self.sizes - self.positions)
        rows = int(counts[0])
        if not np.logical_and.reduce(counts == rows):
            raise ValueError("a stack's members must have batches of as many rows")
        self.starts, self.batch_rows = self.positions, rows
        first_rows = self._first_rows.get(rows)
        if first_rows is None:  # each member's first `rows` rows, (K, rows)
            first_rows = self._first_rows[rows] = self.offsets[:, None] + np.arange(rows)
        at = first_rows + self.positions[:, None]
        self.y = self.epoch_y[at]
        return self.epoch_x[at], self.y, rows

    def _copy_epoch(self, i: int, epoch: tuple[Array, Array]) -> None:
        start = self.offsets[i]
        self.epoch_x[start : start + self.sizes[i]] = epoch[0]
        self.epoch_y[start : start + self.sizes[i]] = epoch[1]

    # ----- writing back ---------------------------------------------------------------------

    def sync(self, model: Model) -> None:
        """Write the stack's row of ``model`` back into its trace: the trace of its last
        batch. The model stays in the stack."""
        i = self.models.index(model)
        if not self.synced[i]:
            assert self.params.before is not None
            self._trace(i, self.rows[i]._row(self.params.before), backward=True)
            self.synced[i] = True

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

    def _write_back(self, i: int, used: Flat, backward: bool) -> None:
        """A member that diverged: its trace (``backward``: with the backward pass, else only
        the forward pass and ∂E/∂ŷ, as a loss that diverged leaves it) and its own
        parameters, as they were when its batch began."""
        row = self.rows[i]
        self._trace(i, row._row(used), backward)
        self.models[i]._params = row.detached()

    def _trace(self, i: int, used: Flat, backward: bool) -> None:
        """The member's last batch — its rows, targets and trace: row i of the stack's,
        computed with ``used``."""
        model = self.models[i]
        start = int(self.starts[i])
        model.batch_indices = model.order[start : start + self.batch_rows]
        model.batch_y, model.loss = self.y[i], self.losses[i]
        for trace, stacked, views in zip(model.traces, self.traces, used.views, strict=True):
            for name in TRACE_FIELDS:
                value = getattr(stacked, name)
                setattr(trace, name, None if value is None else value[i])
            trace.W, trace.b = views.W, views.b
        if self.loss_fn.fused:  # the output layer's δ is the loss's own (p − y)/n
            model.traces[-1].delta = model.traces[-1].loss_delta
        if self.rates.penalised and not self.penalised[i]:  # classmates' penalty, not its own
            for trace in model.traces:
                trace.dW_penalty = None
                if self.tfp:
                    trace.dW = trace.dW_data
                else:
                    trace.dW_data = trace.dW
        if not backward:
            kernel.keep_loss_trace(model.traces)
        self.synced[i] = True

    def _drop(self, rows: list[int]) -> None:
        """Members that left: their rows go (each was written back). The stack takes new
        arrays for the others, so those who left own the rows they view."""
        if not rows:
            return
        gone = set(rows)
        for i in rows:
            if isinstance(self.models[i]._params, Row):
                self.models[i]._params = self.rows[i].detached()
        keep = [i for i in range(len(self.models)) if i not in gone]
        renumbered = {old: new for new, old in enumerate(keep)}
        self.undrawn = [renumbered[i] for i in self.undrawn if i in renumbered]
        self.sizes, self.offsets = self.sizes[keep], self.offsets[keep]
        self._first_rows = {}
        self.batch_sizes, self.positions = self.batch_sizes[keep], self.positions[keep]
        self.starts, self.y = self.starts[keep], self.y[keep]
        self.losses = [self.losses[i] for i in keep]
        self.models = [self.models[i] for i in keep]
        self.synced = [self.synced[i] for i in keep]
        self.rows = [self.rows[i] for i in keep]
        for i, row in enumerate(self.rows):
            row.i = i
        old = self.params
        params = self.params = Params(_take(old.cur, keep, None))
        params.before = None if old.before is None else _take(old.before, keep, params.layout)
        params.dead = [None if m is None else m[keep] for m in old.dead]
        params.dead_before = [None if m is None else m[keep] for m in old.dead_before]
        for trace in self.traces:
            for name in TRACE_FIELDS:
                value = getattr(trace, name)
                if value is not None:
                    setattr(trace, name, value[keep])
        if keep:
            self.rates = self._rates()


def _take(flat: Flat, keep: list[int], layout: Layout | None) -> Flat:
    """The kept rows of a stack's Flat, in new arrays (a new Layout unless one is given)."""
    theta = flat.theta[keep]
    velocity = None if flat.velocity is None else flat.velocity[keep]
    return Flat(theta, velocity, layout or Layout(flat.layout.spans, theta))


def _stack_masks(own: list[Params], k: int) -> Mask | None:
    """Layer k's dead weights of every member, (K, n_in, n_out); None when none has any."""
    masks = [params.dead[k] for params in own]
    if all(mask is None for mask in masks):
        return None
    shape = own[0].cur.views[k].W.shape
    return np.stack([np.zeros(shape, dtype=bool) if m is None else m for m in masks])


def _diverged(model: Model, why: str | None) -> BatchResult:
    assert why is not None
    return BatchResult(float(model.loss or np.nan), False, why)  # as Model.step_batch says it


def _stack(arrays: list[Array]) -> Array:
    """Equal-shaped arrays as one (K, …) array (np.stack's Python costs a view per array)."""
    return np.concatenate(arrays).reshape(len(arrays), *arrays[0].shape)


def _present(value: Array | None) -> Array:
    assert value is not None
    return value
