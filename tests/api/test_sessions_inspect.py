"""predict, boundary, gradcheck, chain and dataset of a session: answers and errors."""

from __future__ import annotations

from typing import Any

import pytest

from app.engine.gradcheck import tolerance_for
from app.settings import Settings

CreateSession = Any  # fixtures from tests/conftest.py
OpenClient = Any


# ----- predict ------------------------------------------------------------------------------


def test_predict_answers_one_output_row_per_input_row(create_session: CreateSession) -> None:
    session = create_session()
    session.step("epoch", 1000)
    response = session.client.post(
        session.url("/predict"),
        json={"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]},
        headers=session.watch,
    )
    assert response.status_code == 200, response.text
    outputs = [row[0] for row in response.json()["outputs"]]
    assert [round(y) for y in outputs] == [0, 1, 1, 0]  # the lesson's XOR, learned


def test_predict_gives_multiclass_probabilities(create_session: CreateSession) -> None:
    session = create_session(preset="iris")
    response = session.client.post(
        session.url("/predict"), json={"inputs": [[0.1, -0.2, 0.3, 0.0]]}, headers=session.watch
    )
    (row,) = response.json()["outputs"]
    assert len(row) == 3 and abs(sum(row) - 1) < 1e-12


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"inputs": []}, "inputs"),
        ({"inputs": [[0, 1, 2]]}, "inputs[0]"),
        ({"inputs": [[0, 1], [1]]}, "inputs[1]"),
        ({"inputs": [[0, "one"]]}, "inputs"),
        ({"inputs": "0,1"}, "inputs"),
        ({}, "inputs"),
    ],
)
def test_predict_rejects_bad_inputs(
    create_session: CreateSession, body: dict[str, Any], field: str
) -> None:
    session = create_session()
    response = session.client.post(session.url("/predict"), json=body, headers=session.watch)
    assert response.status_code == 422, response.text
    answer = response.json()
    if isinstance(answer["detail"], list):
        assert any(field in map(str, problem["loc"]) for problem in answer["detail"])
    else:
        assert answer["field"] == field


def test_predict_refuses_nan_inputs(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.post(
        session.url("/predict"),
        content=b'{"inputs": [[NaN, 1]]}',
        headers={**session.watch, "Content-Type": "application/json"},
    )
    assert response.status_code == 422


def test_predict_refuses_more_rows_than_the_limit(
    open_client: OpenClient, create_on: Any, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_predict_rows=3))
    session = create_on(client, None)
    response = client.post(
        session.url("/predict"), json={"inputs": [[0, 0]] * 4}, headers=session.control
    )
    assert response.status_code == 422 and response.json()["field"] == "inputs"


# ----- boundary -----------------------------------------------------------------------------


