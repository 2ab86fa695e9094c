"""The general Model: batch modes, phases, traces, live changes, momentum, dtypes, state."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import fields
from typing import Any

import numpy as np
import pytest

from app.engine import (
    LayerConfig,
    LayerTrace,
    Model,
    ModelConfig,
    Phase,
    chain_terms,
    check_one,
    fast,
    mse,
    phases_of,
)
from app.engine.dense import Array
from app.engine.losses import get_loss, square
from app.engine.model import DenseLayer

TRACE_FIELDS = [f.name for f in fields(LayerTrace)]
FORWARD_FIELDS = ("input", "z", "output", "W")
BACKWARD_FIELDS = ("output_error", "delta", "dW", "db")

# ----------------------------------------------------------------- a hand-computed example
#
# One linear unit, y = x·W + b, with W = [1, 2]ᵀ, b = 0.5 and MSE, on four rows:
#
#   x          y    ŷ = x·W + b          r = ŷ − y
#   (1,  0)    1    1 + 0 + 0.5 = 1.5     0.5
#   (0,  1)    3    0 + 2 + 0.5 = 2.5    −0.5
#   (1,  1)    3    1 + 2 + 0.5 = 3.5     0.5
#   (2, −1)    1    2 − 2 + 0.5 = 0.5    −0.5
#
# MSE over a batch of n rows: E = (1/n) Σ r², ∂E/∂ŷ_s = 2 r_s / n,
# ∂E/∂W_i = Σ_s (2 r_s / n) x_si,  ∂E/∂b = Σ_s 2 r_s / n.   Learning rate 0.1.

HAND_X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [2.0, -1.0]])
HAND_Y = np.array([[1.0], [3.0], [3.0], [1.0]])


def hand_model(batch_size: int | None, momentum: float = 0.0) -> Model:
    model = Model(
        ModelConfig(
            input_size=2,
            layers=(LayerConfig(1, "linear"),),
            loss="mse",
            learning_rate=0.1,
            batch_size=batch_size,
            momentum=momentum,
            shuffle=False,
        )
    )
    model.layers[0].W = np.array([[1.0], [2.0]])
    model.layers[0].b = np.array([[0.5]])
    model.set_data(HAND_X, HAND_Y)
    return model


def assert_params(model: Model, W: list[float], b: float) -> None:
    np.testing.assert_allclose(model.layers[0].W, np.array(W).reshape(2, 1), rtol=0, atol=1e-12)
    np.testing.assert_allclose(model.layers[0].b, [[b]], rtol=0, atol=1e-12)


def test_per_sample_step_by_hand() -> None:
    model = hand_model(batch_size=1)
    # Row 0 alone: r = 0.5, ∂E/∂ŷ = 2·0.5/1 = 1; dW = (1·1, 0·1) = (1, 0); db = 1.
    result = model.step_batch()
    assert result.loss == pytest.approx(0.25, abs=1e-15)  # r² = 0.25
    assert not result.epoch_done
    assert_params(model, [1.0 - 0.1 * 1.0, 2.0 - 0.1 * 0.0], 0.5 - 0.1 * 1.0)  # (0.9, 2), 0.4
    # Row 1 at the new weights: ŷ = 0·0.9 + 1·2 + 0.4 = 2.4, r = −0.6, ∂E/∂ŷ = −1.2;
    # dW = (0, −1.2), db = −1.2.
    result = model.step_batch()
    assert result.loss == pytest.approx(0.36, abs=1e-15)
    assert_params(model, [0.9, 2.0 + 0.1 * 1.2], 0.4 + 0.1 * 1.2)  # (0.9, 2.12), 0.52


def test_mini_batch_step_by_hand() -> None:
    model = hand_model(batch_size=2)
    # Rows 0, 1: ∂E/∂ŷ = 2·(0.5, −0.5)/2 = (0.5, −0.5);
    # dW = (1·0.5 + 0·(−0.5), 0·0.5 + 1·(−0.5)) = (0.5, −0.5); db = 0.5 − 0.5 = 0.
    result = model.step_batch()
    assert result.loss == pytest.approx((0.25 + 0.25) / 2, abs=1e-15)
    assert_params(model, [1.0 - 0.05, 2.0 + 0.05], 0.5)  # (0.95, 2.05), 0.5
    np.testing.assert_array_equal(model.batch_indices, [0, 1])


def test_full_batch_step_by_hand() -> None:
    model = hand_model(batch_size=None)
    # All rows: ∂E/∂ŷ = 2·r/4 = (0.25, −0.25, 0.25, −0.25);
    # dW_0 = 1·0.25 + 0·(−0.25) + 1·0.25 + 2·(−0.25) = 0
    # dW_1 = 0·0.25 + 1·(−0.25) + 1·0.25 + (−1)·(−0.25) = 0.25;  db = 0.
    result = model.step_batch()
    assert result.loss == pytest.approx(0.25, abs=1e-15)
    assert result.epoch_done  # one full batch is the whole epoch
    assert_params(model, [1.0, 2.0 - 0.1 * 0.25], 0.5)  # (1, 1.975), 0.5
    np.testing.assert_allclose(model.traces[0].dW, [[0.0], [0.25]], rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.traces[0].db, [[0.0]], rtol=0, atol=1e-15)


def test_momentum_by_hand() -> None:
    """v ← μv − α·g, W ← W + v, with μ = 0.9, α = 0.1, full batch."""
    model = hand_model(batch_size=None, momentum=0.9)
    # Step 1: g = (0, 0.25), g_b = 0 (as in the full-batch example); v = −0.1·g.
    model.step_batch()
    vW1, vb1 = [0.0, -0.025], 0.0
    assert_params(model, [1.0 + vW1[0], 2.0 + vW1[1]], 0.5 + vb1)  # (1, 1.975)
    np.testing.assert_allclose(model.layers[0].velocity_W, [[0.0], [-0.025]], atol=1e-15)
    # Step 2 at W = (1, 1.975), b = 0.5:
    #   ŷ = (1.5, 2.475, 3.475, 0.525), r = (0.5, −0.525, 0.475, −0.475),
    #   ∂E/∂ŷ = r/2 = (0.25, −0.2625, 0.2375, −0.2375),
    #   g_0 = 0.25 + 0 + 0.2375 + 2·(−0.2375) = 0.0125
    #   g_1 = 0 − 0.2625 + 0.2375 + 0.2375 = 0.2125;   g_b = −0.0125.
    model.step_batch()
    vW2 = [0.9 * vW1[0] - 0.1 * 0.0125, 0.9 * vW1[1] - 0.1 * 0.2125]  # (−0.00125, −0.04375)
    vb2 = 0.9 * vb1 - 0.1 * (-0.0125)  # 0.00125
    assert_params(model, [1.0 + vW2[0], 1.975 + vW2[1]], 0.5 + vb2)  # (0.99875, 1.93125), 0.50125
    np.testing.assert_allclose(model.layers[0].velocity_W.ravel(), vW2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(model.layers[0].velocity_b, [[vb2]], rtol=0, atol=1e-15)


# ----------------------------------------------------------------- phases

ARCHITECTURES: dict[str, ModelConfig] = {
    "tanh-sigmoid-mse": ModelConfig(
        input_size=2,
        layers=(LayerConfig(3, "tanh"), LayerConfig(1, "sigmoid")),
        loss="mse",
        batch_size=3,
        learning_rate=0.3,
    ),
    "relu-leaky-softmax": ModelConfig(
        input_size=3,
        layers=(LayerConfig(4, "relu"), LayerConfig(4, "leaky_relu"), LayerConfig(3, "softmax")),
        loss="softmax_cross_entropy",
        batch_size=4,
        learning_rate=0.2,
        momentum=0.8,
        l2=0.01,
        initializer="he",
    ),
    "linear-sse-nobias": ModelConfig(
        input_size=2,
        layers=(LayerConfig(1, "linear"),),
        loss="sse",
        batch_size=None,
        learning_rate=0.01,
        use_bias=False,
    ),
    "sigmoid-bce-l1": ModelConfig(
        input_size=4,
        layers=(
            LayerConfig(5, "sigmoid"),
            LayerConfig(3, "tanh"),
            LayerConfig(2, "linear"),
            LayerConfig(2, "sigmoid"),
        ),
        loss="binary_cross_entropy",
        batch_size=1,
        learning_rate=0.5,
        l1=0.001,
        momentum=0.5,
        initializer="lesson003",
    ),
}


def data_for(config: ModelConfig, n: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, config.input_size))
    k = config.layers[-1].units
    if config.loss == "softmax_cross_entropy":
        y = np.eye(k)[rng.integers(0, k, n)]
    elif config.loss == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, k)).astype(float)
    else:
        y = rng.normal(size=(n, k))
    return x, y


def make(config: ModelConfig, n: int = 10, seed: int = 0) -> Model:
    model = Model(config)
    model.set_data(*data_for(config, n, seed))
    return model


def assert_same_state(a: Model, b: Model) -> None:
    for la, lb in zip(a.layers, b.layers, strict=True):
        assert np.array_equal(la.W, lb.W)
        assert (la.b is None and lb.b is None) or np.array_equal(la.b, lb.b)
        for name in ("velocity_W", "velocity_b"):
            va, vb = getattr(la, name), getattr(lb, name)
            assert (va is None and vb is None) or np.array_equal(va, vb), name
    assert a.loss == b.loss
    assert (a.step, a.epoch, a.position, a.cursor) == (b.step, b.epoch, b.position, b.cursor)
    assert np.array_equal(a.batch_indices, b.batch_indices)


def assert_same_traces(a: Model, b: Model) -> None:
    for k, (ta, tb) in enumerate(zip(a.traces, b.traces, strict=True)):
        for name in TRACE_FIELDS:
            va, vb = getattr(ta, name), getattr(tb, name)
            assert (va is None) == (vb is None), (k, name)
            if va is not None:
                assert np.array_equal(va, vb), (k, name)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_phases_equal_batch_step_exactly(name: str) -> None:
    config = ARCHITECTURES[name]
    by_phase, by_batch = make(config), make(config)
    n_phases = 2 * len(config.layers) + 2
    for _ in range(12):
        for _ in range(n_phases):
            by_phase.step_phase()
        result = by_batch.step_batch()
        assert not result.diverged
        assert result.loss == by_phase.loss
        assert_same_state(by_phase, by_batch)
        assert_same_traces(by_phase, by_batch)


def walk_batch(model: Model) -> None:
    """Finish the open batch (or run a new one) phase by phase."""
    while True:
        result = model.step_phase()
        if result.batch_done or result.diverged:
            return


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_batch_steps_equal_the_walk_through_any_schedule(name: str) -> None:
    """The one-go step writes each θ into memory it reuses (engine/fast.py): through momentum
    switched on and off, rate changes, half-walked batches and copies taken midway, the
    weights, velocities and losses still equal a pure phase walk's, bit for bit."""
    config = ARCHITECTURES[name]
    fast, walk = make(config), make(config)
    rng = np.random.default_rng(7)
    schedule = [
        {"momentum": 0.9},
        {"learning_rate": config.learning_rate / 2},
        {"momentum": 0.0},
        {"momentum": 0.5, "learning_rate": config.learning_rate},
    ]
    for round_ in range(40):
        if round_ % 10 == 9:
            changes = schedule[round_ // 10]
            fast.apply_changes(changes)
            walk.apply_changes(changes)
        if round_ % 7 == 3:  # a few phases walked, then the batch finished in one call
            for _ in range(int(rng.integers(1, len(fast.phases)))):
                fast.step_phase()
        if round_ == 20:
            fast = copy.deepcopy(fast)  # a checkpoint's copy trains on the same way
        result = fast.step_batch()
        walk_batch(walk)
        assert not result.diverged
        assert_same_state(fast, walk)
        assert_same_traces(fast, walk)


def test_the_weights_kept_for_a_restore_are_those_before_the_step() -> None:
    """What a divergence would restore — the weights and velocities before the last update —
    is never written over by that update, though the one-go step reuses memory (fast.py)."""
    model = make(ARCHITECTURES["tanh-sigmoid-mse"])
    for momentum in (0.9, 0.0, 0.0, 0.0, 0.5, 0.5, 0.0, 0.9):
        model.apply_changes({"momentum": momentum})
        for _ in range(3):
            kept = [
                tuple(None if v is None else v.copy() for v in vars_of(layer))
                for layer in model.layers
            ]
            assert not model.step_batch().diverged
            before = model._before_update
            assert isinstance(before, fast.Flat)
            for views, expected in zip(before.views, kept, strict=True):
                got = (views.W, views.b, views.velocity_W, views.velocity_b)
                for value, want in zip(got, expected, strict=True):
                    assert (value is None and want is None) or np.array_equal(value, want)


def vars_of(layer: DenseLayer) -> tuple[Array | None, ...]:
    return (layer.W, layer.b, layer.velocity_W, layer.velocity_b)


def test_a_copy_trains_apart_from_its_original() -> None:
    config = ARCHITECTURES["tanh-sigmoid-mse"]
    model = make(config)
    for _ in range(3):
        model.step_batch()
    copied = copy.deepcopy(model)
    before = [layer.W.copy() for layer in model.layers]
    for _ in range(5):
        copied.step_batch()
    assert all(np.array_equal(layer.W, W) for layer, W in zip(model.layers, before, strict=True))
    for _ in range(5):
        model.step_batch()
    assert_same_state(model, copied)


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_phase_order(name: str) -> None:
    config = ARCHITECTURES[name]
    L = len(config.layers)
    expected = (
        [Phase("forward", k) for k in range(L)]
        + [Phase("loss", None)]
        + [Phase("backward", k) for k in range(L - 1, -1, -1)]
        + [Phase("update", None)]
    )
    assert phases_of(L) == expected
    model = make(config)
    assert model.phases == expected
    for _ in range(3):
        seen = []
        for position in range(len(expected)):
            assert model.next_phase == expected[position]
            assert model.in_batch == (position > 0)
            result = model.step_phase()
            seen.append(result.phase)
            assert result.batch_done == (result.phase.kind == "update")
            if result.phase.kind in ("forward", "backward"):
                assert result.loss is None
            else:
                assert result.loss == model.loss and math.isfinite(result.loss)
        assert seen == expected
        assert model.cursor == 0


def test_trace_fields_after_each_phase() -> None:
    config = ARCHITECTURES["relu-leaky-softmax"]
    model = make(config)
    L = len(config.layers)
    traces = model.traces
    assert all(getattr(t, f) is None for t in traces for f in TRACE_FIELDS)

    for batch in range(3):
        before = [(layer.W, layer.b) for layer in model.layers]
        for k in range(L):
            model.step_phase()  # forward k
            t = traces[k]
            assert all(getattr(t, f) is not None for f in FORWARD_FIELDS), (batch, k)
            W, b = before[k]
            assert t.W is W and t.b is b
            np.testing.assert_allclose(t.z, t.input @ W + b, rtol=1e-13, atol=1e-14)
            expected = {
                "relu": np.maximum(t.z, 0),
                "leaky_relu": np.where(t.z > 0, t.z, 0.01 * t.z),
                "softmax": np.exp(t.z) / np.exp(t.z).sum(axis=1, keepdims=True),
            }[config.layers[k].activation]
            np.testing.assert_allclose(t.output, expected, rtol=1e-12, atol=1e-15)
            if k == 0:
                np.testing.assert_array_equal(t.input, model.x_train[model.batch_indices])
                # A new batch starts with every backward field cleared.
                for u in traces:
                    assert all(getattr(u, f) is None for f in (*BACKWARD_FIELDS, "dW_penalty"))
            else:
                assert t.input is traces[k - 1].output
            if batch == 0:  # layers not reached yet in the very first batch
                assert all(traces[j].z is None for j in range(k + 1, L))

        model.step_phase()  # loss
        assert traces[-1].output_error is not None
        assert all(traces[j].delta is None for j in range(L))
        for k in reversed(range(L)):
            model.step_phase()  # backward k
            t = traces[k]
            assert all(getattr(t, f) is not None for f in BACKWARD_FIELDS), (batch, k)
            np.testing.assert_allclose(t.dW_penalty, config.l2 * t.W, rtol=1e-15, atol=0)
            np.testing.assert_allclose(
                t.dW, t.input.T @ t.delta + t.dW_penalty, rtol=1e-12, atol=1e-15
            )
            np.testing.assert_allclose(t.db, t.delta.sum(axis=0, keepdims=True), atol=1e-15)
            if k > 0:
                np.testing.assert_allclose(
                    traces[k - 1].output_error, t.delta @ t.W.T, rtol=1e-12, atol=1e-15
                )
            assert all(traces[j].delta is None for j in range(k))
        model.step_phase()  # update
        for k, t in enumerate(traces):
            # After the update the trace still holds the weights its gradient belongs to.
            assert t.W is before[k][0] and model.layers[k].W is not t.W
            assert all(getattr(t, f) is not None for f in BACKWARD_FIELDS)


def test_new_batch_clears_forward_fields_of_layers_not_yet_run() -> None:
    model = make(ARCHITECTURES["tanh-sigmoid-mse"])
    model.step_batch()
    model.step_phase()  # forward 0 of the second batch
    layer1 = model.traces[1]
    # Either cleared, or at least consistent with the batch the trace now shows.
    assert layer1.input is None or layer1.input is model.traces[0].output


@pytest.mark.parametrize(("batch_size", "steps"), [(3, 4), (1, 10), (5, 2), (None, 1), (20, 1)])
def test_step_epoch_counts(batch_size: int | None, steps: int) -> None:
    config = ModelConfig(
        input_size=2, layers=(LayerConfig(3), LayerConfig(1)), batch_size=batch_size, seed=4
    )
    model = make(config, n=10)
    for epoch in range(1, 4):
        step_before = model.step
        results = model.step_epoch()
        assert model.epoch == epoch
        assert model.step - step_before == steps == math.ceil(10 / model.batch_size)
        assert len(results) == steps
        assert [r.epoch_done for r in results] == [False] * (steps - 1) + [True]
        assert model.position == 0 and model.cursor == 0


def test_shuffled_epoch_visits_every_row_once() -> None:
    config = ModelConfig(input_size=2, layers=(LayerConfig(1),), batch_size=3, shuffle=True)
    model = make(config, n=10)
    orders = []
    for _ in range(3):
        seen: list[int] = []
        for _ in range(4):
            model.step_batch()
            seen.extend(model.batch_indices.tolist())
        assert sorted(seen) == list(range(10))
        orders.append(seen)
    assert orders[0] != orders[1] or orders[1] != orders[2]  # reshuffled each epoch


# ----------------------------------------------------------------- changes between steps


def twins(config: ModelConfig, steps: int = 3) -> tuple[Model, Model]:
    a, b = make(config), make(config)
    for _ in range(steps):
        a.step_batch()
        b.step_batch()
    return a, b


def weights(model: Model) -> list[np.ndarray]:
    return [layer.W for layer in model.layers]


def assert_weights_equal(a: list[np.ndarray], b: list[np.ndarray]) -> None:
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


BASE = ModelConfig(
    input_size=3,
    layers=(LayerConfig(4, "tanh"), LayerConfig(2, "linear")),
    loss="mse",
    batch_size=4,
    learning_rate=0.1,
)


def test_changing_learning_rate_keeps_weights_and_changes_next_step() -> None:
    changed, same = twins(BASE)
    before = [w.copy() for w in weights(changed)]
    changed.set_hyperparameters(learning_rate=0.5)
    assert_weights_equal(weights(changed), before)
    assert changed.config.learning_rate == 0.5
    changed.step_batch()
    same.step_batch()
    for layer, trace, old in zip(changed.layers, changed.traces, before, strict=True):
        assert np.array_equal(trace.W, old)
        np.testing.assert_allclose(layer.W, old - 0.5 * trace.dW, rtol=1e-15, atol=1e-17)
    # Same batch, same gradient, five times the step.
    for a, b, old in zip(changed.layers, same.layers, before, strict=True):
        np.testing.assert_allclose(a.W - old, 5 * (b.W - old), rtol=1e-9, atol=1e-15)


def test_changing_batch_size_keeps_weights_and_changes_next_batch() -> None:
    changed, _ = twins(BASE, steps=1)
    before = [w.copy() for w in weights(changed)]
    changed.set_hyperparameters(batch_size=2)
    assert_weights_equal(weights(changed), before)
    changed.step_batch()
    assert len(changed.batch_indices) == 2
    assert changed.position == 6
    changed.set_hyperparameters(batch_size=None)
    result = changed.step_batch()  # mid-epoch, "full batch" takes the epoch's remaining rows
    assert len(changed.batch_indices) == 4 and result.epoch_done
    changed.step_batch()
    assert len(changed.batch_indices) == changed.n_samples


def test_changing_l2_keeps_weights_and_adds_the_penalty() -> None:
    changed, same = twins(BASE)
    before = [w.copy() for w in weights(changed)]
    changed.set_hyperparameters(l2=0.1)
    assert_weights_equal(weights(changed), before)
    changed.step_batch()
    same.step_batch()
    for t_changed, t_same, old in zip(changed.traces, same.traces, before, strict=True):
        np.testing.assert_array_equal(t_changed.dW_penalty, 0.1 * old)
        np.testing.assert_allclose(t_changed.dW, t_same.dW + 0.1 * old, rtol=1e-12, atol=1e-15)
    assert not all(
        np.array_equal(a, b) for a, b in zip(weights(changed), weights(same), strict=True)
    )


def test_changing_momentum_keeps_weights_and_starts_velocity() -> None:
    changed, _ = twins(BASE)
    before = [w.copy() for w in weights(changed)]
    changed.set_hyperparameters(momentum=0.9)
    assert_weights_equal(weights(changed), before)
    assert all(layer.velocity_W is None for layer in changed.layers)
    changed.step_batch()
    for layer, trace, old in zip(changed.layers, changed.traces, before, strict=True):
        np.testing.assert_allclose(layer.velocity_W, -0.1 * trace.dW, rtol=1e-15, atol=0)
        np.testing.assert_allclose(layer.W, old + layer.velocity_W, rtol=1e-15, atol=0)
    first_velocity = [layer.velocity_W for layer in changed.layers]
    changed.step_batch()
    for layer, trace, v in zip(changed.layers, changed.traces, first_velocity, strict=True):
        np.testing.assert_allclose(layer.velocity_W, 0.9 * v - 0.1 * trace.dW, rtol=1e-14)


def test_changing_activation_keeps_weights_and_changes_forward() -> None:
    changed, same = twins(BASE)
    before = [w.copy() for w in weights(changed)]
    changed.set_activation(0, "relu")
    assert_weights_equal(weights(changed), before)
    assert changed.config.layers[0].activation == "relu"
    changed.step_batch()
    same.step_batch()
    z = changed.traces[0].z
    np.testing.assert_array_equal(changed.traces[0].output, np.maximum(z, 0))
    np.testing.assert_array_equal(same.traces[0].output, np.tanh(same.traces[0].z))
    assert not np.array_equal(changed.layers[0].W, same.layers[0].W)


def test_changing_loss_keeps_weights_and_changes_gradient() -> None:
    changed, same = twins(BASE)
    before = [w.copy() for w in weights(changed)]
    changed.set_hyperparameters(loss="sse")
    assert_weights_equal(weights(changed), before)
    changed.step_batch()
    same.step_batch()
    # SSE = (number of elements) × MSE on the same batch, and so is its gradient.
    n_elements = same.traces[-1].output.size
    assert changed.loss == pytest.approx(n_elements * same.loss, rel=1e-12)
    np.testing.assert_allclose(
        changed.traces[-1].output_error, n_elements * same.traces[-1].output_error, rtol=1e-12
    )


def test_change_mid_batch_abandons_the_open_batch() -> None:
    model = make(BASE)
    model.step_batch()
    before = [w.copy() for w in weights(model)]
    position, step = model.position, model.step
    for _ in range(4):
        model.step_phase()  # forward 0, forward 1, loss, backward 1
    model.set_activation(1, "sigmoid")
    assert model.cursor == 0 and model.position == position and model.step == step
    assert_weights_equal(weights(model), before)
    model.step_batch()
    assert model.traces[1].output is not None
    np.testing.assert_allclose(
        model.traces[1].output, 1 / (1 + np.exp(-model.traces[1].z)), rtol=1e-14
    )
    # A learning-rate change mid-batch does not alter the forward pass: the batch goes on.
    for _ in range(3):
        model.step_phase()
    model.set_hyperparameters(learning_rate=0.01)
    assert model.cursor == 3


# ----------------------------------------------------------------- dtypes


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_float32_on_request_stays_float32(name: str) -> None:
    config = ModelConfig(**{**vars(ARCHITECTURES[name]), "dtype": "float32", "l2": 0.01})
    model = make(config)
    for layer in model.layers:
        assert layer.W.dtype == np.float32
        assert layer.b is None or layer.b.dtype == np.float32
    assert model.x_train.dtype == np.float32 and model.y_train.dtype == np.float32
    for _ in range(4 * len(model.phases)):
        model.step_phase()
        for k, trace in enumerate(model.traces):
            for field in TRACE_FIELDS:
                value = getattr(trace, field)
                if value is not None:
                    assert value.dtype == np.float32, (k, field)
        for layer in model.layers:
            for param in (layer.W, layer.b, layer.velocity_W, layer.velocity_b):
                assert param is None or param.dtype == np.float32
    assert model.predict(model.x_train[:3]).dtype == np.float32
    assert isinstance(model.loss, float)


def test_float32_and_float64_agree_to_float32_precision() -> None:
    config = ARCHITECTURES["tanh-sigmoid-mse"]
    m64 = make(config)
    m32 = make(ModelConfig(**{**vars(config), "dtype": "float32"}))
    for _ in range(20):
        m64.step_batch()
        m32.step_batch()
    for a, b in zip(m64.layers, m32.layers, strict=True):
        np.testing.assert_allclose(b.W, a.W, rtol=1e-4, atol=1e-5)


# ----------------------------------------------------------------- state


def jsonable(state: dict[str, Any]) -> dict[str, Any]:
    """state_dict() through JSON, as an export file would carry it."""

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, list):
            return [convert(v) for v in value]
        if isinstance(value, np.integer | np.bool_):
            return value.item()
        return value

    result: dict[str, Any] = json.loads(json.dumps(convert(state)))
    return result


