"""Random session configs through the API either build (201) or answer 422 naming a field;
random engine architectures keep analytic and numeric gradients equal."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.engine import (
    ACTIVATIONS,
    INITIALIZERS,
    LOSSES,
    LayerConfig,
    Model,
    ModelConfig,
    gradient_check,
)
from app.engine.datasets import DATASETS

SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

numbers = st.one_of(
    st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10),
    st.integers(-3, 300),
    st.none(),
    st.text(max_size=3),
)
activation = st.one_of(st.sampled_from(sorted(ACTIVATIONS)), st.text(max_size=6))
layer = st.fixed_dictionaries(
    {"units": st.one_of(st.integers(-2, 300), st.text(max_size=2)), "activation": activation}
)
model = st.fixed_dictionaries(
    {"layers": st.lists(layer, min_size=0, max_size=10)},
    optional={
        "loss": st.one_of(st.sampled_from(sorted(LOSSES)), st.text(max_size=5)),
        "learning_rate": numbers,
        "batch_size": numbers,
        "momentum": numbers,
        "l1": numbers,
        "l2": numbers,
        "initializer": st.one_of(st.sampled_from(sorted(INITIALIZERS)), st.text(max_size=5)),
        "seed": numbers,
        "use_bias": st.booleans(),
        "dtype": st.sampled_from(["float64", "float32", "float16"]),
    },
)
data = st.fixed_dictionaries(
    {"dataset": st.one_of(st.sampled_from(sorted(DATASETS)), st.text(max_size=5))},
    optional={
        "n_samples": numbers,
        "noise": numbers,
        "train_ratio": numbers,
        "seed": numbers,
        "labels": st.sampled_from(["01", "pm1", "x"]),
    },
)
request = st.fixed_dictionaries(
    {},
    optional={
        "preset": st.one_of(st.sampled_from(["circle", "iris", "lesson-000"]), st.text(max_size=4)),
        "model": model,
        "data": data,
    },
)


@SETTINGS
@given(body=request)
def test_any_config_builds_or_answers_422_naming_a_field(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = client.post("/api/sessions", json=body)
    assert response.status_code in (201, 422), response.text
    payload = response.json()
    if response.status_code == 422:
        detail = payload["detail"]
        named = payload.get("field") or (isinstance(detail, list) and detail[0].get("loc"))
        assert named, f"a 422 must name the field: {payload}"
        return
    token = {"Authorization": f"Bearer {payload['token']}"}
    stepped = client.post(
        f"/api/sessions/{payload['id']}/step", json={"unit": "batch", "count": 2}, headers=token
    )
    assert stepped.status_code == 200, stepped.text
    client.delete(f"/api/sessions/{payload['id']}", headers=token)


OUTPUTS = {  # output activation → losses that suit it
    "sigmoid": ["mse", "sse", "binary_cross_entropy"],
    "softmax": ["mse", "softmax_cross_entropy"],
    "tanh": ["mse", "sse"],
    "linear": ["mse", "sse"],
}


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    hidden=st.lists(
        st.tuples(st.integers(1, 5), st.sampled_from(["sigmoid", "tanh", "leaky_relu", "linear"])),
        max_size=3,
    ),
    output=st.sampled_from(sorted(OUTPUTS)),
    loss_index=st.integers(0, 2),
    n_out=st.integers(2, 3),
    batch=st.sampled_from([1, 3, None]),
    l2=st.sampled_from([0.0, 0.1]),
    seed=st.integers(0, 1000),
)
def test_random_architectures_keep_analytic_and_numeric_gradients_equal(
    hidden: list[tuple[int, str]],
    output: str,
    loss_index: int,
    n_out: int,
    batch: int | None,
    l2: float,
    seed: int,
) -> None:
    losses = OUTPUTS[output]
    loss = losses[loss_index % len(losses)]
    units = 1 if loss == "binary_cross_entropy" else n_out
    layers = (*(LayerConfig(u, a) for u, a in hidden), LayerConfig(units, output))
    config = ModelConfig(input_size=3, layers=layers, loss=loss, batch_size=batch, l2=l2, seed=seed)
    model = Model(config)
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(7, 3))
    if loss == "softmax_cross_entropy":
        y = np.eye(units)[rng.integers(0, units, 7)]
    elif loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (7, 1)).astype(float)
    else:
        y = rng.normal(size=(7, units))
    model.set_data(x, y)
    model.step_batch()  # trace a batch, then check the gradients it reported
    model.step_phase()
    for _ in range(len(model.phases) - 2):
        model.step_phase()
    for check in gradient_check(model):
        # Central differences carry ~ε·|L|/h ≈ 1e-11 of rounding noise: for gradients near
        # 1e-5 (a saturated unit) that alone is a relative 1e-6, so agreement to 1e-8
        # absolute counts as equal too.
        errors = [check.relative_error_W, check.relative_error_b or 0.0]
        assert max(errors) < 1e-6 or check.max_abs_error < 1e-8, (check.layer, errors, check)


valid_model = st.fixed_dictionaries(
    {
        "layers": st.lists(
            st.fixed_dictionaries(
                {
                    "units": st.integers(1, 16),
                    "activation": st.sampled_from(["sigmoid", "tanh", "relu", "leaky_relu"]),
                }
            ),
            max_size=4,
        ).map(lambda hidden: [*hidden, {"units": 1, "activation": "tanh"}]),
        "learning_rate": st.floats(1e-4, 1.0),
        "batch_size": st.one_of(st.none(), st.integers(1, 64)),
        "momentum": st.floats(0.0, 0.95),
        "l2": st.floats(0.0, 0.1),
        "initializer": st.sampled_from(sorted(INITIALIZERS)),
        "seed": st.integers(0, 2**31),
    }
)


@SETTINGS
@given(model_config=valid_model, dataset=st.sampled_from(["circle", "xor", "spiral", "moons"]))
def test_any_valid_config_builds_and_trains(
    client: TestClient, model_config: dict[str, Any], dataset: str
) -> None:
    body = {"model": model_config, "data": {"dataset": dataset, "labels": "pm1"}}
    response = client.post("/api/sessions", json=body)
    assert response.status_code == 201, response.text
    created = response.json()
    token = {"Authorization": f"Bearer {created['token']}"}
    stepped = client.post(
        f"/api/sessions/{created['id']}/step", json={"unit": "epoch", "count": 1}, headers=token
    )
    assert stepped.status_code == 200, stepped.text
    client.delete(f"/api/sessions/{created['id']}", headers=token)
