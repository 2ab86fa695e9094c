"""Checking backprop: central differences, and the chain-rule factors of one weight.

Numeric gradient, for every checked parameter p:

    ∂L/∂p ≈ (L(p + h) − L(p − h)) / 2h,     L = data loss + regularisation penalty

compared with the analytic ∂L/∂p by the relative error ‖a − n‖ / max(‖a‖ + ‖n‖, tiny).
The analytic side is the dW the model shows, in its own dtype (float32 stays float32); the
numeric side runs in float64 on a copy of the model, with the weights and rows of the batch
the gradient belongs to: the model itself is never touched. A pass is judged against a
tolerance fit for the model's dtype (``tolerance_for``).

Chain rule for W[l][i, j] (lesson 000: ∂L/∂W = ∂L/∂ŷ · ∂ŷ/∂z · ∂z/∂W), per sample s:

    ∂L/∂W_ij = Σ_s  ∂L/∂a_sj  ·  f'(z_sj)  ·  x_si        (+ the penalty's l2·W_ij + l1·sign(W_ij))
                   upstream     local         input

On a fused output layer (a cross-entropy on its sigmoid / softmax) the model never multiplies
∂L/∂a by f'(z): ∂L/∂z = (p − y)/n comes straight from the loss, so the chain shows that as the
upstream factor with a local factor 1. Softmax mixes its units, so there too ∂L/∂z is shown.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from .activations import sigmoid
from .dense import Array, fc_forward
from .model import ConfigError, Model, data_loss, forward_all

STEP = 1e-5  # h: small enough for truncation error ~h², large enough for rounding ~ε/h
TINY = 1e-300
# The relative error below which a check passes, by the dtype of the dW shown. float64:
# central differences themselves land near 1e-8. float32: the shown dW carries float32
# rounding (ε ≈ 1.2e-7, grown by the sums of the forward and backward passes) — ~1e-6 on
# the presets — so 1e-3 still catches any wrong gradient, which is off by order one.
TOLERANCES = {"float64": 1e-5, "float32": 1e-3}


def tolerance_for(dtype: str) -> float:
    """The relative error a gradient check of a ``dtype`` model passes below."""
    return TOLERANCES[dtype]


@dataclass
class LayerCheck:
    """One layer's analytic vs numeric gradient over the checked entries."""

    layer: int
    relative_error_W: float
    relative_error_b: float | None
    max_abs_error: float
    checked: int  # how many parameters were perturbed
    planned: int  # how many were to be (fewer checked when the check was stopped)
    analytic_W: Array
    numeric_W: Array
    analytic_b: Array | None
    numeric_b: Array | None


def relative_error(analytic: Array, numeric: Array) -> float:
    """‖a − n‖ / max(‖a‖ + ‖n‖, tiny): 0 when both are 0."""
    denominator = max(float(np.linalg.norm(analytic) + np.linalg.norm(numeric)), TINY)
    return float(np.linalg.norm(analytic - numeric) / denominator)


def batch_clone(
    model: Model, x: Array | None = None, y: Array | None = None, dtype: str = "float64"
) -> Model:
    """A full-batch model in ``dtype`` holding the weights and rows of ``model``'s traced batch.

    With x and y given, those rows and the model's current weights instead. Only the rows
    and the weights are copied — never the dataset, the traces or the history — so a copy
    costs no more than the batch it checks.
    """
    if x is None or y is None:
        if model.traces[0].W is None or not len(model.batch_indices):
            raise ConfigError("batch", "no batch has been traced yet: step first")
        x, y = model.x_train[model.batch_indices], model.y_train[model.batch_indices]
        weights = []
        for trace in model.traces:
            assert trace.W is not None
            weights.append((trace.W, trace.b))
    else:
        weights = [(layer.W, layer.b) for layer in model.layers]
    clone = Model(replace(model.config, dtype=dtype, batch_size=None, shuffle=False))
    for layer, (W, b) in zip(clone.layers, weights, strict=True):
        layer.W = W.astype(clone.dtype)  # a copy: the check never touches the model's arrays
        layer.b = None if b is None else b.astype(clone.dtype)
    clone.set_data(np.asarray(x, clone.dtype), np.asarray(y, clone.dtype))
    return clone


class NotCheckableError(ArithmeticError):
    """Nothing to check: no batch traced, the last one diverged, or the batch's loss or
    gradients are not finite at its weights (the model's own next phases would diverge)."""


