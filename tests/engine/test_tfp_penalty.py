"""L1 and L2 under ``penalty_rule="tfp"``: TF Playground's ``updateWeights`` (src/nn.ts), where
the penalty is a step of its own after the data's and L1 sets a weight that crosses 0 to 0 and
freezes it (``isDead``). An independent port of nn.ts's loop in plain NumPy, written here (no
function of the app), trains TF Playground's default network on its two Gaussians 200 epochs
at L1 0.03 beside the engine (14 of its 18 links die; on the circle all 18 do); every path of
the engine (phase walk, one-go batch, a class together) agrees with it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

from app.engine import LayerConfig, Model, ModelConfig, kernel, together
from app.engine.datasets import make_dataset
from app.engine.together import step_batches

EPOCHS = 200
LEARNING_RATE = 0.03
BATCH = 10
L1 = 0.03
Array = np.ndarray


# ----- the port of nn.ts ------------------------------------------------------------------


@dataclass
class Port:
    """nn.ts's network as arrays: W[k][i, j] is the link from node i of layer k to node j of
    layer k + 1 (its ``weight``), b[k][j] the node's ``bias``, dead[k][i, j] its ``isDead``."""

    W: list[Array]
    b: list[Array]
    dead: list[Array]

    def outputs(self, x: Array) -> list[Array]:
        """forwardProp for every row of x: each layer's node outputs, the inputs first."""
        outputs = [x]
        for W, b in zip(self.W, self.b, strict=True):
            total_input = np.dot(outputs[-1], W)
            total_input += b
            outputs.append(np.tanh(total_input))
        return outputs

    def loss(self, x: Array, t: Array) -> float:
        """getLoss: Errors.SQUARE.error = ½(o − t)², averaged over the points."""
        o = self.outputs(x)[-1][:, 0]
        return float(np.sum(0.5 * (o - t) ** 2) / len(t))


def backprop_batch(port: Port, x: Array, t: Array, mean_first: bool) -> list[tuple[Array, Array]]:
    """backProp summed over a batch's rows: per layer, Σ errorDer of each link and Σ inputDer
    of each node. nn.ts sums the rows' raw derivatives and divides by n in updateWeights;
    ``mean_first`` divides the output's derivative by n at the start instead (the engine's
    order of rounding), so the two orders can both be checked."""
    outputs = port.outputs(x)
    n = len(t)
    output_der = outputs[-1] - t[:, None]  # Errors.SQUARE.der(output, target) = output − target
    if mean_first:
        output_der = output_der / n
    sums: list[tuple[Array, Array]] = []
    for k in range(len(port.W) - 1, -1, -1):
        a = outputs[k + 1]
        input_der = output_der * (1.0 - a * a)  # tanh'(totalInput) = 1 − output²
        sums.append((np.dot(outputs[k].T, input_der), input_der.sum(axis=0, keepdims=True)))
        output_der = np.dot(input_der, port.W[k].T)
    return sums[::-1]


def update_weights(
    port: Port, sums: list[tuple[Array, Array]], n: int, mean_first: bool, l1: float, l2: float
) -> None:
    """updateWeights with RegularizationFunction.L1 (l1 > 0) or L2 (l2 > 0), link by link in
    nn.ts's order of operations, vectorised over the links:

        regulDer = der(weight)                              (before the data's step)
        weight = weight − (learningRate / n) · accErrorDer
        newWeight = weight − (learningRate · regularizationRate) · regulDer
        L1 and weight · newWeight < 0:  weight = 0, isDead = true;  else weight = newWeight
        a dead link is skipped altogether
    """
    assert l1 == 0.0 or l2 == 0.0, "nn.ts has one regularization at a time"
    for k, (acc_error_der, acc_input_der) in enumerate(sums):
        W, b, dead = port.W[k], port.b[k], port.dead[k]
        if mean_first:
            port.b[k] = b - LEARNING_RATE * acc_input_der
            weight = W - LEARNING_RATE * acc_error_der
        else:
            port.b[k] = b - LEARNING_RATE * acc_input_der / n
            weight = W - (LEARNING_RATE / n) * acc_error_der
        if l1 != 0.0:
            regul_der = np.where(W < 0, -1.0, np.where(W > 0, 1.0, 0.0))
            new_weight = weight - (LEARNING_RATE * l1) * regul_der
            crossed = (weight * new_weight < 0) & ~dead
            new_weight[crossed] = 0.0
            port.dead[k] = dead | crossed
        elif l2 != 0.0:
            new_weight = weight - (LEARNING_RATE * l2) * W
        else:
            new_weight = weight
        port.W[k] = np.where(dead, W, new_weight)


