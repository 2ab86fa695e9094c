"""Every analytic gradient of the engine against central differences, in float64.

Pieces first (activations, softmax's Jacobian-vector product, losses, the dense layer), each
over many random shapes drawn from fixed seeds; then whole models, both through
``app.engine.gradient_check`` and through a numeric check written here from scratch (own
forward pass, own loss formulas, own penalty), so a bug shared by the model and gradcheck.py
cannot hide.

Numeric derivative: (F(p + h) − F(p − h)) / 2h with h = 1e-5; compared by the relative error
‖a − n‖ / (‖a‖ + ‖n‖), which must stay below 1e-6.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from app.engine import (
    ACTIVATIONS,
    LOSSES,
    LayerConfig,
    Model,
    ModelConfig,
    binary_cross_entropy,
    binary_cross_entropy_prime,
    gradient_check,
    leaky_relu,
    leaky_relu_prime,
    linear,
    linear_prime,
    mse,
    mse_prime,
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    softmax,
    softmax_cross_entropy,
    softmax_cross_entropy_prime,
    sse,
    sse_prime,
    tanh,
    tanh_prime,
)
from app.engine.dense import fc_bias_error, fc_forward, fc_input_error, fc_weights_error
from app.engine.gradcheck import (
    NotCheckableError,
    batch_clone,
    check_input,
    layer_inputs,
    numeric_derivative,
    run_check,
    tolerance_for,
)

H = 1e-5
TOLERANCE = 1e-6
SEEDS = range(30)  # random shapes per check
ELEMENTWISE = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
KINKED = {"relu", "leaky_relu"}  # not differentiable at 0: keep |x| away from it

Array = np.ndarray


def relative_error(analytic: Array, numeric: Array) -> float:
    """‖a − n‖ / (‖a‖ + ‖n‖); 0 when both are exactly 0."""
    denominator = float(np.linalg.norm(analytic) + np.linalg.norm(numeric))
    if denominator == 0.0:
        return 0.0
    return float(np.linalg.norm(analytic - numeric) / denominator)


def numeric_gradient(scalar: Callable[[Array], float], point: Array) -> Array:
    """Central differences of a scalar function of an array, one entry at a time."""
    point = np.array(point, dtype=np.float64)
    gradient = np.zeros_like(point)
    for index in np.ndindex(*point.shape):
        original = point[index]
        point[index] = original + H
        plus = scalar(point)
        point[index] = original - H
        minus = scalar(point)
        point[index] = original
        gradient[index] = (plus - minus) / (2 * H)
    return gradient


def away_from_zero(rng: np.random.Generator, shape: tuple[int, ...], scale: float = 4.0) -> Array:
    """Values in ±[1e-3, scale): clear of the relu kink by far more than h."""
    magnitude = rng.uniform(1e-3, scale, shape)
    return np.where(rng.random(shape) < 0.5, -magnitude, magnitude)


def random_shape(rng: np.random.Generator, min_cols: int = 1) -> tuple[int, int]:
    return int(rng.integers(1, 8)), int(rng.integers(min_cols, 7))


# ----------------------------------------------------------------- activations


LESSON_PAIRS = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "linear": (linear, linear_prime),
}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_derivative_matches_central_differences(name: str) -> None:
    f, f_prime = LESSON_PAIRS[name]
    activation = ACTIVATIONS[name]
    assert activation.f is f and activation.prime is f_prime
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        x = away_from_zero(rng, random_shape(rng))
        # f is elementwise, so one vectorised difference gives every partial derivative.
        numeric = (f(x + H) - f(x - H)) / (2 * H)
        analytic = f_prime(x)
        assert analytic.shape == x.shape
        assert relative_error(analytic, numeric) < TOLERANCE, (name, seed)
        # The value-based form the backward pass uses (z(1 − z) for the sigmoid) agrees.
        local = activation.local_derivative(x, f(x))
        assert relative_error(local, numeric) < TOLERANCE, (name, seed)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_elementwise_backward_is_gradient_of_weighted_output(name: str) -> None:
    """backward(g, z, f(z)) = ∂/∂z Σ g ⊙ f(z): the upstream error times f'(z)."""
    activation = ACTIVATIONS[name]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        shape = random_shape(rng)
        z = away_from_zero(rng, shape)
        g = rng.normal(size=shape)
        analytic = activation.backward(g, z, activation.forward(z))
        numeric = numeric_gradient(lambda zz, g=g: float(np.sum(g * activation.forward(zz))), z)
        assert relative_error(analytic, numeric) < TOLERANCE, (name, seed)