def assert_same_open_batch(a: Model, b: Model) -> None:
    """The trace fields the open batch's phases have computed so far are identical."""
    done = a.phases[: a.cursor]
    for phase in done:
        if phase.kind == "forward":
            assert phase.layer is not None
            ta, tb = a.traces[phase.layer], b.traces[phase.layer]
            for name in FORWARD_FIELDS:
                assert np.array_equal(getattr(ta, name), getattr(tb, name)), (phase, name)
        elif phase.kind == "loss":
            assert a.loss == b.loss
            assert np.array_equal(a.traces[-1].output_error, b.traces[-1].output_error)
        elif phase.kind == "backward":
            assert phase.layer is not None
            ta, tb = a.traces[phase.layer], b.traces[phase.layer]
            for name in ("delta", "dW", "db", "dW_penalty"):
                va, vb = getattr(ta, name), getattr(tb, name)
                assert (va is None and vb is None) or np.array_equal(va, vb), (phase, name)


STATE_CONFIGS = {
    "plain": ModelConfig(
        input_size=2, layers=(LayerConfig(3), LayerConfig(1)), batch_size=3, shuffle=False
    ),
    "shuffle-momentum": ARCHITECTURES["relu-leaky-softmax"],
    "per-sample-float32": ModelConfig(
        **{**vars(ARCHITECTURES["sigmoid-bce-l1"]), "dtype": "float32"}
    ),
}


