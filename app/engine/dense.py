"""The fully connected layer's math (lesson 003), shared by ``FCLayer`` and the general model.

Forward:  Y = X·W + B
Backward, given ∂E/∂Y:
    ∂E/∂W = Xᵀ·∂E/∂Y
    ∂E/∂B = ∂E/∂Y          (summed over the batch's rows; one row in the lesson)
    ∂E/∂X = ∂E/∂Y·Wᵀ

Shapes: X (n, n_in), W (n_in, n_out), B (1, n_out), Y and ∂E/∂Y (n, n_out).

Products are ``np.dot``, as in the lesson: on small matrices it is also the quickest way to
NumPy's BLAS (a transposed operand costs ``@`` a copy or a slower loop).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Array = NDArray[np.floating]  # the engine's one array type: float32 or float64, any shape


def fc_forward(X: Array, W: Array, B: Array | None) -> Array:
    """Y = X·W + B, (n, n_in) → (n, n_out); no bias term when B is None (lesson 000)."""
    Y: Array = np.dot(X, W)
    if B is not None:
        Y += B
    return Y


def fc_weights_error(X: Array, output_error: Array) -> Array:
    """∂E/∂W = Xᵀ·∂E/∂Y, (n_in, n_out)."""
    weights_error: Array = np.dot(X.T, output_error)
    return weights_error


def fc_bias_error(output_error: Array) -> Array:
    """∂E/∂B = ∂E/∂Y summed over the rows, (1, n_out)."""
    bias_error: Array = output_error.sum(axis=0, keepdims=True)
    return bias_error


def fc_input_error(W: Array, output_error: Array) -> Array:
    """∂E/∂X = ∂E/∂Y·Wᵀ, (n, n_in): the error handed to the previous layer."""
    input_error: Array = np.dot(output_error, W.T)
    return input_error
