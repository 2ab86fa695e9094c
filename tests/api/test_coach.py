"""GET /api/sessions/{id}/coach: saturation, dead ReLUs, a growing loss, the majority class —
and nothing on a healthy run. Each flagged network is checked independently here too."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
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


# ----- a saturated output layer, gradients vanishing with depth -------------------------------
# Recomputed here in plain NumPy from the exported weights: the forward pass, tanh′ = 1 − a²,
# and the backward pass of TF's square loss ½·mean (ŷ − y)², so ∂E/∂ŷ = (ŷ − y)/N.

ACTIVATE = {"tanh": np.tanh, "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z))}
DERIVATIVE_OF_OUTPUT = {"tanh": lambda a: 1.0 - a * a, "sigmoid": lambda a: a * (1.0 - a)}


def plain_pass(exported: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    """Every layer's input x, z and a on the training rows, with the exported weights."""
    a = np.array(exported["data"]["x_train"])
    names = [layer["activation"] for layer in exported["config"]["model"]["layers"]]
    xs, zs, outs = [], [], []
    for layer, name in zip(exported["model"]["layers"], names, strict=True):
        xs.append(a)
        z = a @ np.array(layer["W"]) + np.array(layer["b"])
        a = ACTIVATE[name](z)
        zs.append(z)
        outs.append(a)
    return xs, zs, outs


def plain_square_gradient_norms(exported: dict[str, Any]) -> list[float]:
    """‖∂E/∂W‖ per layer for E = ½·mean (ŷ − y)², every training row in one batch."""
    xs, _, outs = plain_pass(exported)
    y = np.array(exported["data"]["y_train"])
    names = [layer["activation"] for layer in exported["config"]["model"]["layers"]]
    error = (outs[-1] - y) / y.size
    norms = [0.0] * len(outs)
    for k in reversed(range(len(outs))):
        delta = error * DERIVATIVE_OF_OUTPUT[names[k]](outs[k])
        norms[k] = float(np.linalg.norm(xs[k].T @ delta))
        error = delta @ np.array(exported["model"]["layers"][k]["W"]).T
    return norms


def coach_of(client: TestClient, session: Any, kind: str) -> list[dict[str, Any]]:
    return [f for f in findings(client, session) if f["kind"] == kind]


