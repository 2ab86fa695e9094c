"""Clear errors for bad configurations and data, and recovery from divergence."""

from __future__ import annotations

import copy
import re
from dataclasses import replace

import numpy as np
import pytest

from app.engine import (
    ACTIVATIONS,
    LOSSES,
    ConfigError,
    LayerConfig,
    Model,
    ModelConfig,
    binary_cross_entropy,
    binary_cross_entropy_prime,
    config_as_dict,
    config_from_dict,
    get_activation,
    get_loss,
)

GOOD = ModelConfig(
    input_size=3,
    layers=(LayerConfig(4, "tanh"), LayerConfig(2, "sigmoid")),
    loss="mse",
    batch_size=4,
)


def config_error(field: str, **changes: object) -> ConfigError:
    """Build GOOD with ``changes``; it must fail with a ConfigError naming ``field``."""
    with pytest.raises(ConfigError) as info:
        replace(GOOD, **changes)
    assert isinstance(info.value, ValueError)
    assert info.value.field == field, str(info.value)
    assert str(info.value).startswith(f"{field}: ")
    return info.value


def test_config_error_is_a_value_error_with_field() -> None:
    error = ConfigError("learning_rate", "must be > 0")
    assert isinstance(error, ValueError)
    assert error.field == "learning_rate" and error.message == "must be > 0"
    assert str(error) == "learning_rate: must be > 0"


def test_unknown_activation_lists_the_known_ones() -> None:
    error = config_error("layers[1].activation", layers=(LayerConfig(4), LayerConfig(2, "swish")))
    assert "'swish'" in str(error)
    for name in ACTIVATIONS:
        assert name in str(error)
    with pytest.raises(ValueError, match="unknown activation 'gelu'"):
        get_activation("gelu")


def test_unknown_loss_lists_the_known_ones() -> None:
    error = config_error("loss", loss="hinge")
    assert "'hinge'" in str(error)
    for name in LOSSES:
        assert name in str(error)
    with pytest.raises(ValueError, match="unknown loss"):
        get_loss("hinge")


def test_empty_layers() -> None:
    error = config_error("layers", layers=())
    assert "at least one layer" in str(error)


@pytest.mark.parametrize("units", [0, -3])
def test_layer_without_units(units: int) -> None:
    error = config_error("layers[0].units", layers=(LayerConfig(units), LayerConfig(1)))
    assert str(units) in str(error)


def test_input_size_below_one() -> None:
    config_error("input_size", input_size=0)


def test_softmax_only_on_the_output_layer() -> None:
    error = config_error(
        "layers[0].activation", layers=(LayerConfig(4, "softmax"), LayerConfig(2, "linear"))
    )
    assert "output" in str(error)
    # …where it is fine, and needs at least two units.
    replace(GOOD, layers=(LayerConfig(4), LayerConfig(2, "softmax")))
    config_error("layers[-1].units", layers=(LayerConfig(4), LayerConfig(1, "softmax")))


@pytest.mark.parametrize("output", ["tanh", "linear", "relu", "softmax"])
def test_binary_cross_entropy_needs_a_sigmoid_output(output: str) -> None:
    error = config_error(
        "loss", loss="binary_cross_entropy", layers=(LayerConfig(4), LayerConfig(2, output))
    )
    assert "sigmoid" in str(error) and output in str(error)


@pytest.mark.parametrize("output", ["sigmoid", "tanh", "linear"])
def test_softmax_cross_entropy_needs_a_softmax_output(output: str) -> None:
    error = config_error(
        "loss", loss="softmax_cross_entropy", layers=(LayerConfig(4), LayerConfig(2, output))
    )
    assert "softmax" in str(error)


@pytest.mark.parametrize("rate", [-0.1, 0.0, float("nan"), float("inf")])
def test_learning_rate_must_be_positive_and_finite(rate: float) -> None:
    config_error("learning_rate", learning_rate=rate)


@pytest.mark.parametrize("momentum", [1.0, 1.5, -0.1])
def test_momentum_must_be_below_one(momentum: float) -> None:
    config_error("momentum", momentum=momentum)


@pytest.mark.parametrize(
    ("field", "value"),
    [("batch_size", 0), ("l1", -1e-3), ("l2", -1.0), ("initializer", "zeros"), ("dtype", "f16")],
)
def test_other_bad_settings(field: str, value: object) -> None:
    config_error(field, **{field: value})