def test_softmax_backward_is_its_jacobian_vector_product() -> None:
    activation = ACTIVATIONS["softmax"]
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        shape = random_shape(rng, min_cols=2)
        z = rng.normal(0.0, 2.0, shape)
        g = rng.normal(size=shape)
        a = softmax(z)
        analytic = activation.backward(g, z, a)
        # Σ over every row and unit of g ⊙ softmax(z): perturbing z[s, j] moves all of row s.
        numeric = numeric_gradient(lambda zz, g=g: float(np.sum(g * softmax(zz))), z)
        assert relative_error(analytic, numeric) < TOLERANCE, seed


def test_softmax_rows_are_probabilities_and_shift_invariant() -> None:
    rng = np.random.default_rng(7)
    z = rng.normal(0.0, 3.0, (6, 4))
    a = softmax(z)
    assert np.all(a > 0)
    np.testing.assert_allclose(a.sum(axis=1), 1.0, rtol=0, atol=1e-15)
    np.testing.assert_allclose(softmax(z + 100.0), a, rtol=1e-12, atol=0)
    # Large logits must not overflow (the row max is subtracted first).
    big = softmax(np.array([[1000.0, 0.0, -1000.0]]))
    np.testing.assert_allclose(big, [[1.0, 0.0, 0.0]], atol=1e-300)


# ----------------------------------------------------------------- losses


def loss_inputs(name: str, rng: np.random.Generator) -> tuple[Array, Array]:
    """(y_true, y_pred) in the domain the loss is meant for."""
    n, k = random_shape(rng, min_cols=2 if name == "softmax_cross_entropy" else 1)
    if name in ("mse", "sse"):
        return rng.normal(size=(n, k)), rng.normal(size=(n, k))
    if name == "binary_cross_entropy":
        # Hard 0/1 labels and soft ones; predictions well inside (0, 1).
        y = rng.integers(0, 2, (n, k)).astype(float) if rng.random() < 0.5 else rng.random((n, k))
        return y, rng.uniform(0.05, 0.95, (n, k))
    y = np.eye(k)[rng.integers(0, k, n)]
    return y, softmax(rng.normal(size=(n, k)))


LOSS_PAIRS = {
    "mse": (mse, mse_prime),
    "sse": (sse, sse_prime),
    "binary_cross_entropy": (binary_cross_entropy, binary_cross_entropy_prime),
    "softmax_cross_entropy": (softmax_cross_entropy, softmax_cross_entropy_prime),
}


@pytest.mark.parametrize("name", list(LOSS_PAIRS))
def test_loss_prime_matches_central_differences(name: str) -> None:
    f, f_prime = LOSS_PAIRS[name]
    assert LOSSES[name].f is f and LOSSES[name].prime is f_prime
    for seed in SEEDS:
        rng = np.random.default_rng(seed)
        y_true, y_pred = loss_inputs(name, rng)
        analytic = f_prime(y_true, y_pred)
        assert analytic.shape == y_pred.shape
        numeric = numeric_gradient(lambda p, y=y_true: f(y, p), y_pred)
        assert relative_error(analytic, numeric) < TOLERANCE, (name, seed)


def test_loss_values_follow_their_definitions() -> None:
    """Small hand-checkable cases, written from the formulas (not from the engine's output)."""
    y = np.array([[1.0, 0.0], [0.0, 1.0]])
    p = np.array([[0.8, 0.3], [0.4, 0.9]])
    squares = 0.2**2 + 0.3**2 + 0.4**2 + 0.1**2
    assert mse(y, p) == pytest.approx(squares / 4, rel=1e-15)
    assert sse(y, p) == pytest.approx(squares, rel=1e-15)
    bce = -(np.log(0.8) + np.log(0.7) + np.log(0.6) + np.log(0.9)) / 2  # mean over 2 samples
    assert binary_cross_entropy(y, p) == pytest.approx(bce, rel=1e-14)
    q = np.array([[0.7, 0.3], [0.25, 0.75]])
    assert softmax_cross_entropy(y, q) == pytest.approx(-(np.log(0.7) + np.log(0.75)) / 2)
    # Softmax + cross-entropy's backward collapses to (p − y) / n.
    z = np.log(q)
    delta = ACTIVATIONS["softmax"].backward(softmax_cross_entropy_prime(y, q), z, q)
    np.testing.assert_allclose(delta, (q - y) / 2, rtol=0, atol=1e-15)