def test_a_saturated_output_stuck_at_the_wrong_end(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle", model={"learning_rate": 10.0})
    session.step("epoch", 30)
    found = coach_of(client, session, "output_saturation")
    assert len(found) == 1 and found[0]["layer"] == 2 and found[0]["units"] == [0]
    exported = session.export()
    _, _, outs = plain_pass(exported)
    y = np.array(exported["data"]["y_train"])
    prime = 1.0 - outs[-1] ** 2  # tanh′(z) from the output a = tanh(z)
    flat = prime < 0.01
    stuck = flat & (np.abs(outs[-1] - y) >= 0.5)
    values = found[0]["values"]
    assert values["saturated_share"] == pytest.approx(flat.mean(), abs=1e-12)
    assert values["stuck_share"] == pytest.approx(stuck.mean(), abs=1e-12)
    assert values["largest_derivative"] == pytest.approx(prime[stuck].max(), rel=1e-6, abs=1e-300)
    assert flat.mean() >= 0.5 and stuck.mean() >= 0.1
    message = found[0]["message"]
    assert f"on {flat.mean():.0%} of the training rows" in message
    assert f"{stuck.mean():.0%} of the rows sit at the wrong end" in message
    assert "lower the learning rate" in message and "f′(z)" in found[0]["formula"]


def test_a_saturated_output_at_the_right_end_is_no_finding(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="gaussians", model={"learning_rate": 10.0})
    session.step("epoch", 5)  # two separable blobs: every row ends at its own class's end
    exported = session.export()
    _, _, outs = plain_pass(exported)
    saturated = np.mean(1.0 - outs[-1] ** 2 < 0.01)
    assert saturated >= 0.5  # flat on most rows: the saturated share alone would flag it
    assert coach_of(client, session, "output_saturation") == []


def test_a_fused_sigmoid_output_is_never_flagged_as_saturated(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(
        preset="circle",
        model={
            "layers": [{"units": 4, "activation": "tanh"}, {"units": 1, "activation": "sigmoid"}],
            "loss": "binary_cross_entropy",
        },
        data={"labels": "01"},
    )
    exported = session.export()
    exported["model"]["layers"][1]["b"] = [[100.0]]  # σ(z) ≈ 1 on every row, half wrong
    _, _, outs = plain_pass(exported)
    flat = outs[-1] * (1.0 - outs[-1]) < 0.01
    assert flat.mean() >= 0.5
    y = np.array(exported["data"]["y_train"])
    assert np.mean(flat & (np.abs(outs[-1] - y) >= 0.5)) >= 0.1  # unfused, this would be flagged
    url, headers = imported(client, exported)
    found = client.get(f"{url}/coach", headers=headers).json()["findings"]
    # δ = (p − y)/n: large on the wrong rows, no f′(z) in it to vanish.
    assert [f for f in found if f["kind"] == "output_saturation"] == []


DEEP_SIGMOID = [{"units": 8, "activation": "sigmoid"}] * 6 + [{"units": 1, "activation": "tanh"}]


def test_a_deep_sigmoid_network_whose_gradients_vanish_without_saturating(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(
        preset="circle", model={"layers": DEEP_SIGMOID, "initializer": "xavier"}
    )
    session.step("epoch", 2)
    found = findings(client, session)
    assert [f["kind"] for f in found if "saturation" in f["kind"]] == []  # nothing saturated
    vanishing = [f for f in found if f["kind"] == "vanishing_gradient"]
    assert len(vanishing) == 1 and vanishing[0]["layer"] == 0
    exported = session.export()
    norms = plain_square_gradient_norms(exported)
    values = vanishing[0]["values"]
    np.testing.assert_allclose(values["grad_norms"], norms, rtol=1e-9)
    ratio = norms[0] / norms[-1]
    assert ratio < 1e-2 and values["ratio"] == pytest.approx(ratio, rel=1e-9)
    _, _, outs = plain_pass(exported)
    means = [float(np.mean(a * (1 - a))) for a in outs[:-1]]
    np.testing.assert_allclose(values["mean_sigmoid_derivatives"], means, rtol=1e-12)
    assert all(mean <= 0.25 for mean in means)
    message = vanishing[0]["message"]
    assert f"is {norms[0]:.2g}, {ratio:.2g} × the output layer's {norms[-1]:.2g}" in message
    assert f"product {np.prod(means):.2g}" in message and "relu" in message


@pytest.mark.parametrize(
    "layers",
    [
        [{"units": 8, "activation": "tanh"}] * 6 + [{"units": 1, "activation": "tanh"}],
        [{"units": 8, "activation": "sigmoid"}] * 2 + [{"units": 1, "activation": "tanh"}],
    ],
    ids=["deep-tanh", "shallow-sigmoid"],
)
def test_healthy_depths_have_no_vanishing_finding(
    client: TestClient, create_session: CreateSession, layers: list[dict[str, Any]]
) -> None:
    session = create_session(preset="circle", model={"layers": layers, "initializer": "xavier"})
    session.step("epoch", 2)
    assert coach_of(client, session, "vanishing_gradient") == []
    norms = plain_square_gradient_norms(session.export())
    assert norms[0] / norms[-1] > 1e-2  # the ratio itself is healthy


def test_a_deep_sigmoid_network_with_saturated_units_is_told_saturation_not_depth(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(
        preset="circle", model={"layers": DEEP_SIGMOID, "initializer": "xavier"}
    )
    exported = session.export()
    exported["model"]["layers"][2]["b"] = [[100.0] * 8]  # σ ≈ 1, σ′ ≈ 0: layer 2 saturated
    norms = plain_square_gradient_norms(exported)
    assert norms[0] / norms[-1] < 1e-2  # vanishing, but because of the saturated layer
    url, headers = imported(client, exported)
    found = client.get(f"{url}/coach", headers=headers).json()["findings"]
    assert [f["layer"] for f in found if f["kind"] == "saturation"] == [2]
    assert [f for f in found if f["kind"] == "vanishing_gradient"] == []