@pytest.mark.parametrize("name", list(STATE_CONFIGS))
@pytest.mark.parametrize("phases_before", [0, 1, 3, 7, 22, 23, 40])
@pytest.mark.parametrize("transport", ["deepcopy", "json"])
def test_state_dict_round_trip_continues_bit_identically(
    name: str, phases_before: int, transport: str
) -> None:
    config = STATE_CONFIGS[name]
    original = make(config, n=11)
    for _ in range(phases_before):
        original.step_phase()
    state = original.state_dict()
    state = copy.deepcopy(state) if transport == "deepcopy" else jsonable(state)

    restored = Model(config)
    restored.set_data(*data_for(config, n=11))
    restored.load_state_dict(state)
    assert restored.cursor == original.cursor
    assert restored.position == original.position
    assert_same_open_batch(original, restored)

    for round_ in range(6):
        if round_ % 2:
            original.step_batch()
            restored.step_batch()
        else:
            for _ in range(5):
                original.step_phase()
                restored.step_phase()
        assert_same_state(original, restored)
    original.step_epoch()
    restored.step_epoch()
    assert_same_state(original, restored)
    assert_same_traces(original, restored)


def test_state_mid_epoch_with_shuffle_is_really_mid_epoch() -> None:
    config = STATE_CONFIGS["shuffle-momentum"]
    model = make(config, n=11)
    model.step_batch()
    model.step_phase()
    state = model.state_dict()
    assert state["position"] > 0 and state["cursor"] > 0 and state["order_drawn"]
    assert not np.array_equal(state["order"], np.arange(11))
    assert all(layer["velocity_W"] is not None for layer in state["layers"])


