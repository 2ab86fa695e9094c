"""The OpenAPI example of ``POST /api/sessions/import``: a real export, written out.

It is what ``GET /api/sessions/{id}/export`` answers for the XOR lesson (``lesson-003-xor``)
after two batch steps. Written here, so importing the API trains nothing;
tests/api/test_sessions_export.py rebuilds it that way and checks it is still equal.
"""

from __future__ import annotations

from typing import Any

SESSION_EXPORT_EXAMPLE: dict[str, Any] = {
    "format": "backprop-playground-session",
    "version": 1,
    "id": "example",
    "config": {
        "preset": "lesson-003-xor",
        "model": {
            "input_size": 2,
            "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "tanh"}],
            "loss": "mse",
            "learning_rate": 0.1,
            "batch_size": 1,
            "momentum": 0.0,
            "l1": 0.0,
            "l2": 0.0,
            "penalty_rule": "gradient",
            "initializer": "lesson003",
            "seed": 2,
            "use_bias": True,
            "dtype": "float64",
            "shuffle": False,
        },
        "data": {"dataset": "lesson-003-xor", "labels": "01"},
    },
    "data": {
        "name": "lesson-003-xor",
        "task": "binary",
        "feature_names": ["x1", "x2"],
        "class_names": ["0", "1"],
        "x_train": [[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]],
        "y_train": [[0.0], [1.0], [1.0], [0.0]],
        "x_test": [],
        "y_test": [],
        "scaling": None,
        "scale_ratio": 1.0,
        "image_shape": None,
        "plane": None,
    },
    "model": {
        "layers": [
            {
                "W": [
                    [-0.2383878657506836, -0.2015088565858767, 0.3142257405942803],
                    [-0.3864584897774664, 0.11160916078766316, 0.14855258790128084],
                ],
                "b": [[-0.2886656101667786, -0.432695097265828, -0.30924445499621306]],
                "velocity_W": None,
                "velocity_b": None,
                "dead": None,
            },
            {
                "W": [[0.013911890863183257], [-0.018121533842077278], [-0.3528879331100505]],
                "b": [[0.17209072855612084]],
                "velocity_W": None,
                "velocity_b": None,
                "dead": None,
            },
        ],
        "rng": {
            "bit_generator": "PCG64",
            "state": {
                "state": "243991633790980990460298977955764440575",
                "inc": "169580238517906622675134886639025086273",
            },
            "has_uint32": "0",
            "uinteger": "0",
        },
        "step": 2,
        "epoch": 0,
        "cursor": 0,
        "position": 2,
        "order": [0, 1, 2, 3],
        "order_drawn": True,
    },
    "history": [
        {
            "step": 0,
            "epoch": 0,
            "train_loss": 0.7418129908033623,
            "test_loss": None,
            "train_accuracy": 0.5,
            "test_accuracy": None,
        }
    ],
    "playing": False,
}
