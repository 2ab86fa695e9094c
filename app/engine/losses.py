"""Loss functions, each with its derivative ∂E/∂y_pred.

Losses take ``(y_true, y_pred)`` as lesson 003 does, both of shape (n, outputs), and return
a float. A ``*_prime`` returns ∂E/∂y_pred with y_pred's shape.

- MSE (lesson 003): E = (1/N) Σ (y* − y)², N the number of elements; ∂E/∂Y = (2/N)(Y − Y*).
- Square (TF Playground's "squared error"): E = ½ · mean of (o − t)²; ∂E/∂o = (o − t)/N.
- SSE (lesson 000): E = Σ (y − ŷ)²; ∂E/∂ŷ = 2(ŷ − y). Lesson 000 adds the *adjustment*
  2(y − ŷ)·…, which is −∂E/∂W: the same step as W ← W − 1·∂E/∂W.
- Binary cross-entropy on sigmoid outputs, and softmax cross-entropy on softmax outputs,
  both averaged over the n samples.

Scale conventions (what each loss divides by): mse by batch rows × outputs, the
cross-entropies by batch rows, sse by nothing. ``Loss.convention`` says it in words; the page
and the API show that text.

The cross-entropies are *fused* with their output activation in the general model: the loss
is taken from the logits z with log-sum-exp, and ∂E/∂z = (p − y)/n in one step. Taken apart
(∂E/∂p on a clipped p, times the activation's derivative) the product loses the gradient when
the output is confidently wrong — σ'(40) underflows — while (p − y)/n stays exact at any
margin. The separate factors (``f``, ``prime``) stay for lesson 003's classes; the model's
∂E/∂ŷ on a fused output (what the trace shows as upstream) is ``prime_from_logits``, taken from
z as well: 1/p = e^(−log σ(z)) and 1/(1 − p) = e^(−log σ(−z)) (softmax: 1/p_k = e^(lse(z) − z_k)),
exact at any margin until it passes the dtype's largest number (1/p > 1.8e308 in float64:
|z| beyond about 709), where it is ±inf — JSON's null — and never a clipped stand-in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dense import Array

LossFn = Callable[[Array, Array], float]
PerModelFn = Callable[[Array, Array], Array]  # E of each model: (n, k) → (), (K, n, k) → (K,)
LossPrimeFn = Callable[[Array, Array], Array]

PER_MODEL = (-2, -1)  # the axes of one model's batch, (n, k): E sums over them

# Probabilities are clipped this far from 0 and 1 so log(p) and 1/p stay finite.
PROBABILITY_EPSILON = 1e-12


def mse(y_true: Array, y_pred: Array) -> float:
    """Mean squared error (lesson 003): mean over every element of (y_true − y_pred)².

    The lesson writes ``np.mean(np.power(y_true - y_pred, 2))``; this is the same sum and
    division, bit for bit (tests/engine say so), without np.mean's Python wrapper, which
    costs more than the whole sum on a batch of ten.
    """
    squares = np.square(y_true - y_pred)
    return float(np.add.reduce(squares, axis=None) / squares.size)


def mse_prime(y_true: Array, y_pred: Array) -> Array:
    """∂MSE/∂y_pred = 2 (y_pred − y_true) / N (lesson 003)."""
    return 2.0 * (y_pred - y_true) / y_true.size


def mse_with_prime(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """``mse`` and ``mse_prime`` from one difference r = ŷ − y (squaring −r gives r²'s bits),
    for one model's batch (n, k) or each of a stack's (K, n, k): E () or (K,)."""
    r = y_pred - y_true
    size = r.shape[-2] * r.shape[-1]
    return np.add.reduce(np.square(r), PER_MODEL) / size, 2.0 * r / size


def _sum_per_model(values: Array) -> Array:
    """Σ over a batch's rows and outputs: (n, k) → (), or (K, n, k) → (K,) for a stack."""
    total: Array = np.add.reduce(values, PER_MODEL)
    return total


def sse(y_true: Array, y_pred: Array) -> float:
    """Sum of squared errors (lesson 000): Σ (y − ŷ)²."""
    return float(np.sum(np.power(y_true - y_pred, 2)))


def sse_prime(y_true: Array, y_pred: Array) -> Array:
    """∂SSE/∂ŷ = 2 (ŷ − y); lesson 000's adjustment carries the opposite sign, 2 (y − ŷ)."""
    return 2.0 * (y_pred - y_true)


def sse_with_prime(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """``sse`` and ``sse_prime`` from one difference r = ŷ − y, per model as ``mse_with_prime``."""
    r = y_pred - y_true
    return _sum_per_model(np.power(r, 2)), 2.0 * r


def square(y_true: Array, y_pred: Array) -> float:
    """TF Playground's squared error: ½ · mean over every element of (y_pred − y_true)².

    As ``mse``: np.mean's arithmetic without its wrapper, bit for bit (tests/engine).
    """
    squares = np.square(y_pred - y_true)
    return float(0.5 * (np.add.reduce(squares, axis=None) / squares.size))


def square_prime(y_true: Array, y_pred: Array) -> Array:
    """∂E/∂y_pred = (y_pred − y_true) / N: TF Playground's ∂E/∂o = o − t, averaged over the
    batch as its updateWeights does."""
    return (y_pred - y_true) / y_true.size


def square_with_prime(y_true: Array, y_pred: Array) -> tuple[Array, Array]:
    """``square`` and ``square_prime`` from one difference r = ŷ − y, per model as
    ``mse_with_prime``."""
    r = y_pred - y_true
    size = r.shape[-2] * r.shape[-1]
    return 0.5 * (np.add.reduce(np.square(r), PER_MODEL) / size), r / size


def _clip_probability(p: Array) -> Array:
    # In float32, 1 − 1e-12 rounds to 1.0: take at least the dtype's own epsilon.
    epsilon = max(PROBABILITY_EPSILON, float(np.finfo(p.dtype).eps))
    return np.clip(p, epsilon, 1.0 - epsilon)


def binary_cross_entropy(y_true: Array, y_pred: Array) -> float:
    """−(1/n) Σ [y log p + (1 − y) log(1 − p)], p = y_pred in (0, 1), n samples."""
    p = _clip_probability(y_pred)
    n = y_true.shape[0]
    return float(-np.sum(y_true * np.log(p) + (1.0 - y_true) * np.log(1.0 - p)) / n)


def binary_cross_entropy_prime(y_true: Array, y_pred: Array) -> Array:
    """∂BCE/∂p = (1/n) (p − y) / (p (1 − p))."""
    p = _clip_probability(y_pred)
    n = y_true.shape[0]
    gradient: Array = (p - y_true) / (p * (1.0 - p)) / n
    return gradient


def softmax_cross_entropy(y_true: Array, y_pred: Array) -> float:
    """−(1/n) Σ_samples Σ_classes y log p, y one-hot and p = softmax output, both (n, k)."""
    p = _clip_probability(y_pred)
    n = y_true.shape[0]
    return float(-np.sum(y_true * np.log(p)) / n)


def binary_cross_entropy_from_logits(y_true: Array, z: Array) -> Array:
    """BCE of p = σ(z) from z itself: (1/n) Σ [max(z, 0) − z·y + log(1 + e^(−|z|))].

    The same value as ``binary_cross_entropy(y, σ(z))`` without clipping: exact at any |z|.
    Per model: z (n, k) → E (), or a stack's (K, n, k) → (K,).
    """
    n = y_true.shape[-2]
    per_element = np.maximum(z, 0.0) - z * y_true + np.log1p(np.exp(-np.abs(z)))
    loss: Array = _sum_per_model(per_element) / n
    return loss


def softmax_cross_entropy_from_logits(y_true: Array, z: Array) -> Array:
    """CE of p = softmax(z) from z itself: −(1/n) Σ y·(z − logsumexp(z)), row by row.

    log p = z − logsumexp(z), with the row max taken out first: exact at any margin.
    Per model, as ``binary_cross_entropy_from_logits``.
    """
    n = y_true.shape[-2]
    largest = z.max(axis=-1, keepdims=True)
    log_sum_exp = largest + np.log(np.sum(np.exp(z - largest), axis=-1, keepdims=True))
    loss: Array = -_sum_per_model(y_true * (z - log_sum_exp)) / n
    return loss


def softplus(t: Array) -> Array:
    """log(1 + e^t) = −log σ(−t), without overflow: max(t, 0) + log(1 + e^(−|t|))."""
    result: Array = np.maximum(t, 0.0) + np.log1p(np.exp(-np.abs(t)))
    return result


def _weighted(weight: Array, factor: Array) -> Array:
    """weight · factor, 0 where the weight is 0 even if the factor overflowed (0 · inf is NaN)."""
    return np.multiply(weight, factor, out=np.zeros_like(factor), where=weight != 0)


def binary_cross_entropy_prime_from_logits(y_true: Array, z: Array) -> Array:
    """∂BCE/∂p at p = σ(z), from z: (1/n) [−y / p + (1 − y) / (1 − p)].

    1/p = 1/σ(z) = e^softplus(−z) and 1/(1 − p) = 1/σ(−z) = e^softplus(z): no clipping, so
    exact at any margin; ±inf where the true value passes the dtype's range.
    """
    with np.errstate(over="ignore"):
        inverse_p = np.exp(softplus(-z))
        inverse_q = np.exp(softplus(z))
    gradient: Array = (
        _weighted(1.0 - y_true, inverse_q) - _weighted(y_true, inverse_p)
    ) / y_true.shape[-2]
    return gradient


def softmax_cross_entropy_prime_from_logits(y_true: Array, z: Array) -> Array:
    """∂CE/∂p_k at p = softmax(z), from z: −(1/n) y_k / p_k, 1/p_k = e^(logsumexp(z) − z_k).

    No clipping: exact at any margin; −inf where the true value passes the dtype's range.
    """
    largest = z.max(axis=-1, keepdims=True)
    log_sum_exp = largest + np.log(np.sum(np.exp(z - largest), axis=-1, keepdims=True))
    with np.errstate(over="ignore"):
        inverse_p = np.exp(log_sum_exp - z)
    gradient: Array = -_weighted(y_true, inverse_p) / y_true.shape[-2]
    return gradient


def fused_delta(y_true: Array, p: Array) -> Array:
    """∂E/∂z of sigmoid + binary CE, or of softmax + CE: (p − y)/n, p (n, k) the output
    (or a stack's, (K, n, k))."""
    delta: Array = (p - y_true) / y_true.shape[-2]
    return delta


def softmax_cross_entropy_prime(y_true: Array, y_pred: Array) -> Array:
    """∂CE/∂p = −(1/n) y / p; through softmax's backward this becomes (p − y) / n."""
    p = _clip_probability(y_pred)
    n = y_true.shape[0]
    gradient: Array = -y_true / p / n
    return gradient


@dataclass(frozen=True)
class Loss:
    """A loss: its name, E(y_true, y_pred), ∂E/∂y_pred, and the output activations it suits.

    ``f`` and ``prime`` are lesson 003's pair for one model (E a float). The training kernel
    takes E per model, for one model's batch (n, k) or each of a stack's (K, n, k): a squared
    error with ``with_prime`` (E and ∂E/∂ŷ from one difference), a loss ``fused`` with its
    output activation (the cross-entropies) with ``from_logits``, E(y_true, z) from the
    logits, so that the kernel takes ∂E/∂z = (p − y)/n at once (``fused_delta``), and
    ``prime_from_logits``, ∂E/∂ŷ from the logits too (exact where ``prime`` would clip p).
    ``convention`` says what the loss divides by.
    """

    name: str
    f: LossFn
    prime: LossPrimeFn
    convention: str
    plain: str  # what it measures, in plain words (the page's first line; the convention follows)
    # Cross-entropies need probabilities: only these output activations make them meaningful.
    output_activations: frozenset[str] | None = None
    from_logits: PerModelFn | None = None
    # E per model and ∂E/∂ŷ from one pass (the squared errors: one difference); not fused.
    with_prime: Callable[[Array, Array], tuple[Array, Array]] | None = None
    prime_from_logits: LossPrimeFn | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Loss:
        return self  # immutable (a name and functions): a copy of a model shares it

    @property
    def fused(self) -> bool:
        return self.from_logits is not None


LOSSES: dict[str, Loss] = {
    "mse": Loss(
        "mse",
        mse,
        mse_prime,
        "mean over batch rows × outputs: Σ(ŷ − y)² ÷ (n·k) (lesson 003)",
        "the mean squared error",
        with_prime=mse_with_prime,
    ),
    "sse": Loss(
        "sse",
        sse,
        sse_prime,
        "sum, no division: Σ(ŷ − y)² (lesson 000); ‖∂L/∂W‖ grows with the batch",
        "the squared errors, summed",
        with_prime=sse_with_prime,
    ),
    "square": Loss(
        "square",
        square,
        square_prime,
        "TF Playground's: ½ · mean over batch rows × outputs: Σ(ŷ − y)² ÷ (2·n·k)",
        "half the mean squared error",
        with_prime=square_with_prime,
    ),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy",
        binary_cross_entropy,
        binary_cross_entropy_prime,
        "mean over batch rows: −Σ[y·log p + (1 − y)·log(1 − p)] ÷ n",
        "the cross-entropy of a yes/no prediction",
        frozenset({"sigmoid"}),
        binary_cross_entropy_from_logits,
        prime_from_logits=binary_cross_entropy_prime_from_logits,
    ),
    "softmax_cross_entropy": Loss(
        "softmax_cross_entropy",
        softmax_cross_entropy,
        softmax_cross_entropy_prime,
        "mean over batch rows: −Σ y·log p ÷ n",
        "the cross-entropy of a class prediction",
        frozenset({"softmax"}),
        softmax_cross_entropy_from_logits,
        prime_from_logits=softmax_cross_entropy_prime_from_logits,
    ),
}


def get_loss(name: str) -> Loss:
    """The loss called ``name``; a ValueError lists the known ones otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        known = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; choose one of: {known}") from None
