"""The fixed text of an exported notebook: the lessons' code and the formulas beside it.

Every piece is plain NumPy in the lessons' own names — no import of this package — and does
the engine's arithmetic in the engine's order, so a notebook continues a run bit for bit
(tests/api/test_notebook_runs.py runs them against the server). ``notebook.py`` puts the
pieces together with the run's numbers. Each code piece starts with a sentence saying what it
does; the Markdown beside it gives the formulas.
"""

from __future__ import annotations

from app.engine.activations import LEAKY_RELU_SLOPE
from app.engine.losses import PROBABILITY_EPSILON

IMPORT = """\
# Import NumPy: the one library this notebook needs.
import numpy as np"""

# ----- lesson 003: layers ---------------------------------------------------------------------

LAYERS_MD = r"""## Layers

Every layer turns its input X into an output Y, `Y = forward_propagation(X)`, and the output of
one layer is the input of the next. Going back, a layer is given ∂E/∂Y and hands ∂E/∂X to the
layer before it: `∂E/∂X = backward_propagation(∂E/∂Y)`.

The fully connected layer `FCLayer` computes $Y = XW + B$, for X (n, inputs), W (inputs, units)
and B (1, units). Given $\frac{\partial E}{\partial Y}$ (n, units):

$$\frac{\partial E}{\partial W} = X^T \frac{\partial E}{\partial Y} \qquad
\frac{\partial E}{\partial B} = \sum_{\text{rows}} \frac{\partial E}{\partial Y} \qquad
\frac{\partial E}{\partial X} = \frac{\partial E}{\partial Y}\, W^T$$

The lesson feeds one sample at a time, so its ∂E/∂B is ∂E/∂Y itself; a batch of n rows sums
them. Unlike the lesson, `backward_propagation` here only computes the layer's gradients and
keeps them (`weights_error`, `bias_error`): the update is a step of its own after the whole
backward pass, as the playground runs it, so that momentum and L1/L2 can join it."""

NO_BIAS = """

This network has no biases (lesson 000's convention): each FCLayer computes $Y = XW$."""

FC_LAYER = """\
# The base class every layer follows, and the fully connected layer Y = X·W + B.
class Layer:
    def __init__(self):
        self.input = None
        self.output = None

    # Y for an input X
    def forward_propagation(self, input_data):
        raise NotImplementedError

    # ∂E/∂X for a given ∂E/∂Y (and the layer's own gradients, if it has parameters)
    def backward_propagation(self, output_error):
        raise NotImplementedError


class FCLayer(Layer):
    # input_size inputs, output_size units; bias=False: Y = X·W alone
    def __init__(self, input_size, output_size, bias=True):
        super().__init__()
        # The lesson's uniform draw in [-0.5, 0.5): the run's own weights replace it below.
        self.weights = np.random.rand(input_size, output_size) - 0.5
        self.bias = np.random.rand(1, output_size) - 0.5 if bias else None
        self.velocity_weights = None  # momentum's v for W and B: made by its first step
        self.velocity_bias = None
        self.dead = None  # weights the "tfp" L1 rule froze at 0 (True/False, W's shape)

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = np.dot(self.input, self.weights)
        if self.bias is not None:
            self.output = self.output + self.bias
        return self.output

{backward}"""

FC_BACKWARD = """\
    def backward_propagation(self, output_error):
        input_error = np.dot(output_error, self.weights.T)  # ∂E/∂X = ∂E/∂Y·Wᵀ
        self.weights_error = np.dot(self.input.T, output_error)  # ∂E/∂W = Xᵀ·∂E/∂Y
        self.bias_error = None  # ∂E/∂B: ∂E/∂Y summed over the batch's rows
        if self.bias is not None:
            self.bias_error = output_error.sum(axis=0, keepdims=True)
        return input_error"""

FC_BACKWARD_STUB = """\
    def backward_propagation(self, output_error):
        # Your code. From output_error = ∂E/∂Y (n, units) and self.input = X (n, inputs), set
        #   self.weights_error = ∂E/∂W, W's shape (inputs, units),
        #   self.bias_error = ∂E/∂B (1, units), or None when self.bias is None,
        # and return ∂E/∂X (n, inputs) for the layer before.
        raise NotImplementedError("write FCLayer.backward_propagation: the formulas are above")"""

# ----- lesson 003: activations ----------------------------------------------------------------

