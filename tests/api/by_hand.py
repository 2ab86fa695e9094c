"""One step of backprop in plain NumPy, written from the lessons' formulas and nothing of the
engine: what a student's own code computes from the numbers they were given (GET …/grade's
problem, or a worksheet's printed numbers)."""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVATIONS = {  # f(z) and f′ from z and a
    "tanh": (np.tanh, lambda z, a: 1 - a**2),
    "sigmoid": (lambda z: 1 / (1 + np.exp(-z)), lambda z, a: a * (1 - a)),
    "relu": (lambda z: np.maximum(z, 0), lambda z, a: (z > 0).astype(float)),
    "linear": (lambda z: z, lambda z, a: np.ones_like(z)),
}
# ∂E/∂ŷ of the squared errors: (ŷ − y) times this, over y's size when it is a mean.
SCALES = {"mse": (2.0, True), "square": (1.0, True), "sse": (2.0, False)}


def backprop(
    x: np.ndarray,
    y: np.ndarray,
    Ws: list[np.ndarray],
    bs: list[np.ndarray | None],
    activations: list[str],
    loss: str,
) -> dict[str, list[np.ndarray]]:
    """Forward z = x·W + b, a = f(z); backward δ = ∂L/∂a ⊙ f′(z), ∂L/∂W = xᵀ·δ, ∂L/∂b = Σ δ
    (no penalty): per layer, input side first."""
    inputs, zs, outputs = [], [], []
    a = x
    for W, b, name in zip(Ws, bs, activations, strict=True):
        inputs.append(a)
        z = a @ W + (0 if b is None else b)
        a = ACTIVATIONS[name][0](z)
        zs.append(z)
        outputs.append(a)
    factor, mean = SCALES[loss]
    error = factor * (a - y) / (y.size if mean else 1)
    n = len(Ws)
    deltas: list[np.ndarray] = [np.zeros(0)] * n
    dW: list[np.ndarray] = [np.zeros(0)] * n
    db: list[np.ndarray] = [np.zeros(0)] * n
    for k in reversed(range(n)):
        deltas[k] = error * ACTIVATIONS[activations[k]][1](zs[k], outputs[k])
        dW[k] = inputs[k].T @ deltas[k]
        db[k] = deltas[k].sum(axis=0)
        error = deltas[k] @ Ws[k].T
    return {"z": zs, "a": outputs, "delta": deltas, "dW": dW, "db": db}


def of_problem(problem: dict[str, Any]) -> dict[str, list[np.ndarray]]:
    """``backprop`` of a GET …/grade problem (no L1/L2 penalty)."""
    assert problem["l1"] == problem["l2"] == 0.0
    layers = problem["layers"]
    return backprop(
        np.array(problem["x"]),
        np.array(problem["y"]),
        [np.array(layer["W"]) for layer in layers],
        [None if layer["b"] is None else np.array(layer["b"]) for layer in layers],
        [layer["activation"] for layer in layers],
        problem["loss"],
    )


def gradients(problem: dict[str, Any], factor: float = 1.0) -> list[dict[str, Any]]:
    """The body's ``gradients`` a student sends for ``problem`` (∂L/∂W times ``factor``)."""
    found = of_problem(problem)
    return [
        {"dW": (dW * factor).tolist(), "db": db.tolist()}
        for dW, db in zip(found["dW"], found["db"], strict=True)
    ]
