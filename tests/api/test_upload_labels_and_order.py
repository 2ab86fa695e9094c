"""An upload keeps its −1/+1 labels when asked, and the file's row order when not shuffled.

Expected rows are read here from the CSV text with the stdlib ``csv`` module, independently
of the app's parser.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from fastapi.testclient import TestClient

# Ten rows, labels −1/+1, in no sorted order of any column (a shuffle shows).
PM1_CSV = "a,b,y\n" + "".join(
    f"{a},{b},{y}\n"
    for a, b, y in [
        (0.3, -1.2, 1),
        (-0.7, 0.4, -1),
        (1.9, 0.1, 1),
        (-1.1, -0.6, -1),
        (0.5, 2.2, 1),
        (-0.2, -1.9, -1),
        (2.4, -0.3, 1),
        (-1.6, 1.3, -1),
        (0.8, 0.9, 1),
        (-0.4, -0.1, -1),
    ]
)
THREE_CLASSES = "a,y\n1,0\n2,1\n3,2\n4,0\n5,1\n6,2\n"
TANH_SQUARE = {
    "layers": [{"units": 3, "activation": "tanh"}, {"units": 1, "activation": "tanh"}],
    "loss": "square",
    "learning_rate": 0.03,
    "shuffle": False,
}


def file_rows(text: str) -> tuple[list[list[float]], list[float]]:
    rows = [[float(cell) for cell in row] for row in list(csv.reader(io.StringIO(text)))[1:]]
    return [row[:-1] for row in rows], [row[-1] for row in rows]


def session_on(
    client: TestClient, text: str, data: dict[str, Any], model: dict[str, Any] | None = None
) -> Any:
    uploaded = client.post("/api/datasets", files={"file": ("f.csv", text.encode())}).json()
    body = {"model": model or TANH_SQUARE, "data": {"upload": uploaded["id"], **data}}
    return client.post(
        "/api/sessions", json=body, headers={"Authorization": f"Bearer {uploaded['token']}"}
    )


def dataset_of(client: TestClient, created: Any) -> Any:
    headers = {"Authorization": f"Bearer {created['token']}"}
    return client.get(f"/api/sessions/{created['id']}/dataset", headers=headers).json()


def test_pm1_keeps_the_files_minus_one_plus_one_labels_in_the_files_order(
    client: TestClient,
) -> None:
    response = session_on(
        client, PM1_CSV, {"labels": "pm1", "train_ratio": 1.0, "standardize": False}
    )
    assert response.status_code == 201, response.text
    data = dataset_of(client, response.json())
    features, labels = file_rows(PM1_CSV)
    assert data["x_train"] == features  # train_ratio 1: the file's order, row for row
    assert [row[0] for row in data["y_train"]] == labels  # −1 and +1 as written
    assert data["x_test"] == []


def test_without_pm1_the_same_file_trains_on_0_1(client: TestClient) -> None:
    response = session_on(client, PM1_CSV, {"train_ratio": 1.0, "standardize": False})
    data = dataset_of(client, response.json())
    _, labels = file_rows(PM1_CSV)
    assert [row[0] for row in data["y_train"]] == [(label + 1) / 2 for label in labels]


def test_unshuffled_split_takes_the_first_rows_for_training(client: TestClient) -> None:
    response = session_on(
        client, PM1_CSV, {"shuffle": False, "train_ratio": 0.7, "standardize": False}
    )
    assert response.status_code == 201, response.text
    data = dataset_of(client, response.json())
    features, _ = file_rows(PM1_CSV)
    assert data["x_train"] == features[:7] and data["x_test"] == features[7:]


def test_a_shuffled_split_still_shuffles(client: TestClient) -> None:
    response = session_on(client, PM1_CSV, {"train_ratio": 0.7, "standardize": False})
    data = dataset_of(client, response.json())
    features, _ = file_rows(PM1_CSV)
    assert data["x_train"] != features[:7]
    assert sorted(data["x_train"] + data["x_test"]) == sorted(features)


@pytest.mark.parametrize("task_csv", [THREE_CLASSES, "a,y\n1,0.5\n2,1.5\n3,2.5\n4,0.1\n"])
def test_pm1_on_data_that_is_not_binary_is_refused_naming_the_field(
    client: TestClient, task_csv: str
) -> None:
    model = {"layers": [{"units": 3, "activation": "softmax"}], "loss": "softmax_cross_entropy"}
    if "0.5" in task_csv:
        model = {"layers": [{"units": 1, "activation": "linear"}], "loss": "mse"}
    response = session_on(client, task_csv, {"labels": "pm1"}, model)
    assert response.status_code == 422, response.text
    assert "data.labels" in response.text and "binary" in response.text