SIGMOID_FUNCTION = """\
def sigmoid(x):
    # 1 / (1 + e^-x), written e^x / (1 + e^x) for x < 0: the same number without overflow
    # (the playground computes it so, and so does this notebook, to the last bit)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))"""

ACTIVATIONS_MD = r"""## Activations

An activation layer applies f to every entry, Y = f(X), and has nothing to learn. Going back,
$\frac{\partial E}{\partial X} = f'(X) \odot \frac{\partial E}{\partial Y}$ (⊙: entry by entry).
This network uses:
"""

ACTIVATION_FORMULAS = {
    "tanh": r"- tanh (lesson 003's XOR): $f(x) = \tanh x$, $f'(x) = 1 - \tanh^2 x$",
    "sigmoid": r"- the sigmoid: $\sigma(x) = \frac{1}{1 + e^{-x}}$, "
    r"$\sigma'(x) = \sigma(x)\,(1 - \sigma(x))$",
    "relu": r"- ReLU: $f(x) = \max(0, x)$, $f'(x) = 1$ where $x > 0$, else 0",
    "leaky_relu": rf"- leaky ReLU: $f(x) = x$ where $x > 0$, else ${LEAKY_RELU_SLOPE}x$; "
    rf"$f'(x) = 1$ or ${LEAKY_RELU_SLOPE}$",
    "linear": r"- linear (no squashing): $f(x) = x$, $f'(x) = 1$",
    "softmax": r"- softmax, row by row: $\mathrm{softmax}(x)_i = \frac{e^{x_i}}{\sum_j e^{x_j}}$. "
    r"It mixes a row's units, so going back (`SoftmaxLayer`) "
    r"$\frac{\partial E}{\partial X} = Y \odot \left(\frac{\partial E}{\partial Y} - "
    r"\sum_j \frac{\partial E}{\partial Y_j} Y_j\right)$",
}

ACTIVATION_CODE = {
    "tanh": """\
def tanh(x):
    return np.tanh(x)


def tanh_prime(x):
    return 1 - np.tanh(x) ** 2""",
    "sigmoid": f"""\
{SIGMOID_FUNCTION}


def sigmoid_prime(x):
    s = sigmoid(x)
    return s * (1 - s)""",
    "relu": """\
def relu(x):
    return np.maximum(x, 0.0)


def relu_prime(x):
    return (x > 0).astype(x.dtype)""",
    "leaky_relu": f"""\
def leaky_relu(x):
    return np.where(x > 0, x, {LEAKY_RELU_SLOPE} * x)


def leaky_relu_prime(x):
    return np.where(x > 0, 1.0, {LEAKY_RELU_SLOPE}).astype(x.dtype)""",
    "linear": """\
def linear(x):
    return x


def linear_prime(x):
    return np.ones_like(x)""",
    "softmax": """\
def softmax(x):
    # each row's e^x / Σ e^x, its largest entry taken out first so that e^x cannot overflow
    shifted = np.exp(x - x.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)""",
}

ACTIVATION_LAYER = """\
class ActivationLayer(Layer):
    # f and its derivative f′, both of the layer's input X
    def __init__(self, activation, activation_prime):
        super().__init__()
        self.activation = activation
        self.activation_prime = activation_prime

    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = self.activation(self.input)
        return self.output

{backward}"""

ACTIVATION_BACKWARD = """\
    def backward_propagation(self, output_error):
        return self.activation_prime(self.input) * output_error  # ∂E/∂X = f′(X) ⊙ ∂E/∂Y"""

ACTIVATION_BACKWARD_STUB = """\
    def backward_propagation(self, output_error):
        # Your code: return ∂E/∂X (n, units) from output_error = ∂E/∂Y and self.input = X.
        raise NotImplementedError("write ActivationLayer.backward_propagation: see above")"""

SOFTMAX_LAYER = """\
class SoftmaxLayer(Layer):
    # softmax over each row; its backward pass mixes the row's units
    def forward_propagation(self, input_data):
        self.input = input_data
        self.output = softmax(self.input)
        return self.output

    def backward_propagation(self, output_error):
        weighted_sum = np.sum(output_error * self.output, axis=-1, keepdims=True)
        return self.output * (output_error - weighted_sum)"""

# ----- lesson 003: losses ---------------------------------------------------------------------