# ----------------------------------------------------------------- dense layer


def check_dense_layer(seed: int) -> None:
    """E = Σ G ⊙ fc_forward(X, W, B): ∂E/∂W = XᵀG, ∂E/∂B = Σ_rows G, ∂E/∂X = G·Wᵀ."""
    rng = np.random.default_rng(seed)
    n, n_in, n_out = (int(v) for v in rng.integers(1, 7, 3))
    X = rng.normal(size=(n, n_in))
    W = rng.normal(size=(n_in, n_out))
    B = rng.normal(size=(1, n_out))
    G = rng.normal(size=(n, n_out))
    originals = [X.copy(), W.copy(), B.copy()]
    np.testing.assert_allclose(fc_forward(X, W, B), X @ W + B, rtol=1e-15, atol=1e-15)

    def energy(x: Array, w: Array, b: Array | None) -> float:
        return float(np.sum(G * fc_forward(x, w, b)))

    dW = numeric_gradient(lambda w: energy(X, w, B), W)
    dB = numeric_gradient(lambda b: energy(X, W, b), B)
    dX = numeric_gradient(lambda x: energy(x, W, B), X)
    assert fc_weights_error(X, G).shape == W.shape
    assert fc_bias_error(G).shape == B.shape
    assert fc_input_error(W, G).shape == X.shape
    assert relative_error(fc_weights_error(X, G), dW) < TOLERANCE
    assert relative_error(fc_bias_error(G), dB) < TOLERANCE
    assert relative_error(fc_input_error(W, G), dX) < TOLERANCE
    # Without a bias (lesson 000) the weight gradient is the same.
    dW_no_bias = numeric_gradient(lambda w: energy(X, w, None), W)
    assert relative_error(fc_weights_error(X, G), dW_no_bias) < TOLERANCE
    # None of the functions may write into its arguments.
    for before, after in zip(originals, [X, W, B], strict=True):
        assert np.array_equal(before, after)


@pytest.mark.parametrize("seed", SEEDS)
def test_dense_layer_gradients_match_central_differences(seed: int) -> None:
    check_dense_layer(seed)


# Which output activations each loss is tried with (cross-entropies need probabilities).
ACTIVATION_LOSS_PAIRS = [
    *((name, loss) for name in sorted(ACTIVATIONS) for loss in ("mse", "sse")),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "softmax_cross_entropy"),
]


@settings(derandomize=True, max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 6),
    n_in=st.integers(1, 6),
    n_out=st.integers(1, 6),
    pair=st.sampled_from(ACTIVATION_LOSS_PAIRS),
)
def test_property_one_layer_chain_rule(
    seed: int, n: int, n_in: int, n_out: int, pair: tuple[str, str]
) -> None:
    """For any shapes, ∂loss(y, f(XW + B))/∂W and /∂B by the chain rule = central differences."""
    activation, loss_name = pair
    assume(activation != "softmax" or n_out >= 2)
    rng = np.random.default_rng(seed)
    act, loss = ACTIVATIONS[activation], LOSSES[loss_name]
    X = rng.normal(size=(n, n_in))
    W = rng.normal(0.0, 0.7, (n_in, n_out))
    B = rng.normal(0.0, 0.3, (1, n_out))
    z = fc_forward(X, W, B)
    assume(activation not in KINKED or np.abs(z).min() > 1e-3)
    if loss_name == "softmax_cross_entropy":
        y = np.eye(n_out)[rng.integers(0, n_out, n)]
    elif loss_name == "binary_cross_entropy":
        y = rng.integers(0, 2, (n, n_out)).astype(float)
    else:
        y = rng.normal(size=(n, n_out))
    a = act.forward(z)
    delta = act.backward(loss.prime(y, a), z, a)
    numeric_W = numeric_gradient(lambda w: loss.f(y, act.forward(fc_forward(X, w, B))), W)
    numeric_B = numeric_gradient(lambda b: loss.f(y, act.forward(fc_forward(X, W, b))), B)
    assert relative_error(fc_weights_error(X, delta), numeric_W) < TOLERANCE
    assert relative_error(fc_bias_error(delta), numeric_B) < TOLERANCE


# ----------------------------------------------------------------- whole models

