"""Frames built from a session, their encoding, and the rate tools, without a socket."""

from __future__ import annotations

import json
import time

import numpy as np
import pytest

from app.live import frames
from app.live.frames import (
    MAX_DELTA_ROWS,
    PLAYING_METRICS_INTERVAL,
    FrameCaches,
    View,
    build_frame,
    encode,
    summary,
)
from app.live.pacing import FramePacer, TokenBucket
from app.live.server_messages import FRAME_FIELDS
from app.service.manager import SessionManager
from app.service.session import Session


def strict_json(text: str) -> object:
    """Parse as a browser would: NaN or Infinity in the text is an error."""

    def refuse(constant: str) -> object:
        raise ValueError(f"{constant} in a frame")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture
def manager(tmp_path: object, make_app: object) -> SessionManager:
    app = make_app()  # type: ignore[operator]
    result: SessionManager = app.state.manager
    return result


def test_frame_has_every_listed_field(manager: SessionManager):
    session = manager.create({"preset": "circle"})
    frame = build_frame(session, 1, [View()], FrameCaches(), None)
    message = strict_json(frame.text(View()))
    assert isinstance(message, dict)
    assert set(message) == {"type", *FRAME_FIELDS}


def test_large_batches_send_at_most_32_delta_rows_and_summaries(manager: SessionManager):
    session = manager.create({"preset": "circle", "model": {"batch_size": None}})
    session.step("batch", 1)
    frame = build_frame(session, 1, [View()], FrameCaches(), None)
    message = strict_json(frame.text(View()))
    assert isinstance(message, dict)
    for k, layer in enumerate(message["layers"]):
        trace = session.model.traces[k]
        assert trace.delta is not None and trace.dW is not None and trace.output is not None
        assert len(layer["delta"]) == MAX_DELTA_ROWS
        assert layer["delta_rows"] == 250
        assert layer["delta"] == trace.delta[:MAX_DELTA_ROWS].tolist()
        assert layer["delta_summary"]["mean"] == pytest.approx(float(trace.delta.mean()))
        assert layer["activation_summary"]["max"] == pytest.approx(float(trace.output.max()))
        assert layer["grad_norm"] == pytest.approx(float(np.sqrt((trace.dW**2).sum())))
        assert layer["dW"] == trace.dW.tolist()
    assert len(message["batch_indices"]) == MAX_DELTA_ROWS


def test_non_finite_numbers_are_sent_as_null(manager: SessionManager):
    session = manager.create({"preset": "circle"})
    session.step("phase", 5)  # into the backward pass: δ, ∂L/∂W exist for the last layer
    layer, trace = session.model.layers[-1], session.model.traces[-1]
    layer.W = np.full_like(layer.W, np.nan)
    trace.delta = np.full_like(trace.delta, np.inf)
    trace.dW = np.full_like(trace.dW, -np.inf)
    session.model.loss = float("nan")
    frame = build_frame(session, 1, [View()], FrameCaches(), None)
    message = strict_json(frame.text(View()))
    assert isinstance(message, dict)
    last = message["layers"][-1]
    assert last["W"] == [[None], [None]]
    assert last["dW"] == [[None], [None]]
    assert last["grad_norm"] is None
    assert last["delta_summary"]["mean"] is None
    assert message["batch_loss"] is None
    assert message["loss"] is None  # the forward pass through NaN weights


def test_one_encoding_per_view(manager: SessionManager):
    session = manager.create({"preset": "circle"})
    everything, losses = View(), View(frozenset({"loss"}))
    gridded = View(None, 8)
    frame = build_frame(session, 1, {everything, losses, gridded}, FrameCaches(), None)
    texts = [frame.text(view) for view in (everything, losses, gridded, everything, losses)]
    assert texts[0] is texts[3] and texts[1] is texts[4]  # encoded once, shared after
    assert len(frame.texts) == 3
    small = strict_json(frame.text(losses))
    assert isinstance(small, dict)
    assert set(small) == {"type", "seq", "t", "version", "step", "epoch", "loss"}
    grid = strict_json(frame.text(gridded))
    assert isinstance(grid, dict)
    assert grid["boundary"]["resolution"] == 8