def analytic_gradients(clone: Model) -> list[tuple[Array, Array | None]]:
    """Run the clone's forward, loss and backward phases (not the update); read dW, db.

    A loss or a gradient that is not finite at the batch's weights (the weights grew past
    the dtype's range, or a change of activation or loss since made them overflow) leaves
    nothing a central difference could be compared with: ``NotCheckableError`` says which.
    """
    for _ in range(len(clone.phases) - 1):
        if clone.step_phase().diverged:
            raise NotCheckableError(
                f"the traced batch's loss is {clone.loss} at the weights it ran with, under "
                "the settings now: there is no gradient to compare"
            )
    grads = []
    for k, trace in enumerate(clone.traces):
        assert trace.dW is not None  # every backward phase ran: none diverges
        finite = np.isfinite(trace.dW).all() and (trace.db is None or np.isfinite(trace.db).all())
        if not finite:
            raise NotCheckableError(
                f"layer {k}'s gradient of the traced batch passes {clone.config.dtype}'s range "
                "at the weights it ran with: there is no finite gradient to compare"
            )
        grads.append((trace.dW, trace.db))
    return grads


def layer_inputs(clone: Model) -> list[Array]:
    """The input x of every layer at the clone's weights: a perturbed entry of layer k
    changes nothing before layer k, so its objective can start there."""
    inputs = [clone.x_train]
    with np.errstate(all="ignore"):
        for layer in clone.layers[:-1]:
            inputs.append(layer.activation.forward(fc_forward(inputs[-1], layer.W, layer.b)))
    return inputs


def objective(clone: Model, layer: int = 0, x: Array | None = None) -> float:
    """The full-batch data loss plus the regularisation penalty, at the clone's weights.

    With ``x`` (layer ``layer``'s input, from ``layer_inputs``) the forward pass starts at
    that layer: the same numbers, without recomputing the layers before it.
    """
    if x is None:
        return clone.evaluate(clone.x_train, clone.y_train) + clone.objective_penalty()
    with np.errstate(all="ignore"):
        z, a = forward_all(clone.layers[layer:], x)
        return data_loss(clone.loss_fn, clone.y_train, z, a) + clone.objective_penalty()


def numeric_derivative(
    clone: Model, layer: int, which: Literal["W", "b"], index: Any, x: Array | None = None
) -> float:
    """(L(p + h) − L(p − h)) / 2h for one entry of layer ``layer``'s W or b (``x``: that
    layer's input, to start the forward pass there)."""
    param = clone.layers[layer].W if which == "W" else clone.layers[layer].b
    assert param is not None
    original = param[index]
    param[index] = original + STEP
    plus = objective(clone, layer, x)
    param[index] = original - STEP
    minus = objective(clone, layer, x)
    param[index] = original
    return (plus - minus) / (2 * STEP)


def _entries(shape: tuple[int, ...], limit: int | None, rng: np.random.Generator) -> list[Any]:
    every = list(np.ndindex(*shape))
    if limit is None or len(every) <= limit:
        return every
    picked = rng.choice(len(every), size=limit, replace=False)
    return [every[i] for i in sorted(picked)]


@dataclass
class CheckInput:
    """What a gradient check needs of a model, copied (cheaply) so it runs apart from it:
    the batch's rows and weights in float64 for the numeric side, and in the model's dtype
    for the analytic side."""

    numeric: Model
    analytic: Model


def check_input(model: Model, x: Array | None = None, y: Array | None = None) -> CheckInput:
    """The copies a check of ``model`` runs on (see ``gradient_check`` for x, y)."""
    return CheckInput(batch_clone(model, x, y), batch_clone(model, x, y, model.config.dtype))


@dataclass
class CheckReport:
    """The layers' checks, and whether every planned entry was checked before ``stop``."""

    layers: list[LayerCheck]
    complete: bool
    checked: int
    planned: int


def run_check(
    inputs: CheckInput,
    max_entries_per_layer: int | None = None,
    seed: int = 0,
    stop: Callable[[], bool] | None = None,
) -> CheckReport:
    """Analytic vs central-difference gradients per layer, on ``check_input``'s copies.

    The entries are checked interleaved across layers, W and b, in proportion to their
    numbers: when ``stop()`` turns true (asked before each entry: a time budget, a caller
    gone) every layer has been checked on the same share of its entries.
    """
    grads = analytic_gradients(inputs.analytic)
    clone = inputs.numeric
    rng = np.random.default_rng(seed)
    planned: list[tuple[float, int, Literal["W", "b"], Any]] = []
    entries: list[tuple[list[Any], list[Any]]] = []
    for k, (dW, db) in enumerate(grads):
        w_entries = _entries(dW.shape, max_entries_per_layer, rng)
        b_entries = [] if db is None else _entries(db.shape, max_entries_per_layer, rng)
        entries.append((w_entries, b_entries))
        planned += [(i / len(w_entries), k, "W", e) for i, e in enumerate(w_entries)]
        planned += [(i / len(b_entries), k, "b", e) for i, e in enumerate(b_entries)]
    planned.sort(key=lambda item: (item[0], item[1], item[2]))
    inputs_of = layer_inputs(clone)
    numeric: dict[tuple[int, str, Any], float] = {}
    for _, k, which, entry in planned:
        if stop is not None and stop():
            break
        numeric[k, which, entry] = numeric_derivative(clone, k, which, entry, inputs_of[k])
    checks = [
        _layer_check(k, grads[k], w_entries, b_entries, numeric)
        for k, (w_entries, b_entries) in enumerate(entries)
    ]
    return CheckReport(checks, len(numeric) == len(planned), len(numeric), len(planned))


