"""The two lessons, run as they are written, and the general Model reproducing both.

Lesson 003 is also checked against its original code, kept verbatim below and run in its
own namespace: the engine's classes must give the same weights, the same printed epochs and
the same predictions, seed for seed. So a seed that leaves XOR in its local minimum (all four
outputs ≈ 0.5) does so in the lesson's own code too; it is not an engine bug.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.engine import (
    ActivationLayer,
    FCLayer,
    LayerConfig,
    Model,
    ModelConfig,
    Network,
    TwoLayerNetwork,
    mse,
    mse_prime,
    tanh,
    tanh_prime,
)
from app.engine.datasets import lesson000_data, lesson003_xor_data

XOR = [0, 1, 1, 0]

# Lesson 003's original program (the classic "neural network from scratch" tutorial), verbatim.
# It is kept as text and executed in a namespace of its own so that its names don't clash with
# the engine's and the linter leaves its style alone.
LESSON_003_SOURCE = """
import numpy as np

# Base class
class Layer:
    def __init__(self):
        self.input = None
        self.output = None

    # computes the output Y of a layer for a given input X
    def forward_propagation(self, input):
        raise NotImplementedError

    # computes dE/dX for a given dE/dY (and update parameters if any)
    def backward_propagation(self, output_error, learning_rate):
        raise NotImplementedError

# inherit from base class Layer
class FCLayer(Layer):
    # input_size = number of input neurons
    # output_size = number of output neurons
    def __init__(self, input_size, output_size):
        self.weights = np.random.rand(input_size, output_size) - 0.5
        self.bias = np.random.rand(1, output_size) - 0.5

    # returns output for a given input
    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights) + self.bias
        return self.output

    # computes dE/dW, dE/dB for a given output_error=dE/dY. Returns input_error=dE/dX.
    def backward_propagation(self, output_error, learning_rate):
        input_error = np.dot(output_error, self.weights.T)
        weights_error = np.dot(self.input.T, output_error)
        # dBias = output_error

        # update parameters
        self.weights -= learning_rate * weights_error
        self.bias -= learning_rate * output_error
        return input_error

# inherit from base class Layer
class ActivationLayer(Layer):
    def __init__(self, activation, activation_prime):
        self.activation = activation
        self.activation_prime = activation_prime

    # returns the activated input
    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

    # Returns input_error=dE/dX for a given output_error=dE/dY.
    # learning_rate is not used because there is no "learnable" parameters.
    def backward_propagation(self, output_error, learning_rate):
        return self.activation_prime(self.input) * output_error

# activation function and its derivative
def tanh(x):
    return np.tanh(x);

def tanh_prime(x):
    return 1-np.tanh(x)**2;

# loss function and its derivative
def mse(y_true, y_pred):
    return np.mean(np.power(y_true-y_pred, 2));

def mse_prime(y_true, y_pred):
    return 2*(y_pred-y_true)/y_true.size;

class Network:
    def __init__(self):
        self.layers = []
        self.loss = None
        self.loss_prime = None

    # add layer to network
    def add(self, layer):
        self.layers.append(layer)

    # set loss to use
    def use(self, loss, loss_prime):
        self.loss = loss
        self.loss_prime = loss_prime

    # predict output for given input
    def predict(self, input_data):
        # sample dimension first
        samples = len(input_data)
        result = []

        # run network over all samples
        for i in range(samples):
            # forward propagation
            output = input_data[i]
            for layer in self.layers:
                output = layer.forward_propagation(output)
            result.append(output)

        return result

    # train the network
    def fit(self, x_train, y_train, epochs, learning_rate):
        # sample dimension first
        samples = len(x_train)

        # training loop
        for i in range(epochs):
            err = 0
            for j in range(samples):
                # forward propagation
                output = x_train[j]
                for layer in self.layers:
                    output = layer.forward_propagation(output)

                # compute loss (for display purpose only)
                err += self.loss(y_train[j], output)

                # backward propagation
                error = self.loss_prime(y_train[j], output)
                for layer in reversed(self.layers):
                    error = layer.backward_propagation(error, learning_rate)

            # calculate average error on all samples
            err /= samples
            print('epoch %d/%d   error=%f' % (i+1, epochs, err))

# training data
x_train = np.array([[[0,0]], [[0,1]], [[1,0]], [[1,1]]])
y_train = np.array([[[0]], [[1]], [[1]], [[0]]])

