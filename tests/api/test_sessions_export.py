"""GET /export and POST /import: bit-exact round trips, identical continuation, bad imports."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.api.examples import SESSION_EXPORT_EXAMPLE
from app.service.session import Session, build_dataset, model_config_for, resolve_config
from app.settings import Settings

CreateSession = Any  # fixtures from tests/conftest.py
OpenClient = Any


def import_export(client: TestClient, exported: Any) -> Any:
    return client.post("/api/sessions/import", json=exported)


def without_id(exported: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in exported.items() if key != "id"}


def test_export_holds_everything_to_continue(create_session: CreateSession) -> None:
    session = create_session(preset="circle", model={"momentum": 0.9})
    session.step("batch", 3)
    exported = session.export()
    assert exported["format"] == "backprop-playground-session" and exported["version"] == 1
    model = exported["model"]
    assert model["step"] == 3 and model["rng"]["bit_generator"] == "PCG64"
    assert len(model["order"]) == session.state["n_train"]
    assert model["layers"][0]["velocity_W"] is not None
    assert exported["data"]["x_train"] and exported["history"]


def test_export_answers_the_stored_weights_bit_exactly(
    create_session: CreateSession, app: Any
) -> None:
    session = create_session(preset="spiral")
    session.step("batch", 11)
    exported = session.export()
    in_memory = app.state.manager.get(session.id).model
    for layer, saved in zip(in_memory.layers, exported["model"]["layers"], strict=True):
        assert layer.W.tolist() == saved["W"]  # float == float: every bit
        assert layer.b.tolist() == saved["b"]


@pytest.mark.parametrize(
    ("body", "phases"),
    [
        ({"preset": "circle", "model": {"momentum": 0.9, "l2": 0.001}}, 0),
        ({"preset": "spiral"}, 3),  # mid-batch: the open batch is replayed exactly
        ({"preset": "iris"}, 5),
        ({"preset": "lesson-000"}, 0),
        ({"preset": "circle", "model": {"dtype": "float32"}}, 2),
    ],
)
def test_import_continues_exactly_as_the_original(
    client: TestClient, create_session: CreateSession, body: dict[str, Any], phases: int
) -> None:
    original = create_session(**body)
    original.step("batch", 7)
    if phases:
        original.step("phase", phases)
    exported = original.export()

    response = import_export(client, exported)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["id"] != original.id and answer["token"] != original.token
    twin_headers = {"Authorization": f"Bearer {answer['token']}"}
    twin_url = f"/api/sessions/{answer['id']}"
    twin_export = client.get(f"{twin_url}/export", headers=twin_headers).json()
    assert without_id(twin_export) == without_id(exported)

    for unit, count in (("batch", 30), ("phase", 4), ("epoch", 2)):
        ours = original.step(unit, count)
        theirs = client.post(
            f"{twin_url}/step", json={"unit": unit, "count": count}, headers=twin_headers
        ).json()
        assert ours["losses"] == theirs["losses"]
        assert ours["state"]["layers"] == theirs["state"]["layers"]
    final = client.get(f"{twin_url}/export", headers=twin_headers).json()
    assert without_id(final) == without_id(original.export())


def test_import_survives_a_json_text_round_trip(
    client: TestClient, create_session: CreateSession
) -> None:
    original = create_session(preset="circle")
    original.step("batch", 5)
    text = original.client.get(original.url("/export"), headers=original.watch).text
    response = client.post(
        "/api/sessions/import", content=text, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201
    imported = response.json()["state"]["layers"]
    assert imported == original.read(include_trace="false")["layers"]  # W and b, bit for bit


def test_import_answers_the_session_not_playing(
    client: TestClient, create_session: CreateSession
) -> None:
    exported = create_session().export()
    exported["playing"] = True
    state = import_export(client, exported).json()["state"]
    assert state["playing"] is False


@pytest.fixture
def exported(create_session: CreateSession) -> dict[str, Any]:
    session = create_session(preset="circle")
    session.step("batch", 3)
    result: dict[str, Any] = session.export()
    return result


def broken(exported: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of the export with the value at ``a.b.0.c`` replaced (or deleted for ...)."""
    copied = copy.deepcopy(exported)
    *parents, last = path.split(".")
    node: Any = copied
    for key in parents:
        node = node[int(key)] if isinstance(node, list) else node[key]
    key: Any = int(last) if isinstance(node, list) else last
    if value is ...:
        del node[key]
    else:
        node[key] = value
    return copied


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("format", "something-else", "format"),
        ("version", 99, "version"),
        ("model", ..., "model"),
        ("data.x_train", "rows", "x_train"),
        ("model.layers.0.W", [[1.0, 2.0]], "layers[0].W"),
        ("model.layers", [], "layers"),
        ("model.cursor", 99, "model.cursor"),
        ("model.cursor", -1, "cursor"),
        ("model.position", 10_000, "model.position"),
        ("model.order", [0, 0, 1], "model.order"),
        ("model.rng", {"bit_generator": "PCG64", "state": "garbage"}, "model"),
        ("model.step", 1.5, "step"),
        ("config.model.layers", [{"units": 4}, {"units": 1}], "model.layers"),
        ("config.model.activation", "tanh", None),  # unknown keys are ignored
        ("history", [{"step": "x"}], "history"),
        ("data.task", "ranking", "task"),
    ],
)
def test_import_rejects_a_malformed_export(
    client: TestClient, exported: dict[str, Any], path: str, value: Any, field: str | None
) -> None:
    response = import_export(client, broken(exported, path, value))
    if field is None:
        assert response.status_code == 201, response.text
        return
    assert response.status_code == 422, response.text
    answer = response.json()
    if isinstance(answer["detail"], list):
        locs = [".".join(map(str, problem["loc"])) for problem in answer["detail"]]
        assert any(field in loc for loc in locs), locs
    else:
        assert field in answer["field"], answer


