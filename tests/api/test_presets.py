"""GET /api/presets: the lessons, TF Playground's defaults and iris, each buildable."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

REQUIRED = {"lesson-000", "lesson-003-xor", "circle", "spiral", "iris"}


def presets(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/presets")
    assert response.status_code == 200
    return {preset["id"]: preset for preset in response.json()}


def test_list_presets_has_the_required_ids(client: TestClient) -> None:
    assert set(presets(client)) >= REQUIRED


def test_list_presets_gives_full_model_configs(client: TestClient) -> None:
    for preset in presets(client).values():
        model = preset["model"]
        assert {"input_size", "layers", "loss", "learning_rate", "momentum", "seed"} <= set(model)
        assert preset["description"] and preset["task"] in ("binary", "multiclass", "regression")


def test_tf_playground_presets_use_its_defaults(client: TestClient) -> None:
    for name in ("circle", "spiral"):
        preset = presets(client)[name]
        model, data = preset["model"], preset["data"]
        assert [layer["units"] for layer in model["layers"]] == [4, 2, 1]
        assert {layer["activation"] for layer in model["layers"]} == {"tanh"}
        assert model["learning_rate"] == 0.03 and model["batch_size"] == 10
        assert data["train_ratio"] == 0.5 and data["noise"] == 0 and data["labels"] == "pm1"


def test_iris_is_multiclass(client: TestClient) -> None:
    iris = presets(client)["iris"]
    assert iris["task"] == "multiclass"
    assert iris["model"]["layers"][-1] == {"units": 3, "activation": "softmax"}


def test_every_listed_preset_builds_a_session_with_its_config(client: TestClient) -> None:
    for preset_id, preset in presets(client).items():
        response = client.post("/api/sessions", json={"preset": preset_id})
        assert response.status_code == 201, (preset_id, response.text)
        assert response.json()["state"]["config"]["model"] == preset["model"]
