"""Loss functions, each with its derivative ∂E/∂y_pred.

Losses take ``(y_true, y_pred)`` as lesson 003 does, both of shape (n, outputs), and return
a float. A ``*_prime`` returns ∂E/∂y_pred with y_pred's shape.

- MSE (lesson 003): E = (1/N) Σ (y* − y)², N the number of elements; ∂E/∂Y = (2/N)(Y − Y*).
- Square (TF Playground's "squared error"): E = ½ · mean of (o − t)²; ∂E/∂o = (o − t)/N.
- SSE (lesson 000): E = Σ (y − ŷ)²; ∂E/∂ŷ = 2(ŷ − y). Lesson 000 adds the *adjustment*
  2(y − ŷ)·…, which is −∂E/∂W: the same step as W ← W − 1·∂E/∂W.
- Binary cross-entropy on sigmoid outputs, and softmax cross-entropy on softmax outputs,
  both averaged over the n samples.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]
LossFn = Callable[[Array, Array], float]
LossPrimeFn = Callable[[Array, Array], Array]

# Probabilities are clipped this far from 0 and 1 so log(p) and 1/p stay finite.
PROBABILITY_EPSILON = 1e-12


def mse(y_true: Array, y_pred: Array) -> float:
    """Mean squared error (lesson 003): mean over every element of (y_true − y_pred)²."""
    return float(np.mean(np.power(y_true - y_pred, 2)))


def mse_prime(y_true: Array, y_pred: Array) -> Array:
    """∂MSE/∂y_pred = 2 (y_pred − y_true) / N (lesson 003)."""
    return 2.0 * (y_pred - y_true) / y_true.size


def sse(y_true: Array, y_pred: Array) -> float:
    """Sum of squared errors (lesson 000): Σ (y − ŷ)²."""
    return float(np.sum(np.power(y_true - y_pred, 2)))


def sse_prime(y_true: Array, y_pred: Array) -> Array:
    """∂SSE/∂ŷ = 2 (ŷ − y); lesson 000's adjustment carries the opposite sign, 2 (y − ŷ)."""
    return 2.0 * (y_pred - y_true)


def square(y_true: Array, y_pred: Array) -> float:
    """TF Playground's squared error: ½ · mean over every element of (y_pred − y_true)²."""
    return float(0.5 * np.mean(np.power(y_pred - y_true, 2)))


def square_prime(y_true: Array, y_pred: Array) -> Array:
    """∂E/∂y_pred = (y_pred − y_true) / N: TF Playground's ∂E/∂o = o − t, averaged over the
    batch as its updateWeights does."""
    return (y_pred - y_true) / y_true.size


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


def softmax_cross_entropy_prime(y_true: Array, y_pred: Array) -> Array:
    """∂CE/∂p = −(1/n) y / p; through softmax's backward this becomes (p − y) / n."""
    p = _clip_probability(y_pred)
    n = y_true.shape[0]
    gradient: Array = -y_true / p / n
    return gradient


@dataclass(frozen=True)
class Loss:
    """A loss: its name, E(y_true, y_pred), ∂E/∂y_pred, and the output activations it suits."""

    name: str
    f: LossFn
    prime: LossPrimeFn
    # Cross-entropies need probabilities: only these output activations make them meaningful.
    output_activations: frozenset[str] | None = None


LOSSES: dict[str, Loss] = {
    "mse": Loss("mse", mse, mse_prime),
    "sse": Loss("sse", sse, sse_prime),
    "square": Loss("square", square, square_prime),
    "binary_cross_entropy": Loss(
        "binary_cross_entropy",
        binary_cross_entropy,
        binary_cross_entropy_prime,
        frozenset({"sigmoid"}),
    ),
    "softmax_cross_entropy": Loss(
        "softmax_cross_entropy",
        softmax_cross_entropy,
        softmax_cross_entropy_prime,
        frozenset({"softmax"}),
    ),
}


def get_loss(name: str) -> Loss:
    """The loss called ``name``; a ValueError lists the known ones otherwise."""
    try:
        return LOSSES[name]
    except KeyError:
        known = ", ".join(sorted(LOSSES))
        raise ValueError(f"unknown loss {name!r}; choose one of: {known}") from None


def loss_from_pair(f: LossFn, f_prime: LossPrimeFn) -> Loss:
    """Wrap a lesson-style pair (loss, loss_prime) as a Loss."""
    for known in LOSSES.values():
        if known.f is f and known.prime is f_prime:
            return known
    return Loss(getattr(f, "__name__", "custom"), f, f_prime)
