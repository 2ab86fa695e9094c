"""Each client command over the socket: hello, play, pause, step, set, reset, subscribe."""

from __future__ import annotations

import time

import numpy as np
import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient

from app.service.session import Session

from .conftest import Message, is_error, is_event, is_type, manager_of, receive_until, url

pytestmark = pytest.mark.timeout(60)


def frame_where(ws: object, accept: object, limit: int = 2000) -> Message:
    return receive_until(
        ws,  # type: ignore[arg-type]
        lambda m: m["type"] == "frame" and accept(m),  # type: ignore[operator]
        limit,
    )


def test_hello_gives_protocol_role_state_and_dataset(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        hello = ws.receive_json()
        assert hello["type"] == "hello"
        assert hello["protocol"] == 1
        assert hello["role"] == "control"
        assert hello["state"]["id"] == session.id
        assert hello["state"]["step"] == 0
        assert len(hello["dataset"]["x_train"]) == len(session.dataset.x_train)
        assert hello["subscription"] == {"max_fps": 30.0, "fields": None, "boundary_resolution": 0}
        first = ws.receive_json()
        assert first["type"] == "frame"
        assert first["step"] == 0 and first["phase"] is None
        assert first["next_phase"] == {"kind": "forward", "layer": 0}


def test_frame_carries_every_documented_field(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "unit": "batch", "count": 2})
        frame = frame_where(ws, lambda m: m["step"] == 2)
    for name in ("seq", "version", "step", "epoch", "phase", "next_phase", "playing", "loss"):
        assert name in frame
    for name in ("test_loss", "accuracy", "test_accuracy", "batch_loss", "diverged"):
        assert name in frame
    assert frame["phase"] == {"kind": "update", "layer": None}
    assert frame["history_point"]["step"] == 0  # history is recorded once per epoch
    assert len(frame["layers"]) == 3
    last = frame["layers"][-1]
    assert np.asarray(last["W"]).shape == (2, 1)
    assert np.asarray(last["dW"]).shape == (2, 1)
    assert len(last["delta"]) == 10 and last["delta_rows"] == 10
    assert set(last["delta_summary"]) == {"mean", "std", "min", "max"}
    assert set(last["activation_summary"]) == {"mean", "std", "min", "max"}
    assert frame["grad_norms"] == [layer["grad_norm"] for layer in frame["layers"]]
    dW = session.model.traces[-1].dW
    assert dW is not None
    assert last["grad_norm"] == float(np.linalg.norm(dW))
    assert frame["boundary"] is None


def test_play_trains_in_the_background_and_pause_stores_it(
    live_app: FastAPI, live_client: TestClient, session: Session
):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        playing = receive_until(ws, is_event("playing"))
        assert playing["detail"] == {"unit": "batch", "rate": None}
        frame = frame_where(ws, lambda m: m["step"] > 200)
        assert frame["playing"] is True
        assert frame["play"] == {"unit": "batch", "rate": None}
        ws.send_json({"type": "pause"})
        paused = receive_until(ws, is_event("paused"))
        assert paused["detail"]["reason"] == "pause"
        after = frame_where(ws, lambda m: m["playing"] is False)
        assert after["step"] == paused["detail"]["step"] == session.model.step
    assert stored_export(live_app, session)["model"]["step"] == session.model.step
    assert stored_export(live_app, session)["playing"] is False


def stored_export(app: FastAPI, session: Session) -> dict[str, object]:
    """The session as stored once the pending save (which follows ``paused``) is done."""
    deadline = time.monotonic() + 5
    while True:
        stored = manager_of(app).store.load_session(session.id)
        assert stored is not None
        if stored[0]["playing"] is False or time.monotonic() > deadline:
            return stored[0]
        time.sleep(0.02)


def test_play_at_a_rate_keeps_that_pace(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "unit": "batch", "rate": 40})
        receive_until(ws, is_event("playing"))
        started = time.monotonic()
        time.sleep(1.0)
        ws.send_json({"type": "pause"})
        paused = receive_until(ws, is_event("paused"))
        elapsed = time.monotonic() - started
    assert 0.6 * 40 * elapsed <= paused["detail"]["step"] <= 1.2 * 40 * elapsed + 2