# network
net = Network()
net.add(FCLayer(2, 3))
net.add(ActivationLayer(tanh, tanh_prime))
net.add(FCLayer(3, 1))
net.add(ActivationLayer(tanh, tanh_prime))

# train
net.use(mse, mse_prime)
net.fit(x_train, y_train, epochs=1000, learning_rate=0.1)

# test
out = net.predict(x_train)
print(out)
"""


def run_lesson003_reference(seed: int) -> dict[str, Any]:
    """Run the lesson's original program after np.random.seed(seed); return its namespace."""
    np.random.seed(seed)
    namespace: dict[str, Any] = {}
    exec(compile(LESSON_003_SOURCE, "lesson003_original", "exec"), namespace)
    return namespace


def run_lesson003_engine(seed: int) -> tuple[Network, list[np.ndarray]]:
    """Lesson 003's example, written exactly as the lesson does, on the engine's classes."""
    x_train, y_train = lesson003_xor_data()
    np.random.seed(seed)

    net = Network()
    net.add(FCLayer(2, 3))
    net.add(ActivationLayer(tanh, tanh_prime))
    net.add(FCLayer(3, 1))
    net.add(ActivationLayer(tanh, tanh_prime))

    net.use(mse, mse_prime)
    net.fit(x_train, y_train, epochs=1000, learning_rate=0.1)

    out = net.predict(x_train)
    print(out)
    return net, out


def parameters(net: Any) -> list[np.ndarray]:
    """Weights and biases of the fully connected layers (layers 0 and 2), in order."""
    return [net.layers[0].weights, net.layers[0].bias, net.layers[2].weights, net.layers[2].bias]


def test_lesson003_xor_converges_with_seed_1() -> None:
    x_train, y_train = lesson003_xor_data()
    assert x_train.shape == (4, 1, 2) and y_train.shape == (4, 1, 1)
    net, out = run_lesson003_engine(1)
    assert len(out) == 4 and all(o.shape == (1, 1) for o in out)
    assert np.round(np.array(out).ravel()).tolist() == XOR
    assert len(net.history) == 1000
    assert net.history[-1] < 0.01 < net.history[0]


def converged(out: list[np.ndarray]) -> bool:
    return bool(np.round(np.array(out, dtype=float).ravel()).tolist() == XOR)


def test_lesson003_matches_the_lessons_original_code(capsys: pytest.CaptureFixture[str]) -> None:
    stuck_engine, stuck_reference = set(), set()
    for seed in range(10):
        net, out = run_lesson003_engine(seed)
        engine_printout = capsys.readouterr().out
        reference = run_lesson003_reference(seed)
        reference_printout = capsys.readouterr().out

        for ours, theirs in zip(parameters(net), parameters(reference["net"]), strict=True):
            np.testing.assert_allclose(ours, theirs, rtol=0, atol=1e-12, err_msg=f"seed {seed}")
        np.testing.assert_allclose(
            np.array(out), np.array(reference["out"]), rtol=0, atol=1e-12, err_msg=f"seed {seed}"
        )
        # Same 1000 epoch lines, character for character (the last line prints `out`).
        engine_epochs = engine_printout.splitlines()[:1000]
        reference_epochs = reference_printout.splitlines()[:1000]
        assert engine_epochs == reference_epochs, seed
        assert engine_epochs[-1].startswith("epoch 1000/1000   error=")
        if not converged(out):
            stuck_engine.add(seed)
        if not converged(reference["out"]):
            stuck_reference.add(seed)
    assert stuck_engine == stuck_reference
    # The brief's example: seed 0 ends in XOR's local minimum in the lesson's own code, seed 1
    # does not. (Not a fact about the engine: the assertion above already equates the two.)
    assert 0 in stuck_reference and 1 not in stuck_reference
    stuck_outputs = np.array(run_lesson003_reference(0)["out"]).ravel()
    capsys.readouterr()
    assert np.all(np.abs(stuck_outputs - 0.5) < 0.1)  # every output near 0.5: the local minimum


def test_lesson003_network_fit_without_loss_or_layers_is_refused() -> None:
    x_train, y_train = lesson003_xor_data()
    net = Network()
    with pytest.raises(ValueError, match="loss"):
        net.fit(x_train, y_train, epochs=1, learning_rate=0.1)
    net.use(mse, mse_prime)
    with pytest.raises(ValueError, match="layers"):
        net.fit(x_train, y_train, epochs=1, learning_rate=0.1)


