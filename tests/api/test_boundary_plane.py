"""``/boundary`` grids the plane (x1, x2) the page draws, whatever the input features: each
grid point goes through the session's features before the network sees it (issue #21, 11).

The expected grid and outputs are computed here independently: the plane's extent from the
session's own points with the page's margin (read from the page's config, ``grid_margin``), the
features of each point in plain NumPy, and a forward pass in plain NumPy with the session's
exported weights.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.page_config import page_config_of

FloatFn = Callable[[np.ndarray], np.ndarray]

# A feature id -> its column of points (n, 2): written out here, not the engine's table.
FEATURE_OF: dict[str, FloatFn] = {
    "x1": lambda p: p[:, 0],
    "x2": lambda p: p[:, 1],
    "x1_squared": lambda p: p[:, 0] * p[:, 0],
    "x2_squared": lambda p: p[:, 1] * p[:, 1],
    "x1_x2": lambda p: p[:, 0] * p[:, 1],
    "sin_x1": lambda p: np.sin(p[:, 0]),
    "sin_x2": lambda p: np.sin(p[:, 1]),
}
ACTIVATION: dict[str, FloatFn] = {
    "tanh": np.tanh,
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "relu": lambda z: np.maximum(z, 0.0),
    "linear": lambda z: z,
}
RESOLUTION = 9


def headers_of(created: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {created['token']}"}


def trained_session(client: TestClient, body: dict[str, Any]) -> dict[str, Any]:
    created = client.post("/api/sessions", json=body)
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    stepped = client.post(
        f"/api/sessions/{answer['id']}/step",
        json={"unit": "epoch", "count": 3},
        headers=headers_of(answer),
    )
    assert stepped.status_code == 200, stepped.text
    return answer


def page_margin(client: TestClient) -> tuple[float, float]:
    """The margin the page draws its boundary with, from its config."""
    margin = page_config_of(client.get("/").text)["grid_margin"]
    return float(margin["fraction"]), float(margin["least"])


def plain_forward(layers: list[dict[str, Any]], activations: list[str], x: np.ndarray) -> Any:
    a = x
    for layer, name in zip(layers, activations, strict=True):
        z = a @ np.array(layer["W"]) + (0.0 if layer["b"] is None else np.array(layer["b"]))
        if name == "softmax":
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        else:
            a = ACTIVATION[name](z)
    return a


def expected_axes(points: np.ndarray, margin: tuple[float, float]) -> list[np.ndarray]:
    fraction, least = margin
    axes = []
    for k in range(2):
        low, high = points[:, k].min(), points[:, k].max()
        room = (high - low) * fraction + least
        axes.append(np.linspace(low - room, high + room, RESOLUTION))
    return axes


@pytest.mark.parametrize(
    ("preset", "features"),
    [
        ("circle", ["x1_squared", "x2_squared"]),
        ("xor", ["x1_x2", "sin_x1", "sin_x2"]),
        ("spiral", ["x1", "x2_squared", "x1_x2", "sin_x2"]),
        ("gaussians", ["x1_x2"]),
        ("plane", ["x1_squared", "sin_x1"]),
    ],
)
def test_boundary_grids_the_plane_and_predicts_through_the_features(
    client: TestClient, preset: str, features: list[str]
) -> None:
    session = trained_session(client, {"preset": preset, "data": {"features": features}})
    url = f"/api/sessions/{session['id']}"
    headers = headers_of(session)
    grid = client.get(f"{url}/boundary", params={"resolution": RESOLUTION}, headers=headers)
    assert grid.status_code == 200, grid.text
    answer = grid.json()
    exported = client.get(f"{url}/export", headers=headers).json()
    dataset = exported["data"]
    plane = np.vstack([dataset["plane"]["x_train"], dataset["plane"]["x_test"]])

    assert answer["axes"] == ["x1", "x2"]
    assert answer["inputs"] == dataset["feature_names"]
    xs, ys = expected_axes(plane, page_margin(client))
    np.testing.assert_allclose(answer["x"], xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(answer["y"], ys, rtol=0, atol=1e-12)
    assert min(answer["x"]) < plane[:, 0].min()  # the plane's own negative side, not x1²'s

    points = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
    canonical = [name for name in FEATURE_OF if name in features]  # the columns' order
    inputs = np.stack([FEATURE_OF[name](points) for name in canonical], axis=1)
    activations = [layer["activation"] for layer in exported["config"]["model"]["layers"]]
    outputs = plain_forward(exported["model"]["layers"], activations, inputs)
    expected = outputs.argmax(axis=1) if outputs.shape[1] > 1 else outputs[:, 0]
    np.testing.assert_allclose(
        np.array(answer["z"]), expected.reshape(RESOLUTION, RESOLUTION), rtol=1e-12, atol=1e-14
    )


def test_boundary_on_the_plain_plane_names_x1_x2_as_axes_and_inputs(client: TestClient) -> None:
    session = trained_session(client, {"preset": "circle"})
    url = f"/api/sessions/{session['id']}"
    headers = headers_of(session)
    answer = client.get(f"{url}/boundary", params={"resolution": RESOLUTION}, headers=headers)
    dataset = client.get(f"{url}/dataset", headers=headers).json()
    points = np.vstack([dataset["x_train"], dataset["x_test"]])
    assert answer.json()["axes"] == answer.json()["inputs"] == ["x1", "x2"]
    xs, ys = expected_axes(points, page_margin(client))
    np.testing.assert_allclose(answer.json()["x"], xs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(answer.json()["y"], ys, rtol=0, atol=1e-12)


def upload(client: TestClient, text: str) -> dict[str, Any]:
    answer: dict[str, Any] = client.post(
        "/api/datasets", files={"file": ("f.csv", text.encode())}
    ).json()
    return answer


def session_on_upload(client: TestClient, text: str, inputs: int) -> dict[str, Any]:
    uploaded = upload(client, text)
    body = {
        "model": {"input_size": inputs, "layers": [{"units": 1, "activation": "sigmoid"}]},
        "data": {"upload": uploaded["id"]},
    }
    created = client.post("/api/sessions", json=body, headers=headers_of(uploaded))
    assert created.status_code == 201, created.text
    answer: dict[str, Any] = created.json()
    return answer


def test_a_two_column_upload_is_its_own_plane(client: TestClient) -> None:
    rows = "".join(f"{k % 5},{k * 0.5},{k % 2}\n" for k in range(12))
    session = session_on_upload(client, "height,weight,y\n" + rows, 2)
    answer = client.get(
        f"/api/sessions/{session['id']}/boundary",
        params={"resolution": RESOLUTION},
        headers=headers_of(session),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["axes"] == answer.json()["inputs"] == ["height", "weight"]


def test_data_off_a_plane_is_refused_saying_why(client: TestClient) -> None:
    rows = "".join(f"{k % 5},{k * 0.5},{k % 3},{k % 2}\n" for k in range(12))
    wide = session_on_upload(client, "a,b,c,y\n" + rows, 3)
    iris = client.post(
        "/api/sessions",
        json={
            "model": {
                "layers": [{"units": 3, "activation": "softmax"}],
                "loss": "softmax_cross_entropy",
            },
            "data": {"dataset": "iris"},
        },
    ).json()
    for session, count in ((wide, 3), (iris, 4)):
        answer = client.get(f"/api/sessions/{session['id']}/boundary", headers=headers_of(session))
        assert answer.status_code == 422, answer.text
        assert answer.json()["field"] == "resolution"
        assert "drawn over a plane (x1, x2)" in answer.json()["detail"]
        assert f"{count} inputs" in answer.json()["detail"]
