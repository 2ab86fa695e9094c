"""Lesson 003's ``Network``: add layers, choose a loss, ``fit`` one sample at a time, ``predict``.

    net = Network()
    net.add(FCLayer(2, 3))
    net.add(ActivationLayer(tanh, tanh_prime))
    net.add(FCLayer(3, 1))
    net.add(ActivationLayer(tanh, tanh_prime))
    net.use(mse, mse_prime)
    net.fit(x_train, y_train, epochs=1000, learning_rate=0.1)
    out = net.predict(x_train)

x_train has the lesson's shape (samples, 1, features): each sample is a (1, features) row.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .dense import Array
from .layers import Layer
from .losses import LossFn, LossPrimeFn


class Network:
    """A list of layers run forwards to predict and backwards (in reverse order) to learn."""

    def __init__(self) -> None:
        self.layers: list[Layer] = []
        self.loss: LossFn | None = None
        self.loss_prime: LossPrimeFn | None = None
        # The mean error of each epoch of fit(), so a program needn't parse the printout.
        self.history: list[float] = []

    def add(self, layer: Layer) -> None:
        """Append a layer; its input is the previous layer's output."""
        self.layers.append(layer)

    def use(self, loss: LossFn, loss_prime: LossPrimeFn) -> None:
        """Set the loss E(y_true, y_pred) and its derivative ∂E/∂y_pred."""
        self.loss = loss
        self.loss_prime = loss_prime

    def _forward(self, sample: Array) -> Array:
        output = sample
        for layer in self.layers:
            output = layer.forward_propagation(output)
        return output

    def predict(self, input_data: Sequence[Array] | Array) -> list[Array]:
        """The network's output for each sample, as a list of (1, outputs) arrays."""
        if not self.layers:
            raise ValueError("the network has no layers: add() some before predict()")
        return [self._forward(np.asarray(sample)) for sample in input_data]

    def fit(
        self,
        x_train: Sequence[Array] | Array,
        y_train: Sequence[Array] | Array,
        epochs: int,
        learning_rate: float,
        verbose: bool = True,
    ) -> list[float]:
        """Train one sample at a time: forward, error, ∇L(X) = backward_propagation(∇L(Y), α).

        Prints each epoch's mean error as the lesson does (``verbose=False`` silences it)
        and returns the per-epoch errors.
        """
        if self.loss is None or self.loss_prime is None:
            raise ValueError("no loss chosen: call use(loss, loss_prime) before fit()")
        if not self.layers:
            raise ValueError("the network has no layers: add() some before fit()")
        samples = len(x_train)
        if samples == 0 or samples != len(y_train):
            raise ValueError(
                f"x_train and y_train need the same, non-zero number of samples; "
                f"got {samples} and {len(y_train)}"
            )
        for i in range(epochs):
            err = 0.0
            for j in range(samples):
                output = self._forward(np.asarray(x_train[j]))
                target = np.asarray(y_train[j])
                err += self.loss(target, output)
                error = self.loss_prime(target, output)
                for layer in reversed(self.layers):
                    error = layer.backward_propagation(error, learning_rate)
            err /= samples
            self.history.append(err)
            if verbose:
                print(f"epoch {i + 1}/{epochs}   error={err:f}")
        return self.history
