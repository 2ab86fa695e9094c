"""Lesson 003's layers, exactly as the lesson uses them.

Each layer turns X into Y with ``forward_propagation(input_data)`` and, given ∂E/∂Y,
``backward_propagation(output_error, learning_rate)`` updates its parameters (if any) by
gradient descent, w ← w − α·∂E/∂w, and returns ∂E/∂X for the layer before it.

The math lives in ``dense.py`` and ``activations.py``: the general model calls the same
functions, so the lesson's classes and the playground cannot disagree.
"""

from __future__ import annotations

import numpy as np

from .activations import Activation, ElementwiseFn, activation_from_pair
from .dense import Array, fc_bias_error, fc_forward, fc_input_error, fc_weights_error


class Layer:
    """Base class: a layer has an input and an output, and passes errors backwards."""

    def __init__(self) -> None:
        self.input: Array | None = None
        self.output: Array | None = None

    def forward_propagation(self, input_data: Array) -> Array:
        """Y = layer(X)."""
        raise NotImplementedError

    def backward_propagation(self, output_error: Array, learning_rate: float) -> Array:
        """Given ∂E/∂Y: update the parameters, return ∂E/∂X."""
        raise NotImplementedError


def _require_forward(layer: Layer) -> tuple[Array, Array]:
    if layer.input is None or layer.output is None:
        raise RuntimeError(
            f"{type(layer).__name__}.backward_propagation called before forward_propagation"
        )
    return layer.input, layer.output


class FCLayer(Layer):
    """Fully connected: Y = X·W + B, with W (input_size, output_size) and B (1, output_size).

    Initialised as the lesson does, uniformly in [−0.5, 0.5).
    """

    def __init__(
        self, input_size: int, output_size: int, rng: np.random.Generator | None = None
    ) -> None:
        super().__init__()
        if input_size < 1 or output_size < 1:
            raise ValueError(
                f"FCLayer needs at least one input and one output, got {input_size}×{output_size}"
            )
        # The lesson draws from NumPy's global generator (np.random.rand); pass rng to seed it.
        if rng is None:
            self.weights: Array = np.random.rand(input_size, output_size) - 0.5
            self.bias: Array = np.random.rand(1, output_size) - 0.5
        else:
            self.weights = rng.random((input_size, output_size)) - 0.5
            self.bias = rng.random((1, output_size)) - 0.5

    def forward_propagation(self, input_data: Array) -> Array:
        """Y = X·W + B; X (1, input_size) as the lesson feeds it, or (n, input_size)."""
        X = np.asarray(input_data, dtype=self.weights.dtype)
        if X.ndim != 2 or X.shape[1] != self.weights.shape[0]:
            raise ValueError(
                f"FCLayer expects input of shape (n, {self.weights.shape[0]}), got {X.shape}"
            )
        self.input = X
        self.output = fc_forward(X, self.weights, self.bias)
        return self.output

    def backward_propagation(self, output_error: Array, learning_rate: float) -> Array:
        """∂E/∂X = ∂E/∂Y·Wᵀ, ∂E/∂W = Xᵀ·∂E/∂Y, ∂E/∂B = ∂E/∂Y; then W, B −= α·gradient."""
        X, _ = _require_forward(self)
        input_error = fc_input_error(self.weights, output_error)  # uses W before the update
        weights_error = fc_weights_error(X, output_error)
        self.weights -= learning_rate * weights_error
        self.bias -= learning_rate * fc_bias_error(output_error)
        return input_error


class ActivationLayer(Layer):
    """Y = f(X) elementwise; backward ∂E/∂X = ∂E/∂Y ⊙ f'(X); no parameters."""

    def __init__(self, activation: ElementwiseFn, activation_prime: ElementwiseFn) -> None:
        super().__init__()
        self.activation = activation
        self.activation_prime = activation_prime
        self._activation: Activation = activation_from_pair(activation, activation_prime)

    def forward_propagation(self, input_data: Array) -> Array:
        """Y = f(X)."""
        self.input = np.asarray(input_data)
        self.output = self._activation.forward(self.input)
        return self.output

    def backward_propagation(self, output_error: Array, learning_rate: float) -> Array:
        """∂E/∂X = ∂E/∂Y ⊙ f'(X); learning_rate is unused: there is nothing to learn here."""
        X, Y = _require_forward(self)
        return self._activation.backward(output_error, X, Y)