def test_play_by_epoch(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "unit": "epoch", "rate": 20})
        frame = frame_where(ws, lambda m: m["epoch"] >= 3)
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    assert frame["history_point"]["epoch"] >= 3


def test_phase_play_sends_one_frame_per_phase(live_client: TestClient, session: Session):
    expected = [
        {"kind": "forward", "layer": 0},
        {"kind": "forward", "layer": 1},
        {"kind": "forward", "layer": 2},
        {"kind": "loss", "layer": None},
        {"kind": "backward", "layer": 2},
        {"kind": "backward", "layer": 1},
        {"kind": "backward", "layer": 0},
        {"kind": "update", "layer": None},
    ]
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "unit": "phase", "rate": 25})
        phases: list[dict[str, object]] = []
        while len(phases) < 2 * len(expected):
            message = ws.receive_json()
            if message["type"] == "frame" and message["playing"] and message["phase"]:
                phases.append(message["phase"])
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    assert phases == expected + expected


def test_phase_frames_show_the_backward_pass_layer_by_layer(
    live_client: TestClient, session: Session
):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "unit": "phase", "count": 5})  # forward ×3, loss, backward 2
        frame = frame_where(ws, lambda m: m["phase"] == {"kind": "backward", "layer": 2})
    assert frame["in_batch"] is True
    assert frame["next_phase"] == {"kind": "backward", "layer": 1}
    assert "dW" in frame["layers"][2] and "delta" in frame["layers"][2]
    assert "dW" not in frame["layers"][1]  # not computed yet in this batch
    assert frame["batch_indices"] == session.model.batch_indices[:32].tolist()


def test_step_runs_units_and_pauses_play(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "step", "unit": "epoch", "count": 1})
        frame = frame_where(ws, lambda m: m["epoch"] == 1)
        assert frame["step"] == 25  # 250 training points, batches of 10
        ws.send_json({"type": "play"})
        frame_where(ws, lambda m: m["playing"])
        ws.send_json({"type": "step", "unit": "batch", "count": 1})
        paused = receive_until(ws, is_event("paused"))
        assert paused["detail"]["reason"] == "step"
        frame = frame_where(ws, lambda m: m["step"] == paused["detail"]["step"] + 1)
        assert frame["playing"] is False


def test_set_changes_hyperparameters_seen_by_rest_and_other_clients(
    live_client: TestClient, live_app: FastAPI, session: Session
):
    with (
        live_client.websocket_connect(url(session)) as setter,
        live_client.websocket_connect(url(session)) as other,
    ):
        setter.receive_json()
        other.receive_json()
        setter.send_json({"type": "set", "changes": {"learning_rate": 0.1, "batch_size": 5}})
        changed = receive_until(other, is_event("changed"))
        assert changed["detail"]["kind"] == "set"
        assert changed["detail"]["changes"] == {"learning_rate": 0.1, "batch_size": 5}
        assert changed["detail"]["source"] == "another client"
        frame_where(setter, lambda m: m["batch_size"] == 5)
        # The setter gets no "changed" event for its own change: a ping shows the order.
        setter.send_json({"type": "subscribe", "fields": ["loss"]})
        message = frame_where(setter, lambda m: "layers" not in m)
        assert message["type"] == "frame"
    current = manager_of(live_app).get(session.id)
    assert current.model.config.learning_rate == 0.1
    response = live_client.get(
        f"/api/sessions/{session.id}", headers={"Authorization": f"Bearer {session.token}"}
    )
    if response.status_code != 404:  # the REST API is mounted
        assert response.json()["config"]["model"]["learning_rate"] == 0.1


def test_reset_sends_the_new_state_to_everyone(live_client: TestClient, session: Session):
    with (
        live_client.websocket_connect(url(session)) as resetter,
        live_client.websocket_connect(url(session)) as other,
    ):
        resetter.receive_json()
        other.receive_json()
        resetter.send_json({"type": "step", "count": 5})
        frame_where(resetter, lambda m: m["step"] == 5)
        resetter.send_json({"type": "reset", "seed": 7})
        event = receive_until(resetter, is_event("reset"))
        assert event["state"]["step"] == 0
        assert event["state"]["config"]["model"]["seed"] == 7
        changed = receive_until(other, is_event("changed"))
        assert changed["detail"] == {"kind": "reset", "source": "another client"}
        receive_until(other, is_event("reset"))
        frame = frame_where(other, lambda m: m["step"] == 0)
        assert frame["phase"] is None


