"""Cross-entropy stays exact when the output is confidently wrong (issue #14).

One layer, x = [[1]], the logits apart by a margin g and the target on the losing class: the
true ∂L/∂z is (p − y)/n — −1 on the target, +1 on the winner — and the true loss is
g + log(1 + e^(−g)) (the log-sum-exp value). Expected values are computed here with Python's
``math`` from the margin alone, independently of the engine.
"""

from __future__ import annotations

import math

import numpy as np
import orjson
import pytest

from app.api.responses import OrjsonResponse
from app.engine import LayerConfig, Model, ModelConfig, chain_terms, gradient_check
from app.engine.gradcheck import equal_to_rounding
from app.service.session import layer_state

CASES = [("float64", 30.0), ("float64", 40.0), ("float32", 20.0)]


def one_layer(loss: str, activation: str, units: int, dtype: str, W: list[float]) -> Model:
    model = Model(
        ModelConfig(
            input_size=1,
            layers=(LayerConfig(units, activation),),
            loss=loss,
            batch_size=None,
            use_bias=False,
            dtype=dtype,
            shuffle=False,
        )
    )
    model.layers[0].W = np.array([W], dtype=model.dtype)
    return model


def through_backward(model: Model) -> None:
    """forward 0, loss, backward 0: everything but the update."""
    for _ in range(3):
        model.step_phase()


def true_loss(margin: float) -> float:
    return margin + math.log1p(math.exp(-margin))


@pytest.mark.parametrize(("dtype", "margin"), CASES)
def test_softmax_cross_entropy_delta_and_loss_stay_exact_when_confidently_wrong(
    dtype: str, margin: float
) -> None:
    model = one_layer("softmax_cross_entropy", "softmax", 2, dtype, [0.0, margin])
    model.set_data(np.array([[1.0]]), np.array([[1.0, 0.0]]))  # the target is the loser
    through_backward(model)
    trace = model.traces[0]
    p_loser = math.exp(-margin) / (1 + math.exp(-margin))
    expected_delta = np.array([[p_loser - 1.0, (1.0 - p_loser) - 0.0]])  # (p − y)/n, n = 1
    rtol = float(np.finfo(model.dtype).eps) * 4
    assert trace.delta is not None and trace.dW is not None
    np.testing.assert_allclose(trace.delta, expected_delta, rtol=rtol)
    np.testing.assert_allclose(trace.dW, expected_delta, rtol=rtol)  # x = 1
    assert model.loss == pytest.approx(true_loss(margin), rel=rtol)
    assert model.evaluate(model.x_train, model.y_train) == pytest.approx(
        true_loss(margin), rel=rtol
    )


@pytest.mark.parametrize(("dtype", "margin"), CASES)
@pytest.mark.parametrize("target", [0.0, 1.0])
def test_binary_cross_entropy_delta_and_loss_stay_exact_when_confidently_wrong(
    dtype: str, margin: float, target: float
) -> None:
    z = margin if target == 0.0 else -margin  # the output says the opposite of the target
    model = one_layer("binary_cross_entropy", "sigmoid", 1, dtype, [z])
    model.set_data(np.array([[1.0]]), np.array([[target]]))
    through_backward(model)
    p = 1 / (1 + math.exp(-z))
    expected_delta = p - target  # ±1 up to e^(−g)
    rtol = float(np.finfo(model.dtype).eps) * 4
    trace = model.traces[0]
    assert trace.delta is not None
    assert trace.delta[0, 0] == pytest.approx(expected_delta, rel=rtol)
    assert abs(trace.delta[0, 0]) > 0.99
    assert model.loss == pytest.approx(true_loss(margin), rel=rtol)


