"""POST/GET/PATCH/DELETE /api/sessions and reset: success and every error path."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

CreateSession = Any  # the create_session fixture (tests/conftest.py)
OpenClient = Any  # the open_client fixture

PRESET_IDS = ["lesson-000", "lesson-003-xor", "circle", "spiral", "iris"]

FULL_CONFIG: dict[str, Any] = {
    "model": {
        "layers": [{"units": 5, "activation": "relu"}, {"units": 1, "activation": "sigmoid"}],
        "loss": "binary_cross_entropy",
        "learning_rate": 0.1,
        "batch_size": 16,
        "momentum": 0.9,
        "l2": 0.001,
        "initializer": "he",
        "seed": 7,
    },
    "data": {"dataset": "moons", "n_samples": 120, "noise": 0.2, "train_ratio": 0.75, "seed": 3},
}


def post_session(client: TestClient, body: Any) -> Any:
    return client.post("/api/sessions", json=body)


def assert_field_error(response: Any, status: int, field: str) -> str:
    """The answer is ``status`` and names ``field`` (either error shape); returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    if isinstance(body["detail"], list):
        locs = [".".join(str(part) for part in problem["loc"]) for problem in body["detail"]]
        assert any(field in loc for loc in locs), (field, locs)
        return str(body["detail"][0]["msg"])
    assert body["field"] == field, body
    assert body["detail"]
    return str(body["detail"])


# ----- create -------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", PRESET_IDS)
def test_create_builds_each_preset(client: TestClient, preset: str) -> None:
    response = post_session(client, {"preset": preset})
    assert response.status_code == 201, response.text
    answer = response.json()
    assert set(answer) == {"id", "token", "watch_token", "state"}
    state = answer["state"]
    assert state["step"] == 0 and state["epoch"] == 0
    assert isinstance(state["loss"], float)
    assert state["config"]["preset"] == preset
    assert state["history"][0]["step"] == 0
    for layer in state["layers"]:
        assert len(layer["W"]) == layer["inputs"] and len(layer["W"][0]) == layer["units"]
        assert "dW" not in layer  # no backward pass yet


def test_create_answers_unguessable_distinct_ids_and_tokens(client: TestClient) -> None:
    answers = [post_session(client, {"preset": "circle"}).json() for _ in range(3)]
    secrets = [a[key] for a in answers for key in ("id", "token", "watch_token")]
    assert len(set(secrets)) == len(secrets)
    assert all(len(secret) >= 43 for secret in secrets)  # 32 random bytes, base64url


def test_create_from_full_config_keeps_every_field(client: TestClient) -> None:
    response = post_session(client, FULL_CONFIG)
    assert response.status_code == 201, response.text
    state = response.json()["state"]
    model = state["config"]["model"]
    assert model["input_size"] == 2  # from the data
    assert model["momentum"] == 0.9 and model["l2"] == 0.001 and model["initializer"] == "he"
    assert [layer["activation"] for layer in state["layers"]] == ["relu", "sigmoid"]
    assert state["n_train"] == 90 and state["n_test"] == 30
    assert state["batch_size"] == 16


def test_create_applies_overrides_to_a_preset(client: TestClient) -> None:
    body = {
        "preset": "spiral",
        "model": {
            "layers": [
                {"units": 8, "activation": "tanh"},
                {"units": 8, "activation": "tanh"},
                {"units": 1, "activation": "tanh"},
            ],
            "learning_rate": 0.01,
        },
        "data": {"noise": 0.1},
    }
    state = post_session(client, body).json()["state"]
    model = state["config"]["model"]
    assert [layer["units"] for layer in model["layers"]] == [8, 8, 1]
    assert model["learning_rate"] == 0.01
    assert model["batch_size"] == 10  # the preset's
    assert state["config"]["data"]["noise"] == 0.1
    assert state["config"]["data"]["dataset"] == "spiral"