def train_port(
    port: Port, x: Array, t: Array, epochs: int, mean_first: bool, l1: float = L1, l2: float = 0.0
) -> None:
    """oneStep, ``epochs`` times: the training rows in order, updateWeights every BATCH rows."""
    for _ in range(epochs):
        for start in range(0, len(t), BATCH):
            rows = slice(start, start + BATCH)
            sums = backprop_batch(port, x[rows], t[rows], mean_first)
            update_weights(port, sums, len(t[rows]), mean_first, l1, l2)


# ----- the engine's side --------------------------------------------------------------------


def gaussians() -> Any:
    """TF Playground's two Gaussians as its presets build them (500 points, half to train)."""
    return make_dataset("gaussians", n_samples=500, train_ratio=0.5, seed=0, labels="pm1")


def tfp_model(seed: int = 5, **changes: Any) -> Model:
    """The TF presets' network (2 → 4 → 2 → 1 tanh, square loss, tfp weights) at L1 0.03
    under the tfp rule, on rows in order (nn.ts walks its once-shuffled points in order)."""
    settings: dict[str, Any] = {
        "input_size": 2,
        "layers": (LayerConfig(4, "tanh"), LayerConfig(2, "tanh"), LayerConfig(1, "tanh")),
        "loss": "square",
        "learning_rate": LEARNING_RATE,
        "batch_size": BATCH,
        "l1": L1,
        "penalty_rule": "tfp",
        "initializer": "tfp",
        "seed": seed,
        "shuffle": False,
        **changes,
    }
    model = Model(ModelConfig(**settings))
    data = gaussians()
    model.set_data(data.x_train, data.y_train)
    return model


def port_of(model: Model) -> Port:
    """nn.ts's network with the model's (initial) weights and biases, copied."""
    return Port(
        [layer.W.copy() for layer in model.layers],
        [np.asarray(layer.b).copy() for layer in model.layers],
        [np.zeros(layer.W.shape, dtype=bool) for layer in model.layers],
    )


def dead_of(model: Model) -> list[Array]:
    return [
        np.zeros(layer.W.shape, dtype=bool) if layer.dead is None else layer.dead
        for layer in model.layers
    ]


def train_engine(model: Model, epochs: int) -> None:
    for _ in range(epochs):
        model.step_epoch()


def assert_same_weights(model: Model, port: Port) -> None:
    for k, layer in enumerate(model.layers):
        np.testing.assert_array_equal(layer.W, port.W[k], err_msg=f"W of layer {k}")
        np.testing.assert_array_equal(layer.b, port.b[k], err_msg=f"b of layer {k}")
        np.testing.assert_array_equal(dead_of(model)[k], port.dead[k], err_msg=f"dead, {k}")


# ----- against the port ---------------------------------------------------------------------


def test_l1_under_tfp_trains_as_nn_ts_bit_for_bit_for_200_epochs() -> None:
    """In the engine's order of rounding (the mean taken on ∂E/∂o), the port and the engine
    agree exactly: every weight, bias, dead link and the loss after 200 epochs."""
    model = tfp_model()
    port = port_of(model)
    data = gaussians()
    train_engine(model, EPOCHS)
    train_port(port, data.x_train, data.y_train[:, 0], EPOCHS, mean_first=True)
    assert_same_weights(model, port)
    dead = sum(int(mask.sum()) for mask in port.dead)
    assert 0 < dead < sum(W.size for W in port.W), "some links died, not all"
    loss = model.evaluate(data.x_train, data.y_train)
    assert loss == pytest.approx(port.loss(data.x_train, data.y_train[:, 0]), rel=1e-15, abs=0)
    assert model.step == EPOCHS * 25


def test_l1_under_tfp_trains_as_nn_ts_in_its_own_order_of_rounding() -> None:
    """nn.ts divides by n at the update ((α/n)·Σ): the same links die, and the weights and
    the loss agree to 1e-15 after 200 epochs (5.6e-17 apart at most, measured)."""
    model = tfp_model()
    port = port_of(model)
    data = gaussians()
    train_engine(model, EPOCHS)
    train_port(port, data.x_train, data.y_train[:, 0], EPOCHS, mean_first=False)
    for k, layer in enumerate(model.layers):
        np.testing.assert_allclose(layer.W, port.W[k], rtol=0, atol=1e-15)
        np.testing.assert_allclose(layer.b, port.b[k], rtol=0, atol=1e-15)
        np.testing.assert_array_equal(dead_of(model)[k], port.dead[k])
    loss = model.evaluate(data.x_train, data.y_train)
    assert loss == pytest.approx(port.loss(data.x_train, data.y_train[:, 0]), rel=1e-15, abs=0)


