"""GET …/timeline, …/at and POST …/branch: earlier moments equal a fresh replay, bit for bit.

The fresh replay is independent of the timeline: a new Session built from the same request
walks the same script one phase at a time and keeps its state at every phase boundary,
counting the moment (epoch, batches since the epoch began, phase index) itself.
"""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import orjson
import pytest
from fastapi.testclient import TestClient

from app.service.session import Session, build_dataset, model_config_for, resolve_config
from app.settings import Settings

CreateOn = Any  # fixtures from tests/conftest.py
OpenClient = Any

REQUEST: dict[str, Any] = {"preset": "circle"}
# Steps of every unit, changes that keep and that abandon the open batch, and a reset.
SCRIPT: list[tuple[str, Any]] = [
    ("batch", 3),
    ("set", {"learning_rate": 0.2}),
    ("reset", 7),
    ("batch", 4),
    ("phase", 3),
    ("set", {"learning_rate": 0.1, "momentum": 0.5}),
    ("phase", 2),
    ("epoch", 1),
    ("set", {"batch_size": 7}),
    ("phase", 4),
    ("set", {"batch_size": 12}),  # abandons the open batch: its moments come again
    ("batch", 30),
    ("set", {"activations": {"0": "relu"}}),
    ("epoch", 1),
    ("phase", 5),
]
COMPARED = [
    "step",
    "epoch",
    "phase",
    "in_batch",
    "position",
    "batch_size",
    "loss",
    "test_loss",
    "accuracy",
    "test_accuracy",
    "batch_loss",
    "diverged",
    "batch_indices",
    "batch_rows",
    "trace_rows",
    "layers",
    "config",
]


def fresh_session() -> Session:
    config = resolve_config(REQUEST)
    dataset = build_dataset(config["data"], lambda _: {})
    config["model"] = model_config_for(config["model"], dataset)
    return Session(config, dataset)


def as_json(value: Any) -> Any:
    return json.loads(orjson.dumps(value, option=orjson.OPT_SERIALIZE_NUMPY))


def replay_phase_by_phase(script: list[tuple[str, Any]]) -> dict[tuple[int, int, int], Any]:
    """Every moment after the script's last reset → the state there (its last visit)."""
    session = fresh_session()
    seen: dict[tuple[int, int, int], Any] = {}
    epoch_began = 0  # the step count when the current epoch began

    def keep() -> None:
        nonlocal epoch_began
        model = session.model
        if model.step == 0 and model.epoch == 0:
            epoch_began = 0
        moment = (model.epoch, model.step - epoch_began, model.cursor)
        seen[moment] = as_json(session.state())

    def phase() -> None:
        nonlocal epoch_began
        epoch = session.model.epoch
        session.step("phase", 1)
        if session.model.epoch != epoch:
            epoch_began = session.model.step
        keep()

    keep()
    for kind, arg in script:
        if kind == "set":
            session.set_hyperparameters(arg)
            keep()
        elif kind == "reset":
            session.reset(arg)
            seen.clear()
            keep()
        elif kind == "phase":
            for _ in range(arg):
                phase()
        elif kind == "batch":
            for _ in range(arg):
                phase()
                while session.model.cursor:
                    phase()
        else:
            epoch = session.model.epoch
            while session.model.epoch == epoch:
                phase()
    return seen


def run_script(session: Any, script: list[tuple[str, Any]]) -> None:
    for kind, arg in script:
        if kind == "set":
            response = session.client.patch(session.url(), json=arg, headers=session.control)
        elif kind == "reset":
            response = session.client.post(
                session.url("/reset"), json={"seed": arg}, headers=session.control
            )
        else:
            response = session.client.post(
                session.url("/step"), json={"unit": kind, "count": arg}, headers=session.control
            )
        assert response.status_code == 200, response.text


@pytest.fixture
def small_checkpoints(open_client: OpenClient, settings: Settings) -> TestClient:
    """Checkpoints every 3 batches and a budget that forces thinning: replays start mid-run."""
    client: TestClient = open_client(
        settings.model_copy(update={"timeline_checkpoint_every": 3, "timeline_max_bytes": 20_000})
    )
    return client


def test_at_equals_a_fresh_replay_for_20_random_moments(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    session = create_on(small_checkpoints, REQUEST)
    run_script(session, SCRIPT)
    expected = replay_phase_by_phase(SCRIPT)
    timeline = small_checkpoints.get(session.url("/timeline"), headers=session.watch).json()
    assert timeline["checkpoints"] > 2 and timeline["checkpoint_interval"] > 3  # thinned
    assert timeline["checkpoint_bytes"] <= 20_000
    assert len(timeline["epochs"]) > 1  # the batch size changed: runs of epochs of other lengths
    moments = random.Random(13).sample(sorted(expected), 20)
    for epoch, batch, phase in moments:
        response = small_checkpoints.get(
            session.url("/at"),
            params={"epoch": epoch, "batch": batch, "phase": phase},
            headers=session.watch,
        )
        assert response.status_code == 200, response.text
        state = response.json()["state"]
        want = expected[(epoch, batch, phase)]
        for key in COMPARED:
            assert state[key] == want[key], (epoch, batch, phase, key)
        assert state["id"] == session.id


def test_at_of_now_is_the_current_state(client: TestClient, create_on: CreateOn) -> None:
    session = create_on(client, REQUEST)
    run_script(session, [("batch", 5), ("phase", 2)])
    now = client.get(session.url("/timeline"), headers=session.watch).json()["now"]
    assert now == {"epoch": 0, "batch": 5, "phase": 2}
    answer = client.get(session.url("/at"), params={**now, "resolution": 5}, headers=session.watch)
    current = session.read()
    assert answer.json()["state"]["layers"] == current["layers"]
    boundary = client.get(session.url("/boundary"), params={"resolution": 5}, headers=session.watch)
    assert answer.json()["boundary"] == boundary.json()


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"epoch": 3, "batch": 0, "phase": 0}, "epoch"),
        ({"epoch": 0, "batch": 99, "phase": 0}, "batch"),
        ({"epoch": 0, "batch": 2, "phase": 4}, "phase"),  # after now
        ({"epoch": 0, "batch": 0, "phase": 6}, "phase"),  # 2 layers: 6 phases
    ],
)
def test_at_refuses_moments_the_run_never_had(
    client: TestClient, create_on: CreateOn, params: dict[str, int], field: str
) -> None:
    session = create_on(client, {"preset": "lesson-003-xor"})
    run_script(session, [("batch", 2), ("phase", 3)])
    response = client.get(session.url("/at"), params=params, headers=session.watch)
    assert response.status_code == 422
    assert response.json()["field"] == field