def test_create_takes_null_batch_size_as_full_batch(client: TestClient) -> None:
    body = {"preset": "circle", "model": {"batch_size": None}}
    state = post_session(client, body).json()["state"]
    assert state["config"]["model"]["batch_size"] is None
    assert state["batch_size"] == state["n_train"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"preset": "nope"}, "preset"),
        ({}, "model"),
        ({"model": {"layers": [{"units": 1}]}}, "data"),
        ({"data": {"dataset": "circle"}}, "model"),
        ({"preset": "circle", "model": {"learning_rate": 0}}, "learning_rate"),
        ({"preset": "circle", "model": {"learning_rate": "fast"}}, "learning_rate"),
        ({"preset": "circle", "model": {"momentum": 1.0}}, "momentum"),
        ({"preset": "circle", "model": {"batch_size": 0}}, "batch_size"),
        ({"preset": "circle", "model": {"seed": -1}}, "seed"),
        ({"preset": "circle", "model": {"layers": []}}, "layers"),
        ({"preset": "circle", "model": {"layers": [{"units": 0}]}}, "units"),
        ({"preset": "circle", "model": {"colour": "red"}}, "colour"),
        ({"preset": "circle", "speed": 3}, "speed"),
        ({"preset": "circle", "data": {"noise": 2}}, "noise"),
        ({"preset": "circle", "data": {"n_samples": 2}}, "n_samples"),
        ({"preset": "circle", "data": {"train_ratio": 0}}, "train_ratio"),
        ({"preset": "circle", "data": {"labels": "yes/no"}}, "labels"),
        ({"preset": "circle", "data": {"upload": ""}}, "upload"),
        ("not an object", "body"),
    ],
)
def test_create_rejects_schema_errors(client: TestClient, body: Any, field: str) -> None:
    response = post_session(client, body)
    assert response.status_code == 422, response.text
    assert_field_error(response, 422, field)


@pytest.mark.parametrize(
    ("model", "field"),
    [
        (
            {"layers": [{"units": 4, "activation": "swish"}, {"units": 1}]},
            "model.layers[0].activation",
        ),
        ({"loss": "hinge"}, "model.loss"),
        ({"initializer": "zeros"}, "model.initializer"),
        (
            {"layers": [{"units": 3, "activation": "softmax"}, {"units": 1}]},
            "model.layers[0].activation",
        ),
        ({"layers": [{"units": 4, "activation": "tanh"}, {"units": 2}]}, "model.layers"),
        ({"input_size": 3}, "model.input_size"),
        ({"loss": "softmax_cross_entropy"}, "model.loss"),
    ],
)
def test_create_names_the_engine_field_at_fault(
    client: TestClient, model: dict[str, Any], field: str
) -> None:
    response = post_session(client, {"preset": "circle", "model": model})
    assert_field_error(response, 422, field)


def test_create_names_an_unknown_dataset(client: TestClient) -> None:
    response = post_session(client, {"preset": "circle", "data": {"dataset": "mnist"}})
    message = assert_field_error(response, 422, "data.dataset")
    assert "circle" in message  # lists the known ones


def test_create_names_an_unknown_upload(client: TestClient) -> None:
    response = post_session(client, {"preset": "circle", "data": {"upload": "nope"}})
    assert_field_error(response, 422, "data.upload")


def test_create_refuses_nan_and_infinity(client: TestClient) -> None:
    for literal in ("NaN", "Infinity", "-Infinity"):
        text = '{"preset": "circle", "model": {"learning_rate": ' + literal + "}}"
        response = client.post(
            "/api/sessions", content=text, headers={"Content-Type": "application/json"}
        )
        assert_field_error(response, 422, "learning_rate")