def test_metrics_of_unchanged_weights_are_not_recomputed(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
):
    session = manager.create({"preset": "circle"})
    calls = []
    original = Session.metrics
    monkeypatch.setattr(Session, "metrics", lambda self: calls.append(1) or original(self))
    caches = FrameCaches()
    for phase in range(4):  # forward phases change no weight
        session.step("phase", 1)
        build_frame(session, phase, [View()], caches, None)
    assert len(calls) == 1
    session.step("batch", 1)
    time.sleep(0.01)  # past the throttle (10 × the cost of computing them)
    build_frame(session, 9, [View()], caches, None)
    assert len(calls) == 2


def test_metrics_of_an_expensive_network_are_throttled_while_playing(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
):
    session = manager.create({"preset": "circle"})
    original = Session.metrics

    def slow(self: Session) -> dict[str, object]:
        time.sleep(0.05)  # as a big network over many rows would
        return original(self)

    monkeypatch.setattr(Session, "metrics", slow)
    time.sleep(PLAYING_METRICS_INTERVAL)  # the creation's metrics are too old to show
    caches, play = FrameCaches(), {"unit": "batch", "rate": None}
    frames = []
    for seq in range(5):
        session.step("batch", 1)
        frames.append(build_frame(session, seq, [View()], caches, play).payload)
    assert frames[0]["metrics_step"] == 1
    assert all(frame["metrics_step"] == 1 for frame in frames)  # at most every 0.5 s
    assert frames[-1]["step"] == 5
    # Paused, no frame follows: the one built now shows this step's metrics, however slow.
    assert build_frame(session, 9, [View()], caches, None).payload["metrics_step"] == 5


def test_a_playing_frame_shows_the_metrics_an_epoch_end_just_worked_out(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
):
    """The history's point at an epoch's end is the metrics of that moment: a frame built
    soon after, while playing, shows it (metrics_step says which step) and counts nothing."""
    session = manager.create({"preset": "circle"})
    session.step("epoch", 1)
    epoch_end = session.model.step
    session.step("batch", 3)
    calls = []
    original = Session.metrics
    monkeypatch.setattr(Session, "metrics", lambda self: calls.append(1) or original(self))
    play = {"unit": "batch", "rate": None}
    monkeypatch.setattr(frames, "PLAYING_METRICS_INTERVAL", 60.0)  # young enough, however slow
    payload = build_frame(session, 1, [View()], FrameCaches(), play).payload
    assert calls == []
    assert payload["metrics_step"] == epoch_end and payload["step"] == epoch_end + 3
    assert payload["loss"] == session.history[-1]["train_loss"]
    monkeypatch.setattr(frames, "PLAYING_METRICS_INTERVAL", 0.0)  # too old to show: counted anew
    payload = build_frame(session, 2, [View()], FrameCaches(), play).payload
    assert calls == [1] and payload["metrics_step"] == epoch_end + 3


def test_a_frame_after_an_edited_weight_shows_the_new_metrics(manager: SessionManager):
    session = manager.create({"preset": "circle"})
    caches = FrameCaches()
    before = build_frame(session, 1, [View()], caches, None).payload
    session.set_parameter(0, 0, 0, 4.0)  # the same step: only an edit tells the weights moved
    after = build_frame(session, 2, [View()], caches, None).payload
    assert after["step"] == before["step"]
    assert after["loss"] != before["loss"]
    assert after["loss"] == session.model.evaluate(session.dataset.x_train, session.dataset.y_train)