# The test's own definitions of the objective, independent of the engine's code.
OWN_ACTIVATIONS: dict[str, Callable[[Array], Array]] = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.where(z > 0, z, 0.0),
    "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "linear": lambda z: z,
    "softmax": lambda z: np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
}
OWN_LOSSES: dict[str, Callable[[Array, Array], float]] = {
    "mse": lambda y, p: float(np.mean((y - p) ** 2)),
    "sse": lambda y, p: float(np.sum((y - p) ** 2)),
    "binary_cross_entropy": lambda y, p: float(
        -np.sum(y * np.log(p) + (1 - y) * np.log(1 - p)) / len(y)
    ),
    "softmax_cross_entropy": lambda y, p: float(-np.sum(y * np.log(p)) / len(y)),
}
OUTPUT_PAIRS = [
    ("linear", "mse"),
    ("tanh", "sse"),
    ("sigmoid", "mse"),
    ("sigmoid", "binary_cross_entropy"),
    ("softmax", "softmax_cross_entropy"),
]
HIDDEN = ["sigmoid", "tanh", "relu", "leaky_relu", "linear"]
BATCHES: list[int | None] = [1, 3, None]
PENALTIES = [(0.0, 0.0), (0.0, 0.05), (0.02, 0.0), (0.01, 0.03)]  # (l1, l2)
N_ROWS = 7


def own_objective(
    Ws: list[Array], bs: list[Array | None], config: ModelConfig, x: Array, y: Array
) -> float:
    """Data loss of the batch + (l2/2)·ΣW² + l1·Σ|W|, computed without the engine."""
    a = x
    for W, b, spec in zip(Ws, bs, config.layers, strict=True):
        z = a @ W + (0.0 if b is None else b)
        a = OWN_ACTIVATIONS[spec.activation](z)
    penalty = sum(0.5 * config.l2 * np.sum(W**2) + config.l1 * np.sum(np.abs(W)) for W in Ws)
    return OWN_LOSSES[config.loss](y, a) + float(penalty)


def own_pre_activations(
    Ws: list[Array], bs: list[Array | None], config: ModelConfig, x: Array
) -> list[Array]:
    zs, a = [], x
    for W, b, spec in zip(Ws, bs, config.layers, strict=True):
        z = a @ W + (0.0 if b is None else b)
        zs.append(z)
        a = OWN_ACTIVATIONS[spec.activation](z)
    return zs


def targets(loss: str, n_out: int, rng: np.random.Generator) -> Array:
    if loss == "softmax_cross_entropy":
        return np.eye(n_out)[rng.integers(0, n_out, N_ROWS)]
    if loss == "binary_cross_entropy":
        return rng.integers(0, 2, (N_ROWS, n_out)).astype(float)
    if loss == "sse":
        return rng.uniform(-0.9, 0.9, (N_ROWS, n_out))
    return rng.uniform(0.1, 0.9, (N_ROWS, n_out))


def build_case(
    case: int,
    hidden: str,
    output: str,
    loss: str,
    batch_size: int | None,
    use_bias: bool,
    penalty: tuple[float, float],
) -> Model:
    """A random architecture from seed ``case``, stepped once, then traced up to the update.

    Weights and data are redrawn (deterministically) until no relu-type pre-activation and no
    weight sits within 1e-3 of a kink, so central differences never straddle one.
    """
    rng = np.random.default_rng(1000 + case)
    n_hidden = int(rng.integers(0, 4))  # 1–4 layers in all
    units = [int(u) for u in rng.integers(1, 7, n_hidden)]
    n_out = int(rng.integers(2 if output == "softmax" else 1, 7))
    n_in = int(rng.integers(1, 7))
    layers = (*(LayerConfig(u, hidden) for u in units), LayerConfig(n_out, output))
    l1, l2 = penalty
    for attempt in range(20):
        config = ModelConfig(
            input_size=n_in,
            layers=layers,
            loss=loss,
            learning_rate=0.05,
            batch_size=batch_size,
            l1=l1,
            l2=l2,
            use_bias=use_bias,
            initializer="xavier" if hidden not in KINKED else "he",
            seed=100 * case + attempt,
        )
        data_rng = np.random.default_rng([case, attempt])
        x = data_rng.normal(size=(N_ROWS, n_in))
        y = targets(loss, n_out, data_rng)
        model = Model(config)
        if use_bias:  # xavier/he start biases at 0: give them a value worth checking
            for layer in model.layers:
                layer.b = data_rng.normal(0.0, 0.1, layer.b.shape)
        model.set_data(x, y)
        model.step_batch()  # trace the second batch, at weights that have moved once
        for _ in range(len(model.phases) - 1):  # forward, loss, backward; not the update
            model.step_phase()
        Ws = [t.W for t in model.traces]
        bs = [t.b for t in model.traces]
        xb = model.x_train[model.batch_indices]
        kinked = [
            z
            for z, spec in zip(own_pre_activations(Ws, bs, config, xb), layers, strict=True)
            if spec.activation in KINKED
        ]
        near_kink = any(np.abs(z).min() < 1e-3 for z in kinked)
        near_l1_kink = l1 > 0 and min(np.abs(W).min() for W in Ws) < 1e-3
        if not (near_kink or near_l1_kink):
            return model
    raise AssertionError(f"case {case}: no kink-free data in 20 attempts")


