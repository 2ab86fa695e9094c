"""An exported notebook continues its run: executed in a fresh kernel, its next batch steps
give the server's next ones, bit for bit — weights, biases, momentum's velocities and the tfp
rule's dead weights after every step (issue #25).

Each run is stepped on the server first (mid-epoch, one mid-batch, one whose steps cross an
epoch's end and draw the next order), its notebook is fetched with the watch token, and then
both go on: the server by POST …/step, the notebook by its own ``train(1)`` (lesson 003's
style) or ``network.train(1, learning_rate)`` (lesson 000's), N times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine.datasets import make_dataset

from .notebook_kernel import kernel, read, tagged

STEPS = 5  # compared steps per run: each is a whole batch, so a few cover the arithmetic

RECORD_003 = """\
import json
listed = lambda array: None if array is None else array.tolist()
recorded = []
for _ in range({steps}):
    train(1)
    recorded.append([
        {{
            "W": layer.weights.tolist(),
            "b": None if layer.bias is None else layer.bias.tolist(),
            "velocity_W": listed(layer.velocity_weights),
            "velocity_b": listed(layer.velocity_bias),
            "dead": listed(layer.dead),
        }}
        for layer in network.layers if isinstance(layer, FCLayer)
    ])
print("RECORDED " + json.dumps(recorded))
"""

RECORD_000 = """\
import json
recorded = []
for _ in range({steps}):
    network.train(1, learning_rate)
    recorded.append([{{"W": network.weights1.tolist()}}, {{"W": network.weights2.tolist()}}])
print("RECORDED " + json.dumps(recorded))
"""


@dataclass
class Run:
    """A session on the test's server: its id and tokens."""

    client: TestClient
    id: str
    token: str
    watch_token: str

    def step(self, unit: str, count: int) -> dict[str, Any]:
        response = self.client.post(
            f"/api/sessions/{self.id}/step",
            json={"unit": unit, "count": count},
            headers={"Authorization": f"Bearer {self.token}"},
        )
        assert response.status_code == 200, response.text
        assert not response.json().get("diverged"), response.text
        result: dict[str, Any] = response.json()
        return result

    def export(self) -> dict[str, Any]:
        response = self.client.get(
            f"/api/sessions/{self.id}/export",
            headers={"Authorization": f"Bearer {self.watch_token}"},
        )
        assert response.status_code == 200, response.text
        exported: dict[str, Any] = response.json()
        return exported

    def notebook(self, style: str) -> str:
        response = self.client.get(
            f"/api/sessions/{self.id}/notebook",
            params={"style": style},
            headers={"Authorization": f"Bearer {self.watch_token}"},
        )
        assert response.status_code == 200, response.text
        return response.text


def create(client: TestClient, body: dict[str, Any], token: str | None = None) -> Run:
    headers = {} if token is None else {"Authorization": f"Bearer {token}"}
    response = client.post("/api/sessions", json=body, headers=headers)
    assert response.status_code == 201, response.text
    created = response.json()
    return Run(client, created["id"], created["token"], created["watch_token"])


def spiral_as_two_classes(client: TestClient) -> tuple[str, str]:
    """TF Playground's spiral uploaded as a two-class CSV (one-hot targets, for a softmax):
    the upload's id and token."""
    spiral = make_dataset("spiral", n_samples=300, noise=0.1, train_ratio=1.0, seed=3)
    points, arms = spiral.x_train.tolist(), spiral.y_train[:, 0].astype(int).tolist()
    rows = [f"{x1!r},{x2!r},{arm}" for (x1, x2), arm in zip(points, arms, strict=True)]
    csv = "x1,x2,arm\n" + "\n".join(rows) + "\n"
    response = client.post(
        "/api/datasets",
        files={"file": ("spiral.csv", csv.encode())},
        data={"task": "multiclass", "target": "arm"},
    )
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["token"]


def softmax_spiral(client: TestClient) -> Run:
    upload, token = spiral_as_two_classes(client)
    body = {
        "model": {
            "layers": [{"units": 8, "activation": "tanh"}, {"units": 2, "activation": "softmax"}],
            "loss": "softmax_cross_entropy",
            "learning_rate": 0.1,
            "batch_size": 16,
        },
        "data": {"upload": upload},
    }
    return create(client, body, token)


