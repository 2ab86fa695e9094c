"""The largest network, dataset and batch the default limits (the memory budget included)
allow train without exhausting memory, and no step call holds a CPU much past its
configured budget."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.service.memory import SessionShape
from app.settings import Settings

DEFAULTS = Settings()


def largest_hidden_stack(settings: Settings, n_in: int) -> list[dict[str, object]]:
    """As many max-width hidden layers as the parameter limit allows, then one output."""
    units = settings.max_units
    layers: list[dict[str, object]] = []
    parameters, width = 0, n_in
    while len(layers) < settings.max_layers - 1:
        extra = width * units + units
        if parameters + extra + units + 1 > settings.max_parameters:
            break
        layers.append({"units": units, "activation": "relu"})
        parameters, width = parameters + extra, units
    return [*layers, {"units": 1, "activation": "tanh"}]


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.slow
def test_largest_allowed_network_and_dataset_train_in_bounded_memory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    layers = largest_hidden_stack(settings, n_in=2)
    units = [int(layer["units"]) for layer in layers]  # type: ignore[call-overload]
    rows, n_train = settings.max_dataset_rows, int(0.9 * settings.max_dataset_rows)
    batch = n_train  # the largest batch the memory budget allows
    while SessionShape(units, 2, n_train, rows, batch).bytes() > settings.max_session_bytes:
        batch -= 100
    assert batch > 0
    body = {
        "model": {"layers": layers, "batch_size": batch, "learning_rate": 0.001},
        "data": {
            "dataset": "circle",
            "n_samples": settings.max_dataset_rows,
            "train_ratio": 0.9,
            "labels": "pm1",
        },
    }
    with TestClient(create_app(settings)) as client:
        before = peak_rss_mib()
        created = client.post("/api/sessions", json=body)
        assert created.status_code == 201, created.text
        session = created.json()
        token = {"Authorization": f"Bearer {session['token']}"}
        parameters = sum(
            len(layer["W"]) * len(layer["W"][0]) for layer in session["state"]["layers"]
        )
        assert parameters > 0.7 * settings.max_parameters  # really near the limit
        too_large = client.patch(
            f"/api/sessions/{session['id']}", json={"batch_size": batch + 100}, headers=token
        )
        assert too_large.status_code == 422 and too_large.json()["field"] == "batch_size"
        for _ in range(3):  # the largest batch steps the budget allows
            stepped = client.post(
                f"/api/sessions/{session['id']}/step",
                json={"unit": "batch", "count": 1},
                headers=token,
            )
            assert stepped.status_code == 200, stepped.text
        grown = peak_rss_mib() - before
    # The budget's session, its JSON answers and the steps' temporaries: a few hundred MiB.
    assert grown < 1500, f"peak memory grew by {grown:.0f} MiB"


def test_one_more_parameter_than_allowed_is_refused(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, max_parameters=400
    )  # 2·100 + 100 + 100 + 1 = 401 parameters
    with TestClient(create_app(settings)) as client:
        response = client.post(
            "/api/sessions",
            json={
                "preset": "circle",
                "model": {
                    "layers": [
                        {"units": 100, "activation": "tanh"},
                        {"units": 1, "activation": "tanh"},
                    ]
                },
            },
        )
    assert response.status_code == 422
    assert "parameters" in response.text


@pytest.mark.parametrize("unit", ["batch", "epoch"])
def test_a_step_call_stops_at_its_time_budget(tmp_path: Path, unit: str) -> None:
    budget = 0.3
    settings = Settings(data_dir=tmp_path, max_step_seconds=budget, max_units_per_step=10**6)
    with TestClient(create_app(settings)) as client:
        created = client.post(
            "/api/sessions",
            json={"preset": "circle", "data": {"dataset": "circle", "n_samples": 2000}},
        ).json()
        token = {"Authorization": f"Bearer {created['token']}"}
        cpu_start, start = time.process_time(), time.monotonic()
        response = client.post(
            f"/api/sessions/{created['id']}/step",
            json={"unit": unit, "count": 10**6},
            headers=token,
        )
        elapsed = time.monotonic() - start
        cpu = time.process_time() - cpu_start
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["stopped"] == "time budget"
    assert 0 < result["done"] < 10**6
    # The budget bounds the training; answering (the final state as JSON) adds a little.
    assert elapsed < budget + 2.0, elapsed
    assert cpu < (budget + 2.0) * (os.cpu_count() or 1)