def independent_check(model: Model) -> None:
    """Perturb every W and b entry of a deepcopy; the test's own objective on the batch rows."""
    clone = copy.deepcopy(model)
    xb = clone.x_train[clone.batch_indices]
    yb = clone.y_train[clone.batch_indices]
    Ws = [layer.W for layer in clone.layers]
    bs = [layer.b for layer in clone.layers]
    for k, trace in enumerate(model.traces):
        assert trace.W is model.layers[k].W  # the traced gradient belongs to these weights
        numeric_W = numeric_gradient(
            lambda w, k=k: own_objective([*Ws[:k], w, *Ws[k + 1 :]], bs, clone.config, xb, yb),
            Ws[k],
        )
        assert relative_error(trace.dW, numeric_W) < TOLERANCE, (k, trace.dW, numeric_W)
        if bs[k] is None:
            assert trace.db is None
            continue
        numeric_b = numeric_gradient(
            lambda b, k=k: own_objective(Ws, [*bs[:k], b, *bs[k + 1 :]], clone.config, xb, yb),
            bs[k],
        )
        assert relative_error(trace.db, numeric_b) < TOLERANCE, (k, trace.db, numeric_b)


def assert_gradcheck_passes(model: Model) -> None:
    dWs = [t.dW for t in model.traces]
    checks = gradient_check(model)
    assert len(checks) == len(model.layers)
    for k, check in enumerate(checks):
        assert check.relative_error_W < TOLERANCE, (k, check)
        assert check.checked >= model.layers[k].W.size
        # gradcheck's analytic side is the very dW the model reported.
        np.testing.assert_allclose(check.analytic_W, dWs[k].ravel(), rtol=1e-12, atol=1e-15)
        if model.layers[k].b is None:
            assert check.relative_error_b is None
        else:
            assert check.relative_error_b is not None and check.relative_error_b < TOLERANCE


ARCHITECTURES = list(itertools.product(HIDDEN, OUTPUT_PAIRS))


@pytest.mark.parametrize(("case", "hidden", "pair"), [(i, *c) for i, c in enumerate(ARCHITECTURES)])
def test_model_gradients_every_activation_and_output(
    case: int, hidden: str, pair: tuple[str, str]
) -> None:
    output, loss = pair
    batch_size = BATCHES[case % 3]
    use_bias = case % 2 == 0
    penalty = PENALTIES[case % 4]
    model = build_case(case, hidden, output, loss, batch_size, use_bias, penalty)
    independent_check(model)
    assert_gradcheck_passes(model)
    # After the update, gradcheck still checks the traced batch at the weights dW belongs to.
    model.step_phase()
    assert_gradcheck_passes(model)


SETTINGS = list(itertools.product(BATCHES, [True, False], PENALTIES))


@pytest.mark.parametrize(
    ("case", "batch_size", "use_bias", "penalty"),
    [(100 + i, *s) for i, s in enumerate(SETTINGS)],
)
def test_model_gradients_every_batch_bias_and_penalty(
    case: int, batch_size: int | None, use_bias: bool, penalty: tuple[float, float]
) -> None:
    rng = np.random.default_rng(case)
    hidden = HIDDEN[int(rng.integers(0, len(HIDDEN)))]
    output, loss = OUTPUT_PAIRS[int(rng.integers(0, len(OUTPUT_PAIRS)))]
    model = build_case(case, hidden, output, loss, batch_size, use_bias, penalty)
    expected_rows = N_ROWS if batch_size is None else batch_size
    assert len(model.batch_indices) == expected_rows
    independent_check(model)
    assert_gradcheck_passes(model)