def test_create_refuses_malformed_json(client: TestClient) -> None:
    response = client.post(
        "/api/sessions", content=b'{"preset": ', headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


@pytest.fixture
def small_settings(data_dir: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        max_layers=3,
        max_units=16,
        max_parameters=200,
        max_sessions=2,
        max_dataset_rows=600,
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"preset": "circle", "model": {"layers": [{"units": 2}] * 3 + [{"units": 1}]}},
            "model.layers",
        ),
        (
            {"preset": "circle", "model": {"layers": [{"units": 17}, {"units": 1}]}},
            "model.layers[0].units",
        ),
        (
            {"preset": "circle", "model": {"layers": [{"units": 16}, {"units": 16}, {"units": 1}]}},
            "model.layers",
        ),
        ({"preset": "circle", "data": {"n_samples": 601}}, "data.n_samples"),
    ],
)
def test_create_enforces_the_size_limits(
    open_client: OpenClient, small_settings: Settings, body: dict[str, Any], field: str
) -> None:
    client = open_client(small_settings)
    message = assert_field_error(post_session(client, body), 422, field)
    assert "at most" in message or "limit" in message


def test_create_answers_429_when_the_server_is_full(
    open_client: OpenClient, small_settings: Settings
) -> None:
    client = open_client(small_settings)
    for _ in range(2):
        assert post_session(client, {"preset": "circle"}).status_code == 201
    response = post_session(client, {"preset": "circle"})
    assert response.status_code == 429
    assert "maximum" in response.json()["detail"]


# ----- read ---------------------------------------------------------------------------------


def test_read_answers_the_whole_state(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step("batch", 3)
    state = session.read()
    for name in ("step", "epoch", "loss", "layers", "history", "config", "phase", "diverged"):
        assert name in state
    assert state["step"] == 3
    assert state["accuracy"] is not None
    for layer in state["layers"]:
        for name in ("W", "b", "dW", "db", "delta", "z", "a"):
            assert name in layer


def test_read_without_trace_leaves_the_trace_out(create_session: CreateSession) -> None:
    session = create_session()
    session.step()
    layer = session.read(include_trace="false")["layers"][0]
    assert "W" in layer and "dW" not in layer and "delta" not in layer


def test_read_answers_404_for_an_unknown_session(client: TestClient) -> None:
    response = client.get("/api/sessions/nope", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert response.json()["field"] == "id"


def test_read_gives_regression_no_accuracy(create_session: CreateSession) -> None:
    state = create_session(preset="plane").state
    assert state["task"] == "regression" and state["accuracy"] is None


# ----- update (PATCH) -----------------------------------------------------------------------


def test_update_changes_hyperparameters_and_keeps_the_weights(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="circle")
    session.step("batch", 5)
    before = session.read()
    body = {
        "learning_rate": 0.3,
        "batch_size": None,
        "momentum": 0.5,
        "l1": 0.001,
        "l2": 0.01,
        "shuffle": False,
        "activations": ["relu", "relu", "tanh"],
    }
    response = session.client.patch(session.url(), json=body, headers=session.control)
    assert response.status_code == 200, response.text
    state = response.json()
    model = state["config"]["model"]
    assert model["learning_rate"] == 0.3 and model["batch_size"] is None
    assert model["momentum"] == 0.5 and model["l1"] == 0.001 and model["l2"] == 0.01
    assert [layer["activation"] for layer in state["layers"]] == ["relu", "relu", "tanh"]
    assert [layer["W"] for layer in state["layers"]] == [layer["W"] for layer in before["layers"]]
    assert state["step"] == 5


def test_update_takes_activations_by_layer_index(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = session.client.patch(
        session.url(), json={"activations": {"1": "sigmoid"}}, headers=session.control
    )
    assert response.status_code == 200, response.text
    assert response.json()["layers"][1]["activation"] == "sigmoid"


def test_update_is_stored_before_it_answers(create_session: CreateSession, app: Any) -> None:
    session = create_session()
    session.client.patch(session.url(), json={"learning_rate": 0.5}, headers=session.control)
    exported, _, _ = app.state.store.load_session(session.id)
    assert exported["config"]["model"]["learning_rate"] == 0.5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "body"),
        ({"learning_rate": None}, "learning_rate"),
        ({"learning_rate": -0.1}, "learning_rate"),
        ({"momentum": 1}, "momentum"),
        ({"batch_size": 0}, "batch_size"),
        ({"seed": 3}, "seed"),
        ({"activations": ["relu"]}, "activations"),
        ({"activations": {"7": "relu"}}, "activations"),
        ({"activations": {"zero": "relu"}}, "activations"),
        ({"activations": {"0": "swish"}}, "activations"),
        ({"activations": {"0": "softmax"}}, "activations"),
        ({"loss": "hinge"}, "loss"),
        ({"loss": "softmax_cross_entropy"}, "loss"),
    ],
)
def test_update_rejects_bad_changes(
    create_session: CreateSession, body: dict[str, Any], field: str
) -> None:
    session = create_session()
    before = session.read()
    response = session.client.patch(session.url(), json=body, headers=session.control)
    assert_field_error(response, 422, field)
    after = session.read()
    assert after["config"] == before["config"]  # all or nothing


