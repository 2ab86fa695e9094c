"""POST /api/sessions/{id}/step: units, limits, the phase walk, divergence, concurrency."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

CreateSession = Any  # fixtures from tests/conftest.py
OpenClient = Any


def strict_json(text: str) -> Any:
    """Parse JSON that must hold no NaN or Infinity."""

    def refuse(constant: str) -> Any:
        raise AssertionError(f"{constant} in the JSON")

    return json.loads(text, parse_constant=refuse)


def test_step_runs_batches_and_answers_each_loss(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    result = session.step("batch", 7)
    assert result["unit"] == "batch" and result["requested"] == 7 and result["done"] == 7
    assert result["stopped"] is None
    assert len(result["losses"]) == 7 and all(isinstance(x, float) for x in result["losses"])
    state = result["state"]
    assert state["step"] == 7
    assert all("dW" in layer and "delta" in layer for layer in state["layers"])


def test_step_runs_epochs_and_records_history(create_session: CreateSession) -> None:
    session = create_session(preset="circle")  # 250 rows, batch 10: 25 steps an epoch
    result = session.step("epoch", 3)
    assert result["state"]["epoch"] == 3 and result["state"]["step"] == 75
    assert [point["epoch"] for point in result["state"]["history"]] == [0, 1, 2, 3]
    assert [unit["epoch"] for unit in result["units"]] == [1, 2, 3]
    assert result["losses"] == [p["train_loss"] for p in result["state"]["history"][1:]]


def test_step_runs_phases_in_order(create_session: CreateSession) -> None:
    session = create_session()  # 2 layers: forward 0, forward 1, loss, backward 1, 0, update
    result = session.step("phase", 6)
    phases = [(unit["phase"]["kind"], unit["phase"]["layer"]) for unit in result["units"]]
    assert phases == [
        ("forward", 0),
        ("forward", 1),
        ("loss", None),
        ("backward", 1),
        ("backward", 0),
        ("update", None),
    ]
    assert result["losses"][:2] == [None, None] and isinstance(result["losses"][2], float)
    assert result["state"]["step"] == 1


def test_step_midway_shows_the_open_batch(create_session: CreateSession) -> None:
    session = create_session(preset="circle")
    state = session.step("phase", 4)["state"]  # forward ×3, loss
    assert state["in_batch"] and state["phase"] == {"kind": "backward", "layer": 2}
    assert len(state["batch_indices"]) == 10
    assert "a" in state["layers"][2] and "dW" not in state["layers"][2]


@pytest.mark.parametrize("preset", ["lesson-000", "lesson-003-xor", "circle", "iris"])
def test_phase_walk_ends_in_exactly_the_batch_step_state(
    create_session: CreateSession, preset: str
) -> None:
    walked, stepped = create_session(preset=preset), create_session(preset=preset)
    n_phases = len(walked.state["phases"])
    for _ in range(3):
        walked.step("phase", n_phases)
        stepped.step("batch", 1)
        walked_state, stepped_state = walked.read(), stepped.read()
        for key in ("step", "epoch", "position", "loss", "batch_loss", "phase", "history"):
            assert walked_state[key] == stepped_state[key], key
        assert walked_state["layers"] == stepped_state["layers"]  # W, b and the whole trace
        assert walked.export()["model"] == stepped.export()["model"]  # RNG, order, velocities


def test_phase_walk_equals_batch_step_with_momentum_and_penalties(
    create_session: CreateSession,
) -> None:
    body = {"preset": "spiral", "model": {"momentum": 0.9, "l1": 0.001, "l2": 0.01}}
    walked, stepped = create_session(**body), create_session(**body)
    n_phases = len(walked.state["phases"])
    walked.step("phase", 5 * n_phases)
    stepped.step("batch", 5)
    assert walked.export()["model"] == stepped.export()["model"]


def test_step_without_a_body_runs_one_batch(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.post(session.url("/step"), headers=session.control)
    assert response.status_code == 200, response.text
    assert response.json()["done"] == 1 and response.json()["unit"] == "batch"


def test_step_without_trace_leaves_it_out(create_session: CreateSession) -> None:
    session = create_session()
    response = session.client.post(
        session.url("/step"), params={"include_trace": "false"}, headers=session.control
    )
    assert "dW" not in response.json()["state"]["layers"][0]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit": "minute"}, "unit"),
        ({"count": 0}, "count"),
        ({"count": -2}, "count"),
        ({"count": 1.5}, "count"),
        ({"count": "many"}, "count"),
        ({"unit": "batch", "count": 1, "fast": True}, "fast"),
    ],
)
def test_step_rejects_bad_requests(
    create_session: CreateSession, body: dict[str, Any], field: str
) -> None:
    session = create_session()
    response = session.client.post(session.url("/step"), json=body, headers=session.control)
    assert response.status_code == 422
    locs = [problem["loc"][-1] for problem in response.json()["detail"]]
    assert field in locs


def test_step_refuses_more_units_than_the_limit(
    open_client: OpenClient, create_on: Any, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_units_per_step=5))
    session = create_on(client, None)
    response = client.post(
        session.url("/step"), json={"unit": "batch", "count": 6}, headers=session.control
    )
    assert response.status_code == 422
    assert response.json()["field"] == "count"
    assert "at most 5" in response.json()["detail"]


def test_step_stops_at_the_time_budget(
    open_client: OpenClient, create_on: Any, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_step_seconds=0.05))
    session = create_on(client, {"preset": "circle"})
    response = client.post(
        session.url("/step"), json={"unit": "epoch", "count": 10_000}, headers=session.control
    )
    result = response.json()
    assert response.status_code == 200
    assert result["stopped"] == "time budget"
    assert 0 <= result["done"] < 10_000
    assert result["state"]["step"] > 0


def test_step_reports_divergence_without_nan_in_the_json(create_session: CreateSession) -> None:
    session = create_session(
        model={
            "layers": [{"units": 8, "activation": "linear"}, {"units": 1, "activation": "linear"}],
            "learning_rate": 1e6,
            "batch_size": None,
        },
        data={"dataset": "plane", "n_samples": 50},
    )
    response = session.client.post(
        session.url("/step"), json={"unit": "batch", "count": 100}, headers=session.control
    )
    assert response.status_code == 200
    result = strict_json(response.text)
    assert result["stopped"] == "diverged" and result["done"] < 100
    assert "diverged" in result["diverged"]
    state = strict_json(session.client.get(session.url(), headers=session.watch).text)
    assert state["diverged"]
    strict_json(session.client.get(session.url("/export"), headers=session.watch).text)
    boundary = session.client.get(session.url("/boundary"), headers=session.watch)
    strict_json(boundary.text)


def test_step_is_stored_before_it_answers(create_session: CreateSession, app: Any) -> None:
    session = create_session(preset="circle")
    result = session.step("batch", 4)
    exported, _, _ = app.state.store.load_session(session.id)
    assert exported["model"]["step"] == 4
    assert exported["model"]["layers"][0]["W"] == result["state"]["layers"][0]["W"]


def test_concurrent_steps_never_interleave_and_the_last_is_stored(
    client: TestClient, create_session: CreateSession, app: Any
) -> None:
    session = create_session(preset="circle")
    errors: list[str] = []

    def run() -> None:
        for _ in range(10):
            response = client.post(
                session.url("/step"), json={"unit": "phase", "count": 3}, headers=session.control
            )
            if response.status_code != 200:
                errors.append(response.text)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    exported = session.export()
    # 4 × 10 × 3 phases of a 3-layer network (8 phases a batch step): 15 batches.
    assert exported["model"]["step"] == 15
    stored, _, _ = app.state.store.load_session(session.id)
    assert stored["model"] == exported["model"]
