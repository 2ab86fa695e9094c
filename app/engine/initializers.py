"""Seeded weight initialisers. Each draws W (n_in, n_out) and b (1, n_out) from one Generator.

- ``uniform01``:  lesson 000's np.random.rand — W, b ~ U[0, 1)
- ``lesson003``:  lesson 003's np.random.rand − 0.5 — W, b ~ U[−0.5, 0.5)
- ``xavier``:     Glorot uniform, W ~ U(±√(6 / (n_in + n_out))), b = 0 (tanh, sigmoid)
- ``he``:         He normal, W ~ N(0, 2 / n_in), b = 0 (relu)
- ``tfp``:        TF Playground's nn.ts: W ~ U[−0.5, 0.5), b = 0.1
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .dense import Array

Initializer = Callable[[np.random.Generator, int, int], tuple[Array, Array]]


def uniform01(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """W, b ~ U[0, 1), as lesson 000 draws them."""
    return rng.random((n_in, n_out)), rng.random((1, n_out))


def lesson003(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """W, b ~ U[−0.5, 0.5), as lesson 003's FCLayer draws them."""
    return rng.random((n_in, n_out)) - 0.5, rng.random((1, n_out)) - 0.5


def xavier(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """Glorot uniform: keeps the variance of activations and gradients about equal."""
    limit = np.sqrt(6.0 / (n_in + n_out))
    return rng.uniform(-limit, limit, (n_in, n_out)), np.zeros((1, n_out))


def he(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """He normal: variance 2 / n_in, for relu layers (half the units are off)."""
    return rng.normal(0.0, np.sqrt(2.0 / n_in), (n_in, n_out)), np.zeros((1, n_out))


def tfp(rng: np.random.Generator, n_in: int, n_out: int) -> tuple[Array, Array]:
    """TF Playground's Link and Node: weight = Math.random() − 0.5, bias = 0.1."""
    return rng.random((n_in, n_out)) - 0.5, np.full((1, n_out), 0.1)


INITIALIZERS: dict[str, Initializer] = {
    "uniform01": uniform01,
    "lesson003": lesson003,
    "xavier": xavier,
    "he": he,
    "tfp": tfp,
}