def test_l2_under_tfp_takes_its_step_after_the_data_s_as_nn_ts() -> None:
    model = tfp_model(l1=0.0, l2=0.03)
    port = port_of(model)
    data = gaussians()
    train_engine(model, 40)
    train_port(port, data.x_train, data.y_train[:, 0], 40, mean_first=True, l1=0.0, l2=0.03)
    assert_same_weights(model, port)
    # The gradient rule's one step, W − α·(∂E/∂W + l2·W), rounds otherwise: not the same bits.
    gradient = tfp_model(l1=0.0, l2=0.03, penalty_rule="gradient")
    train_engine(gradient, 40)
    assert any(
        not np.array_equal(a.W, b.W) for a, b in zip(gradient.layers, model.layers, strict=True)
    )


def test_the_gradient_rule_keeps_adding_l1_sign_w_to_the_gradient() -> None:
    """Without ``penalty_rule="tfp"``: W − α·(∂E/∂W + l1·sign(W)), no weight dies, and the
    run is far from nn.ts's (the issue's finding)."""
    model = tfp_model(penalty_rule="gradient")
    data = gaussians()
    before = [layer.W.copy() for layer in model.layers]
    model.step_batch()
    trace_dW = [t.dW.copy() for t in model.traces if t.dW is not None]
    for W0, dW, layer in zip(before, trace_dW, model.layers, strict=True):
        np.testing.assert_array_equal(layer.W, W0 - LEARNING_RATE * dW)
    train_engine(model, EPOCHS)
    assert all(layer.dead is None for layer in model.layers)
    port = port_of(tfp_model())
    train_port(port, data.x_train, data.y_train[:, 0], EPOCHS, mean_first=True)
    for layer, W, dead in zip(model.layers, port.W, port.dead, strict=True):
        assert not np.array_equal(layer.W, W)
        # Where nn.ts froze a link at 0, l1·sign(W) keeps it hopping across 0 by α·l1.
        assert np.all(layer.W[dead] != 0.0)
        assert np.abs(layer.W[dead]).max() <= 2 * LEARNING_RATE * L1


# ----- the engine's three paths -------------------------------------------------------------


def walk_epochs(model: Model, epochs: int) -> None:
    """Phase by phase, as the page's step button walks it."""
    while model.epoch < epochs:
        model.step_phase()


