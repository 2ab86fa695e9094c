"""TF Playground's input features (x1², x2², x1·x2, sin x1, sin x2) for the 2-D datasets: the
network's input size follows, the columns are the features of the points on the plane."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient


def create(client: TestClient, body: dict[str, Any]) -> Any:
    return client.post("/api/sessions", json=body)


def test_features_become_the_inputs_and_the_network_follows(client: TestClient) -> None:
    features = ["sin_x2", "x1", "x1_x2", "x1_squared"]  # any order: kept in the canonical one
    created = create(client, {"preset": "circle", "data": {"features": features}})
    assert created.status_code == 201, created.text
    answer = created.json()
    assert answer["state"]["config"]["model"]["input_size"] == 4
    headers = {"Authorization": f"Bearer {answer['token']}"}
    dataset = client.get(f"/api/sessions/{answer['id']}/dataset", headers=headers).json()
    assert dataset["feature_names"] == ["x1", "x1²", "x1·x2", "sin x2"]
    plane = np.array(dataset["plane"]["x_train"])
    x = np.array(dataset["x_train"])
    expected = np.stack(
        [plane[:, 0], plane[:, 0] ** 2, plane[:, 0] * plane[:, 1], np.sin(plane[:, 1])], axis=1
    )
    np.testing.assert_array_equal(x, expected)
    # The plane is the circle preset's own points.
    plain = create(client, {"preset": "circle"}).json()
    plain_headers = {"Authorization": f"Bearer {plain['token']}"}
    points = client.get(f"/api/sessions/{plain['id']}/dataset", headers=plain_headers).json()
    np.testing.assert_array_equal(plane, np.array(points["x_train"]))
    stepped = client.post(
        f"/api/sessions/{answer['id']}/step", json={"unit": "epoch", "count": 5}, headers=headers
    )
    assert stepped.status_code == 200 and stepped.json()["state"]["loss"] is not None


def test_bad_features_are_refused_naming_the_field(client: TestClient) -> None:
    for data in (
        {"features": ["x3"]},
        {"features": []},
        {"features": ["x1", "x1"]},
        {"dataset": "iris", "features": ["x1"]},
    ):
        answer = create(client, {"preset": "circle", "data": data})
        assert answer.status_code == 422, (data, answer.text)
        body = answer.json()
        assert body.get("field") == "data.features", (data, body)


def test_an_export_with_features_imports_with_its_plane(client: TestClient) -> None:
    answer = create(client, {"preset": "xor", "data": {"features": ["x1_x2"]}}).json()
    headers = {"Authorization": f"Bearer {answer['token']}"}
    exported = client.get(f"/api/sessions/{answer['id']}/export", headers=headers).json()
    imported = client.post("/api/sessions/import", json=exported)
    assert imported.status_code == 201, imported.text
    copy = imported.json()
    copy_headers = {"Authorization": f"Bearer {copy['token']}"}
    dataset = client.get(f"/api/sessions/{copy['id']}/dataset", headers=copy_headers).json()
    assert dataset["feature_names"] == ["x1·x2"]
    assert dataset["plane"] == exported["data"]["plane"]