# ----- reset and delete ---------------------------------------------------------------------


def test_reset_restores_the_initial_weights_and_clears_counters(
    create_session: CreateSession,
) -> None:
    session = create_session(preset="circle")
    initial = session.state
    session.step("epoch", 2)
    response = session.client.post(session.url("/reset"), headers=session.control)
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["step"] == 0 and state["epoch"] == 0 and len(state["history"]) == 1
    assert [layer["W"] for layer in state["layers"]] == [layer["W"] for layer in initial["layers"]]


def test_reset_with_a_seed_draws_other_weights(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    response = session.client.post(session.url("/reset"), json={"seed": 5}, headers=session.control)
    state = response.json()
    assert state["config"]["model"]["seed"] == 5
    assert state["layers"][0]["W"] != session.state["layers"][0]["W"]


def test_reset_rejects_a_negative_seed(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.post(
        session.url("/reset"), json={"seed": -3}, headers=session.control
    )
    assert_field_error(response, 422, "seed")


def test_delete_removes_the_session(create_session: CreateSession, app: Any) -> None:
    session = create_session()
    response = session.client.delete(session.url(), headers=session.control)
    assert response.status_code == 204 and response.content == b""
    assert session.client.get(session.url(), headers=session.control).status_code == 404
    assert app.state.store.load_session(session.id) is None
    again = session.client.delete(session.url(), headers=session.control)
    assert again.status_code == 404


def test_delete_is_not_undone_by_a_late_save(create_session: CreateSession, app: Any) -> None:
    session = create_session()
    in_memory = app.state.manager.get(session.id)
    session.client.delete(session.url(), headers=session.control)
    app.state.manager.save(in_memory)  # as a step call racing the delete would
    assert app.state.store.load_session(session.id) is None
    assert session.client.get(session.url(), headers=session.control).status_code == 404


def test_delete_frees_a_place_under_the_session_limit(
    open_client: OpenClient, create_on: Any, small_settings: Settings
) -> None:
    client = open_client(small_settings)
    first = create_on(client, {"preset": "circle"})
    create_on(client, {"preset": "circle"})
    assert post_session(client, {"preset": "circle"}).status_code == 429
    client.delete(first.url(), headers=first.control)
    assert post_session(client, {"preset": "circle"}).status_code == 201


def test_update_takes_a_loss_and_the_output_it_needs_in_one_change(
    create_session: CreateSession,
) -> None:
    """softmax cross-entropy needs a softmax output: asked for together, both take."""
    session = create_session(preset="iris")
    before = session.read()
    last = len(before["layers"]) - 1
    body = {"loss": "mse", "activations": {str(last): "tanh"}}
    response = session.client.patch(session.url(), json=body, headers=session.control)
    assert response.status_code == 200, response.text
    body = {"loss": "softmax_cross_entropy", "activations": {str(last): "softmax"}}
    response = session.client.patch(session.url(), json=body, headers=session.control)
    assert response.status_code == 200, response.text
    after = session.read()
    assert after["config"]["model"]["loss"] == "softmax_cross_entropy"
    assert after["layers"][last]["activation"] == "softmax"
    assert [layer["W"] for layer in after["layers"]] == [layer["W"] for layer in before["layers"]]
