"""Many models' batch steps in one go (engine/together.py) equal each model's own phase walk,
bit for bit: weights, velocities, losses, traces, counters and divergences."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

import numpy as np
import pytest

from app.engine import (
    LayerConfig,
    LayerTrace,
    Model,
    ModelConfig,
    errors_ignored,
    get_activation,
    kernel,
    penalties,
    together,
)
from app.engine import fast as fast_module

TRACE_FIELDS = [f.name for f in fields(LayerTrace)]

ARCHITECTURES = {  # the circle preset's network first: what a class plays
    "circle-tanh-square": ModelConfig(
        input_size=2,
        layers=(LayerConfig(8, "tanh"), LayerConfig(8, "tanh"), LayerConfig(1, "tanh")),
        loss="square",
        batch_size=10,
    ),
    "relu-softmax-ce-float32": ModelConfig(
        input_size=4,
        layers=(LayerConfig(6, "relu"), LayerConfig(3, "softmax")),
        loss="softmax_cross_entropy",
        batch_size=4,
        dtype="float32",
    ),
    "sigmoid-bce": ModelConfig(
        input_size=3,
        layers=(LayerConfig(5, "leaky_relu"), LayerConfig(2, "sigmoid")),
        loss="binary_cross_entropy",
        batch_size=7,
    ),
    "linear-sse-nobias": ModelConfig(
        input_size=2,
        layers=(LayerConfig(3, "sigmoid"), LayerConfig(1, "linear")),
        loss="sse",
        batch_size=1,
        learning_rate=0.01,
        use_bias=False,
    ),
    "mse-float32": ModelConfig(
        input_size=2,
        layers=(LayerConfig(8, "tanh"), LayerConfig(2, "linear")),
        loss="mse",
        batch_size=5,
        dtype="float32",
    ),
}


def data(config: ModelConfig, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, config.input_size))
    k = config.layers[-1].units
    if config.loss == "softmax_cross_entropy":
        return x, np.eye(k)[rng.integers(0, k, n)]
    if config.loss == "binary_cross_entropy":
        return x, rng.integers(0, 2, (n, k)).astype(float)
    return x, rng.normal(size=(n, k))


def pair(config: ModelConfig, n: int, seed: int) -> tuple[Model, Model]:
    """Two equal models: one for step_batches, one for the phase walk."""
    models = []
    for _ in range(2):
        model = Model(replace(config, seed=seed))
        model.set_data(*data(config, n, seed))
        models.append(model)
    return models[0], models[1]


def walk_batch(model: Model) -> Any:
    while True:
        result = model.step_phase()
        if result.batch_done or result.diverged:
            return result


def assert_same(a: Model, b: Model) -> None:
    for la, lb in zip(a.layers, b.layers, strict=True):
        for name in ("W", "b", "velocity_W", "velocity_b", "dead"):
            va, vb = getattr(la, name), getattr(lb, name)
            assert (va is None) == (vb is None), name
            assert va is None or np.array_equal(va, vb), name
    assert a.loss == b.loss or (np.isnan(a.loss) and np.isnan(b.loss))
    assert (a.step, a.epoch, a.position, a.cursor) == (b.step, b.epoch, b.position, b.cursor)
    assert a.diverged == b.diverged
    none = [None] * len(a.layers)  # what a divergence would restore of the dead weights
    for da, db in zip(a._dead_before or none, b._dead_before or none, strict=True):
        assert (da is None) == (db is None) and (da is None or np.array_equal(da, db))
    for k, (ta, tb) in enumerate(zip(a.traces, b.traces, strict=True)):
        for name in TRACE_FIELDS:
            va, vb = getattr(ta, name), getattr(tb, name)
            assert (va is None) == (vb is None), (k, name)
            if va is not None:
                assert np.array_equal(va, vb, equal_nan=True), (k, name)


def assert_same_kept(a: Model, b: Model) -> None:
    """What a divergence would restore — the weights and velocities before the last update —
    are the same (a Flat's views in one model, the walk's list of arrays in the other)."""
    kept_a, kept_b = a._before_update, b._before_update
    if not kept_a or not kept_b:
        assert not kept_a and not kept_b
        return
    views = kept_a.views if isinstance(kept_a, fast_module.Flat) else kept_a
    walked = kept_b.views if isinstance(kept_b, fast_module.Flat) else kept_b
    for one, other in zip(views, walked, strict=True):
        for x, y in zip(arrays_of(one), arrays_of(other), strict=True):
            assert (x is None) == (y is None) and (x is None or np.array_equal(x, y))


def arrays_of(kept: Any) -> tuple[Any, ...]:
    """(W, b, v_W, v_b) of one layer's kept weights: a Flat's views, or the walk's tuple."""
    if isinstance(kept, fast_module.Views):
        return (kept.W, kept.b, kept.velocity_W, kept.velocity_b)
    return tuple(kept)