def test_config_from_dict_validates() -> None:
    data = config_as_dict(GOOD)
    assert config_from_dict(data) == GOOD
    data["layers"][0]["units"] = 0
    with pytest.raises(ConfigError) as info:
        config_from_dict(data)
    assert info.value.field == "layers[0].units"


# ----------------------------------------------------------------- data


def model() -> Model:
    return Model(GOOD)


def test_x_with_the_wrong_width() -> None:
    with pytest.raises(ConfigError) as info:
        model().set_data(np.zeros((5, 4)), np.zeros((5, 2)))
    assert info.value.field == "x"
    assert "(n, 3)" in str(info.value) and "(5, 4)" in str(info.value)
    with pytest.raises(ConfigError) as info:
        model().set_data(np.zeros(5), np.zeros((5, 2)))  # not even a matrix
    assert info.value.field == "x"


@pytest.mark.parametrize("y_shape", [(5, 1), (4, 2), (5,), (5, 2, 1)])
def test_y_with_the_wrong_shape(y_shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        model().set_data(np.zeros((5, 3)), np.zeros(y_shape))
    assert info.value.field == "y"
    assert "(5, 2)" in str(info.value)
    assert str(y_shape) in str(info.value)


def test_no_rows() -> None:
    with pytest.raises(ConfigError) as info:
        model().set_data(np.zeros((0, 3)), np.zeros((0, 2)))
    assert info.value.field == "x"


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_names_row_and_column(bad: float) -> None:
    x = np.ones((5, 3))
    x[2, 1] = bad
    with pytest.raises(ConfigError) as info:
        model().set_data(x, np.zeros((5, 2)))
    assert info.value.field == "x"
    assert re.search(r"row 2\b", str(info.value)) and re.search(r"column 1\b", str(info.value))
    y = np.zeros((5, 2))
    y[4, 0] = bad
    with pytest.raises(ConfigError) as info:
        model().set_data(np.ones((5, 3)), y)
    assert info.value.field == "y"
    assert re.search(r"row 4\b", str(info.value)) and re.search(r"column 0\b", str(info.value))


@pytest.mark.parametrize(
    "rows", [[[1.0, 1.0], [0.0, 1.0]], [[0.0, 0.0], [1.0, 0.0]], [[2.0, 0.0], [0.0, 1.0]]]
)
def test_softmax_cross_entropy_needs_one_hot_rows(rows: list[list[float]]) -> None:
    config = replace(GOOD, layers=(LayerConfig(4), LayerConfig(2, "softmax")))
    config = replace(config, loss="softmax_cross_entropy")
    with pytest.raises(ConfigError) as info:
        Model(config).set_data(np.zeros((2, 3)), np.array(rows))
    assert info.value.field == "y"
    assert "one-hot" in str(info.value)
    Model(config).set_data(np.zeros((2, 3)), np.array([[1.0, 0.0], [0.0, 1.0]]))  # fine


def test_binary_cross_entropy_needs_targets_in_unit_interval() -> None:
    config = replace(GOOD, loss="binary_cross_entropy")
    with pytest.raises(ConfigError) as info:
        Model(config).set_data(np.zeros((2, 3)), np.array([[1.0, -1.0], [0.0, 1.0]]))
    assert info.value.field == "y"


def test_a_failed_set_data_keeps_the_previous_data() -> None:
    m = model()
    x, y = np.ones((5, 3)), np.zeros((5, 2))
    m.set_data(x, y)
    with pytest.raises(ConfigError):
        m.set_data(np.ones((5, 2)), y)
    assert np.array_equal(m.x_train, x) and m.n_samples == 5


def test_stepping_without_data() -> None:
    with pytest.raises(ConfigError) as info:
        model().step_batch()
    assert info.value.field == "data"


@pytest.mark.parametrize("shape", [(2, 4), (2, 2), (3,)])
def test_predict_with_the_wrong_input_width(shape: tuple[int, ...]) -> None:
    with pytest.raises(ConfigError) as info:
        model().predict(np.zeros(shape))
    assert info.value.field == "inputs"
    assert "(n, 3)" in str(info.value)
    assert model().predict(np.zeros((2, 3))).shape == (2, 2)


# ----------------------------------------------------------------- changes and state


def test_bad_changes_leave_the_model_untouched() -> None:
    m = model()
    m.set_data(np.ones((5, 3)), np.zeros((5, 2)))
    m.step_batch()
    config, W = m.config, [layer.W for layer in m.layers]
    with pytest.raises(ConfigError) as info:
        m.set_hyperparameters(learning_rate=-1.0)
    assert info.value.field == "learning_rate"
    with pytest.raises(ConfigError) as info:
        m.set_hyperparameters(momentum=1.0)
    assert info.value.field == "momentum"
    with pytest.raises(ConfigError) as info:
        m.set_hyperparameters(units=3)
    assert info.value.field == "units"
    with pytest.raises(ConfigError) as info:
        m.set_activation(0, "softmax")  # softmax on a hidden layer
    assert info.value.field == "layers[0].activation"
    with pytest.raises(ConfigError) as info:
        m.set_activation(5, "tanh")
    assert info.value.field == "layer"
    with pytest.raises(ConfigError) as info:
        m.set_hyperparameters(loss="softmax_cross_entropy", learning_rate=0.1)  # sigmoid output
    assert info.value.field == "loss"
    assert m.config == config
    assert m.layers[0].activation.name == "tanh"
    assert all(a is layer.W for a, layer in zip(W, m.layers, strict=True))


def test_load_state_dict_rejects_bad_state() -> None:
    m = model()
    m.set_data(np.ones((5, 3)), np.zeros((5, 2)))
    state = m.state_dict()
    bad_shape = {
        **state,
        "layers": [{**state["layers"][0], "W": np.zeros((2, 2))}, state["layers"][1]],
    }
    with pytest.raises(ConfigError) as info:
        model().load_state_dict(bad_shape)
    assert info.value.field == "layers[0].W"
    nan_W = np.array(state["layers"][1]["W"], copy=True)
    nan_W[0, 0] = np.nan
    bad_value = {**state, "layers": [state["layers"][0], {**state["layers"][1], "W": nan_W}]}
    with pytest.raises(ConfigError) as info:
        model().load_state_dict(bad_value)
    assert info.value.field == "layers[1].W"
    with pytest.raises(ConfigError) as info:
        model().load_state_dict({**state, "layers": state["layers"][:1]})
    assert info.value.field == "layers"


# ----------------------------------------------------------------- divergence

# A forward pass that overflows warns from NumPy before the model reports the divergence.
OVERFLOW_WARNINGS = (
    "ignore:overflow encountered:RuntimeWarning",
    "ignore:invalid value encountered:RuntimeWarning",
)

DIVERGING = [
    (LayerConfig(4, "relu"), LayerConfig(1, "linear")),
    (LayerConfig(3, "linear"), LayerConfig(3, "linear"), LayerConfig(1, "linear")),
    (LayerConfig(5, "relu"), LayerConfig(5, "relu"), LayerConfig(2, "linear")),
]


def diverging_model(layers: tuple[LayerConfig, ...], rate: float = 1e6) -> Model:
    config = ModelConfig(
        input_size=2, layers=layers, loss="mse", learning_rate=rate, batch_size=4, seed=1
    )
    m = Model(config)
    rng = np.random.default_rng(0)
    m.set_data(rng.normal(size=(20, 2)), rng.normal(size=(20, layers[-1].units)))
    return m


def step_until_diverged(m: Model, limit: int = 500) -> tuple[list[list[np.ndarray]], str]:
    """Step until step_batch reports divergence; return the weights from just before it
    and from just before the step before it (the last two accepted states)."""
    previous: list[np.ndarray] = [layer.W.copy() for layer in m.layers]
    for _ in range(limit):
        before = [layer.W.copy() for layer in m.layers]
        step = m.step
        result = m.step_batch()
        if result.diverged:
            assert m.step == step  # the diverged step did not count
            return [before, previous], result.diverged
        assert np.isfinite(result.loss)
        previous = before
    raise AssertionError(f"no divergence in {limit} steps at learning rate 1e6")


@pytest.mark.filterwarnings(*OVERFLOW_WARNINGS)
@pytest.mark.parametrize("layers", DIVERGING)
def test_huge_learning_rate_diverges_and_keeps_last_good_weights(
    layers: tuple[LayerConfig, ...],
) -> None:
    m = diverging_model(layers)
    (before, previous), message = step_until_diverged(m)
    assert "diverged" in message and m.diverged == message
    assert m.cursor == 0  # the batch was abandoned
    # The last good weights: those before the refused update, or — when the last accepted
    # update made weights whose forward pass overflows — those before that update.
    expected = previous if "restored" in message else before
    for layer, W in zip(m.layers, expected, strict=True):
        assert np.isfinite(layer.W).all() and np.isfinite(layer.b).all()
        assert np.array_equal(layer.W, W)
    assert np.isfinite(m.evaluate(m.x_train, m.y_train))
    # step_epoch stops at a divergence too (the restored weights may last an epoch or two).
    for _ in range(20):
        results = m.step_epoch()
        if results[-1].diverged:
            break
    assert results[-1].diverged and not results[-1].epoch_done


def test_training_continues_after_lowering_the_rate_when_the_update_overflows() -> None:
    """An update that would make the weights non-finite is refused: lower the rate, go on."""
    m = diverging_model(DIVERGING[0], rate=1e308)
    m.set_data(m.x_train, 100 * m.y_train)
    W0 = [layer.W for layer in m.layers]
    result = m.step_batch()
    assert result.diverged and "non-finite" in result.diverged
    assert all(W is layer.W for W, layer in zip(W0, m.layers, strict=True))
    m.set_hyperparameters(learning_rate=1e-3)
    for _ in range(10):
        result = m.step_batch()
        assert not result.diverged and np.isfinite(result.loss)
    assert m.diverged is None and m.step == 10


@pytest.mark.filterwarnings(*OVERFLOW_WARNINGS)
@pytest.mark.parametrize("layers", DIVERGING)
def test_training_continues_after_lowering_the_rate_at_1e6(
    layers: tuple[LayerConfig, ...],
) -> None:
    m = diverging_model(layers)
    step_until_diverged(m)
    m.set_hyperparameters(learning_rate=1e-4)
    result = m.step_batch()
    assert not result.diverged and np.isfinite(result.loss)


# ----------------------------------------------------------------- float32 cross-entropy


def test_binary_cross_entropy_of_a_saturated_float32_prediction_is_finite() -> None:
    y = np.array([[1.0], [0.0]], dtype=np.float32)
    p = np.array([[1.0], [0.0]], dtype=np.float32)  # perfectly right, as a sigmoid saturates
    with np.errstate(all="ignore"):
        loss = binary_cross_entropy(y, p)
        prime = binary_cross_entropy_prime(y, p)
    assert np.isfinite(loss) and loss < 1e-6
    assert np.isfinite(prime).all()


def logistic_divergences(dtype: str) -> list[str | None]:
    """300 full-batch steps of sigmoid + binary cross-entropy on separable data."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 2))
    y = (x[:, :1] > 0).astype(float)
    m = Model(
        ModelConfig(
            input_size=2,
            layers=(LayerConfig(1, "sigmoid"),),
            loss="binary_cross_entropy",
            learning_rate=5.0,
            batch_size=None,
            dtype=dtype,
        )
    )
    m.set_data(x, y)
    return [m.step_batch().diverged for _ in range(300)]


def test_float64_logistic_regression_trains_on_when_it_fits() -> None:
    assert not any(logistic_divergences("float64"))


def test_float32_logistic_regression_trains_on_when_it_fits() -> None:
    assert not any(logistic_divergences("float32"))


@pytest.mark.parametrize("rate", [1e6, 1e308])  # the loss overflows; the update overflows
@pytest.mark.parametrize("layers", DIVERGING)
def test_a_diverging_batch_ends_the_same_by_phase_and_by_batch(
    layers: tuple[LayerConfig, ...], rate: float
) -> None:
    """step_batch's one-go path (fast.py) diverges exactly as the phase walk does: the same
    message, the same weights kept or restored, the same trace left for the page."""
    by_phase, by_batch = diverging_model(layers, rate), diverging_model(layers, rate)
    if rate > 1e300:
        for m in (by_phase, by_batch):
            m.set_data(m.x_train, 100 * m.y_train)
    n_phases = len(by_phase.phases)
    for _ in range(500):
        with np.errstate(all="ignore"):
            for _ in range(n_phases):
                walked = by_phase.step_phase()
                if walked.diverged:
                    break
        result = by_batch.step_batch()
        assert result.diverged == walked.diverged
        assert by_batch.step == by_phase.step and by_batch.cursor == by_phase.cursor
        for la, lb, ta, tb in zip(
            by_phase.layers, by_batch.layers, by_phase.traces, by_batch.traces, strict=True
        ):
            assert np.array_equal(la.W, lb.W) and np.array_equal(la.b, lb.b)
            for name in ("input", "z", "output", "output_error", "delta", "dW", "db"):
                va, vb = getattr(ta, name), getattr(tb, name)
                assert (va is None) == (vb is None), name
                if va is not None:
                    assert np.array_equal(va, vb, equal_nan=True), name
        if result.diverged:
            return
    pytest.fail("did not diverge")


@pytest.mark.parametrize("rate", [1e6, 1e308])
@pytest.mark.parametrize("layers", DIVERGING)
def test_diverging_after_momentum_changes_and_a_copy_restores_as_the_walk(
    layers: tuple[LayerConfig, ...], rate: float
) -> None:
    """The one-go step reuses memory for θ and v (engine/fast.py). Momentum on, off and on
    again, then a copy of the model (a checkpoint's), then a rate that diverges: the weights
    and velocities kept or restored equal the walk's, bit for bit."""
    by_phase, by_batch = diverging_model(layers, 0.01), diverging_model(layers, 0.01)
    for momentum, steps in ((0.9, 5), (0.0, 3), (0.5, 2)):
        for m in (by_phase, by_batch):
            m.apply_changes({"momentum": momentum})
        for _ in range(steps):
            assert not by_batch.step_batch().diverged
            for _ in by_phase.phases:
                assert not by_phase.step_phase().diverged
    by_batch = copy.deepcopy(by_batch)
    for m in (by_phase, by_batch):
        m.apply_changes({"learning_rate": rate})
        if rate > 1e300:
            m.set_data(m.x_train, 100 * m.y_train)
    for _ in range(500):
        with np.errstate(all="ignore"):
            for _ in by_phase.phases:
                walked = by_phase.step_phase()
                if walked.diverged:
                    break
        result = by_batch.step_batch()
        assert result.diverged == walked.diverged
        for la, lb in zip(by_phase.layers, by_batch.layers, strict=True):
            for name in ("W", "b", "velocity_W", "velocity_b"):
                assert np.array_equal(getattr(la, name), getattr(lb, name)), name
        if result.diverged:
            return
    pytest.fail("did not diverge")


def test_apply_changes_is_all_or_nothing_mid_batch() -> None:
    """A change whose last part is bad leaves config, loss, activations and the open batch."""
    m = model()
    m.set_data(np.ones((5, 3)), np.zeros((5, 2)))
    m.step_batch()
    m.step_phase()  # forward 0: a batch is open
    config, loss_fn, cursor = m.config, m.loss_fn, m.cursor
    activations = [layer.activation for layer in m.layers]
    with pytest.raises(ConfigError) as info:
        m.apply_changes({"loss": "sse", "batch_size": 2}, {0: "relu", 1: "swish"})
    assert info.value.field == "layers[1].activation"
    assert m.config is config and m.loss_fn is loss_fn and m.cursor == cursor
    assert [layer.activation for layer in m.layers] == activations
    m.step_batch()  # the open batch goes on as it was
    assert m.traces[0].output is not None
    np.testing.assert_array_equal(m.traces[0].output, np.tanh(m.traces[0].z))


def test_apply_changes_takes_a_loss_and_the_output_it_needs_together() -> None:
    """softmax cross-entropy needs a softmax output: both in one change is valid."""
    m = model()
    m.set_data(np.ones((5, 3)), np.tile([1.0, 0.0], (5, 1)))
    m.apply_changes({"loss": "softmax_cross_entropy"}, {1: "softmax"})
    assert m.config.loss == "softmax_cross_entropy" and m.loss_fn.name == "softmax_cross_entropy"
    assert m.layers[1].activation.name == "softmax"
    assert m.config.layers[1].activation == "softmax"
    m.step_batch()
    assert m.traces[1].output is not None
    np.testing.assert_allclose(m.traces[1].output.sum(axis=1), 1.0)