# ----------------------------------------------------------------- chain rule and references


def traced_model() -> Model:
    config = ModelConfig(
        input_size=3,
        layers=(LayerConfig(4, "tanh"), LayerConfig(3, "sigmoid"), LayerConfig(3, "softmax")),
        loss="softmax_cross_entropy",
        batch_size=5,
        l2=0.01,
        l1=0.002,
        seed=3,
    )
    model = make(config, n=12, seed=9)
    for layer in model.layers:
        layer.b = layer.b + 0.1  # non-zero biases
    model.step_batch()
    model.step_batch()
    return model


def test_chain_terms_reproduce_reported_gradient_and_numeric_check() -> None:
    model = traced_model()
    for layer in range(len(model.layers)):
        trace = model.traces[layer]
        n_in, n_out = trace.dW.shape
        for i in [*range(n_in), None]:
            for j in range(n_out):
                terms = chain_terms(model, layer, i, j)
                reported = trace.dW[i, j] if i is not None else trace.db[0, j]
                assert terms.reported == reported
                assert abs(terms.gradient - reported) <= 1e-12 * max(1.0, abs(reported))
                np.testing.assert_allclose(
                    terms.products, terms.upstream * terms.local * terms.input, rtol=1e-15
                )
                if model.config.layers[layer].activation != "softmax":
                    # upstream ∂L/∂a, local f'(z), input x: each from its own definition.
                    np.testing.assert_array_equal(terms.upstream, trace.output_error[:, j])
                    a = trace.output[:, j]
                    local = 1 - a**2 if terms.activation == "tanh" else a * (1 - a)
                    np.testing.assert_allclose(terms.local, local, rtol=1e-14, atol=1e-16)
                expected_input = np.ones(5) if i is None else trace.input[:, i]
                np.testing.assert_array_equal(terms.input, expected_input)
                if i is not None:
                    W = trace.W[i, j]
                    assert terms.penalty == pytest.approx(0.01 * W + 0.002 * np.sign(W))
                numeric, error = check_one(model, layer, i, j)
                assert error < 1e-6, (layer, i, j, numeric, reported)
                assert abs(numeric - reported) <= 1e-6 * (abs(numeric) + abs(reported)) + 1e-12


