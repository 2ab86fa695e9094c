"""GET /api/sessions/{id}/coach: saturation, dead ReLUs, a growing loss, the majority class —
and nothing on a healthy run. Each flagged network is checked independently here too."""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi.testclient import TestClient

CreateSession = Any  # fixtures from tests/conftest.py

RELU_CIRCLE = {
    "preset": "circle",
    "model": {
        "layers": [
            {"units": 4, "activation": "relu"},
            {"units": 2, "activation": "relu"},
            {"units": 1, "activation": "tanh"},
        ]
    },
}


def findings(client: TestClient, session: Any) -> list[dict[str, Any]]:
    response = client.get(session.url("/coach"), headers=session.watch)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["findings"]
    return found


def imported(client: TestClient, exported: dict[str, Any]) -> tuple[str, dict[str, str]]:
    response = client.post("/api/sessions/import", json=exported)
    assert response.status_code == 201, response.text
    answer = response.json()
    return f"/api/sessions/{answer['id']}", {"Authorization": f"Bearer {answer['token']}"}


def test_nothing_on_a_healthy_circle_run(client: TestClient, create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    state = session.step("epoch", 30)["state"]
    assert state["accuracy"] > 0.9  # it is learning
    assert findings(client, session) == []


def test_a_saturated_tanh_network_at_learning_rate_10(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle", model={"learning_rate": 10.0})
    state = session.step("epoch", 30)["state"]
    found = findings(client, session)
    saturated = [f for f in found if f["kind"] == "saturation"]
    assert saturated and saturated[0]["layer"] == 0
    assert "saturated" in saturated[0]["message"] and "f′(z)" in saturated[0]["formula"]
    # Independently: tanh′(z) = 1 − tanh²(z) on the training rows, per unit.
    x = np.array(client.get(session.url("/dataset"), headers=session.watch).json()["x_train"])
    layer = state["layers"][0]
    z = x @ np.array(layer["W"]) + np.array(layer["b"])
    flat_share = (np.abs(1 - np.tanh(z) ** 2) < 0.01).mean(axis=0)
    assert saturated[0]["units"] == [j for j in range(4) if flat_share[j] >= 0.9]
    assert len(saturated[0]["units"]) >= 2


def test_dead_relus_from_a_large_negative_bias(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(**RELU_CIRCLE)
    exported = session.export()
    exported["model"]["layers"][0]["b"] = [[-100.0] * 4]
    url, headers = imported(client, exported)
    response = client.get(f"{url}/coach", headers=headers)
    dead = [f for f in response.json()["findings"] if f["kind"] == "dead_relu"]
    assert dead[0]["layer"] == 0 and dead[0]["units"] == [0, 1, 2, 3]
    assert "dead" in dead[0]["message"]
    # Independently: every relu output of layer 0 is 0 on every row.
    x = np.array(exported["data"]["x_train"])
    W = np.array(exported["model"]["layers"][0]["W"])
    assert (np.maximum(x @ W - 100.0, 0) == 0).all()


def test_a_healthy_relu_network_has_no_dead_units(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(**RELU_CIRCLE)
    assert [f for f in findings(client, session) if f["kind"] == "dead_relu"] == []


def test_stuck_at_the_majority_class(client: TestClient, create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    session.step("epoch", 1)
    exported = session.export()
    exported["model"]["layers"][2]["b"] = [[100.0]]  # tanh output +1 for every row
    url, headers = imported(client, exported)
    found = client.get(f"{url}/coach", headers=headers).json()["findings"]
    stuck = [f for f in found if f["kind"] == "majority_class"]
    assert len(stuck) == 1 and stuck[0]["values"]["share"] == 1.0
    y = np.array(exported["data"]["y_train"])[:, 0]
    assert stuck[0]["values"]["accuracy"] == np.mean(y > 0)


def test_a_growing_loss_says_the_learning_rate_is_too_high(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    session.step("epoch", 3)
    exported = session.export()
    for k, point in enumerate(exported["history"]):
        point["train_loss"] = 0.2 * (k + 1)  # 0.2, 0.4, 0.6, 0.8: growing
    url, headers = imported(client, exported)
    found = client.get(f"{url}/coach", headers=headers).json()["findings"]
    assert [f["kind"] for f in found if f["kind"] == "lr_too_high"] == ["lr_too_high"]
