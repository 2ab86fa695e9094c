"""Activation functions, each a pair: the function and its derivative.

Lesson 003 writes an activation as two plain functions, ``f(x)`` and ``f_prime(x)``, both
taking the layer's *input* x (the pre-activation z): ``ActivationLayer`` computes
``∂E/∂X = ∂E/∂Y ⊙ f'(X)``. Those functions are kept here under the lesson's names.

Softmax is not elementwise, so its backward pass is a Jacobian-vector product; every
activation therefore also offers ``backward(output_error, z, a)`` — the one function the
general model and the lesson's ``ActivationLayer`` both call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .dense import Array

ElementwiseFn = Callable[[Array], Array]

LEAKY_RELU_SLOPE = 0.01


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^(−x)), computed without overflow for large |x|."""
    # exp of a large positive number overflows; split by sign so only exp(−|x|) is taken.
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid_prime(x: Array) -> Array:
    """σ'(x) = σ(x)(1 − σ(x)); lesson 000 writes it as z(1 − z) on the activated value z."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: Array) -> Array:
    """tanh(x), as lesson 003's XOR example uses."""
    return np.tanh(x)


def tanh_prime(x: Array) -> Array:
    """tanh'(x) = 1 − tanh²(x) (lesson 003)."""
    return 1.0 - np.tanh(x) ** 2


def relu(x: Array) -> Array:
    """max(0, x)."""
    return np.maximum(x, 0.0)


def relu_prime(x: Array) -> Array:
    """1 where x > 0, else 0 (the subgradient 0 is taken at x = 0)."""
    return (x > 0).astype(x.dtype)


def leaky_relu(x: Array) -> Array:
    """x where x > 0, else 0.01·x."""
    return np.where(x > 0, x, LEAKY_RELU_SLOPE * x)


def leaky_relu_prime(x: Array) -> Array:
    """1 where x > 0, else 0.01."""
    return np.where(x > 0, 1.0, LEAKY_RELU_SLOPE).astype(x.dtype)


def linear(x: Array) -> Array:
    """The identity: a layer with no non-linearity (regression outputs)."""
    return x


def linear_prime(x: Array) -> Array:
    """d x / d x = 1."""
    return np.ones_like(x)


def softmax(x: Array) -> Array:
    """Row-wise softmax, x (n, k) → probabilities (n, k); minus the row max, for stability."""
    shifted: Array = np.exp(x - x.max(axis=-1, keepdims=True))
    probabilities: Array = shifted / shifted.sum(axis=-1, keepdims=True)
    return probabilities


@dataclass(frozen=True)
class Activation:
    """An activation: its name, the function, and its backward pass.

    ``prime`` is the elementwise derivative f'(z) where one exists (None for softmax).
    ``prime_of_output`` gives the same f'(z) from a = f(z) where that is cheaper — lesson
    000's z(1 − z) for the sigmoid — so the backward pass needn't recompute f.
    ``output_only``: it couples a layer's units (softmax's probabilities), so only the output
    layer may have it.
    """

    name: str
    f: ElementwiseFn
    prime: ElementwiseFn | None
    prime_of_output: ElementwiseFn | None = None
    output_only: bool = False

    def __deepcopy__(self, memo: dict[int, Any]) -> Activation:
        return self  # immutable (a name and functions): a copy of a model shares it

    def forward(self, z: Array) -> Array:
        """a = f(z), z and a of shape (n, units)."""
        return self.f(z)

    def backward(self, output_error: Array, z: Array, a: Array) -> Array:
        """∂E/∂z from ∂E/∂a (all (n, units)): ∂E/∂a ⊙ f'(z), or softmax's Jacobian product."""
        if self.prime_of_output is not None:  # local_derivative's first case, one call fewer
            return output_error * self.prime_of_output(a)
        if self.prime is not None:
            return output_error * self.local_derivative(z, a)
        # softmax: ∂a_i/∂z_j = a_i(δ_ij − a_j), so ∂E/∂z = a ⊙ (∂E/∂a − Σ_j ∂E/∂a_j · a_j).
        weighted_sum: Array = np.sum(output_error * a, axis=-1, keepdims=True)
        return a * (output_error - weighted_sum)

    def local_derivative(self, z: Array, a: Array) -> Array:
        """∂a/∂z on the diagonal, (n, units): the chain-rule inspector's 'local derivative'."""
        if self.prime_of_output is not None:
            return self.prime_of_output(a)
        if self.prime is not None:
            return self.prime(z)
        return a * (1.0 - a)


ACTIVATIONS: dict[str, Activation] = {
    "sigmoid": Activation("sigmoid", sigmoid, sigmoid_prime, lambda a: a * (1.0 - a)),
    "tanh": Activation("tanh", tanh, tanh_prime, lambda a: 1.0 - a * a),
    "relu": Activation("relu", relu, relu_prime, relu_prime),
    "leaky_relu": Activation("leaky_relu", leaky_relu, leaky_relu_prime, leaky_relu_prime),
    "linear": Activation("linear", linear, linear_prime, linear_prime),
    "softmax": Activation("softmax", softmax, None, output_only=True),
}


def get_activation(name: str) -> Activation:
    """The activation called ``name``; a ValueError lists the known ones otherwise."""
    try:
        return ACTIVATIONS[name]
    except KeyError:
        known = ", ".join(sorted(ACTIVATIONS))
        raise ValueError(f"unknown activation {name!r}; choose one of: {known}") from None


def activation_from_pair(f: ElementwiseFn, f_prime: ElementwiseFn) -> Activation:
    """Wrap a lesson-style pair (activation, activation_prime) as an Activation."""
    for known in ACTIVATIONS.values():
        if known.f is f and known.prime is f_prime:
            return known
    return Activation(getattr(f, "__name__", "custom"), f, f_prime)