def test_a_branch_continues_like_a_session_configured_that_way(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    source = create_on(small_checkpoints, REQUEST)
    run_script(source, [("batch", 20), ("set", {"learning_rate": 0.3}), ("epoch", 2)])
    moment = {"epoch": 0, "batch": 13, "phase": 2}
    response = small_checkpoints.post(
        source.url("/branch"),
        json={**moment, "changes": {"learning_rate": 0.5, "activations": {"0": "relu"}}},
        headers=source.watch,
    )
    assert response.status_code == 201, response.text
    branch = response.json()
    assert branch["branched_from"] == source.id and branch["id"] != source.id
    branch_headers = {"Authorization": f"Bearer {branch['token']}"}
    branch_url = f"/api/sessions/{branch['id']}"

    # By hand: a fresh session walked to the same moment, then configured that way.
    by_hand = fresh_session()
    for _ in range(13):
        by_hand.step("batch", 1)
    by_hand.step("phase", 2)
    by_hand.set_hyperparameters({"learning_rate": 0.5, "activations": {"0": "relu"}})
    assert branch["state"]["layers"] == as_json(by_hand.state())["layers"]

    for unit, count in (("phase", 3), ("batch", 17), ("epoch", 2)):
        stepped = small_checkpoints.post(
            f"{branch_url}/step", json={"unit": unit, "count": count}, headers=branch_headers
        ).json()["state"]
        by_hand.step(unit, count)
        want = as_json(by_hand.state())
        for key in COMPARED:
            assert stepped[key] == want[key], key
    assert stepped["step"] > 30 and np.isfinite(stepped["loss"])
    # The source went on untouched.
    assert source.read()["config"]["model"]["learning_rate"] == 0.3


def test_branch_names_a_bad_change(client: TestClient, create_on: CreateOn) -> None:
    session = create_on(client, REQUEST)
    run_script(session, [("batch", 2)])
    response = client.post(
        session.url("/branch"),
        json={"epoch": 0, "batch": 1, "phase": 0, "changes": {"activations": {"5": "relu"}}},
        headers=session.watch,
    )
    assert response.status_code == 422
    assert response.json()["field"] == "changes.activations"


def test_a_branch_has_a_timeline_of_its_own(client: TestClient, create_on: CreateOn) -> None:
    session = create_on(client, REQUEST)
    run_script(session, [("batch", 6)])
    branch = client.post(
        session.url("/branch"), json={"epoch": 0, "batch": 4, "phase": 0}, headers=session.watch
    ).json()
    headers = {"Authorization": f"Bearer {branch['watch_token']}"}
    summary = client.get(f"/api/sessions/{branch['id']}/timeline", headers=headers).json()
    assert summary["start"] == summary["now"] == {"epoch": 0, "batch": 4, "phase": 0}


def test_a_long_run_stays_within_the_memory_budget(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    session = create_on(small_checkpoints, REQUEST)
    run_script(session, [("epoch", 40), ("phase", 2)])  # 1000 batches
    timeline = small_checkpoints.get(session.url("/timeline"), headers=session.watch).json()
    assert timeline["checkpoint_bytes"] <= timeline["max_bytes"] == 20_000
    assert timeline["checkpoint_interval"] >= 3 * 2**4  # doubled as it thinned
    assert timeline["logged"] == 1002  # 1000 batches and 2 phases
    assert timeline["epochs"] == [
        {"epoch": 0, "epochs": 41, "first_step": 0, "batches": 25, "open_batches": 1}
    ]
    assert timeline["now"] == {"epoch": 40, "batch": 0, "phase": 2}
    at = small_checkpoints.get(
        session.url("/at"), params={"epoch": 39, "batch": 24, "phase": 5}, headers=session.watch
    )
    assert at.status_code == 200 and at.json()["state"]["step"] == 999


def test_a_replay_past_its_time_budget_is_refused(
    open_client: OpenClient, settings: Settings, create_on: CreateOn
) -> None:
    client: TestClient = open_client(
        settings.model_copy(
            update={"timeline_checkpoint_every": 1000, "timeline_max_replay_seconds": 1e-9}
        )
    )
    session = create_on(client, REQUEST)
    run_script(session, [("batch", 30)])
    response = client.get(
        session.url("/at"), params={"epoch": 0, "batch": 20, "phase": 0}, headers=session.watch
    )
    assert response.status_code == 422
    assert response.json()["field"] == "batch" and "REPLAY_SECONDS" in response.json()["detail"]
    # The checkpoint itself needs no replay.
    start = client.get(
        session.url("/at"), params={"epoch": 0, "batch": 0, "phase": 0}, headers=session.watch
    )
    assert start.status_code == 200