def test_fused_delta_equals_the_separate_factors_away_from_saturation() -> None:
    """Where nothing saturates, (p − y)/n and ∂L/∂p · ∂p/∂z are one number to rounding."""
    rng = np.random.default_rng(3)
    for loss, activation, units in (
        ("softmax_cross_entropy", "softmax", 3),
        ("binary_cross_entropy", "sigmoid", 2),
    ):
        model = Model(
            ModelConfig(
                input_size=4,
                layers=(LayerConfig(5, "tanh"), LayerConfig(units, activation)),
                loss=loss,
                batch_size=None,
            )
        )
        y = (
            np.eye(units)[rng.integers(0, units, 12)]
            if activation == "softmax"
            else rng.integers(0, 2, (12, units)).astype(float)
        )
        model.set_data(rng.normal(size=(12, 4)), y)
        for _ in range(4):  # forward 0, forward 1, loss, backward 1
            model.step_phase()
        trace, layer = model.traces[1], model.layers[1]
        assert trace.output_error is not None and trace.z is not None and trace.output is not None
        separate = layer.activation.backward(trace.output_error, trace.z, trace.output)
        np.testing.assert_allclose(trace.delta, separate, rtol=1e-12, atol=1e-17)
        np.testing.assert_array_equal(trace.delta, (trace.output - y) / len(y))
        assert model.is_fused(1) and not model.is_fused(0)


@pytest.mark.parametrize(("dtype", "margin"), [("float64", 40.0), ("float32", 20.0)])
def test_chain_terms_show_the_fused_delta_of_a_saturated_output(dtype: str, margin: float) -> None:
    model = one_layer("softmax_cross_entropy", "softmax", 2, dtype, [0.0, margin])
    model.set_data(np.array([[1.0]]), np.array([[1.0, 0.0]]))
    through_backward(model)
    terms = chain_terms(model, 0, 0, 0)
    assert terms.fused
    assert terms.local.tolist() == [1.0]
    assert terms.upstream[0] == pytest.approx(-1.0, rel=1e-6)
    assert terms.gradient == terms.reported
    assert "fused" in terms.note
    # Taken apart, ∂L/∂ŷ (exact, from z) through softmax's Jacobian gives δ to rounding.
    assert terms.separate is not None
    np.testing.assert_allclose(terms.separate, terms.upstream, rtol=8 * float(np.finfo(dtype).eps))


def test_mse_output_is_not_fused() -> None:
    model = one_layer("mse", "sigmoid", 1, "float64", [0.5])
    model.set_data(np.array([[1.0]]), np.array([[0.0]]))
    through_backward(model)
    assert not model.is_fused(0)
    assert not chain_terms(model, 0, 0, 0).fused
    assert chain_terms(model, 0, 0, 0).separate is None
    assert model.traces[0].loss_delta is None


def test_gradient_check_agrees_at_a_large_margin() -> None:
    """Central differences of the log-sum-exp loss agree with the fused δ (loss slope 1)."""
    model = one_layer("softmax_cross_entropy", "softmax", 2, "float64", [0.0, 40.0])
    model.set_data(np.array([[1.0]]), np.array([[1.0, 0.0]]))
    through_backward(model)
    (check,) = gradient_check(model)
    assert check.relative_error_W < 1e-8
    np.testing.assert_allclose(check.numeric_W, [-1.0, 1.0], rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_chain_sum_is_equal_to_rounding_for_every_weight(dtype: str) -> None:
    """Σ products and the matrix product's dW may differ in the last bits, never more."""
    model = Model(
        ModelConfig(
            input_size=3,
            layers=(LayerConfig(5, "tanh"), LayerConfig(3, "softmax")),
            loss="softmax_cross_entropy",
            batch_size=16,
            l2=0.1,
            dtype=dtype,
        )
    )
    rng = np.random.default_rng(2)
    model.set_data(rng.normal(size=(40, 3)), np.eye(3)[rng.integers(0, 3, 40)])
    model.step_batch()
    for k, layer in enumerate(model.layers):
        for i, j in np.ndindex(*layer.W.shape):
            terms = chain_terms(model, k, i, j)
            assert terms.equal_to_rounding, (k, i, j, terms.gradient, terms.reported)
            off = terms.gradient + 1e-3 * max(abs(terms.gradient), 1e-3)
            assert not equal_to_rounding(
                off, terms.reported, terms.products, terms.penalty, model.dtype
            )


def sigma(z: float) -> float:
    """σ(z) in Python's math, split by sign so neither branch overflows."""
    return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))


# (z, y): confidently wrong both ways, confidently right both ways, and one far past 1e-12.
BINARY_CASES = [(-58.0, 1.0), (58.0, 0.0), (-40.0, 1.0), (40.0, 0.0), (46.0, 1.0), (-46.0, 0.0)]