# ----------------------------------------------------------------- lesson 000


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@pytest.mark.parametrize("seed", range(30))
def test_lesson000_learns_xor_for_every_seed(seed: int) -> None:
    X, y = lesson000_data()
    network = TwoLayerNetwork(X, y, seed=seed)
    network.train(1500)
    assert network.output.shape == (4, 1)
    assert np.all(np.abs(network.output - y) < 0.05), network.output.ravel()


def sse_of(X: np.ndarray, y: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> float:
    return float(np.sum((y - sigmoid(sigmoid(X @ W1) @ W2)) ** 2))


def numeric_gradient(f: Any, point: np.ndarray, h: float = 1e-6) -> np.ndarray:
    point = point.copy()
    gradient = np.zeros_like(point)
    for index in np.ndindex(*point.shape):
        original = point[index]
        point[index] = original + h
        plus = f(point)
        point[index] = original - h
        minus = f(point)
        point[index] = original
        gradient[index] = (plus - minus) / (2 * h)
    return gradient


@pytest.mark.parametrize(("seed", "warmup"), [(0, 0), (1, 10), (2, 200), (5, 1000)])
def test_lesson000_named_steps_follow_the_lessons_formulas(seed: int, warmup: int) -> None:
    X, y = lesson000_data()
    network = TwoLayerNetwork(X, y, seed=seed)
    network.train(warmup)  # ends with a feedforward
    network.feedforward()
    W1, W2 = network.weights1.copy(), network.weights2.copy()
    network.backprop()

    # The lesson's steps, computed here from its formulas.
    layer1 = sigmoid(X @ W1)
    output = sigmoid(layer1 @ W2)
    output_error = y - output
    delta_output_sum = 2 * output_error * (output * (1 - output))
    layer1_error = delta_output_sum @ W2.T
    layer1_delta = layer1_error * (layer1 * (1 - layer1))
    weights1_adjustment = X.T @ layer1_delta
    weights2_adjustment = layer1.T @ delta_output_sum

    close = {"rtol": 1e-12, "atol": 1e-15}
    np.testing.assert_allclose(network.layer1, layer1, **close)
    np.testing.assert_allclose(network.output_error, output_error, **close)
    np.testing.assert_allclose(network.delta_output_sum, delta_output_sum, **close)
    np.testing.assert_allclose(network.layer1_error, layer1_error, **close)
    np.testing.assert_allclose(network.layer1_delta, layer1_delta, **close)
    np.testing.assert_allclose(network.weights1_adjustment, weights1_adjustment, **close)
    np.testing.assert_allclose(network.weights2_adjustment, weights2_adjustment, **close)
    np.testing.assert_allclose(network.weights1, W1 + weights1_adjustment, **close)
    np.testing.assert_allclose(network.weights2, W2 + weights2_adjustment, **close)

    # The adjustment is −∂SSE/∂W: adding it is gradient descent with learning rate 1.
    dW1 = numeric_gradient(lambda w: sse_of(X, y, w, W2), W1)
    dW2 = numeric_gradient(lambda w: sse_of(X, y, W1, w), W2)
    for adjustment, numeric in ((weights1_adjustment, dW1), (weights2_adjustment, dW2)):
        error = np.linalg.norm(adjustment + numeric) / (
            np.linalg.norm(adjustment) + np.linalg.norm(numeric)
        )
        assert error < 1e-6


def test_lesson000_is_reproducible_and_rejects_bad_shapes() -> None:
    X, y = lesson000_data()
    a, b = TwoLayerNetwork(X, y, seed=4), TwoLayerNetwork(X, y, seed=4)
    assert np.array_equal(a.weights1, b.weights1) and np.array_equal(a.weights2, b.weights2)
    assert a.weights1.shape == (3, 4) and a.weights2.shape == (4, 1)
    assert np.all((a.weights1 >= 0) & (a.weights1 < 1))  # np.random.rand's U[0, 1)
    with pytest.raises(ValueError, match="y"):
        TwoLayerNetwork(X, y.ravel())


def test_lesson000_draws_its_weights_the_lessons_way() -> None:
    """np.random.seed(s) then np.random.rand(3, 4), np.random.rand(4, 1): a student's own
    seeded script and the class agree, with the seed given or the global state seeded."""
    X, y = lesson000_data()
    for seed in (0, 1, 42):
        np.random.seed(seed)
        weights1, weights2 = np.random.rand(3, 4), np.random.rand(4, 1)
        given = TwoLayerNetwork(X, y, seed=seed)
        np.testing.assert_array_equal(given.weights1, weights1)
        np.testing.assert_array_equal(given.weights2, weights2)
        np.random.seed(seed)
        seeded_by_the_student = TwoLayerNetwork(X, y)
        np.testing.assert_array_equal(seeded_by_the_student.weights1, weights1)
        np.testing.assert_array_equal(seeded_by_the_student.weights2, weights2)
    np.random.seed(7)
    before = np.random.get_state()[1].copy()
    TwoLayerNetwork(X, y, seed=3)  # a given seed leaves the global generator alone
    assert np.array_equal(np.random.get_state()[1], before)


# ----------------------------------------------------------------- the Model reproduces both


LESSON000_CONFIG = ModelConfig(
    input_size=3,
    layers=(LayerConfig(4, "sigmoid"), LayerConfig(1, "sigmoid")),
    loss="sse",
    learning_rate=1.0,
    batch_size=None,
    use_bias=False,
    initializer="uniform01",
    shuffle=False,
)


@pytest.mark.parametrize("seed", range(5))
def test_model_reproduces_lesson000(seed: int) -> None:
    X, y = lesson000_data()
    network = TwoLayerNetwork(X, y, seed=seed)
    model = Model(LESSON000_CONFIG)
    assert all(layer.b is None for layer in model.layers)
    model.layers[0].W = network.weights1.copy()
    model.layers[1].W = network.weights2.copy()
    model.set_data(X, y)
    for _ in range(100):
        network.feedforward()
        network.backprop()
        result = model.step_batch()
        assert result.epoch_done and not result.diverged  # full batch: one step per epoch
        # The batch loss is the SSE before the update, as the lesson would compute it.
        assert result.loss == pytest.approx(
            float(np.sum(network.output_error**2)), rel=1e-10, abs=1e-14
        )
    np.testing.assert_allclose(model.layers[0].W, network.weights1, rtol=0, atol=1e-10)
    np.testing.assert_allclose(model.layers[1].W, network.weights2, rtol=0, atol=1e-10)
    assert model.step == 100 and model.epoch == 100


LESSON003_CONFIG = ModelConfig(
    input_size=2,
    layers=(LayerConfig(3, "tanh"), LayerConfig(1, "tanh")),
    loss="mse",
    learning_rate=0.1,
    batch_size=1,
    shuffle=False,
    initializer="lesson003",
)


@pytest.mark.parametrize("seed", range(5))
def test_model_reproduces_lesson003(seed: int) -> None:
    x_train, y_train = lesson003_xor_data()
    np.random.seed(seed)
    net = Network()
    net.add(FCLayer(2, 3))
    net.add(ActivationLayer(tanh, tanh_prime))
    net.add(FCLayer(3, 1))
    net.add(ActivationLayer(tanh, tanh_prime))
    net.use(mse, mse_prime)

    model = Model(LESSON003_CONFIG)
    for layer, fc in zip(model.layers, (net.layers[0], net.layers[2]), strict=True):
        layer.W, layer.b = fc.weights.copy(), fc.bias.copy()
    model.set_data(x_train.reshape(4, 2), y_train.reshape(4, 1))

    net.fit(x_train, y_train, epochs=10, learning_rate=0.1, verbose=False)
    losses = []
    for _ in range(10):
        results = model.step_epoch()
        assert len(results) == 4  # one sample per step
        losses.append(sum(r.loss for r in results) / 4)

    for layer, fc in zip(model.layers, (net.layers[0], net.layers[2]), strict=True):
        np.testing.assert_allclose(layer.W, fc.weights, rtol=0, atol=1e-12)
        np.testing.assert_allclose(layer.b, fc.bias, rtol=0, atol=1e-12)
    # Each epoch's mean error is the one fit() printed.
    np.testing.assert_allclose(losses, net.history, rtol=1e-12, atol=0)
    assert model.epoch == 10 and model.step == 40


def test_lesson003_initializer_draws_like_the_lesson() -> None:
    """initializer="lesson003" draws W, b ~ U[−0.5, 0.5), in the lesson's order."""
    model = Model(LESSON003_CONFIG)
    rng = np.random.default_rng(LESSON003_CONFIG.seed)
    for layer, (n_in, n_out) in zip(model.layers, [(2, 3), (3, 1)], strict=True):
        np.testing.assert_array_equal(layer.W, rng.random((n_in, n_out)) - 0.5)
        np.testing.assert_array_equal(layer.b, rng.random((1, n_out)) - 0.5)