def _layer_check(
    k: int,
    grads: tuple[Array, Array | None],
    w_entries: list[Any],
    b_entries: list[Any],
    numeric: dict[tuple[int, str, Any], float],
) -> LayerCheck:
    dW, db = grads
    w_done = [e for e in w_entries if (k, "W", e) in numeric]
    numeric_W = np.array([numeric[k, "W", e] for e in w_done], dtype=np.float64)
    analytic_W = np.array([dW[e] for e in w_done], dtype=np.float64)
    analytic_b = numeric_b = None
    error_b = None
    diffs = [np.abs(analytic_W - numeric_W).max(initial=0.0)]
    if db is not None:
        b_done = [e for e in b_entries if (k, "b", e) in numeric]
        numeric_b = np.array([numeric[k, "b", e] for e in b_done], dtype=np.float64)
        analytic_b = np.array([db[e] for e in b_done], dtype=np.float64)
        error_b = relative_error(analytic_b, numeric_b)
        diffs.append(np.abs(analytic_b - numeric_b).max(initial=0.0))
    return LayerCheck(
        layer=k,
        relative_error_W=relative_error(analytic_W, numeric_W),
        relative_error_b=error_b,
        max_abs_error=float(max(diffs)),
        checked=len(analytic_W) + (0 if analytic_b is None else len(analytic_b)),
        planned=len(w_entries) + len(b_entries),
        analytic_W=analytic_W,
        numeric_W=numeric_W,
        analytic_b=analytic_b,
        numeric_b=numeric_b,
    )


def gradient_check(
    model: Model,
    x: Array | None = None,
    y: Array | None = None,
    max_entries_per_layer: int | None = None,
    seed: int = 0,
) -> list[LayerCheck]:
    """Analytic vs central-difference gradients per layer, every planned entry checked.

    By default on the last traced batch at the weights it was computed with. The analytic
    side runs the model's own phases on a copy in the model's dtype, on the same rows and
    weights: bit for bit the dW the model reports (float32 stays float32), and still the
    right one when a change since (l2, the loss) made the shown dW stale. With x, y: on those
    rows at the current weights. Large layers can be sampled: at most
    ``max_entries_per_layer`` weights each, drawn by ``seed``.
    """
    return run_check(check_input(model, x, y), max_entries_per_layer, seed).layers


@dataclass
class ChainTerms:
    """∂L/∂W[layer][i, j] (or ∂L/∂b[layer][j] when i is None) as its chain-rule factors.

    Per sample s: upstream ∂L/∂a_sj, local f'(z_sj), input x_si (1 for a bias); their
    products summed over the batch give the data gradient; ``penalty`` is the
    regularisation's share; ``gradient`` = Σ products + penalty equals the reported dW to
    rounding (the matrix product sums the rows in its own order). ``fused``: the layer's
    ∂L/∂z came from the loss in one step, (p − y)/n, shown as the upstream factor.
    """

    layer: int
    i: int | None
    j: int
    activation: str
    upstream: Array  # (n,)
    local: Array  # (n,)
    input: Array  # (n,)
    products: Array  # (n,)
    penalty: float
    gradient: float
    reported: float  # dW[i, j] (or db[0, j]) as the trace holds it
    note: str
    fused: bool
    equal_to_rounding: bool  # |gradient − reported| within the summation's rounding bound
    # On a fused layer, ∂L/∂z_sj taken apart: ∂L/∂a through the activation's own backward
    # (∂L/∂ŷ · f'(z) for a sigmoid). Equal to upstream to rounding unless the output
    # saturates, where it loses the gradient: why the layer is fused.
    separate: Array | None = None