# name → (how the session is made, what the server runs before the export, the style)
RUNS: dict[str, tuple[Any, list[tuple[str, int]], str]] = {
    # TF Playground's default: tanh, its ½-square loss, 7 batches of 10 into a 250-row epoch.
    "tanh-circle": (lambda c: create(c, {"preset": "circle"}), [("batch", 7)], "lesson003"),
    # Softmax + cross-entropy (fused: (p − y)/n) on 240 rows in batches of 16: the steps
    # run past the epoch's last batch and draw the next epoch's order from the generator.
    "softmax-spiral": (softmax_spiral, [("batch", 13)], "lesson003"),
    "lesson-000": (lambda c: create(c, {"preset": "lesson-000"}), [("batch", 3)], "lesson000"),
    "lesson-000-as-lesson-003": (
        lambda c: create(c, {"preset": "lesson-000"}),
        [("batch", 3)],
        "lesson003",
    ),
    # Momentum and L2 (one step), ReLU and leaky ReLU, ragged batches of 7 in a 250-row
    # epoch, exported mid-batch: three phases of the open batch walked.
    "momentum-l2": (
        lambda c: create(
            c,
            {
                "preset": "xor",
                "model": {
                    "layers": [
                        {"units": 5, "activation": "relu"},
                        {"units": 3, "activation": "leaky_relu"},
                        {"units": 1, "activation": "tanh"},
                    ],
                    "momentum": 0.9,
                    "l2": 0.003,
                    "penalty_rule": "gradient",
                    "batch_size": 7,
                },
            },
        ),
        [("batch", 37), ("phase", 3)],
        "lesson003",
    ),
    # TF Playground's L1 step, freezing weights at 0, on a sigmoid + binary cross-entropy.
    "tfp-l1": (
        lambda c: create(
            c,
            {
                "preset": "circle",
                "model": {
                    "layers": [
                        {"units": 4, "activation": "tanh"},
                        {"units": 2, "activation": "tanh"},
                        {"units": 1, "activation": "sigmoid"},
                    ],
                    "loss": "binary_cross_entropy",
                    "learning_rate": 0.3,
                    "l1": 0.02,
                },
                "data": {"labels": "01"},
            },
        ),
        [("batch", 30)],
        "lesson003",
    ),
    # float32, a sigmoid hidden layer and a softmax with the MSE: softmax's own backward pass.
    "iris-float32-softmax-mse": (
        lambda c: create(
            c,
            {
                "preset": "iris",
                "model": {
                    "layers": [
                        {"units": 6, "activation": "sigmoid"},
                        {"units": 3, "activation": "softmax"},
                    ],
                    "loss": "mse",
                    "dtype": "float32",
                },
            },
        ),
        [("batch", 5)],
        "lesson003",
    ),
}


def notebook_steps(text: str, style: str, steps: int) -> list[list[dict[str, Any]]]:
    """Every cell of the notebook but its last ``train`` call, in a fresh kernel; then
    ``steps`` steps, the layers recorded after each."""
    notebook = read(text)
    notebook.cells = [cell for cell in notebook.cells if not tagged(cell, "train")]
    record = (RECORD_000 if style == "lesson000" else RECORD_003).format(steps=steps)
    with kernel(notebook) as run:
        for cell in list(notebook.cells):
            run(cell)
        printed = run(record)
    line = next(line for line in printed.splitlines() if line.startswith("RECORDED "))
    recorded: list[list[dict[str, Any]]] = json.loads(line.removeprefix("RECORDED "))
    return recorded


def server_steps(run: Run, steps: int) -> list[list[dict[str, Any]]]:
    after = []
    for _ in range(steps):
        run.step("batch", 1)
        after.append(run.export()["model"]["layers"])
    return after


def same_bits(mine: Any, theirs: Any, dtype: str) -> bool:
    """Equal as arrays of the run's dtype, bit for bit (−0.0 is not 0.0)."""
    a, b = np.asarray(mine, dtype=dtype), np.asarray(theirs, dtype=dtype)
    return bool(np.array_equal(a, b) and a.tobytes() == b.tobytes())


@pytest.mark.timeout(600)
@pytest.mark.parametrize("name", list(RUNS))
def test_a_notebook_continues_its_run_bit_for_bit(client: TestClient, name: str) -> None:
    make, before, style = RUNS[name]
    run = make(client)
    for unit, count in before:
        run.step(unit, count)
    exported = run.export()
    state, n_train = exported["model"], len(exported["data"]["x_train"])
    batch_size = exported["config"]["model"]["batch_size"]
    assert state["position"] > 0 or batch_size is None or batch_size >= n_train  # mid-epoch
    if name == "momentum-l2":
        assert state["cursor"] == 3 and all(layer["velocity_W"] for layer in state["layers"])
    if name == "tfp-l1":
        assert any(layer["dead"] and np.any(layer["dead"]) for layer in state["layers"])
    dtype = exported["config"]["model"]["dtype"]
    epoch = state["epoch"]

    text = run.notebook(style)
    mine = notebook_steps(text, style, STEPS)
    theirs = server_steps(run, STEPS)
    if name == "softmax-spiral":
        assert run.export()["model"]["epoch"] == epoch + 1  # the steps crossed an epoch's end

    fields = ("W",) if style == "lesson000" else ("W", "b", "velocity_W", "velocity_b", "dead")
    for step, (my_layers, their_layers) in enumerate(zip(mine, theirs, strict=True)):
        for k, (my_layer, their_layer) in enumerate(zip(my_layers, their_layers, strict=True)):
            for field in fields:
                where = f"step {step + 1}, layer {k}, {field}"
                if their_layer[field] is None:
                    assert my_layer[field] is None, where
                elif field == "dead":
                    assert my_layer[field] == their_layer[field], where
                else:
                    assert same_bits(my_layer[field], their_layer[field], dtype), where
        if style == "lesson000":
            assert all(layer["b"] is None for layer in their_layers)
    moved = [
        not same_bits(mine[-1][k]["W"], layer["W"], dtype)
        for k, layer in enumerate(state["layers"])
    ]
    assert all(moved), "a layer's steps changed nothing: the comparison would prove little"
