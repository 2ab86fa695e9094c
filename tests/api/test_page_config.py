"""The page's config (``<body data-config>``, app/api/pages.py) says what the engine, the
service and the sockets do (issue #22, 4): each fact is found here by asking them — building
models, making datasets, walking lessons, opening sockets — never from a list written here.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from app.engine import ACTIVATIONS, LOSSES, ConfigError, LayerConfig, ModelConfig
from app.engine.datasets import DATASETS, FEATURES, Plane, make_dataset, with_features
from app.engine.model import validate_config
from app.live.frames import FrameCaches, View, build_frame
from app.settings import Settings
from tests.page_config import page_config_of

CreateSession = Any  # fixtures from tests/conftest.py


@pytest.fixture
def config(client: TestClient) -> dict[str, Any]:
    return page_config_of(client.get("/").text)


def refusal(**model: Any) -> str | None:
    """The field the engine names refusing this model, or None when it builds."""
    try:
        validate_config(ModelConfig(**model))
    except ConfigError as error:
        return error.field
    return None


def test_the_limits_are_the_servers(config: dict[str, Any], settings: Settings) -> None:
    assert (config["max_layers"], config["max_units"]) == (settings.max_layers, settings.max_units)
    assert config["frame_rate"] == settings.default_frame_rate


def test_the_features_are_the_engines_with_the_labels_their_columns_get(
    config: dict[str, Any],
) -> None:
    assert [feature["id"] for feature in config["features"]] == list(FEATURES)
    circle = make_dataset("circle", n_samples=20)
    labelled = with_features(circle, list(FEATURES)).feature_names
    assert [feature["label"] for feature in config["features"]] == list(labelled)
    for feature in config["features"]:
        assert feature["formula"] == FEATURES[feature["id"]].formula
        assert feature["formula"], f"{feature['id']} has a formula to show"


def test_the_grid_margin_is_the_planes(config: dict[str, Any]) -> None:
    """The page's grid over points spans what the engine's plane's grid spans."""
    points = np.random.default_rng(1).normal(size=(30, 2))
    xs, ys = Plane(("x1", "x2"), points, None).grid_axes(3)
    margin = config["grid_margin"]
    for axis, grid in ((0, xs), (1, ys)):
        low, high = points[:, axis].min(), points[:, axis].max()
        room = (high - low) * margin["fraction"] + margin["least"]
        np.testing.assert_allclose([grid[0], grid[-1]], [low - room, high + room], rtol=1e-15)


def test_the_activations_and_which_only_an_output_takes_are_the_engines(
    config: dict[str, Any],
) -> None:
    assert config["activations"] == list(ACTIVATIONS)
    output_only = [
        name
        for name in ACTIVATIONS
        if refusal(input_size=2, layers=(LayerConfig(3, name), LayerConfig(3, "softmax")))
        == "layers[0].activation"
    ]
    assert output_only, "the engine refuses some activation on a hidden layer"
    assert config["output_only_activations"] == output_only


def test_each_losss_output_rule_is_what_the_engine_accepts(config: dict[str, Any]) -> None:
    assert set(config["loss_outputs"]) == set(LOSSES)  # (a JSON object: its keys sorted)
    for loss, activation in itertools.product(LOSSES, ACTIVATIONS):
        accepted = refusal(input_size=2, layers=(LayerConfig(3, activation),), loss=loss) is None
        needs = config["loss_outputs"][loss]
        assert accepted == (needs is None or activation in needs), (loss, activation)
    assert config["default_loss"] == ModelConfig(2, (LayerConfig(1),)).loss


def test_the_lessons_are_the_guides_own(
    config: dict[str, Any], client: TestClient, create_session: CreateSession
) -> None:
    """The lessons the API walks; each lesson's preset builds a network its guide walks, and
    a guide that refuses another network says so in the lesson's refusal (the page's check
    of the network against the lesson's needs: tests/browser/test_shared_facts.py)."""
    spec = client.get("/openapi.json").json()
    query = spec["paths"]["/api/sessions/{id}/lesson"]["get"]["parameters"]
    name = next(parameter for parameter in query if parameter["name"] == "name")["schema"]
    assert [lesson["id"] for lesson in config["lessons"]] == name["enum"]
    assert config["default_lesson"] == name["default"]
    other = create_session(preset="circle")
    for lesson in config["lessons"]:
        own = create_session(preset=lesson["preset"])
        for session in (own, other):
            answer = client.get(
                session.url("/lesson"), params={"name": lesson["id"]}, headers=session.watch
            )
            if session is own or lesson["network"] is None:
                assert answer.status_code == 200, answer.text
            else:
                assert answer.status_code == 422, answer.text
                assert answer.json()["detail"].startswith(lesson["refusal"])


def test_the_close_codes_are_the_sockets(config: dict[str, Any], client: TestClient) -> None:
    """A token the server does not know closes either socket with a final code; the page's
    meaning of each code is the protocol's."""
    assert config["close_codes"] == client.get("/api/protocol").json()["close_codes"]
    session = client.post("/api/sessions", json={"preset": "circle"}).json()
    for path in (
        f"/ws/sessions/{session['id']}?token=not-it",
        "/ws/sessions/no-such-session?token=x",
        "/ws/classes?token=NOCLASS",
    ):
        with pytest.raises(WebSocketDisconnect) as closed, client.websocket_connect(path) as ws:
            ws.receive_json()
        assert config["close_codes"][str(closed.value.code)]["final"], path


def test_the_delta_rows_are_a_frames(
    config: dict[str, Any], app: FastAPI, create_session: CreateSession
) -> None:
    """A batch bigger than a frame's rows of δ: the REST state has them all, a frame the first
    ``delta_rows`` (the page cuts the state's to match)."""
    created = create_session(preset="circle", model={"batch_size": None})
    for _ in range(len(created.state["phases"])):
        created.step("phase")
    session = app.state.manager.get(created.id)
    frame = build_frame(session, 1, [View()], FrameCaches(), None).payload
    assert len(created.read()["layers"][0]["delta"]) > config["delta_rows"]
    assert len(frame["layers"][0]["delta"]) == config["delta_rows"]


def test_a_fixed_split_is_one_train_ratio_does_not_change(client: TestClient) -> None:
    listed = {info["name"]: info for info in client.get("/api/datasets").json()["builtin"]}
    assert set(listed) == set(DATASETS)
    for name, info in listed.items():
        sizes = {len(make_dataset(name, train_ratio=ratio).x_train) for ratio in (0.5, 0.8)}
        assert info["fixed_split"] == (len(sizes) == 1), name
    assert any(info["fixed_split"] for info in listed.values())