def test_gradient_check_on_given_rows_uses_current_weights() -> None:
    model = build_case(7, "tanh", "sigmoid", "binary_cross_entropy", 3, True, (0.0, 0.01))
    model.step_phase()  # the update: current weights differ from the traced ones
    rng = np.random.default_rng(5)
    x = rng.normal(size=(5, model.config.input_size))
    y = rng.integers(0, 2, (5, model.config.layers[-1].units)).astype(float)
    Ws = [layer.W for layer in model.layers]
    bs = [layer.b for layer in model.layers]
    for k, check in enumerate(gradient_check(model, x, y)):
        numeric = numeric_gradient(
            lambda w, k=k: own_objective([*Ws[:k], w, *Ws[k + 1 :]], bs, model.config, x, y),
            Ws[k],
        )
        assert relative_error(check.numeric_W, numeric.ravel()) < TOLERANCE
        assert check.relative_error_W < TOLERANCE


def test_gradient_check_sampling_limits_entries() -> None:
    model = build_case(3, "relu", "softmax", "softmax_cross_entropy", None, True, (0.0, 0.0))
    limited = gradient_check(model, max_entries_per_layer=2, seed=1)
    for check, layer in zip(limited, model.layers, strict=True):
        assert check.checked <= 4  # 2 weights + at most 2 biases
        assert len(check.analytic_W) == min(2, layer.W.size)
        assert check.relative_error_W < TOLERANCE


@pytest.mark.parametrize("preset_layers", [("tanh", "tanh"), ("relu", "sigmoid")])
def test_gradient_check_of_float32_checks_the_float32_dw_shown(
    preset_layers: tuple[str, str],
) -> None:
    """The analytic side is the float32 dW the trace holds, not a float64 recomputation;
    the tolerance is float32's."""
    hidden, output = preset_layers
    model = Model(
        ModelConfig(
            input_size=3,
            layers=(LayerConfig(6, hidden), LayerConfig(2, output)),
            batch_size=8,
            dtype="float32",
        )
    )
    rng = np.random.default_rng(5)
    model.set_data(rng.normal(size=(20, 3)), rng.uniform(size=(20, 2)))
    for _ in range(3):
        model.step_batch()
    checks = gradient_check(model)
    assert tolerance_for("float32") > tolerance_for("float64")
    for trace, check in zip(model.traces, checks, strict=True):
        assert trace.dW is not None and trace.dW.dtype == np.float32
        assert np.array_equal(check.analytic_W, trace.dW.ravel().astype(np.float64))
        # float32 rounding shows: a float64 recomputation would agree to ~1e-10.
        assert 1e-9 < check.relative_error_W < tolerance_for("float32")


def test_gradient_check_after_a_change_checks_the_current_objective() -> None:
    """After the batch, l2 and the loss change: the check recomputes under the new ones."""
    model = Model(
        ModelConfig(input_size=3, layers=(LayerConfig(4, "tanh"), LayerConfig(2, "sigmoid")))
    )
    rng = np.random.default_rng(9)
    model.set_data(rng.normal(size=(20, 3)), rng.integers(0, 2, (20, 2)).astype(float))
    model.step_batch()
    model.apply_changes({"l2": 0.3, "loss": "binary_cross_entropy"})
    for check in gradient_check(model):
        assert check.relative_error_W < TOLERANCE


# ----- a check stopped early, and what it copies ----------------------------------------------


def stop_after(calls: int) -> Callable[[], bool]:
    """A ``stop`` that lets ``calls`` entries through, then says stop."""
    asked = itertools.count()
    return lambda: next(asked) >= calls


