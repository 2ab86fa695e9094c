"""TF Playground's L1 rule over the API: the TF presets take ``penalty_rule`` ``tfp``; dead
weights are shown (``dead``, W's shape), stay at 0 with their gradient still in ``dW``, keep
a value typed by hand as TF Playground does, and survive an export and import, a restart of
the server on its store, a rewind (``/at``) and a branch."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.settings import Settings

CreateOn = Any
OpenClient = Any
# TF Playground's Gaussians at L1 0.03: its first link dies in batch 18, 14 of 18 in 200
# epochs (tests/engine/test_tfp_penalty.py), the rest learn on.
REQUEST: dict[str, Any] = {
    "preset": "gaussians",
    "model": {"l1": 0.03, "seed": 5, "shuffle": False},
}


def dead_links(state: dict[str, Any]) -> set[tuple[int, int, int]]:
    return {
        (k, i, j)
        for k, layer in enumerate(state["layers"])
        if layer["dead"] is not None
        for i, row in enumerate(layer["dead"])
        for j, dead in enumerate(row)
        if dead
    }


def params(state: dict[str, Any]) -> list[tuple[Any, Any, Any]]:
    return [(layer["W"], layer["b"], layer["dead"]) for layer in state["layers"]]


def step(session: Any, unit: str, count: int) -> dict[str, Any]:
    state: dict[str, Any] = session.step(unit, count)["state"]
    return state


def test_the_tf_presets_follow_nn_ts_and_show_their_dead_weights(
    client: TestClient, create_on: CreateOn
) -> None:
    session = create_on(client, REQUEST)
    assert session.state["config"]["model"]["penalty_rule"] == "tfp"
    assert all(layer["dead"] is None for layer in session.state["layers"])
    state = step(session, "batch", 30)
    dead = dead_links(state)
    assert dead, "a weight crossed 0 by batch 30"
    for k, i, j in dead:
        assert state["layers"][k]["W"][i][j] == 0.0
    later = step(session, "batch", 25)
    assert dead <= dead_links(later), "dead stays dead"
    shown = [later["layers"][k]["dW"][i][j] for k, i, j in dead]
    assert all(later["layers"][k]["W"][i][j] == 0.0 for k, i, j in dead)
    assert any(value != 0.0 for value in shown), "the gradient of a dead weight is shown"
    # The plain rule on the same start: no weight dies.
    plain = create_on(
        client, {**REQUEST, "model": {**REQUEST["model"], "penalty_rule": "gradient"}}
    )
    assert dead_links(step(plain, "batch", 55)) == set()


def test_a_weight_typed_on_a_dead_link_stays_frozen_and_says_so(
    client: TestClient, create_on: CreateOn
) -> None:
    session = create_on(client, REQUEST)
    k, i, j = sorted(dead_links(step(session, "batch", 30)))[0]
    response = client.patch(
        session.url("/parameter"),
        json={"layer": k, "i": i, "j": j, "value": 0.5},
        headers=session.control,
    )
    assert response.status_code == 200, response.text
    assert response.json()["dead"] is True and response.json()["value"] == 0.5
    assert step(session, "batch", 10)["layers"][k]["W"][i][j] == 0.5
    live = client.patch(
        session.url("/parameter"),
        json={"layer": 0, "i": None, "j": 0, "value": 0.5},
        headers=session.control,
    )
    assert live.json()["dead"] is False


def test_turning_the_rule_to_gradient_revives_dead_weights(
    client: TestClient, create_on: CreateOn
) -> None:
    session = create_on(client, REQUEST)
    dead = dead_links(step(session, "batch", 30))
    assert dead
    response = client.patch(
        session.url(), json={"penalty_rule": "gradient"}, headers=session.control
    )
    assert response.status_code == 200, response.text
    state = step(session, "batch", 1)
    assert dead_links(state) == set() and state["config"]["model"]["penalty_rule"] == "gradient"
    bad = client.patch(session.url(), json={"penalty_rule": "nn.ts"}, headers=session.control)
    assert bad.status_code == 422 and "penalty_rule" in bad.text


def test_dead_weights_survive_export_and_import(client: TestClient, create_on: CreateOn) -> None:
    session = create_on(client, REQUEST)
    step(session, "batch", 30)
    exported = session.export()
    assert any(layer["dead"] is not None for layer in exported["model"]["layers"])
    response = client.post("/api/sessions/import", json=exported)
    assert response.status_code == 201, response.text
    twin = response.json()
    headers = {"Authorization": f"Bearer {twin['token']}"}
    assert dead_links(twin["state"]) == dead_links(session.read())
    stepped = client.post(
        f"/api/sessions/{twin['id']}/step", json={"unit": "batch", "count": 40}, headers=headers
    ).json()["state"]
    assert stepped["layers"] == step(session, "batch", 40)["layers"]


def test_dead_weights_survive_a_restart_on_the_store(
    open_client: OpenClient, settings: Settings, create_on: CreateOn
) -> None:
    first = open_client(settings)
    session = create_on(first, REQUEST)
    before = step(session, "batch", 30)
    assert dead_links(before)
    first.__exit__(None, None, None)  # the lifespan ends: the store is closed
    second = open_client(settings)
    session.client = second
    assert params(session.read()) == params(before)
    reference = create_on(second, REQUEST)
    step(reference, "batch", 30)
    assert params(step(session, "batch", 40)) == params(step(reference, "batch", 40))


@pytest.fixture
def small_checkpoints(open_client: OpenClient, settings: Settings) -> TestClient:
    client: TestClient = open_client(settings.model_copy(update={"timeline_checkpoint_every": 3}))
    return client


def test_rewind_and_branch_replay_the_dead_weights(
    small_checkpoints: TestClient, create_on: CreateOn
) -> None:
    client = small_checkpoints
    session = create_on(client, REQUEST)
    seen = {done: step(session, "batch", 1) for done in range(1, 41)}  # 25 batches an epoch

    def moment(done: int) -> dict[str, int]:  # just after ``done`` batches
        return {"epoch": done // 25, "batch": done % 25, "phase": 0}

    first = min(done for done, state in seen.items() if dead_links(state))
    assert 2 <= first <= 39
    for done in (first - 1, first, 40):  # before the first death, at it, after it
        response = client.get(session.url("/at"), params=moment(done), headers=session.watch)
        assert response.status_code == 200, response.text
        assert params(response.json()["state"]) == params(seen[done])
    branched = client.post(session.url("/branch"), json=moment(first), headers=session.watch)
    assert branched.status_code == 201, branched.text
    branch = branched.json()
    assert dead_links(branch["state"]) == dead_links(seen[first])
    headers = {"Authorization": f"Bearer {branch['token']}"}
    ahead = client.post(
        f"/api/sessions/{branch['id']}/step",
        json={"unit": "batch", "count": 40 - first},
        headers=headers,
    ).json()["state"]
    assert params(ahead) == params(seen[40])