def test_frame_pacer_keeps_the_long_run_rate_and_absorbs_jitter():
    pacer = FramePacer(20.0)
    sent, now = 0, 0.0
    for tick in range(2000):  # a source at 20/s with ±10 ms jitter, for 10 s
        now = tick * 0.005
        if tick % 10 == 0 and pacer.delay(now + 0.01 * np.sin(tick)) == 0:
            pacer.record(now)
            sent += 1
    assert sent == 200  # none lost to jitter
    pacer = FramePacer(20.0)
    sent = 0
    for tick in range(2000):  # a source at 200/s: capped at 20/s
        now = tick * 0.005
        if pacer.delay(now) == 0:
            pacer.record(now)
            sent += 1
    assert 199 <= sent <= 201


def test_token_bucket_allows_a_burst_then_the_rate():
    bucket = TokenBucket(5.0)
    assert [bucket.take(0.0) for _ in range(6)] == [True] * 5 + [False]
    assert bucket.take(0.1) is False
    assert bucket.take(0.21) is True


def test_encode_handles_non_contiguous_arrays_and_numpy_scalars():
    matrix = np.arange(6.0).reshape(2, 3)
    text = encode({"T": matrix.T, "x": np.float32(1.5), "n": np.int64(3), "k": {1: "a"}})
    assert strict_json(text) == {"T": [[0, 3], [1, 4], [2, 5]], "x": 1.5, "n": 3, "k": {"1": "a"}}


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_summary_is_numpys_mean_std_min_max(dtype: type):
    rng = np.random.default_rng(3)
    for shape in [(1, 1), (10, 4), (32, 3), (250, 8)]:
        values = rng.normal(size=shape).astype(dtype)
        assert summary(values) == {
            "mean": float(values.mean()),
            "std": float(values.std()),
            "min": float(values.min()),
            "max": float(values.max()),
        }


def test_while_playing_metrics_are_recomputed_at_most_ten_times_a_second(
    manager: SessionManager, monkeypatch: pytest.MonkeyPatch
):
    session = manager.create({"preset": "circle"})
    time.sleep(PLAYING_METRICS_INTERVAL)  # the creation's metrics are too old to show
    calls = []
    original = Session.metrics
    monkeypatch.setattr(Session, "metrics", lambda self: calls.append(1) or original(self))
    caches, play = FrameCaches(), {"unit": "batch", "rate": None}
    started = time.perf_counter()
    for seq in range(5):  # five frames in well under 0.1 s, each after a batch
        session.step("batch", 1)
        build_frame(session, seq, [View()], caches, play)
    assert time.perf_counter() - started < 0.1
    assert len(calls) == 1
    session.step("batch", 1)
    build_frame(session, 9, [View()], caches, None)  # paused: the frame is the last one
    assert len(calls) == 2  # so it shows this step's metrics


def test_the_loss_phase_sends_the_outputs_error_mean_over_the_batch(manager: SessionManager):
    """∂L/∂ŷ of TF Playground's square loss ½·mean (ŷ − y)² is (ŷ − y)/(n·k): recomputed here
    from the session's data and weights with plain NumPy, then meaned over the batch rows."""
    session = manager.create({"preset": "circle"})
    before = build_frame(session, 1, [View()], FrameCaches(), None).payload
    assert "output_error_mean" not in before["layers"][-1]  # no loss computed yet
    forward_phases = len(session.model.layers)
    session.step("phase", forward_phases + 1)  # every forward phase, then the loss
    payload = build_frame(session, 2, [View()], FrameCaches(), None).payload
    assert payload["phase"] == {"kind": "loss", "layer": None}
    model = session.model
    x = model.traces[0].input
    assert x is not None and model.batch_y is not None
    a = x
    for layer in model.layers:
        assert layer.b is not None
        a = np.tanh(a @ layer.W + layer.b)
    n, k = a.shape
    expected = ((a - model.batch_y) / (n * k)).mean(axis=0)
    np.testing.assert_allclose(payload["layers"][-1]["output_error_mean"], expected, rtol=1e-12)
    assert all("output_error_mean" not in layer for layer in payload["layers"][:-1])