def test_traced_batch_holds_references_not_copies() -> None:
    model = make(ARCHITECTURES["sigmoid-bce-l1"])
    model.step_batch()
    before = [(layer.W, layer.b) for layer in model.layers]
    model.step_batch()
    traces = model.traces
    for k in range(1, len(traces)):
        assert traces[k].input is traces[k - 1].output
    for k, (W, b) in enumerate(before):
        assert traces[k].W is W and traces[k].b is b
        assert model.layers[k].W is not W  # the update made new arrays
    state = model.state_dict()
    assert all(s["W"] is layer.W for s, layer in zip(state["layers"], model.layers, strict=True))
    # The next batch's forward pass reads the updated weights by reference, too.
    model.step_phase()
    assert traces[0].W is model.layers[0].W


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_mse_and_square_are_their_formulas_bit_for_bit(dtype: type) -> None:
    rng = np.random.default_rng(7)
    for shape in [(1, 1), (10, 1), (7, 3), (64, 10), (1000, 2)]:
        y, p = rng.normal(size=shape).astype(dtype), rng.normal(size=shape).astype(dtype)
        assert mse(y, p) == float(np.mean(np.power(y - p, 2)))  # lesson 003, verbatim
        assert square(y, p) == float(0.5 * np.mean(np.power(p - y, 2)))  # TF Playground's
        for name in ("mse", "square"):  # the one-pass E and ∂E/∂ŷ the batch step takes
            loss = get_loss(name)
            assert loss.with_prime is not None
            value, prime = loss.with_prime(y, p)
            assert value == loss.f(y, p)
            assert prime.dtype == loss.prime(y, p).dtype
            assert np.array_equal(prime, loss.prime(y, p))