def chain_terms(model: Model, layer: int, i: int | None, j: int) -> ChainTerms:
    """The factors of the traced batch's ∂L/∂W[layer][i, j]; i=None asks for the bias b[j]."""
    if not 0 <= layer < len(model.layers):
        raise ConfigError("layer", f"must be 0…{len(model.layers) - 1}, got {layer}")
    trace = model.traces[layer]
    if trace.delta is None or trace.dW is None or trace.input is None:
        raise ConfigError("layer", f"layer {layer} has no backward pass yet: step further")
    n_in, n_out = trace.dW.shape
    if not 0 <= j < n_out:
        raise ConfigError("j", f"must be 0…{n_out - 1}, got {j}")
    if i is not None and not 0 <= i < n_in:
        raise ConfigError("i", f"must be 0…{n_in - 1}, got {i}")
    activation = model.layers[layer].activation
    assert trace.z is not None and trace.output is not None and trace.output_error is not None
    note = "∂L/∂W = ∂L/∂a · ∂a/∂z · ∂z/∂W, summed over the batch"
    fused = model.is_fused(layer)
    local: Array
    separate: Array | None = None
    if fused:
        upstream = trace.delta[:, j]
        local = np.ones(len(trace.delta), dtype=trace.delta.dtype)
        with np.errstate(all="ignore"):
            if activation.name == "sigmoid":
                # σ′(z) = σ(z)·σ(−z): a(1 − a) rounds 1 − a to 0 once σ(z) rounds to 1.
                z = trace.z[:, j]
                separate = trace.output_error[:, j] * (sigmoid(z) * sigmoid(-z))
            else:
                separate = activation.backward(trace.output_error, trace.z, trace.output)[:, j]
        note = (
            f"{activation.name} and {model.loss_fn.name} are fused: the loss hands back "
            "∂L/∂z = (p − y)/n itself, exact at any margin, so upstream is ∂L/∂z and the local "
            "factor is 1. Taken apart, ∂L/∂ŷ (exact, from z) times f′(z) gives the same number "
            "to rounding, except where ∂L/∂ŷ passes the dtype's range (1/p beyond ~1.8e308 in "
            "float64): there it is infinite, shown null, and only the fused ∂L/∂z is exact"
        )
    elif activation.prime is None:
        # softmax mixes its units: ∂L/∂z_j takes every ∂L/∂a_k, so it is the upstream factor.
        upstream = trace.delta[:, j]
        local = np.ones(len(trace.delta), dtype=trace.delta.dtype)
        note = "softmax couples its outputs: upstream is ∂L/∂z itself (local factor 1)"
    else:
        upstream = trace.output_error[:, j]
        local = activation.local_derivative(trace.z, trace.output)[:, j]
    x_factor = np.ones(len(upstream)) if i is None else trace.input[:, i]
    products = upstream * local * x_factor
    penalty = 0.0
    if i is not None and trace.dW_penalty is not None:
        penalty = float(trace.dW_penalty[i, j])
    if i is None:
        if trace.db is None:
            raise ConfigError("i", "this network has no biases; give i for a weight")
        reported = float(trace.db[0, j])
    else:
        reported = float(trace.dW[i, j])
    gradient = float(products.sum()) + penalty
    return ChainTerms(
        layer=layer,
        i=i,
        j=j,
        activation=activation.name,
        upstream=upstream,
        local=local,
        input=x_factor,
        products=products,
        penalty=penalty,
        gradient=gradient,
        reported=reported,
        note=note,
        fused=fused,
        equal_to_rounding=equal_to_rounding(gradient, reported, products, penalty, trace.dW.dtype),
        separate=separate,
    )


def equal_to_rounding(
    gradient: float, reported: float, products: Array, penalty: float, dtype: Any
) -> bool:
    """Do Σ products + penalty and the reported dW differ by no more than rounding?

    The matrix product sums the same n products in another order: each order is within
    n·ε·Σ|products| of the exact sum (ε of the model's dtype), so the two within twice that.
    """
    eps = float(np.finfo(dtype).eps)
    bound = 2 * (len(products) + 1) * eps * (float(np.abs(products).sum()) + abs(penalty))
    return abs(gradient - reported) <= bound


def check_one(model: Model, layer: int, i: int | None, j: int) -> tuple[float, float]:
    """The numeric ∂L/∂W[layer][i, j] (bias when i is None) of the traced batch, and its
    relative error against the reported gradient."""
    terms = chain_terms(model, layer, i, j)
    clone = batch_clone(model)
    numeric = (
        numeric_derivative(clone, layer, "b", (0, j))
        if i is None
        else numeric_derivative(clone, layer, "W", (i, j))
    )
    error = abs(terms.reported - numeric) / max(abs(terms.reported) + abs(numeric), TINY)
    return numeric, error