FUSED_MD = r"""

Taken together with the {activation} before it, the two derivatives cancel to
$$\frac{{\partial E}}{{\partial z}} = \frac{{1}}{{n}}(p - y)$$
for z the last FCLayer's output: exact at any z, where apart the {activation}'s derivative
underflows once the output is confidently wrong. So `{prime}` gives ∂E/∂z itself, and the
network (`fused=True`) hands it straight to the last FCLayer, past the {activation}'s backward
step."""

# name → (Python names of E and its derivative, the formula, the code, fused with an activation)
LOSSES: dict[str, tuple[str, str, str, str, str | None]] = {
    "mse": (
        "mse",
        "mse_prime",
        r"""The mean squared error of lesson 003, over all N = rows × outputs entries of a batch:
$$E = \frac{1}{N} \sum (y^*_i - y_i)^2 \qquad
\frac{\partial E}{\partial Y} = \frac{2}{N} (Y - Y^*)$$""",
        """\
def mse(y_true, y_pred):
    return np.mean(np.power(y_true - y_pred, 2))


def mse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true) / y_true.size""",
        None,
    ),
    "sse": (
        "sse",
        "sse_prime",
        r"""The sum of squared errors of lesson 000 (no mean: the gradient grows with the batch):
$$E = \sum (y_i - \hat y_i)^2 \qquad \frac{\partial E}{\partial \hat y} = 2 (\hat y - y)$$""",
        """\
def sse(y_true, y_pred):
    return np.sum(np.power(y_true - y_pred, 2))


def sse_prime(y_true, y_pred):
    return 2 * (y_pred - y_true)""",
        None,
    ),
    "square": (
        "square",
        "square_prime",
        r"""TF Playground's squared error, half the mean over all N = rows × outputs entries:
$$E = \frac{1}{2N} \sum (\hat y_i - y_i)^2 \qquad
\frac{\partial E}{\partial \hat y} = \frac{1}{N} (\hat y - y)$$""",
        """\
def square(y_true, y_pred):
    return 0.5 * np.mean(np.power(y_pred - y_true, 2))


def square_prime(y_true, y_pred):
    return (y_pred - y_true) / y_true.size""",
        None,
    ),
    "binary_cross_entropy": (
        "binary_cross_entropy",
        "binary_cross_entropy_prime_z",
        r"""The cross-entropy of a yes/no prediction p = σ(z), averaged over the n rows:
$$E = -\frac{1}{n} \sum \big[y \log p + (1 - y) \log (1 - p)\big]$$""",
        f"""\
def binary_cross_entropy(y_true, y_pred):
    p = np.clip(y_pred, {PROBABILITY_EPSILON}, 1 - {PROBABILITY_EPSILON})  # log p stays finite
    return -np.sum(y_true * np.log(p) + (1 - y_true) * np.log(1 - p)) / len(y_true)


def binary_cross_entropy_prime_z(y_true, y_pred):
    return (y_pred - y_true) / len(y_true)  # ∂E/∂z through the sigmoid: (p − y)/n""",
        "sigmoid",
    ),
    "softmax_cross_entropy": (
        "softmax_cross_entropy",
        "softmax_cross_entropy_prime_z",
        r"""The cross-entropy of a class prediction p = softmax(z), averaged over the n rows:
$$E = -\frac{1}{n} \sum y \log p$$""",
        f"""\
def softmax_cross_entropy(y_true, y_pred):
    p = np.clip(y_pred, {PROBABILITY_EPSILON}, 1 - {PROBABILITY_EPSILON})  # log p stays finite
    return -np.sum(y_true * np.log(p)) / len(y_true)


def softmax_cross_entropy_prime_z(y_true, y_pred):
    return (y_pred - y_true) / len(y_true)  # ∂E/∂z through the softmax: (p − y)/n""",
        "softmax",
    ),
}

# ----- lesson 003: the update -----------------------------------------------------------------