@pytest.fixture
def stacked_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The size of every stack run: the test must see models really stacked."""
    sizes: list[int] = []
    run = together.Stack.step

    def counted(stack: together.Stack) -> Any:
        sizes.append(len(stack.models))
        return run(stack)

    monkeypatch.setattr(together.Stack, "step", counted)
    return sizes


@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_stacked_steps_equal_each_models_walk(name: str, stacked_calls: list[int]) -> None:
    """Five models of one architecture — their own data (two sizes, so their batches part at
    epoch ends), seeds and rates — through momentum on and off, a half-walked batch and a
    penalty on one of them, step together and stay equal to their walks."""
    config = ARCHITECTURES[name]
    pairs = [pair(config, n=23 if i % 2 else 30, seed=i) for i in range(5)]
    rng = np.random.default_rng(3)
    for round_ in range(30):
        if round_ in (8, 16, 24):
            changes = [
                {"momentum": 0.9},
                {"momentum": 0.0, "l2": 0.01},
                {"momentum": 0.5, "l2": 0.0},
            ][round_ // 8 - 1]
            for fast, walk in pairs[: 3 if round_ == 16 else 5]:
                for model in (fast, walk):
                    model.apply_changes(changes)
        if round_ % 6 == 2:  # one model half-walks a batch: it steps alone this round
            fast, _ = pairs[int(rng.integers(0, 5))]
            for _ in range(int(rng.integers(1, len(fast.phases)))):
                fast.step_phase()
        for i, (fast, walk) in enumerate(pairs):
            fast.apply_changes({"learning_rate": config.learning_rate * (1 + i / 10)})
            walk.apply_changes({"learning_rate": config.learning_rate * (1 + i / 10)})
        results = together.step_batches([fast for fast, _ in pairs])
        for (fast, walk), result in zip(pairs, results, strict=True):
            walked = walk_batch(walk)
            assert result.diverged == walked.diverged
            assert_same(fast, walk)
    assert stacked_calls and max(stacked_calls) == 5  # they really ran stacked


def test_a_diverging_model_diverges_alone(stacked_calls: list[int]) -> None:
    """One student's huge learning rate overflows: that model diverges (restored to its last
    good weights, as its walk is), its classmates in the same stack step on unharmed."""
    config = ARCHITECTURES["circle-tanh-square"]
    config = replace(config, layers=(LayerConfig(8, "relu"), LayerConfig(1, "linear")))
    pairs = [pair(config, n=30, seed=i) for i in range(4)]
    for fast, walk in pairs[:1]:
        for model in (fast, walk):
            model.apply_changes({"learning_rate": 1e150})
    seen = []
    for _ in range(8):
        results = together.step_batches([fast for fast, _ in pairs])
        for (fast, walk), result in zip(pairs, results, strict=True):
            walked = walk_batch(walk)
            assert result.diverged == walked.diverged
            assert_same(fast, walk)
        seen.append([bool(result.diverged) for result in results])
    assert any(row[0] for row in seen)  # the first model did diverge…
    assert not any(any(row[1:]) for row in seen)  # …and none of the others
    assert max(stacked_calls) == 4


def test_unlike_models_step_apart_but_all_step(stacked_calls: list[int]) -> None:
    """Models of different shapes are grouped by shape: each group stacked, a lone one alone,
    and the results come back in the order asked."""
    a = [pair(ARCHITECTURES["circle-tanh-square"], 30, seed) for seed in (1, 2)]
    b = [pair(ARCHITECTURES["sigmoid-bce"], 30, seed) for seed in (3, 4, 5)]
    c = [pair(ARCHITECTURES["mse-float32"], 30, 6)]
    mixed = [a[0], b[0], c[0], a[1], b[1], b[2]]
    for _ in range(6):
        results = together.step_batches([fast for fast, _ in mixed])
        for (fast, walk), result in zip(mixed, results, strict=True):
            assert result.loss == walk_batch(walk).loss
            assert_same(fast, walk)
    assert sorted(set(stacked_calls)) == [2, 3]


@pytest.mark.parametrize("rule", ["gradient", "tfp"])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_penalised_models_stack_and_equal_their_walks(
    name: str, rule: str, stacked_calls: list[int]
) -> None:
    """Four models with the same L1 (then L1 and L2, then L2 alone; momentum half-way) and
    their own rates step as one stack under either penalty rule, bit for bit their walks;
    under the tfp rule weights die (TF Playground's L1 crossing) and stay dead, stacked."""
    config = replace(ARCHITECTURES[name], l1=0.1, penalty_rule=rule)
    pairs = [pair(config, n=23 if i % 2 else 30, seed=i) for i in range(4)]
    for round_ in range(40):
        if round_ in (15, 25, 32):
            changes = [{"l2": 0.01}, {"l1": 0.0, "momentum": 0.5}, {"l2": 0.0}][
                [15, 25, 32].index(round_)
            ]
            for both in pairs:
                for model in both:
                    model.apply_changes(changes)
        for i, (fast, walk) in enumerate(pairs):
            for model in (fast, walk):
                model.apply_changes({"learning_rate": config.learning_rate * (1 + i / 10)})
        results = together.step_batches([fast for fast, _ in pairs])
        for (fast, walk), result in zip(pairs, results, strict=True):
            walked = walk_batch(walk)
            assert result.diverged == walked.diverged
            assert_same(fast, walk)
    assert max(stacked_calls) == 4  # they really ran stacked
    dead = [layer.dead for fast, _ in pairs for layer in fast.layers]
    assert any(mask is not None for mask in dead) == (rule == "tfp")


@pytest.mark.parametrize("rule", ["gradient", "tfp"])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_a_stack_over_many_batches_equals_the_walks(name: str, rule: str) -> None:
    """A stack keeps its models' weights as its own rows between batches: through epoch ends,
    momentum's first step, a model written back midway (``sync``) and one that diverges and
    leaves, every model written back equals its walk, bit for bit."""
    config = replace(ARCHITECTURES[name], penalty_rule=rule, l1=0.1 if rule == "tfp" else 0.0)
    if name == "mse-float32":
        config = replace(config, momentum=0.9)  # its first step makes the velocities
    pairs = [pair(config, n=28, seed=i) for i in range(4)]
    for i, both in enumerate(pairs):
        for model in both:
            model.apply_changes({"learning_rate": config.learning_rate * (1 + i / 10)})
    blowing = pairs[3]
    for model in blowing:  # huge steps: it diverges within a few batches, alone
        model.apply_changes({"learning_rate": 1e150})
    alone, groups = together.group([fast for fast, _ in pairs])
    assert not alone and len(groups) == 1
    with errors_ignored():  # (as step_batches and the service run it)
        stack = together.Stack([fast for fast, _ in pairs])
    left = set()
    for round_ in range(12):
        members = list(stack.models)
        with errors_ignored():
            results = stack.step()
        for model, result in zip(members, results, strict=True):
            walk = next(w for f, w in pairs if f is model)
            walked = walk_batch(walk)
            assert result.diverged == walked.diverged
            if result.diverged:
                assert model not in stack.models  # written back, it left
                assert_same(model, walk)
                left.add(id(model))
        if round_ in (2, 7):  # written back midway; it stays in the stack
            fast, walk = pairs[round_ % 3]
            stack.sync(fast)
            assert_same(fast, walk)
    stack.release()
    assert not stack.models
    for fast, walk in pairs:
        assert_same(fast, walk)
        assert_same_kept(fast, walk)
    assert left == {id(blowing[0])} or name in ("circle-tanh-square", "sigmoid-bce")


def assert_same_bytes(a: Model, b: Model) -> None:
    """Every weight, bias and velocity the same to the bit (a zero's sign too)."""
    for la, lb in zip(a.layers, b.layers, strict=True):
        for name in ("W", "b", "velocity_W", "velocity_b"):
            va, vb = getattr(la, name), getattr(lb, name)
            assert (va is None) == (vb is None), name
            assert va is None or va.tobytes() == vb.tobytes(), name


@pytest.mark.parametrize("rule", ["gradient", "tfp"])
@pytest.mark.parametrize("name", list(ARCHITECTURES))
def test_models_with_their_own_penalties_stack_and_equal_their_walks(
    name: str, rule: str, stacked_calls: list[int]
) -> None:
    """Five models under one rule, each its own penalty — L1, L2, both, none, and L1 turned
    off half-way (under the tfp rule its dead weights stay) — step as one stack, to the bit
    their walks, with a weight set by hand to −0.0 (whose sign a penalty of 0 must keep)."""
    penalties = [{"l1": 0.1}, {"l2": 0.02}, {"l1": 0.05, "l2": 0.01}, {}, {"l1": 0.1}]
    pairs = [pair(replace(ARCHITECTURES[name], penalty_rule=rule), 28, seed=i) for i in range(5)]
    for (fast, walk), penalty in zip(pairs, penalties, strict=True):
        for model in (fast, walk):
            model.apply_changes(penalty)
            model.layers[0].W[0, 0] = -0.0
    for round_ in range(30):
        if round_ == 12:
            for model in pairs[4]:
                model.apply_changes({"l1": 0.0, "momentum": 0.5})
            for model in pairs[1]:
                model.apply_changes({"momentum": 0.5})
        results = together.step_batches([fast for fast, _ in pairs])
        for (fast, walk), result in zip(pairs, results, strict=True):
            walked = walk_batch(walk)
            assert result.diverged == walked.diverged
            assert_same(fast, walk)
            assert_same_bytes(fast, walk)
    assert 5 in stacked_calls  # one stack, penalties and all
    if rule == "tfp":
        assert any(layer.dead is not None for layer in pairs[4][0].layers)


def test_a_stacks_backward_with_each_models_own_penalty_is_each_ones_alone() -> None:
    """Four models in one backward pass, L1, L2, both and neither (its classmates' term
    must not join), weights of both signs and ±0: each row's ∂E/∂W, byte for byte, the
    backward pass of that model alone."""
    rng = np.random.default_rng(5)
    x, error = rng.normal(size=(4, 6, 3)), rng.normal(size=(4, 6, 2))
    W = rng.normal(size=(4, 3, 2))
    W[:, 0, 0], W[:, 1, 1] = 0.0, -0.0
    l1s, l2s = [0.1, 0.0, 0.05, 0.0], [0.0, 0.02, 0.01, 0.0]
    tanh = get_activation("tanh")

    def rates(l1: Any, l2: Any, rows: Any = True) -> kernel.Rates:
        return kernel.Rates(0.1, 0.0, False, l1, l2, False, 0.1 * l1, 0.1 * l2, rows)

    def run(x: Any, error: Any, W: Any, rates: kernel.Rates) -> Any:
        trace = LayerTrace(input=x, z=x[..., :2], output=np.tanh(x[..., :2]), output_error=error)
        dW = np.empty_like(W)
        kernel.backward(trace, tanh, W, (dW, None), rates, None)
        return dW

    column = np.array(l1s)[:, None, None], np.array(l2s)[:, None, None]
    penalised = np.array([a or b for a, b in zip(l1s, l2s, strict=True)])[:, None, None]
    stacked = run(x, error, W, rates(*column, penalised != 0))
    for i, (l1, l2) in enumerate(zip(l1s, l2s, strict=True)):
        alone = run(x[i], error[i], W[i], rates(l1, l2))
        assert stacked[i].tobytes() == alone.tobytes(), i


def test_the_tfp_step_of_a_stack_skips_each_models_penalty_of_zero() -> None:
    """Model 0 has L2 alone, model 1 L1 alone, model 2 neither. Model 0's L2 step crosses 0
    (only L1 kills: it lives on); model 2's weight −0.0 keeps its sign; model 1 dies."""
    W = np.array([[[1.0]], [[0.001]], [[-0.0]]])
    stepped = np.array([[[0.005]], [[0.0005]], [[-0.0]]])
    l1_step = np.array([0.0, 0.01, 0.0])[:, None, None]
    l2_step = np.array([0.01, 0.0, 0.0])[:, None, None]
    new, dead = penalties.tfp_penalty_step(W, stepped, None, l1_step, l2_step)
    assert new[0, 0, 0] == 0.005 - 0.01 * 1.0  # across 0, as alone: L2 kills no weight
    assert (
        new[1, 0, 0] == 0.0
        and dead is not None
        and dead.tolist() == [[[False]], [[True]], [[False]]]
    )
    assert new[2, 0, 0] == 0.0 and np.signbit(new[2, 0, 0])