def test_the_phase_walk_the_batch_step_and_a_class_together_agree_exactly(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stacked: list[int] = []  # the size of every stack run: the class must really stack
    run = together.Stack.step

    def counted(stack: together.Stack) -> Any:
        stacked.append(len(stack.models))
        return run(stack)

    monkeypatch.setattr(together.Stack, "step", counted)
    epochs = 60
    walked = tfp_model()
    walk_epochs(walked, epochs)
    batched = tfp_model()
    train_engine(batched, epochs)
    # A class: four alike students at L1 under the tfp rule, two with no penalty, one that
    # turns L1 off half-way (its dead links stay frozen): one stack, each its own penalty.
    students = [tfp_model() for _ in range(4)] + [tfp_model(l1=0.0) for _ in range(2)]
    students.append(tfp_model())
    plain = tfp_model(l1=0.0)
    while students[0].epoch < epochs:
        if students[0].epoch == epochs // 2 and students[-1].config.l1:
            students[-1].set_hyperparameters(l1=0.0)
        for result in step_batches(students):
            assert not result.diverged
    train_engine(plain, epochs)
    assert set(stacked) == {7}
    for other in (batched, *students[:4]):
        assert_same_model(walked, other)
        for k, (ta, tb) in enumerate(zip(walked.traces, other.traces, strict=True)):
            for name in ("dW", "dW_data", "dW_penalty", "db", "delta"):  # what the page shows
                np.testing.assert_array_equal(getattr(ta, name), getattr(tb, name), f"{name} {k}")
    for other in students[4:6]:
        assert_same_model(plain, other)
    frozen = students[-1]
    assert frozen.layers[0].dead is not None
    half = tfp_model()
    train_engine(half, epochs // 2)
    half.set_hyperparameters(l1=0.0)
    train_engine(half, epochs - epochs // 2)
    assert_same_model(half, frozen)
    for k, layer in enumerate(frozen.layers):
        mask = dead_of(frozen)[k]
        assert np.all(layer.W[mask] == 0.0), "a dead link stays at 0 with L1 off"


def assert_same_model(a: Model, b: Model) -> None:
    assert (a.step, a.epoch) == (b.step, b.epoch)
    for k, (la, lb) in enumerate(zip(a.layers, b.layers, strict=True)):
        np.testing.assert_array_equal(la.W, lb.W, err_msg=f"W {k}")
        np.testing.assert_array_equal(la.b, lb.b, err_msg=f"b {k}")
        np.testing.assert_array_equal(dead_of(a)[k], dead_of(b)[k], err_msg=f"dead {k}")


# ----- dead links ---------------------------------------------------------------------------


def test_a_dead_link_is_frozen_and_the_trace_still_shows_its_true_gradient() -> None:
    model = tfp_model()
    train_engine(model, 20)
    k = next(k for k, layer in enumerate(model.layers) if layer.dead is not None)
    mask = dead_of(model)[k]
    before = model.layers[k].W.copy()
    for _ in range(30):
        model.step_batch()
    W = model.layers[k].W
    assert np.all(W[mask] == 0.0) and np.all(before[mask] == 0.0)
    live = ~dead_of(model)[k]
    assert np.any(W[live] != before[live]), "the live links moved"
    trace = model.traces[k]
    assert trace.dW is not None and trace.dW_data is not None and trace.input is not None
    # dW is ∂(E + P)/∂W at the weights used, dead links included (sign(0) = 0: no L1 part).
    assert trace.delta is not None and trace.W is not None
    np.testing.assert_allclose(
        trace.dW, trace.input.T @ trace.delta + L1 * np.sign(trace.W), rtol=1e-12, atol=1e-15
    )
    assert np.any(trace.dW[mask] != 0.0), "a dead link's gradient is shown, not hidden"


def test_a_weight_set_by_hand_on_a_dead_link_stays_frozen_as_in_tf_playground() -> None:
    """playground.ts's hover card sets ``link.weight`` and leaves ``isDead``: so do we."""
    model = tfp_model()
    train_engine(model, 20)
    k = next(k for k, layer in enumerate(model.layers) if layer.dead is not None)
    i, j = (int(v) for v in np.argwhere(dead_of(model)[k])[0])
    model.layers[k].W[i, j] = 0.25
    for _ in range(10):
        model.step_batch()
    assert model.layers[k].W[i, j] == 0.25


def test_dead_links_survive_state_dict_and_a_copy_and_revive_under_the_gradient_rule() -> None:
    model = tfp_model()
    train_engine(model, 20)
    state = copy.deepcopy(model.state_dict())
    restored = tfp_model()
    restored.load_state_dict(state)
    copied = copy.deepcopy(model)
    for other in (restored, copied):
        train_engine(other, 5)
    train_engine(model, 5)
    assert_same_model(model, restored)
    assert_same_model(model, copied)
    model.set_hyperparameters(penalty_rule="gradient")
    assert all(layer.dead is None for layer in model.layers)


def test_a_bad_dead_mask_or_rule_names_the_field() -> None:
    from app.engine import ConfigError

    with pytest.raises(ConfigError) as error:
        tfp_model(penalty_rule="nn.ts")
    assert error.value.field == "penalty_rule"
    model = tfp_model()
    state = model.state_dict()
    state["layers"][0]["dead"] = [[True]]
    with pytest.raises(ConfigError) as error:
        tfp_model().load_state_dict(state)
    assert error.value.field == "layers[0].dead"


# ----- mutations of the rule ----------------------------------------------------------------

Rule = Callable[..., tuple[Array, Array | None]]


def no_clamp(W: Array, stepped: Array, dead: Array | None, l1_step: Any, l2_step: Any) -> Any:
    return stepped - l2_step * W - l1_step * np.sign(W), dead


def clamp_without_freezing(
    W: Array, stepped: Array, dead: Array | None, l1_step: Any, l2_step: Any
) -> Any:
    new = stepped - l1_step * np.sign(W)
    return np.where(stepped * new < 0, 0.0, new), dead


def sign_after_the_step(
    W: Array, stepped: Array, dead: Array | None, l1_step: Any, l2_step: Any
) -> Any:
    new = stepped - l1_step * np.sign(stepped)
    crossed = stepped * new < 0
    dead = crossed if dead is None else dead | crossed
    return np.where(dead, np.where(crossed, 0.0, W), new), dead


def crossing_from_the_old_weight(
    W: Array, stepped: Array, dead: Array | None, l1_step: Any, l2_step: Any
) -> Any:
    new = stepped - l1_step * np.sign(W)
    crossed = W * new < 0
    dead = crossed if dead is None else dead | crossed
    return np.where(dead, np.where(crossed, 0.0, W), new), dead


@pytest.mark.parametrize(
    "mutant", [no_clamp, clamp_without_freezing, sign_after_the_step, crossing_from_the_old_weight]
)
def test_a_broken_crossing_rule_is_caught(mutant: Rule, monkeypatch: pytest.MonkeyPatch) -> None:
    data = gaussians()
    monkeypatch.setattr(kernel, "tfp_penalty_step", mutant)  # every path's one rule
    model = tfp_model()
    port = port_of(model)
    train_engine(model, 40)
    train_port(port, data.x_train, data.y_train[:, 0], 40, mean_first=True)
    with pytest.raises(AssertionError):
        assert_same_weights(model, port)
