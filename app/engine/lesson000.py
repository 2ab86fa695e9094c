"""Lesson 000: a two-layer sigmoid network, with backprop written out by hand.

3 inputs → 4 sigmoid → 1 sigmoid, no biases, sum-of-squares loss. The chain rule

    ∂Loss/∂W = ∂Loss/∂ŷ · ∂ŷ/∂z · ∂z/∂W = 2(y − ŷ) · z(1 − z) · x

gives an *adjustment* that already carries the sign of (y − ŷ), so the lesson adds it:
W += adjustment. Each named step of ``backprop`` is kept as an attribute, so the playground
can show it.
"""

from __future__ import annotations

import numpy as np

from .dense import Array

HIDDEN_UNITS = 4


def sigmoid(x: Array) -> Array:
    """σ(x) = 1 / (1 + e^(−x)), as the lesson writes it."""
    return 1.0 / (1.0 + np.exp(-x))


def sigmoid_derivative(z: Array) -> Array:
    """σ' written on the activated value z = σ(x): z(1 − z)."""
    return z * (1.0 - z)


class TwoLayerNetwork:
    """The lesson's network on inputs x (n, 3) and targets y (n, 1).

    Attributes after ``feedforward()``: ``layer1`` (n, 4) and ``output`` ŷ (n, 1).
    After ``backprop()``, the lesson's named steps:
      ``output_error``         y − ŷ                                   (n, 1)
      ``delta_output_sum``     2(y − ŷ) ⊙ ŷ(1 − ŷ)                      (n, 1)
      ``layer1_error``         delta_output_sum · weights2ᵀ              (n, 4)
      ``layer1_delta``         layer1_error ⊙ layer1(1 − layer1)        (n, 4)
      ``weights1_adjustment``  inputᵀ · layer1_delta                     (3, 4)
      ``weights2_adjustment``  layer1ᵀ · delta_output_sum                (4, 1)
    """

    def __init__(self, x: Array, y: Array, seed: int | None = None) -> None:
        """Draw the weights as the lesson does: ``np.random.rand(inputs, 4)``, then
        ``np.random.rand(4, 1)``, uniform on [0, 1).

        Without a seed they come from NumPy's global generator, so a student's script that
        calls ``np.random.seed(s)`` first gets exactly its own weights. With ``seed`` they are
        the weights ``np.random.seed(seed)`` followed by those two draws gives, taken from a
        private ``RandomState(seed)`` (the same Mersenne Twister) so the global state is
        left alone.
        """
        self.input = np.asarray(x, dtype=np.float64)
        self.y = np.asarray(y, dtype=np.float64)
        if self.input.ndim != 2 or self.y.ndim != 2 or self.y.shape != (len(self.input), 1):
            raise ValueError(
                f"x must be (n, inputs) and y (n, 1); got x {self.input.shape}, y {self.y.shape}"
            )
        draw = np.random.rand if seed is None else np.random.RandomState(seed).rand
        self.weights1: Array = draw(self.input.shape[1], HIDDEN_UNITS)
        self.weights2: Array = draw(HIDDEN_UNITS, 1)
        self.output: Array = np.zeros(self.y.shape)
        self.layer1: Array = np.zeros((len(self.input), HIDDEN_UNITS))

    def feedforward(self) -> None:
        """layer1 = σ(input·W1); ŷ = σ(layer1·W2)."""
        self.layer1 = sigmoid(self.input @ self.weights1)
        self.output = sigmoid(self.layer1 @ self.weights2)

    def backprop(self) -> None:
        """The lesson's steps, in its order, then W += adjustment for both matrices."""
        self.output_error = self.y - self.output
        # The 2 is ∂/∂ŷ of the square in Σ(y − ŷ)²; σ' is taken on the activated ŷ.
        self.delta_output_sum = 2 * self.output_error * sigmoid_derivative(self.output)
        self.layer1_error = self.delta_output_sum @ self.weights2.T
        self.layer1_delta = self.layer1_error * sigmoid_derivative(self.layer1)
        self.weights1_adjustment = self.input.T @ self.layer1_delta
        self.weights2_adjustment = self.layer1.T @ self.delta_output_sum
        self.weights1 += self.weights1_adjustment
        self.weights2 += self.weights2_adjustment

    def loss(self) -> float:
        """Σ (y − ŷ)² of the last feedforward."""
        return float(np.sum((self.y - self.output) ** 2))

    def train(self, iterations: int = 1500) -> None:
        """feedforward() then backprop(), ``iterations`` times, as the lesson's loop does."""
        for _ in range(iterations):
            self.feedforward()
            self.backprop()
        self.feedforward()