def test_subscribe_fields_filters_frames(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "fields": ["loss", "grad_norms"]})
        frame = frame_where(ws, lambda m: "layers" not in m)
    assert set(frame) == {"type", "seq", "t", "version", "step", "epoch", "loss", "grad_norms"}


def test_subscribe_boundary_resolution_adds_the_grid(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        receive_until(ws, is_type("frame"))  # the first frame, before subscribing
        ws.send_json({"type": "subscribe", "boundary_resolution": 12, "max_fps": 5})
        frame = receive_until(ws, is_type("frame"))  # the answer has the grid already
        ws.send_json({"type": "subscribe", "boundary_resolution": 0})
        plain = frame_where(ws, lambda m: m["boundary"] is None)
    grid = frame["boundary"]
    assert grid["resolution"] == 12
    assert len(grid["x"]) == len(grid["y"]) == 12
    assert np.asarray(grid["z"]).shape == (12, 12)
    assert grid == session.boundary(12)
    assert plain["seq"] >= frame["seq"]


def test_subscribe_boundary_grids_the_plane_of_input_features(
    live_app: FastAPI, live_client: TestClient
):
    features = ["x1_squared", "x2_squared", "x1_x2"]  # 3 inputs, still points on the plane
    session = manager_of(live_app).create({"preset": "circle", "data": {"features": features}})
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "boundary_resolution": 6, "max_fps": 5})
        frame = frame_where(ws, lambda m: m["boundary"] is not None)
    grid = frame["boundary"]
    assert grid["axes"] == ["x1", "x2"] and grid["inputs"] == ["x1²", "x2²", "x1·x2"]
    assert min(grid["x"]) < 0  # x1's own range, never x1²'s
    assert grid == session.boundary(6)


def test_subscribe_max_fps_caps_frames(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "max_fps": 5})
        ws.send_json({"type": "play"})
        frame_where(ws, lambda m: m["playing"])
        started, frames = time.monotonic(), 0
        while time.monotonic() - started < 1.2:
            frames += ws.receive_json()["type"] == "frame"
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
    assert 3 <= frames <= 8


def test_stop_condition_epochs_pauses_play(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "subscribe", "stop": {"epochs": 2}})
        ws.send_json({"type": "play"})
        stopped = receive_until(ws, is_event("stopped"))
        assert "epoch 2" in stopped["message"]
        paused = receive_until(ws, is_event("paused"))
        assert paused["detail"]["reason"] == "stopped"
    assert session.model.epoch == 2
    assert session.playing is False


def test_stop_condition_target_loss_pauses_play(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        target = session.train_loss() * 0.9
        ws.send_json({"type": "subscribe", "stop": {"target_loss": target}})
        ws.send_json({"type": "play", "unit": "batch"})
        receive_until(ws, is_event("stopped"))
        paused = receive_until(ws, is_event("paused"))
        assert paused["detail"]["reason"] == "stopped"
    assert session.train_loss() <= target


def test_divergence_pauses_and_sends_an_event(live_app: FastAPI, live_client: TestClient):
    session = manager_of(live_app).create(
        {
            "preset": "circle",
            "model": {
                "layers": [
                    {"units": 8, "activation": "linear"},
                    {"units": 1, "activation": "linear"},
                ],
                "learning_rate": 50.0,
            },
        }
    )
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        diverged = receive_until(ws, is_event("diverged"))
        assert "diverged" in diverged["message"]
        paused = receive_until(ws, is_event("paused"))
        assert paused["detail"]["reason"] == "diverged"
        frame = frame_where(ws, lambda m: not m["playing"] and m["diverged"])
    assert frame["diverged"] == diverged["message"]
    assert session.playing is False


def test_rest_calls_appear_in_the_stream(live_client: TestClient, session: Session):
    control = {"Authorization": f"Bearer {session.token}"}
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        response = live_client.post(
            f"/api/sessions/{session.id}/step", json={"unit": "batch", "count": 3}, headers=control
        )
        assert response.status_code == 200
        frame_where(ws, lambda m: m["step"] == 3)
        response = live_client.patch(
            f"/api/sessions/{session.id}", json={"momentum": 0.5}, headers=control
        )
        assert response.status_code == 200
        changed = receive_until(ws, is_event("changed"))
        assert changed["detail"] == {"kind": "set", "changes": {"momentum": 0.5}, "source": "REST"}
        response = live_client.post(f"/api/sessions/{session.id}/reset", json={}, headers=control)
        assert response.status_code == 200
        changed = receive_until(ws, is_event("changed"))
        assert changed["detail"] == {"kind": "reset", "source": "REST"}
        frame_where(ws, lambda m: m["step"] == 0)


def test_a_rest_step_while_playing_interleaves(live_client: TestClient, session: Session):
    control = {"Authorization": f"Bearer {session.token}"}
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 200})
        frame_where(ws, lambda m: m["playing"])
        response = live_client.post(
            f"/api/sessions/{session.id}/step", json={"unit": "batch", "count": 1}, headers=control
        )
        assert response.status_code == 200
        state = live_client.get(f"/api/sessions/{session.id}", headers=control).json()
        assert state["playing"] is True
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))


