"""Uploaded data in real units learns: features standardized with the train split's mean and
std by default (shown in the dataset, switchable off), the spread of the column scales."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

ROWS = 200


def real_units_csv(seed: int = 0) -> str:
    """Height (cm), weight (kg) and a 0/1 label separable by a line in those units."""
    rng = np.random.default_rng(seed)
    lines = ["height_cm,weight_kg,label"]
    while len(lines) <= ROWS:
        height, weight = rng.normal(170, 10), rng.normal(70, 12)
        margin = weight + 0.5 * height - 155
        if abs(margin) < 2:  # a clear gap: the case is separable
            continue
        lines.append(f"{height:.1f},{weight:.1f},{int(margin > 0)}")
    return "\n".join(lines) + "\n"


def session_on(client: TestClient, csv: str, **data: Any) -> dict[str, Any]:
    uploaded = client.post("/api/datasets", files={"file": ("people.csv", csv.encode())})
    assert uploaded.status_code == 201, uploaded.text
    body = {
        "model": {
            "layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
            "loss": "binary_cross_entropy",
            "learning_rate": 0.1,
            "batch_size": 10,
        },
        "data": {"upload": uploaded.json()["id"], "train_ratio": 0.8, **data},
    }
    owner = {"Authorization": f"Bearer {uploaded.json()['token']}"}  # uploads are private
    created = client.post("/api/sessions", json=body, headers=owner)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def train(client: TestClient, created: dict[str, Any], epochs: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/sessions/{created['id']}"
    stepped = client.post(f"{url}/step", json={"unit": "epoch", "count": epochs}, headers=headers)
    assert stepped.status_code == 200, stepped.text
    state: dict[str, Any] = stepped.json()["state"]
    return state


def dataset_of(client: TestClient, created: dict[str, Any]) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {created['token']}"}
    url = f"/api/sessions/{created['id']}/dataset"
    answer: dict[str, Any] = client.get(url, headers=headers).json()
    return answer


def test_a_real_units_csv_is_standardized_and_learns(client: TestClient) -> None:
    csv = real_units_csv()
    created = session_on(client, csv)
    data = dataset_of(client, created)
    x_train = np.array(data["x_train"])
    np.testing.assert_allclose(x_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(x_train.std(axis=0), 1, atol=1e-12)
    # The statistics shown are the raw train rows': they take x back to centimetres and kilos.
    mean, std = np.array(data["scaling"]["mean"]), np.array(data["scaling"]["std"])
    raw = np.loadtxt(csv.splitlines()[1:], delimiter=",")[:, :2]
    assert np.all(np.abs(mean - raw.mean(axis=0)) < 3) and np.all(np.abs(std - raw.std(axis=0)) < 2)
    recovered = x_train * std + mean
    rows = {tuple(np.round(row, 1)) for row in raw}
    assert all(tuple(np.round(row, 1)) in rows for row in recovered)
    assert data["feature_names"] == ["height_cm", "weight_kg"]

    state = train(client, created, 60)
    assert state["accuracy"] >= 0.9, state["accuracy"]
    assert state["test_accuracy"] >= 0.9, state["test_accuracy"]


def test_standardizing_can_be_switched_off_and_the_scales_are_compared(client: TestClient) -> None:
    created = session_on(client, real_units_csv(), standardize=False)
    data = dataset_of(client, created)
    assert data["scaling"] is None
    assert np.array(data["x_train"])[:, 0].mean() > 100, "centimetres, as uploaded"
    wide = "small,large,label\n" + "".join(
        f"{0.001 * k:.4f},{1000.0 * ((k * 7) % 11)},{k % 2}\n" for k in range(40)
    )
    spread = dataset_of(client, session_on(client, wide))
    x = np.loadtxt(wide.splitlines()[1:], delimiter=",")
    assert spread["scale_ratio"] > 100
    np.testing.assert_allclose(
        spread["scale_ratio"],
        np.array(spread["scaling"]["std"]).max() / np.array(spread["scaling"]["std"]).min(),
    )
    assert x[:, 1].std() / x[:, 0].std() > 100
