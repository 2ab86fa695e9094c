"""Named starting points: both lessons as they are written, and TF Playground's defaults.

A preset is a full session config: ``{"model": ModelConfig fields, "data": data spec}``.
"""

from __future__ import annotations

from typing import Any

TF_HIDDEN = [{"units": 4, "activation": "tanh"}, {"units": 2, "activation": "tanh"}]


def _tf_playground(dataset: str, description: str) -> dict[str, Any]:
    """TF Playground's defaults and conventions: 4-2 tanh hidden, tanh output on ±1 labels,
    its squared error ½(o − t)² (``square``), its initial weights U[−0.5, 0.5) and biases 0.1
    (``tfp``), its L1/L2 step after the data's, L1 freezing a weight at 0 (``penalty_rule``
    ``tfp``), learning rate 0.03, batch 10, 50 % train, no noise, 500 points."""
    return {
        "description": description,
        "model": {
            "input_size": 2,
            "layers": [*TF_HIDDEN, {"units": 1, "activation": "tanh"}],
            "loss": "square",
            "learning_rate": 0.03,
            "batch_size": 10,
            "initializer": "tfp",
            "penalty_rule": "tfp",
            "seed": 0,
        },
        "data": {
            "dataset": dataset,
            "n_samples": 500,
            "noise": 0.0,
            "train_ratio": 0.5,
            "seed": 0,
            "labels": "pm1",
        },
    }


PRESETS: dict[str, dict[str, Any]] = {
    "lesson-000": {
        "description": "Lesson 000: 3 inputs → 4 sigmoid → 1 sigmoid, no biases, sum of squared "
        "errors, W += adjustment (learning rate 1), full batch of the lesson's 4 rows.",
        "model": {
            "input_size": 3,
            "layers": [
                {"units": 4, "activation": "sigmoid"},
                {"units": 1, "activation": "sigmoid"},
            ],
            "loss": "sse",
            "learning_rate": 1.0,
            "batch_size": None,
            "use_bias": False,
            "initializer": "uniform01",
            "seed": 1,
            "shuffle": False,
        },
        "data": {"dataset": "lesson-000", "labels": "01"},
    },
    "lesson-003-xor": {
        "description": "Lesson 003's XOR: FCLayer(2, 3) → tanh → FCLayer(3, 1) → tanh, MSE, "
        "one sample at a time in order, learning rate 0.1, 1000 epochs in the lesson.",
        "model": {
            "input_size": 2,
            "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "tanh"}],
            "loss": "mse",
            "learning_rate": 0.1,
            "batch_size": 1,
            "initializer": "lesson003",
            # Seed 1 (and 0, 4) leave XOR in its local minimum (ŷ ≈ 0.5 everywhere); with 2
            # the network learns XOR in the lesson's 1000 epochs, as the lesson shows.
            "seed": 2,
            "shuffle": False,
        },
        "data": {"dataset": "lesson-003-xor", "labels": "01"},
    },
    "circle": _tf_playground("circle", "TF Playground's default: the circle dataset."),
    "spiral": _tf_playground("spiral", "TF Playground's spiral: hard for 4-2 tanh; add units."),
    "xor": _tf_playground("xor", "TF Playground's exclusive-or quadrants."),
    "gaussians": _tf_playground("gaussians", "Two Gaussian blobs: linearly separable."),
    "iris": {
        "description": "Iris: 4 standardized measurements → 8 tanh → 3 softmax, cross-entropy.",
        "model": {
            "input_size": 4,
            "layers": [{"units": 8, "activation": "tanh"}, {"units": 3, "activation": "softmax"}],
            "loss": "softmax_cross_entropy",
            "learning_rate": 0.1,
            "batch_size": 16,
            "initializer": "xavier",
            "seed": 0,
        },
        "data": {"dataset": "iris", "train_ratio": 0.8, "seed": 0},
    },
    "digits": {
        "description": "Handwritten digits: 64 pixels → 32 tanh → 10 softmax, cross-entropy; "
        "a fifth of the images held out.",
        "model": {
            "input_size": 64,
            "layers": [{"units": 32, "activation": "tanh"}, {"units": 10, "activation": "softmax"}],
            "loss": "softmax_cross_entropy",
            "learning_rate": 0.05,
            "batch_size": 16,
            "initializer": "xavier",
            "seed": 0,
        },
        "data": {"dataset": "digits", "train_ratio": 0.8, "seed": 0},
    },
}
PRESETS["plane"] = {
    **_tf_playground("plane", "Regression: a tilted plane, linear output."),
}
PRESETS["plane"]["model"] = {
    **PRESETS["plane"]["model"],
    "layers": [*TF_HIDDEN, {"units": 1, "activation": "linear"}],
}