def test_a_stopped_check_has_checked_every_layer_on_the_same_share() -> None:
    layers = (LayerConfig(6, "tanh"), LayerConfig(4, "tanh"), LayerConfig(2, "sigmoid"))
    model = Model(ModelConfig(input_size=3, layers=layers, loss="binary_cross_entropy", l2=0.01))
    rng = np.random.default_rng(8)
    model.set_data(rng.normal(size=(30, 3)), rng.integers(0, 2, size=(30, 2)).astype(float))
    model.step_batch()
    full = run_check(check_input(model))
    assert full.planned == (3 * 6 + 6) + (6 * 4 + 4) + (4 * 2 + 2)
    assert full.complete and full.checked == full.planned
    partial = run_check(check_input(model), stop=stop_after(full.planned // 3))
    assert not partial.complete
    assert partial.checked == full.planned // 3 and partial.planned == full.planned
    for whole, part in zip(full.layers, partial.layers, strict=True):
        assert part.planned == whole.planned
        share = part.checked / part.planned
        assert abs(share - 1 / 3) <= 2 / part.planned + 1e-12  # in proportion, to an entry
        assert part.checked >= 1
        # The entries checked are the full check's first ones, with the very same numbers.
        assert np.array_equal(part.numeric_W, whole.numeric_W[: len(part.numeric_W)])
        assert np.array_equal(part.analytic_W, whole.analytic_W[: len(part.analytic_W)])
        assert part.numeric_b is not None and whole.numeric_b is not None
        assert np.array_equal(part.numeric_b, whole.numeric_b[: len(part.numeric_b)])


def test_a_check_stopped_at_once_checks_nothing() -> None:
    model = build_case(2, "relu", "linear", "mse", 4, True, (0.0, 0.0))
    report = run_check(check_input(model), stop=lambda: True)
    assert (report.complete, report.checked) == (False, 0)
    assert all(check.checked == 0 and len(check.numeric_W) == 0 for check in report.layers)


def forward_traced(w0: float, w1: float, hidden: str) -> Model:
    """x = 1 → one ``hidden`` unit (weight w0) → one linear unit (w1), no biases, mse: the
    batch run forward only, its loss phase next."""
    layers = (LayerConfig(1, hidden), LayerConfig(1, "linear"))
    model = Model(ModelConfig(input_size=1, layers=layers, use_bias=False, batch_size=None))
    model.set_data(np.array([[1.0]]), np.array([[0.0]]))
    model.layers[0].W[...] = w0
    model.layers[1].W[...] = w1
    model.step_phase()
    model.step_phase()
    return model


def test_a_batch_whose_loss_overflows_at_its_weights_is_not_checkable() -> None:
    """ŷ = 1e200 · 1e200 · 1 overflows: the loss is infinite, there is no gradient to check."""
    model = forward_traced(1e200, 1e200, "linear")
    with pytest.raises(NotCheckableError, match="loss is inf"):
        run_check(check_input(model))
    assert model.cursor == 2  # the model itself is untouched: its loss phase is still next


def test_a_batch_whose_gradient_overflows_at_its_weights_is_not_checkable() -> None:
    """ŷ = 1e300 · relu(1e-150) = 1e150: a finite loss (1e300), but layer 0's δ = 2ŷ · 1e300
    passes float64's range, so its ∂L/∂W is infinite."""
    model = forward_traced(1e-150, 1e300, "relu")
    assert np.isfinite(model.evaluate(model.x_train, model.y_train))
    with pytest.raises(NotCheckableError, match=r"layer 0's gradient .* float64's range"):
        run_check(check_input(model))


def test_the_objective_from_a_layer_equals_the_whole_forward_pass() -> None:
    """Starting the forward pass at the perturbed layer changes no number."""
    model = build_case(6, "tanh", "softmax", "softmax_cross_entropy", None, True, (0.01, 0.02))
    clone = batch_clone(model)
    inputs = layer_inputs(clone)
    for k, layer in enumerate(clone.layers):
        for index in [(0, 0), (layer.W.shape[0] - 1, layer.W.shape[1] - 1)]:
            whole = numeric_derivative(clone, k, "W", index)
            assert numeric_derivative(clone, k, "W", index, inputs[k]) == whole
        assert numeric_derivative(clone, k, "b", (0, 0), inputs[k]) == numeric_derivative(
            clone, k, "b", (0, 0)
        )


def test_a_check_copies_the_batch_not_the_dataset_and_never_shares_weights() -> None:
    model = Model(
        ModelConfig(input_size=2, layers=(LayerConfig(5, "tanh"), LayerConfig(1, "tanh")))
    )
    rng = np.random.default_rng(3)
    model.set_data(rng.normal(size=(500, 2)), rng.uniform(-1, 1, size=(500, 1)))
    model.step_batch()
    clone = batch_clone(model)
    assert len(clone.x_train) == len(model.batch_indices) == 10
    assert np.array_equal(clone.x_train, model.x_train[model.batch_indices])
    assert clone.config.batch_size is None and not clone.config.shuffle
    for layer, trace in zip(clone.layers, model.traces, strict=True):
        assert trace.W is not None
        assert np.array_equal(layer.W, trace.W) and not np.shares_memory(layer.W, trace.W)