def test_deleting_the_session_closes_its_sockets(
    live_app: FastAPI, live_client: TestClient, session: Session
):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play"})
        frame_where(ws, lambda m: m["playing"])
        manager_of(live_app).delete(session.id)
        receive_until(ws, is_event("deleted"))
        try:
            receive_until(ws, lambda m: False)
        except Exception as error:  # WebSocketDisconnect
            assert getattr(error, "code", None) == 4404
    assert manager_of(live_app).store.load_session(session.id) is None


def test_watcher_may_subscribe_but_not_command(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session, session.watch_token)) as ws:
        hello = ws.receive_json()
        assert hello["role"] == "watch"
        for command in (
            {"type": "play"},
            {"type": "pause"},
            {"type": "step"},
            {"type": "set", "changes": {"learning_rate": 1.0}},
            {"type": "reset"},
        ):
            ws.send_json(command)
            error = receive_until(ws, is_error)
            assert "read-only" in error["message"]
            assert error["command"] == command["type"]
        ws.send_json({"type": "subscribe", "stop": {"epochs": 3}})
        error = receive_until(ws, is_error)
        assert error["field"] == "stop"
        ws.send_json({"type": "subscribe", "max_fps": 10, "fields": ["step"]})
        frame = frame_where(ws, lambda m: "loss" not in m)
        assert frame["step"] == 0
    assert session.model.step == 0


def test_hello_then_frames_for_many_watchers_share_one_encoding(
    live_app: FastAPI, live_client: TestClient, session: Session
):
    path = url(session, session.watch_token)
    with (
        live_client.websocket_connect(path) as a,
        live_client.websocket_connect(path) as b,
        live_client.websocket_connect(url(session)) as c,
    ):
        for ws in (a, b, c):
            receive_until(ws, is_type("frame"))
        c.send_json({"type": "step", "count": 1})
        frames = [frame_where(ws, lambda m: m["step"] == 1) for ws in (a, b, c)]
        assert frames[0] == frames[1] == frames[2]
        hub = live_app.state.live.hubs[session.id]
        assert hub.latest is not None and len(hub.latest.texts) == 1


def test_play_again_re_paces_and_set_works_while_playing(live_client: TestClient, session: Session):
    with live_client.websocket_connect(url(session)) as ws:
        ws.receive_json()
        ws.send_json({"type": "play", "rate": 5})
        receive_until(ws, is_event("playing"))
        ws.send_json({"type": "play", "unit": "epoch", "rate": 50})
        again = receive_until(ws, is_event("playing"))
        assert again["detail"] == {"unit": "epoch", "rate": 50.0}
        frame_where(ws, lambda m: m["play"] == {"unit": "epoch", "rate": 50.0})
        ws.send_json({"type": "set", "changes": {"learning_rate": 0.05}})
        frame_where(ws, lambda m: m["epoch"] >= 2 and m["playing"])
        assert session.model.config.learning_rate == 0.05
        ws.send_json({"type": "pause"})
        receive_until(ws, is_event("paused"))