@pytest.mark.parametrize(("z", "target"), BINARY_CASES)
def test_binary_cross_entropy_upstream_is_exact_at_any_margin(z: float, target: float) -> None:
    """∂L/∂ŷ = −y/p + (1 − y)/(1 − p) with 1/p = 1 + e^(−z) and 1/(1 − p) = 1 + e^z: e^58 is
    1.5e25, which a probability clipped at 1e-12 shows as 1e12."""
    model = one_layer("binary_cross_entropy", "sigmoid", 1, "float64", [z])
    model.set_data(np.array([[1.0], [1.0]]), np.array([[target], [target]]))  # n = 2
    through_backward(model)
    trace = model.traces[0]
    assert trace.output_error is not None and trace.delta is not None
    expected = (-target * (1 + math.exp(-z)) + (1 - target) * (1 + math.exp(z))) / 2
    eps = float(np.finfo(np.float64).eps)
    assert trace.output_error[0, 0] == pytest.approx(expected, rel=4 * eps)
    # upstream · σ′(z), σ′(z) = σ(z)σ(−z) in math, is the true δ = (p − y)/n, written
    # p(1 − y) − (1 − p)y so neither term rounds away; the δ shown is it to within ε/n.
    true_delta = (sigma(z) * (1 - target) - sigma(-z) * target) / 2
    assert trace.output_error[0, 0] * sigma(z) * sigma(-z) == pytest.approx(true_delta, rel=8 * eps)
    assert trace.delta[0, 0] == pytest.approx(true_delta, rel=4 * eps, abs=eps / 2)
    terms = chain_terms(model, 0, 0, 0)
    assert terms.separate is not None
    np.testing.assert_allclose(terms.separate, true_delta, rtol=8 * eps)


@pytest.mark.parametrize(("dtype", "margin"), [("float64", 58.0), ("float32", 20.0)])
def test_softmax_cross_entropy_upstream_is_exact_at_any_margin(dtype: str, margin: float) -> None:
    """The loser's ∂L/∂p = −y/(n·p), 1/p = 1 + e^g for a margin g; the winner's is 0."""
    model = one_layer("softmax_cross_entropy", "softmax", 2, dtype, [0.0, margin])
    model.set_data(np.array([[1.0]]), np.array([[1.0, 0.0]]))
    through_backward(model)
    trace = model.traces[0]
    assert trace.output_error is not None
    rtol = 4 * float(np.finfo(model.dtype).eps)
    assert trace.output_error[0, 0] == pytest.approx(-(1 + math.exp(margin)), rel=rtol)
    assert trace.output_error[0, 1] == 0.0


@pytest.mark.parametrize(
    ("loss", "activation", "W", "y"),
    [
        ("binary_cross_entropy", "sigmoid", [-800.0], [[1.0]]),
        ("binary_cross_entropy", "sigmoid", [800.0], [[0.0]]),
        ("softmax_cross_entropy", "softmax", [0.0, 800.0], [[1.0, 0.0]]),
    ],
)
def test_upstream_past_the_dtype_is_infinite_null_in_json_and_flagged(
    loss: str, activation: str, W: list[float], y: list[list[float]]
) -> None:
    """1/p = e^800 has no float64: ∂L/∂ŷ is ±inf (null in JSON, with a note saying why),
    never a clipped finite stand-in; δ and the loss stay exact."""
    model = one_layer(loss, activation, len(W), "float64", W)
    model.set_data(np.array([[1.0]]), np.array(y))
    through_backward(model)
    trace = model.traces[0]
    assert trace.output_error is not None and trace.delta is not None
    assert np.isinf(trace.output_error[0, 0])
    assert abs(trace.delta[0, 0]) == 1.0  # (p − y)/n with p rounding to 0 or 1
    assert model.loss == pytest.approx(800.0, rel=1e-15)
    state = layer_state(0, model, include_trace=True)
    assert "float64" in state["upstream_overflow"]
    sent = orjson.loads(OrjsonResponse(state).body)
    assert sent["upstream"][0][0] is None
    assert sent["delta"][0][0] == trace.delta[0, 0]


def test_a_representable_upstream_carries_no_overflow_note() -> None:
    model = one_layer("binary_cross_entropy", "sigmoid", 1, "float64", [-58.0])
    model.set_data(np.array([[1.0]]), np.array([[1.0]]))
    through_backward(model)
    assert "upstream_overflow" not in layer_state(0, model, include_trace=True)