UPDATE_MD = r"""## Gradient descent

After the backward pass each FCLayer steps against its gradient, with the learning rate α:
$$w \leftarrow w - \alpha \frac{{\partial L}}{{\partial w}}$$

With momentum μ (this run: {momentum}) the step is a velocity that keeps going the way the
last steps went — $v \leftarrow \mu v - \alpha \frac{{\partial L}}{{\partial w}}$, then
$w \leftarrow w + v$ (the first v is $-\alpha \frac{{\partial L}}{{\partial w}}$).

An L1/L2 penalty on the weights (this run: l1 = {l1}, l2 = {l2}; biases are not penalised)
makes the loss L = E + P:
$$P = \frac{{l_2}}{{2}} \sum W^2 + l_1 \sum |W| \qquad
\frac{{\partial P}}{{\partial W}} = l_2 W + l_1\, \mathrm{{sign}}(W)$$
The rule `penalty_rule` says how it joins the update (this run: `"{rule}"`):
- `"gradient"`: ∂P/∂W joins ∂E/∂W in the one step;
- `"tfp"` (TF Playground's): the data's step first,
  $W_1 = W - \alpha \frac{{\partial E}}{{\partial W}}$ (or momentum's),
  then the penalty's on the W from before it,
  $W_2 = W_1 - \alpha l_2 W - \alpha l_1 \mathrm{{sign}}(W)$. Where L1 pushes a weight
  across 0 ($W_1 W_2 < 0$) the weight becomes 0 and is *dead*: frozen, no later step moves it."""

UPDATE = """\
# One gradient-descent step of an FCLayer after the backward pass, with momentum and L1/L2.
def penalty_gradient(W, l1, l2):
    # ∂P/∂W = l2·W + l1·sign(W); None without a penalty
    if l1 == 0 and l2 == 0:
        return None
    if l1 == 0:
        return l2 * W
    if l2 == 0:
        return l1 * np.sign(W)
    return l2 * W + l1 * np.sign(W)


def descend(param, gradient, velocity, learning_rate, momentum):
    # plain p − α·g; with momentum v ← μ·v − α·g, then p + v. Returns the new p and v.
    if momentum == 0:
        return param - learning_rate * gradient, velocity
    if velocity is None:
        velocity = -learning_rate * gradient
    else:
        velocity = momentum * velocity - learning_rate * gradient
    return param + velocity, velocity


def tfp_penalty_step(W, stepped, dead, learning_rate, l1, l2):
    # TF Playground's penalty step on stepped = W₁, from W as it was before the data's step
    new = stepped
    if learning_rate * l2 != 0:
        new = new - (learning_rate * l2) * W
    crossed = None
    if learning_rate * l1 != 0:
        new = new - (learning_rate * l1) * np.sign(W)
        crossed = stepped * new < 0  # L1 pushed these across 0: they die
        if crossed.any():
            new = np.where(crossed, 0.0, new)
        else:
            crossed = None
    if dead is not None:
        new = np.where(dead, W, new)  # the dead stay as they were, at 0
    if crossed is not None:
        dead = crossed if dead is None else dead | crossed
    return new, dead


def update(layer, learning_rate, momentum, l1, l2, penalty_rule):
    W = layer.weights
    if penalty_rule == "tfp":
        stepped, layer.velocity_weights = descend(
            W, layer.weights_error, layer.velocity_weights, learning_rate, momentum
        )
        layer.weights, layer.dead = tfp_penalty_step(W, stepped, layer.dead, learning_rate, l1, l2)
    else:
        penalty = penalty_gradient(W, l1, l2)
        gradient = layer.weights_error if penalty is None else layer.weights_error + penalty
        layer.weights, layer.velocity_weights = descend(
            W, gradient, layer.velocity_weights, learning_rate, momentum
        )
    if layer.bias is not None:
        layer.bias, layer.velocity_bias = descend(
            layer.bias, layer.bias_error, layer.velocity_bias, learning_rate, momentum
        )"""

# ----- lesson 003: the network and its batches ------------------------------------------------

NETWORK_MD = """## The network

`Network` holds the layers in order and the loss. One batch step runs lesson 003's chain both
ways: forward through every layer, the loss, then `∇L(X) = backward_propagation(∇L(Y))` from
the last layer back to the first, and then every FCLayer's update."""