def test_boundary_answers_a_grid_over_the_input_plane(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = session.client.get(
        session.url("/boundary"), params={"resolution": 7}, headers=session.watch
    )
    assert response.status_code == 200, response.text
    grid = response.json()
    assert grid["resolution"] == 7 and len(grid["x"]) == 7 and len(grid["y"]) == 7
    assert len(grid["z"]) == 7 and all(len(row) == 7 for row in grid["z"])
    assert grid["x"] == sorted(grid["x"])


def test_boundary_defaults_to_a_50_grid(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    grid = session.client.get(session.url("/boundary"), headers=session.watch).json()
    assert grid["resolution"] == 50


def test_boundary_gives_class_indices_for_multiclass(create_session: CreateSession) -> None:
    session = create_session(
        model={"layers": [{"units": 3, "activation": "softmax"}], "loss": "softmax_cross_entropy"},
        data={"dataset": "iris"},
    )
    response = session.client.get(session.url("/boundary"), headers=session.watch)
    assert response.status_code == 422  # iris has 4 inputs
    assert response.json()["field"] == "resolution"


@pytest.mark.parametrize("resolution", ["1", "0", "-5", "101", "many", "2.5"])
def test_boundary_rejects_bad_resolutions(create_session: CreateSession, resolution: str) -> None:
    session = create_session(preset="circle")
    response = session.client.get(
        session.url("/boundary"), params={"resolution": resolution}, headers=session.watch
    )
    assert response.status_code == 422, response.text


# ----- gradcheck ----------------------------------------------------------------------------


def test_gradcheck_before_any_batch_answers_409(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.get(session.url("/gradcheck"), headers=session.watch)
    assert response.status_code == 409
    assert response.json()["field"] == "batch" and "step" in response.json()["detail"]


@pytest.mark.parametrize("preset", ["lesson-000", "lesson-003-xor", "circle", "iris"])
def test_gradcheck_passes_for_each_preset(create_session: CreateSession, preset: str) -> None:
    session = create_session(preset=preset)
    session.step("batch", 3)
    response = session.client.get(session.url("/gradcheck"), headers=session.watch)
    assert response.status_code == 200, response.text
    check = response.json()
    assert check["passed"], check
    assert len(check["layers"]) == len(session.state["layers"])
    for layer in check["layers"]:
        assert layer["relative_error_W"] < 1e-6 and layer["checked"] > 0
    if preset == "lesson-000":  # no biases
        assert all(layer["relative_error_b"] is None for layer in check["layers"])


def test_gradcheck_samples_large_layers(
    open_client: OpenClient, create_on: Any, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_gradcheck_entries=5))
    session = create_on(client, {"preset": "circle"})
    session.step()
    check = client.get(session.url("/gradcheck"), headers=session.watch).json()
    assert [layer["checked"] for layer in check["layers"]] == [5 + 4, 5 + 2, 2 + 1]


def test_gradcheck_answers_409_until_the_forward_pass_is_done(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="circle")  # 3 layers
    session.step("batch", 2)
    session.step("phase", 2)  # the next batch: forward 0 and 1 of 3
    response = session.client.get(session.url("/gradcheck"), headers=session.watch)
    assert response.status_code == 409
    session.step("phase", 1)
    check = session.client.get(session.url("/gradcheck"), headers=session.watch).json()
    assert check["passed"] and check["batch_rows"] == 10


# ----- chain --------------------------------------------------------------------------------


def test_chain_breaks_a_weight_gradient_into_its_factors(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step("batch", 2)
    response = session.client.get(
        session.url("/chain"), params={"layer": 1, "i": 3, "j": 0}, headers=session.watch
    )
    assert response.status_code == 200, response.text
    chain = response.json()
    assert chain["parameter"] == "W[1][3, 0]" and chain["activation"] == "tanh"
    n = len(chain["products"])
    assert n == 10 == len(chain["upstream"]) == len(chain["local"]) == len(chain["input"])
    for u, f, x, p in zip(
        chain["upstream"], chain["local"], chain["input"], chain["products"], strict=True
    ):
        assert p == pytest.approx(u * f * x, rel=1e-12, abs=1e-15)
    assert chain["gradient"] == pytest.approx(chain["reported"], rel=1e-12, abs=1e-15)
    assert chain["relative_error"] < 1e-6
    dW = session.read()["layers"][1]["dW"]
    assert chain["reported"] == dW[3][0]
    assert "Σ_s" in chain["formula"] and "∂ŷ/∂z" in chain["formula"]


def test_chain_without_i_asks_for_the_bias(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step()
    chain = session.client.get(
        session.url("/chain"), params={"layer": 0, "j": 2}, headers=session.watch
    ).json()
    assert chain["parameter"] == "b[0][2]" and chain["i"] is None
    assert all(x == 1 for x in chain["input"])
    assert chain["reported"] == session.read()["layers"][0]["db"][2]


def test_chain_includes_the_penalty(create_session: CreateSession) -> None:
    session = create_session(preset="circle", model={"l2": 0.5})
    session.step()
    chain = session.client.get(
        session.url("/chain"), params={"layer": 0, "i": 0, "j": 0}, headers=session.watch
    ).json()
    assert chain["penalty"] == pytest.approx(0.5 * chain["value"])
    assert chain["gradient"] == pytest.approx(sum(chain["products"]) + chain["penalty"])


def test_chain_before_the_backward_pass_answers_409(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.get(
        session.url("/chain"), params={"layer": 0, "i": 0, "j": 0}, headers=session.watch
    )
    assert response.status_code == 409 and response.json()["field"] == "layer"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"layer": 5, "i": 0, "j": 0}, "layer"),
        ({"layer": 0, "i": 9, "j": 0}, "i"),
        ({"layer": 0, "i": 0, "j": 9}, "j"),
        ({"layer": -1, "i": 0, "j": 0}, "layer"),
        ({"layer": 0, "i": 0}, "j"),
        ({"layer": "first", "j": 0}, "layer"),
    ],
)
def test_chain_rejects_bad_indices(
    create_session: CreateSession, params: dict[str, Any], field: str
) -> None:
    session = create_session()
    session.step()
    response = session.client.get(session.url("/chain"), params=params, headers=session.watch)
    assert response.status_code == 422, response.text
    answer = response.json()
    if isinstance(answer["detail"], list):
        assert any(field in map(str, problem["loc"]) for problem in answer["detail"])
    else:
        assert answer["field"] == field


def test_chain_asks_for_i_in_a_network_without_biases(create_session: CreateSession) -> None:
    session = create_session(preset="lesson-000")
    session.step()
    response = session.client.get(
        session.url("/chain"), params={"layer": 0, "j": 0}, headers=session.watch
    )
    assert response.status_code == 422 and response.json()["field"] == "i"


# ----- dataset ------------------------------------------------------------------------------


def test_dataset_answers_the_session_rows(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = session.client.get(session.url("/dataset"), headers=session.watch)
    assert response.status_code == 200
    data = response.json()
    assert data["name"] == "circle" and data["task"] == "binary"
    assert len(data["x_train"]) == session.state["n_train"] == len(data["y_train"])
    assert len(data["x_test"]) == session.state["n_test"]
    assert data["feature_names"] == ["x1", "x2"]


# ----- float32, divergence, fused layers (issue #14) ----------------------------------------


def test_gradcheck_of_a_float32_session_checks_the_float32_dw(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="circle", model={"dtype": "float32"})
    session.step("batch", 3)
    check = session.client.get(session.url("/gradcheck"), headers=session.watch).json()
    assert check["tolerance"] == tolerance_for("float32") > tolerance_for("float64")
    assert check["passed"], check
    # The shown float32 dW carries float32 rounding: a float64 recomputation would not.
    assert max(layer["relative_error_W"] for layer in check["layers"]) > 1e-9


def diverged_session(create_session: CreateSession, dtype: str) -> Any:
    session = create_session(
        model={
            "layers": [{"units": 8, "activation": "linear"}, {"units": 1, "activation": "linear"}],
            "learning_rate": 1e6,
            "batch_size": None,
            "dtype": dtype,
        },
        data={"dataset": "plane", "n_samples": 50},
    )
    result = session.client.post(
        session.url("/step"), json={"unit": "batch", "count": 100}, headers=session.control
    ).json()
    assert result["stopped"] == "diverged"
    return session


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_gradcheck_after_divergence_says_there_is_nothing_to_check(
    create_session: CreateSession, dtype: str
) -> None:
    session = diverged_session(create_session, dtype)
    response = session.client.get(session.url("/gradcheck"), headers=session.watch)
    assert response.status_code == 409, response.text
    body = response.json()
    assert body["detail"].startswith("diverged — nothing to check")
    assert body["field"] == "batch"
    session.step("batch", 1)  # a fresh batch at the restored weights can be checked again
    if not session.read()["diverged"]:
        response = session.client.get(session.url("/gradcheck"), headers=session.watch)
        assert response.status_code == 200


def test_chain_of_a_fused_output_shows_dl_dz(create_session: CreateSession) -> None:
    session = create_session(preset="iris")
    session.step("batch", 2)
    chain = session.client.get(
        session.url("/chain"), params={"layer": 1, "i": 2, "j": 1}, headers=session.watch
    ).json()
    assert chain["fused"] is True
    assert chain["local"] == [1.0] * len(chain["products"])
    delta = session.read()["layers"][1]["delta"]
    assert chain["upstream"] == [row[1] for row in delta[: len(chain["upstream"])]]
    assert "fused" in chain["note"] and "(p − y)/n" in chain["formula"]
    assert chain["equal_to_rounding"] is True
    assert chain["tolerance"] == tolerance_for("float64")
    # The separate factors, kept: ∂L/∂ŷ through softmax's backward, equal to rounding here.
    assert chain["separate"] == pytest.approx(chain["upstream"], rel=1e-12, abs=1e-15)
    hidden = session.client.get(
        session.url("/chain"), params={"layer": 0, "i": 0, "j": 0}, headers=session.watch
    ).json()
    assert hidden["fused"] is False and "f'(z" in hidden["formula"]
    assert hidden["separate"] is None
