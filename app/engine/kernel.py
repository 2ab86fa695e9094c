"""The four phases of a batch step, written once, over a stack of alike models.

    forward k:   z = x·W + b,  a = f(z)                          (lesson 003's FCLayer, then
                                                                  its ActivationLayer)
    loss:        E(y, ŷ) and ∂E/∂ŷ, ŷ = a of the last layer       (a cross-entropy: ∂E/∂z too)
    backward k:  δ = ∂E/∂z = ∂E/∂a ⊙ f'(z);  ∂E/∂W = xᵀ·δ (+ ∂P/∂W);  ∂E/∂b = Σ δ;
                 ∂E/∂x = δ·Wᵀ, the ∂E/∂a of layer k − 1
    update:      θ ← θ − α·∇θ, or with momentum v ← μv − α·∇θ, θ ← θ + v; with the tfp
                 penalty rule, TF Playground's penalty step after it (``penalties.py``)

Shapes, as the lessons write them, for one model: x (n, n_in), W (n_in, n_out), b (1, n_out),
z / a / δ (n, n_out), y and ŷ (n, k), θ and ∇θ (P,), E a number. A stack of K alike models
puts its axis first — x (K, n, n_in), W (K, n_in, n_out), θ (K, P), E (K,) — and every formula
holds slice by slice (``dense.py``'s products, reductions over a model's own axes, the rest
elementwise), so a model in a stack gets the very numbers it gets alone. One model is a stack
of one: its arrays are the stack's without the stack's axis, as ``vmap`` runs a function
written for one.

Who calls what: ``Model.step_phase`` runs one phase at a time (``forward``, ``loss``,
``backward``, ``update``); ``Model.step_batch`` a new batch in one go (``run_forward``,
``run_backward``, ``update``: the same functions in the same order); ``together.Stack.step``
the same three on a stack. They differ only in grain and in who keeps the counters.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activations import Activation
from .dense import Array, fc_bias_error, fc_forward, fc_input_error, fc_weights_error
from .fast import Flat, Params
from .losses import Loss, fused_delta
from .penalties import Mask, penalty_gradient, tfp_penalty_step

UPDATE_OVERFLOW = "the update would make the weights non-finite"


@dataclass
class LayerTrace:
    """What one layer saw in the current batch. References, never copies; None until computed.

    input         x = a of the previous layer (the data for layer 0)     (n, n_in)
    z             pre-activation x·W + b                                 (n, n_out)
    output        a = f(z)                                               (n, n_out)
    output_error  ∂E/∂a, the upstream gradient handed back to this layer  (n, n_out)
    loss_delta    ∂E/∂z = (p − y)/n from the loss phase, on the output layer of a fused
                  loss (a cross-entropy); the backward phase takes it as δ   (n, n_out)
    delta         ∂E/∂z                                                  (n, n_out)
    dW            ∂E/∂W = xᵀ·δ (+ the regularisation term)               (n_in, n_out)
    dW_data       xᵀ·δ alone, the data's part of dW: the tfp rule's first step takes it
                  (None with the gradient rule's penalty: dW is taken whole) (n_in, n_out)
    db            ∂E/∂b = Σ_rows δ                                       (1, n_out)
    dW_penalty    the regularisation part of dW, l2·W + l1·sign(W), when any  (n_in, n_out)
    W, b          the parameters this batch was computed with (the update writes new ones
                  elsewhere, so after it these still hold the weights dW belongs to)

    A stack's trace holds the same fields with the stack's axis first: (K, n, n_in), ….
    """

    input: Array | None = None
    z: Array | None = None
    output: Array | None = None
    output_error: Array | None = None
    loss_delta: Array | None = None
    delta: Array | None = None
    dW: Array | None = None
    db: Array | None = None
    dW_data: Array | None = None
    dW_penalty: Array | None = None
    W: Array | None = None
    b: Array | None = None

    def clear_backward(self) -> None:
        self.output_error = self.loss_delta = self.delta = None
        self.dW = self.db = self.dW_data = self.dW_penalty = None


@dataclass(frozen=True)
class Rates:
    """What the backward pass and the update take besides the arrays.

    learning_rate α and momentum μ: numbers for one model, columns (K, 1) for a stack (each
    model its own); ``momentum_on``: μ ≠ 0 (alike in a stack). l1, l2: the penalty, numbers,
    or for a stack whose models differ columns (K, 1, 1); ``tfp``: its rule is TF
    Playground's (alike in a stack); l1_step, l2_step: α·l1 and α·l2, numbers or columns
    (K, 1, 1). ``penalised``: some model has a penalty; ``penalised_rows``: which, (K, 1, 1),
    when only some of a stack's have one (True: every model alike).
    """

    learning_rate: float | Array
    momentum: float | Array
    momentum_on: bool
    l1: float | Array
    l2: float | Array
    tfp: bool
    l1_step: float | Array
    l2_step: float | Array
    penalised_rows: bool | Mask = True
    penalised: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "penalised", bool(np.any(self.l1) or np.any(self.l2)))


def loss_and_gradients(
    loss_fn: Loss, y: Array, z: Array, a: Array
) -> tuple[Array, Array, Array | None]:
    """The loss phase's numbers from the output layer's z and a = ŷ and the targets y (…, n, k).

    Returns E per model, ∂E/∂ŷ and — for a fused loss (a cross-entropy) — ∂E/∂z = (p − y)/n,
    else None. A fused loss takes E and ∂E/∂ŷ from z, exact at any margin (∂E/∂ŷ is ±inf where
    its true value passes the dtype's range).
    """
    if loss_fn.with_prime is not None:
        value, prime = loss_fn.with_prime(y, a)
        return value, prime, None
    assert loss_fn.from_logits is not None and loss_fn.prime_from_logits is not None
    return loss_fn.from_logits(y, z), loss_fn.prime_from_logits(y, z), fused_delta(y, a)


# ----- the four phases ------------------------------------------------------------------------


def forward(
    trace: LayerTrace, x: Array, W: Array, b: Array | None, activation: Activation
) -> Array:
    """forward k: z = x·W + b, a = f(z), kept in the trace with x, W and b; returns a."""
    trace.input, trace.W, trace.b = x, W, b
    z = trace.z = fc_forward(x, W, b)
    a = trace.output = activation.f(z)
    return a


def loss(loss_fn: Loss, y: Array, trace: LayerTrace) -> Array:
    """The loss on the output layer's trace: E per model; ∂E/∂ŷ (and a fused loss's δ) kept
    in the trace as its output error."""
    assert trace.z is not None and trace.output is not None
    E, trace.output_error, trace.loss_delta = loss_and_gradients(loss_fn, y, trace.z, trace.output)
    return E


def backward(
    trace: LayerTrace,
    activation: Activation,
    W: Array,
    grads: tuple[Array, Array | None],
    rates: Rates,
    below: LayerTrace | None,
) -> None:
    """backward k: δ = ∂E/∂a ⊙ f'(z) (or the loss's fused δ); ∂E/∂W = xᵀ·δ and ∂E/∂b = Σ δ
    written into ``grads`` (the layer's views of ∇θ); ∂E/∂x = δ·Wᵀ handed to ``below``.

    With a penalty, ∂P/∂W joins: into ∇θ under the gradient rule, beside it under the tfp rule
    (∇θ keeps xᵀ·δ, ``dW_data``, for the data's step; the trace's dW is xᵀ·δ + ∂P/∂W).
    """
    x, z, a, error = trace.input, trace.z, trace.output, trace.output_error
    assert x is not None and z is not None and a is not None and error is not None
    if trace.loss_delta is not None:  # a fused loss gave the output layer's δ itself
        delta = trace.delta = trace.loss_delta
    else:
        delta = trace.delta = activation.backward(error, z, a)
    dW_out, db_out = grads
    dW = fc_weights_error(x, delta, dW_out)
    if not rates.penalised:
        trace.dW = trace.dW_data = dW
        trace.dW_penalty = None
    else:
        penalty = trace.dW_penalty = penalty_gradient(W, rates.l1, rates.l2)
        assert penalty is not None
        if rates.tfp:
            trace.dW_data, trace.dW = dW, dW + penalty
        else:  # (a stack's models without a penalty keep xᵀ·δ: their own step adds none)
            where = rates.penalised_rows
            trace.dW, trace.dW_data = np.add(dW, penalty, dW, where=where), None
    trace.db = None if db_out is None else fc_bias_error(delta, db_out)
    if below is not None:  # layer 0's input error would be ∂E/∂data: no one reads it
        below.output_error = fc_input_error(W, delta)


def update(params: Params, rates: Rates) -> tuple[Flat, list[Mask | None], Array]:
    """θ' = θ − α·∇θ (or v' = μv − α·∇θ, θ' = θ + v'), into the Flat ``params.next_flat``
    gives; with the tfp rule, the penalty's step on each W of θ' (``tfp_penalty_step``).

    Returns θ' (not yet taken: ``params.commit`` does that), the dead weights after it, and
    whether each model's θ' is finite (a bool, or (K,) for a stack). No NaN or ±inf may
    enter: a sum would not do (one of huge finite weights overflows or not by its order).
    """
    cur, grad = params.cur, params.layout.grad
    lr, mu = rates.learning_rate, rates.momentum
    new = params.next_flat(rates.momentum_on)
    if not rates.momentum_on:
        np.subtract(cur.theta, lr * grad, new.theta)
    else:
        assert new.velocity is not None
        if cur.velocity is None:
            np.multiply(-lr, grad, new.velocity)
        else:
            np.subtract(mu * cur.velocity, lr * grad, new.velocity)
        np.add(cur.theta, new.velocity, new.theta)
    dead = params.dead
    if rates.tfp and (rates.penalised or any(mask is not None for mask in dead)):
        dead = list(dead)
        for k, (old, stepped) in enumerate(zip(cur.views, new.views, strict=True)):
            W, dead[k] = tfp_penalty_step(old.W, stepped.W, dead[k], rates.l1_step, rates.l2_step)
            stepped.W[...] = W
    finite = np.logical_and.reduce(np.isfinite(new.theta), -1)
    return new, dead, finite


# ----- a batch in one go ----------------------------------------------------------------------


def run_forward(
    traces: list[LayerTrace], activations: list[Activation], cur: Flat, loss_fn: Loss, y: Array
) -> Array:
    """forward 0 … L−1 on ``traces[0].input``, then the loss: E per model."""
    a = traces[0].input
    assert a is not None
    for trace, views, activation in zip(traces, cur.views, activations, strict=True):
        a = forward(trace, a, views.W, views.b, activation)
    return loss(loss_fn, y, traces[-1])


def run_backward(
    traces: list[LayerTrace], activations: list[Activation], params: Params, rates: Rates
) -> None:
    """backward L−1 … 0, each layer's gradients into ∇θ."""
    views, grads = params.cur.views, params.layout.grads
    for k in range(len(traces) - 1, -1, -1):
        below = traces[k - 1] if k > 0 else None
        backward(traces[k], activations[k], views[k].W, grads[k], rates, below)


def keep_loss_trace(traces: list[LayerTrace]) -> None:
    """After a loss that diverged, leave the trace as the walk does: this batch's forward
    pass and ∂E/∂ŷ, nothing of a backward pass."""
    last = traces[-1]
    output_error, loss_delta = last.output_error, last.loss_delta
    for trace in traces:
        trace.clear_backward()
    last.output_error, last.loss_delta = output_error, loss_delta