NETWORK = """\
# The network: layers in order, the loss, and one batch step (forward, loss, backward, update).
class Network:
    def __init__(self):
        self.layers = []
        self.loss = None
        self.loss_prime = None
        self.fused = False

    def add(self, layer):
        self.layers.append(layer)

    # fused=True: loss_prime gives ∂E/∂z of the last activation's input itself
    def use(self, loss, loss_prime, fused=False):
        self.loss = loss
        self.loss_prime = loss_prime
        self.fused = fused

    def predict(self, input_data):
        output = input_data
        for layer in self.layers:
            output = layer.forward_propagation(output)
        return output

    # ∇L(X) = backward_propagation(∇L(Y)), from the last layer back to the first
    def backward(self, y_batch, output):
        error = self.loss_prime(y_batch, output)
        layers = self.layers[:-1] if self.fused else self.layers
        for layer in reversed(layers):
            error = layer.backward_propagation(error)

    def train_batch(self, x_batch, y_batch, learning_rate, momentum, l1, l2, penalty_rule):
        output = self.predict(x_batch)
        err = self.loss(y_batch, output)
        if not np.isfinite(err):
            raise FloatingPointError(f"the loss became {err}: training diverged")
        self.backward(y_batch, output)
        dense = [layer for layer in self.layers if isinstance(layer, FCLayer)]
        for layer in dense:
            update(layer, learning_rate, momentum, l1, l2, penalty_rule)
        if not all(np.isfinite(layer.weights).all() for layer in dense):
            raise FloatingPointError(
                "the update made a weight infinite or NaN: training diverged (the playground "
                "refuses such an update and keeps the weights from before it)"
            )
        return err"""

BATCHES_MD = """## Batches

Each epoch the run takes its training rows in a new order, shuffled by its own random
generator (NumPy's PCG64; the run's state of it is below), and cuts that order into batches of
`batch_size` consecutive rows: the last batch of an epoch may be shorter. A full batch sums
every row whatever their order, so it takes them as they are and draws no shuffle; so does
`shuffle = False`."""

BATCHES = """\
# The batches: each epoch an order of the rows, cut into batch_size rows at a time.
class Batches:
    def __init__(self, x_train, y_train, batch_size, shuffle, rng, order, position, epoch):
        self.x_train, self.y_train = x_train, y_train
        self.batch_size = batch_size  # None: the whole training set at once
        self.shuffle = shuffle
        self.rng = rng
        self.order = order  # this epoch's order of the rows; None: the next batch draws one
        self.position = position  # how many rows of this epoch's order are trained
        self.epoch = epoch
        self.epoch_rows = None if order is None else (x_train[order], y_train[order])

    def next(self):
        n = len(self.x_train)
        size = n if self.batch_size is None else min(self.batch_size, n)
        if self.order is None:
            if self.shuffle and size < n:
                self.order = self.rng.permutation(n)
            else:
                self.order = np.arange(n)
            self.epoch_rows = (self.x_train[self.order], self.y_train[self.order])
        x_epoch, y_epoch = self.epoch_rows
        rows = slice(self.position, self.position + size)
        x_batch, y_batch = x_epoch[rows], y_epoch[rows]
        self.position += len(x_batch)
        if self.position >= n:  # the epoch is done: the next batch draws a new order
            self.position, self.order, self.epoch = 0, None, self.epoch + 1
        return x_batch, y_batch"""

TRAIN_MD = """## Train

`train(steps)` runs the next batch steps: the next rows of the order, forward, loss, backward,
update. They are the playground's next steps, the same rows with the same sums in the same
order: with the NumPy the playground ran on (version {numpy}), the weights after each step equal
the playground's bit for bit; on another NumPy they agree to the last few digits."""

TRAIN = """\
# train(steps): the next batch steps; each prints the batch's loss, before its update.
def train(steps):
    global step
    for _ in range(steps):
        x_batch, y_batch = batches.next()
        err = network.train_batch(x_batch, y_batch, learning_rate, momentum, l1, l2, penalty_rule)
        step += 1
        print(f"step {step}   epoch {batches.epoch}   batch loss {err:.6f}")"""

TRAIN_CALL = """\
# Train the next {steps} batch steps.
train({steps})"""

# ----- lesson 000 -----------------------------------------------------------------------------

SIGMOID_MD = r"""## The sigmoid

Both layers squash their sums with the sigmoid, $\sigma(x) = \frac{1}{1 + e^{-x}}$. The lesson
writes its derivative on the activated value $z = \sigma(x)$: $\sigma'(x) = z (1 - z)$."""

SIGMOID = f"""\
# The sigmoid, and its derivative written on the activated value z = σ(x), as the lesson does.
{SIGMOID_FUNCTION}


def sigmoid_derivative(z):
    return z * (1 - z)"""

