"""The fully connected layer's math (lesson 003): ``FCLayer``'s and the training kernel's.

Forward:  Y = X·W + B
Backward, given ∂E/∂Y:
    ∂E/∂W = Xᵀ·∂E/∂Y
    ∂E/∂B = ∂E/∂Y          (summed over the batch's rows; one row in the lesson)
    ∂E/∂X = ∂E/∂Y·Wᵀ

Shapes: X (n, n_in), W (n_in, n_out), B (1, n_out), Y and ∂E/∂Y (n, n_out) for one model; a
stack of K alike models (``kernel.py``) puts its axis first, X (K, n, n_in), W (K, n_in, n_out),
B (K, 1, n_out), and every formula holds slice by slice.

Products are ``np.dot`` on one model's matrices, as in the lesson: on small matrices it is the
quickest way to NumPy's BLAS. A stack's are ``np.matmul``, which hands each slice to the same
BLAS call, so a model in a stack gets the numbers it gets alone, bit for bit.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]  # the engine's one array type: float32 or float64, any shape


def fc_forward(X: Array, W: Array, B: Array | None) -> Array:
    """Y = X·W + B, (n, n_in) → (n, n_out); no bias term when B is None (lesson 000)."""
    Y: Array = np.dot(X, W) if X.ndim == 2 else np.matmul(X, W)
    if B is not None:
        Y += B
    return Y


def fc_weights_error(X: Array, output_error: Array, out: Array | None = None) -> Array:
    """∂E/∂W = Xᵀ·∂E/∂Y, (n_in, n_out); written into ``out`` when given."""
    if X.ndim == 2:
        weights_error: Array = np.dot(X.T, output_error, out)
    else:
        weights_error = np.matmul(X.swapaxes(-1, -2), output_error, out)
    return weights_error


def fc_bias_error(output_error: Array, out: Array | None = None) -> Array:
    """∂E/∂B = ∂E/∂Y summed over the rows, (1, n_out); written into ``out`` when given."""
    bias_error: Array = np.add.reduce(output_error, -2, None, out, keepdims=True)
    return bias_error


def fc_input_error(W: Array, output_error: Array) -> Array:
    """∂E/∂X = ∂E/∂Y·Wᵀ, (n, n_in): the error handed to the previous layer."""
    if W.ndim == 2:
        input_error: Array = np.dot(output_error, W.T)
    else:
        input_error = np.matmul(output_error, W.swapaxes(-1, -2))
    return input_error
