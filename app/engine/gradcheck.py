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

import copy
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np

from .activations import sigmoid
from .dense import Array
from .model import DTYPES, ConfigError, Model

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
    """A full-batch copy in ``dtype`` holding the weights and rows of ``model``'s traced batch.

    With x and y given, those rows and the model's current weights instead.
    """
    clone = copy.deepcopy(model)
    if x is None or y is None:
        trace = model.traces[0]
        if trace.W is None or not len(model.batch_indices):
            raise ConfigError("batch", "no batch has been traced yet: step first")
        x, y = model.x_train[model.batch_indices], model.y_train[model.batch_indices]
        for layer, layer_trace in zip(clone.layers, model.traces, strict=True):
            assert layer_trace.W is not None
            layer.W, layer.b = layer_trace.W, layer_trace.b
    clone.config = replace(clone.config, dtype=dtype, batch_size=None, shuffle=False)
    clone.dtype = DTYPES[dtype]
    for layer in clone.layers:
        layer.W = layer.W.astype(clone.dtype)
        layer.b = None if layer.b is None else layer.b.astype(clone.dtype)
    clone.set_data(np.asarray(x, clone.dtype), np.asarray(y, clone.dtype))
    return clone


def analytic_gradients(clone: Model) -> list[tuple[Array, Array | None]]:
    """Run the clone's forward, loss and backward phases (not the update); read dW, db."""
    for _ in range(len(clone.phases) - 1):
        clone.step_phase()
    grads = []
    for trace in clone.traces:
        assert trace.dW is not None
        grads.append((trace.dW, trace.db))
    return grads


def objective(clone: Model) -> float:
    """The full-batch data loss plus the regularisation penalty, at the clone's weights."""
    return clone.evaluate(clone.x_train, clone.y_train) + clone.objective_penalty()


def numeric_derivative(clone: Model, layer: int, which: Literal["W", "b"], index: Any) -> float:
    """(L(p + h) − L(p − h)) / 2h for one entry of layer ``layer``'s W or b."""
    param = clone.layers[layer].W if which == "W" else clone.layers[layer].b
    assert param is not None
    original = param[index]
    param[index] = original + STEP
    plus = objective(clone)
    param[index] = original - STEP
    minus = objective(clone)
    param[index] = original
    return (plus - minus) / (2 * STEP)


def _entries(shape: tuple[int, ...], limit: int | None, rng: np.random.Generator) -> list[Any]:
    every = list(np.ndindex(*shape))
    if limit is None or len(every) <= limit:
        return every
    picked = rng.choice(len(every), size=limit, replace=False)
    return [every[i] for i in sorted(picked)]


def gradient_check(
    model: Model,
    x: Array | None = None,
    y: Array | None = None,
    max_entries_per_layer: int | None = None,
    seed: int = 0,
) -> list[LayerCheck]:
    """Analytic vs central-difference gradients per layer.

    By default on the last traced batch at the weights it was computed with. The analytic
    side runs the model's own phases on a copy in the model's dtype, on the same rows and
    weights: bit for bit the dW the model reports (float32 stays float32), and still the
    right one when a change since (l2, the loss) made the shown dW stale. With x, y: on those
    rows at the current weights. Large layers can be sampled: at most
    ``max_entries_per_layer`` weights each, drawn by ``seed``.
    """
    clone = batch_clone(model, x, y)
    grads = analytic_gradients(batch_clone(model, x, y, dtype=model.config.dtype))
    rng = np.random.default_rng(seed)
    checks = []
    for k, (dW, db) in enumerate(grads):
        w_entries = _entries(dW.shape, max_entries_per_layer, rng)
        numeric_W = np.array([numeric_derivative(clone, k, "W", e) for e in w_entries])
        analytic_W = np.array([dW[e] for e in w_entries], dtype=np.float64)
        analytic_b = numeric_b = None
        error_b = None
        if db is not None:
            b_entries = _entries(db.shape, max_entries_per_layer, rng)
            numeric_b = np.array([numeric_derivative(clone, k, "b", e) for e in b_entries])
            analytic_b = np.array([db[e] for e in b_entries], dtype=np.float64)
            error_b = relative_error(analytic_b, numeric_b)
        diffs = [np.abs(analytic_W - numeric_W).max(initial=0.0)]
        if analytic_b is not None and numeric_b is not None:
            diffs.append(np.abs(analytic_b - numeric_b).max(initial=0.0))
        checks.append(
            LayerCheck(
                layer=k,
                relative_error_W=relative_error(analytic_W, numeric_W),
                relative_error_b=error_b,
                max_abs_error=float(max(diffs)),
                checked=len(w_entries) + (0 if analytic_b is None else len(analytic_b)),
                analytic_W=analytic_W,
                numeric_W=numeric_W,
                analytic_b=analytic_b,
                numeric_b=numeric_b,
            )
        )
    return checks


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