TWO_LAYER_MD = r"""## The network and backprop

`TwoLayerNetwork` has lesson 000's shape: the inputs, a hidden layer
`layer1 = σ(input · weights1)`, the output `ŷ = σ(layer1 · weights2)`, no biases. The loss is
the sum of squared errors, and the chain rule takes its derivative back to the weights:

$$Loss(y, \hat y) = \sum_{i=1}^{n} (y_i - \hat y_i)^2 \qquad
\frac{\partial Loss}{\partial W} = \frac{\partial Loss}{\partial \hat y}
\frac{\partial \hat y}{\partial z} \frac{\partial z}{\partial W}$$

whose *adjustment* is $2(y - \hat y) \cdot z(1 - z) \cdot x$. `backward()` takes the lesson's
steps, in its order:

1. the output error, $y - \hat y$;
2. the delta output sum: twice the output error times the sigmoid's derivative at the output,
   $2(y - \hat y)\, \hat y (1 - \hat y)$;
3. the layer1 error: the delta output sum times the second weight matrix, transposed;
4. the layer1 delta: the layer1 error times the sigmoid's derivative at layer1;
5. the adjustments: the input, transposed, times the layer1 delta for `weights1`; layer1,
   transposed, times the delta output sum for `weights2`.

An adjustment already carries the sign of $y - \hat y$: it is $-\frac{\partial Loss}{\partial W}$,
so `backprop()` *adds* it, times the learning rate α (lesson 000's is 1):
$W \leftarrow W + \alpha \cdot \text{adjustment}$."""

TWO_LAYER = """\
# Lesson 000's network: inputs → hidden (sigmoid) → output (sigmoid), and backprop's steps.
class TwoLayerNetwork:
    def __init__(self, x, y, hidden_units):
        self.input = x
        self.y = y
        # The lesson's draw, uniform in [0, 1): the run's own weights replace it below.
        self.weights1 = np.random.rand(self.input.shape[1], hidden_units)
        self.weights2 = np.random.rand(hidden_units, self.y.shape[1])
        self.output = np.zeros(self.y.shape)
        self.step = 0

    def feedforward(self):
        self.layer1 = sigmoid(np.dot(self.input, self.weights1))
        self.output = sigmoid(np.dot(self.layer1, self.weights2))

{backward}

    # backward(), then W += α·adjustment for both matrices
    def backprop(self, learning_rate):
        self.backward()
        self.weights1 += learning_rate * self.weights1_adjustment
        self.weights2 += learning_rate * self.weights2_adjustment

    def loss(self):
        return np.sum((self.y - self.output) ** 2)

    # iterations × (feedforward, backprop); each prints the loss from before its update
    def train(self, iterations, learning_rate):
        for _ in range(iterations):
            self.feedforward()
            loss = self.loss()
            self.backprop(learning_rate)
            self.step += 1
            print(f"step {self.step}   loss {loss:.6f}")"""

TWO_LAYER_BACKWARD = """\
    # the lesson's steps, in its order (each one kept, to look at)
    def backward(self):
        self.output_error = self.y - self.output
        self.delta_output_sum = 2 * self.output_error * sigmoid_derivative(self.output)
        self.layer1_error = np.dot(self.delta_output_sum, self.weights2.T)
        self.layer1_delta = self.layer1_error * sigmoid_derivative(self.layer1)
        self.weights1_adjustment = np.dot(self.input.T, self.layer1_delta)
        self.weights2_adjustment = np.dot(self.layer1.T, self.delta_output_sum)"""

TWO_LAYER_BACKWARD_STUB = """\
    # Your code: the lesson's steps, in its order, each kept as an attribute —
    #   self.output_error, self.delta_output_sum, self.layer1_error, self.layer1_delta,
    #   self.weights1_adjustment (inputs, hidden) and self.weights2_adjustment (hidden, outputs),
    # from self.input, self.y, self.layer1, self.output and the weights (feedforward ran).
    def backward(self):
        raise NotImplementedError("write backward(): the steps and formulas are above")"""

TRAIN_000_MD = """## Train

`network.train(iterations, learning_rate)` runs the next steps, each a feedforward and a
backprop on all the rows. They are the playground's next batch steps, with the same sums in
the same order: with the NumPy the playground ran on (version {numpy}), the weights after each
step equal the playground's bit for bit; on another NumPy they agree to the last few digits."""

TRAIN_000_CALL = """\
# Train the next {steps} steps.
network.train({steps}, learning_rate)"""

# ----- the exercise's check -------------------------------------------------------------------

