"""TF Playground's conventions: the ``square`` loss (½·mean (o − t)²) and the ``tfp``
initialiser (W ~ U[−0.5, 0.5), b = 0.1). Trained on the circle preset they give, step for
step, the numbers of TF Playground's published update rule (nn.ts), recomputed here
independently one example and one link at a time, as nn.ts does it."""

from __future__ import annotations

import math

import numpy as np

from app.engine import LayerConfig, Model, ModelConfig
from app.engine.datasets import make_dataset
from app.engine.initializers import tfp
from app.engine.losses import square, square_prime
from app.service.presets import PRESETS

STEPS = 12
LEARNING_RATE = 0.03
BATCH = 10


def nn_ts_batch(
    weights: list[list[list[float]]],
    biases: list[list[float]],
    examples: list[tuple[list[float], float]],
    learning_rate: float,
) -> None:
    """One mini-batch of nn.ts: forwardProp and backProp per example (accumulating each
    link's errorDer and each node's inputDer), then updateWeights — in place.

    weights[k][i][j]: link from node i of layer k to node j of layer k+1; biases[k][j]."""
    acc_w = [[[0.0 for _ in row] for row in layer] for layer in weights]
    acc_b = [[0.0 for _ in layer] for layer in biases]
    for inputs, target in examples:
        outputs = [list(inputs)]
        totals: list[list[float]] = []
        for k, layer in enumerate(weights):
            total = [
                biases[k][j] + sum(layer[i][j] * outputs[k][i] for i in range(len(layer)))
                for j in range(len(biases[k]))
            ]
            totals.append(total)
            outputs.append([math.tanh(t) for t in total])
        # Errors.SQUARE.der(output, target) = output − target
        output_der = [outputs[-1][0] - target]
        for k in range(len(weights) - 1, -1, -1):
            input_der = [
                d * (1 - math.tanh(t) ** 2) for d, t in zip(output_der, totals[k], strict=True)
            ]
            for j, der in enumerate(input_der):
                acc_b[k][j] += der
                for i in range(len(weights[k])):
                    acc_w[k][i][j] += der * outputs[k][i]
            output_der = [
                sum(weights[k][i][j] * input_der[j] for j in range(len(input_der)))
                for i in range(len(weights[k]))
            ]
    n = len(examples)
    for k, layer in enumerate(weights):
        for j in range(len(biases[k])):
            biases[k][j] -= learning_rate * acc_b[k][j] / n
            for i in range(len(layer)):
                layer[i][j] -= (learning_rate / n) * acc_w[k][i][j]


def test_square_is_half_the_mean_squared_error_and_its_derivative_checks() -> None:
    rng = np.random.default_rng(3)
    y, o = rng.normal(size=(7, 2)), rng.normal(size=(7, 2))
    assert square(y, o) == 0.5 * sum((a - b) ** 2 for a, b in zip(o.flat, y.flat, strict=True)) / 14
    h = 1e-6
    numeric = np.zeros_like(o)
    for index in np.ndindex(o.shape):
        up, down = o.copy(), o.copy()
        up[index] += h
        down[index] -= h
        numeric[index] = (square(y, up) - square(y, down)) / (2 * h)
    np.testing.assert_allclose(square_prime(y, o), numeric, rtol=1e-6, atol=1e-10)


def test_tfp_draws_weights_in_half_open_unit_interval_and_biases_of_0_1() -> None:
    W, b = tfp(np.random.default_rng(0), 300, 40)
    assert W.shape == (300, 40) and b.shape == (1, 40)
    assert -0.5 <= W.min() < -0.49 and 0.49 < W.max() < 0.5
    assert abs(W.mean()) < 0.01 and np.all(b == 0.1)


def test_the_tf_playground_presets_use_square_and_tfp() -> None:
    for name in ("circle", "xor", "gaussians", "spiral", "plane"):
        model = PRESETS[name]["model"]
        assert (model["loss"], model["initializer"]) == ("square", "tfp"), name


def test_square_and_tfp_train_the_circle_as_nn_ts_does_step_for_step() -> None:
    data = make_dataset("circle", n_samples=500, train_ratio=0.5, seed=0, labels="pm1")
    model = Model(
        ModelConfig(
            input_size=2,
            layers=(LayerConfig(4, "tanh"), LayerConfig(2, "tanh"), LayerConfig(1, "tanh")),
            loss="square",
            learning_rate=LEARNING_RATE,
            batch_size=BATCH,
            initializer="tfp",
            seed=5,
            shuffle=False,  # nn.ts walks its (once shuffled) examples in order
        )
    )
    model.set_data(data.x_train, data.y_train)
    weights = [layer.W.tolist() for layer in model.layers]
    biases = [layer.b[0].tolist() for layer in model.layers if layer.b is not None]
    assert all(value == 0.1 for row in biases for value in row), "tfp biases start at 0.1"
    initial = [layer.W.copy() for layer in model.layers]
    x, t = data.x_train.tolist(), data.y_train[:, 0].tolist()
    for step in range(STEPS):
        model.step_batch()
        rows = range(step * BATCH, (step + 1) * BATCH)
        nn_ts_batch(weights, biases, [(x[r], t[r]) for r in rows], LEARNING_RATE)
        for k, layer in enumerate(model.layers):
            assert layer.b is not None
            np.testing.assert_allclose(layer.W, weights[k], rtol=0, atol=1e-13)
            np.testing.assert_allclose(layer.b[0], biases[k], rtol=0, atol=1e-13)
    # The weights moved: the comparison was not of untouched numbers.
    assert all(
        np.abs(layer.W - w0).max() > 1e-3 for layer, w0 in zip(model.layers, initial, strict=True)
    )