def test_import_rejects_nan_weights(client: TestClient, exported: dict[str, Any]) -> None:
    text = json.dumps(exported).replace(
        json.dumps(exported["model"]["layers"][0]["W"][0][0]), "NaN", 1
    )
    response = client.post(
        "/api/sessions/import", content=text, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422


def test_import_enforces_the_network_limits(
    open_client: OpenClient, exported: dict[str, Any], tmp_path: Any
) -> None:
    client = open_client(Settings(data_dir=tmp_path / "other", max_units=3))
    response = import_export(client, exported)  # the circle preset has a 4-unit layer
    assert response.status_code == 422 and response.json()["field"].startswith("model.layers")


def test_import_answers_429_when_the_server_is_full(
    open_client: OpenClient, exported: dict[str, Any], tmp_path: Any
) -> None:
    client = open_client(Settings(data_dir=tmp_path / "other", max_sessions=1))
    assert import_export(client, exported).status_code == 201
    assert import_export(client, exported).status_code == 429


def test_export_needs_a_token(create_session: CreateSession) -> None:
    session = create_session()
    assert session.client.get(session.url("/export")).status_code == 401


def test_the_openapi_import_example_is_a_real_export(client: TestClient) -> None:
    """app/api/examples.py is written out (importing the API trains nothing); rebuilt the way
    it says — the XOR lesson after two batch steps — the export is still exactly it."""
    config = resolve_config({"preset": "lesson-003-xor"})
    dataset = build_dataset(config["data"], lambda _: {})
    config["model"] = model_config_for(config["model"], dataset)
    session = Session(config, dataset, session_id="example")
    session.step("batch", 2)
    assert json.loads(json.dumps(session.export())) == SESSION_EXPORT_EXAMPLE
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/api/sessions/import"]["post"]["requestBody"]["content"]
    shown = body["application/json"]["examples"]["xor"]["value"]
    assert shown == without_nulls(SESSION_EXPORT_EXAMPLE)  # the schema leaves nulls out
    answer = client.post("/api/sessions/import", json=SESSION_EXPORT_EXAMPLE)
    assert answer.status_code == 201, answer.text


def without_nulls(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [without_nulls(v) for v in value]
    return value