CHECK_MD = r"""## Check your {what}

The check runs your code on the next batch, trains nothing, and compares each gradient with
central differences of the loss,
$\frac{{\partial E}}{{\partial w}} \approx \frac{{E(w + h) - E(w - h)}}{{2h}}$ (h = {step}),
by the relative error $\frac{{\lVert a - n \rVert}}{{\lVert a \rVert + \lVert n \rVert}}$:
below {tolerance} it passes. Then, if the playground that made this notebook is reachable,
it sends your gradients for the playground's current batch to its grader, which compares
them with its own backprop and names the likely mistake."""

CHECK_HEAD = """\
# Check your backward pass: here against central differences, then with the playground's grader.
import copy
import json
import urllib.error
import urllib.request

PLAYGROUND = {url!r}
SESSION_ID = {session_id!r}
WATCH_TOKEN = {watch_token!r}  # reads the session; it cannot change it
STEP = {step!r}
TOLERANCE = {tolerance!r}
PRECISION = {precision!r}


def relative_error(a, b):
    return np.linalg.norm(a - b) / max(np.linalg.norm(a) + np.linalg.norm(b), 1e-300)


def numeric_gradient(param, loss):
    # (loss() with param[i] + h − loss() with param[i] − h) / 2h, entry by entry
    grad = np.zeros(param.shape)
    for index in np.ndindex(param.shape):
        saved = param[index]
        param[index] = saved + STEP
        plus = loss()
        param[index] = saved - STEP
        minus = loss()
        param[index] = saved
        grad[index] = (plus - minus) / (2 * STEP)
    return grad"""

CHECK_003 = """\
def dense_layers(net):
    return [layer for layer in net.layers if isinstance(layer, FCLayer)]


def rebuilt():
    # the network built again from the classes as their cells last ran (your code in them),
    # with the parameters the run's network has now
    net = make_network()
    parameters = [layer for layer in network.layers if hasattr(layer, "weights")]
    for layer, given in zip(dense_layers(net), parameters):
        layer.weights = given.weights.copy()
        layer.bias = None if given.bias is None else given.bias.copy()
    return net


def your_gradients(net, x, y):
    # (∂E/∂W, ∂E/∂B) of each FCLayer from your backward_propagation; nothing is updated
    net.backward(y, net.predict(x))
    return [(layer.weights_error, layer.bias_error) for layer in dense_layers(net)]


def local_comparisons():
    # (layer, what, yours, central differences), on the next batch, in float64
    x, y = copy.deepcopy(batches).next()
    yours = your_gradients(rebuilt(), x, y)
    net = rebuilt()
    x, y = x.astype(np.float64), y.astype(np.float64)
    for layer in dense_layers(net):
        layer.weights = layer.weights.astype(np.float64)
        if layer.bias is not None:
            layer.bias = layer.bias.astype(np.float64)

    def loss():
        return net.loss(y, net.predict(x))

    compared = []
    for k, (layer, (dW, dB)) in enumerate(zip(dense_layers(net), yours)):
        compared.append((k, "∂E/∂W", dW, numeric_gradient(layer.weights, loss)))
        if layer.bias is not None:
            compared.append((k, "∂E/∂B", dB, numeric_gradient(layer.bias, loss)))
    return compared


def run_changed(problem):
    # why the playground's run no longer has this notebook's network (None: it has)
    activations = [layer["activation"] for layer in problem["layers"]]
    if problem["loss"] != RUN_LOSS or activations != RUN_ACTIVATIONS:
        return f"its loss is now {{problem['loss']}} and its activations {{activations}}"
    return None


def gradients_for(problem):
    # your gradients on the playground's current batch, ∂L/∂W with its L1/L2 part
    net = rebuilt()
    for layer, given in zip(dense_layers(net), problem["layers"]):
        layer.weights = np.array(given["W"], dtype=DTYPE)
        layer.bias = None if given["b"] is None else np.array([given["b"]], dtype=DTYPE)
    x, y = np.array(problem["x"], dtype=DTYPE), np.array(problem["y"], dtype=DTYPE)
    sent = []
    for layer, (dW, dB) in zip(dense_layers(net), your_gradients(net, x, y)):
        penalty = penalty_gradient(layer.weights, problem["l1"], problem["l2"])
        entry = {"dW": (dW if penalty is None else dW + penalty).tolist()}
        if dB is not None:
            entry["db"] = dB.tolist()
        sent.append(entry)
    return sent"""

CHECK_000 = """\
def your_gradients(net):
    # ∂L/∂W of both matrices from your backward(): an adjustment is −∂L/∂W
    net.feedforward()
    net.backward()
    return [-net.weights1_adjustment, -net.weights2_adjustment]


def rebuilt(x, y, weights1, weights2):
    # a TwoLayerNetwork of the class as its cell last ran (your backward()), these weights
    net = TwoLayerNetwork(x, y, weights1.shape[1])
    net.weights1, net.weights2 = weights1.copy(), weights2.copy()
    return net


def local_comparisons():
    # (layer, what, yours, central differences), on all the rows, in float64
    yours = your_gradients(rebuilt(x_train, y_train, network.weights1, network.weights2))
    net = rebuilt(x_train, y_train, network.weights1, network.weights2)
    net.input, net.y = net.input.astype(np.float64), net.y.astype(np.float64)
    net.weights1, net.weights2 = net.weights1.astype(np.float64), net.weights2.astype(np.float64)

    def loss():
        net.feedforward()
        return net.loss()

    return [
        (0, "∂L/∂weights1", yours[0], numeric_gradient(net.weights1, loss)),
        (1, "∂L/∂weights2", yours[1], numeric_gradient(net.weights2, loss)),
    ]


def run_changed(problem):
    # why the playground's run is no longer lesson 000's network (None: it is)
    activations = [layer["activation"] for layer in problem["layers"]]
    biases = any(layer["b"] is not None for layer in problem["layers"])
    if problem["loss"] != "sse" or activations != ["sigmoid", "sigmoid"] or biases:
        return f"its loss is now {problem['loss']} and its activations {activations}"
    return None


def gradients_for(problem):
    # your gradients on the playground's current batch (the check sends −adjustment as ∂L/∂W)
    x, y = np.array(problem["x"], dtype=DTYPE), np.array(problem["y"], dtype=DTYPE)
    weights1, weights2 = (np.array(layer["W"], dtype=DTYPE) for layer in problem["layers"])
    return [{"dW": dW.tolist()} for dW in your_gradients(rebuilt(x, y, weights1, weights2))]"""

CHECK_TAIL = """\
def check_here():
    # every gradient against central differences; the first wrong one in backprop's order
    compared = local_comparisons()
    worst = 0.0
    for k, what, yours, numeric in sorted(compared, key=lambda entry: -entry[0]):
        if yours is None or np.shape(yours) != numeric.shape:
            print(f"✗ Here: layer {k}'s {what} should have the shape {numeric.shape}.")
            return False
        error = relative_error(np.asarray(yours, dtype=np.float64), numeric)
        if not error < TOLERANCE:
            print(f"✗ Here: layer {k}'s {what} is off from central differences "
                  f"(relative error {error:.3g}): compare your steps with the formulas above.")
            return False
        worst = max(worst, error)
    print("✓ Here: every gradient matches central differences "
          f"(largest relative error {worst:.1e}).")
    return True


def call_playground(method, body=None):
    request = urllib.request.Request(
        f"{PLAYGROUND}/api/sessions/{SESSION_ID}/grade",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": f"Bearer {WATCH_TOKEN}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def ask_playground(method, body=None):
    # the grader's answer, or None (said why) when the playground cannot be asked
    try:
        return call_playground(method, body)
    except urllib.error.HTTPError as error:
        try:
            detail = json.loads(error.read()).get("detail")
        except ValueError:
            detail = error.reason
        print(f"The playground answered {error.code}: {detail}. The check above stands alone.")
    except (OSError, ValueError) as error:
        print(f"The playground at {PLAYGROUND} cannot be reached ({error}): "
              "the check above stands alone.")
    return None


def check_with_grader():
    problem = ask_playground("GET")
    if problem is None:
        return None
    changed = run_changed(problem)
    if changed:
        print(f"The playground's run has changed since this notebook was made ({changed}): "
              "download a new notebook to be graded on it.")
        return None
    report = ask_playground("POST", {"gradients": gradients_for(problem), "precision": PRECISION})
    if report is None:
        return None
    if report["passed"]:
        print(f"✓ The grader, on the playground's batch at step {report['step']}:",
              report["diagnosis"])
    else:
        first = report["first_wrong_layer"]
        cause = report["layers"][first]["cause"]
        print(f"✗ The grader: the first wrong layer is {first} (cause: {cause}).",
              report["diagnosis"])
    return report


check_here()
report = check_with_grader()"""
