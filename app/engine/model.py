"""The general model the server runs: dense layers, stepped one phase at a time or a batch at once.

A batch step is a fixed sequence of phases, for L layers (indices 0 … L−1):

    forward 0 … forward L−1,  loss,  backward L−1 … backward 0,  update

Each phase is a function of ``kernel.py`` (the formulas, with every array's shape, are there):
``step_phase`` runs the next one, ``step_batch`` a new batch's in one go — the same functions
in the same order, so walking a batch phase by phase and stepping it give bit-identical
weights — and ``together.py`` runs them for a stack of alike models. This module keeps what
is one model's own: its configuration, its data and the order it is drawn in, its counters,
the trace of its current batch, and what happens at a divergence.

The parameters have one form (``fast.py``): every layer's W and b are views into one flat
vector θ, the weights kept for a divergence's restore another of the same form. A layer
(``DenseLayer``) is a view of the model's θ; a model in a stack views its row of the stack's.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from . import fast, kernel
from .activations import Activation, get_activation
from .dense import Array, fc_forward
from .fast import Flat, Params
from .initializers import INITIALIZERS
from .kernel import UPDATE_OVERFLOW, LayerTrace, Rates
from .losses import Loss, get_loss
from .penalties import PENALTY_RULES, Mask, penalty

if TYPE_CHECKING:
    from .together import Row

PhaseKind = Literal["forward", "loss", "backward", "update"]
DTYPES = {"float64": np.float64, "float32": np.float32}


class ConfigError(ValueError):
    """Bad configuration or data, naming the ``field`` at fault so an API can point at it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class LayerConfig:
    """One dense layer: how many units, and which activation follows it."""

    units: int
    activation: str = "tanh"

    def __deepcopy__(self, memo: dict[int, Any]) -> LayerConfig:
        return self  # immutable: a copy of a model shares it


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to build a model and train it; ``batch_size=None`` is full batch."""

    input_size: int
    layers: tuple[LayerConfig, ...]
    loss: str = "mse"
    learning_rate: float = 0.03
    batch_size: int | None = 10
    momentum: float = 0.0
    l1: float = 0.0
    l2: float = 0.0
    penalty_rule: str = "gradient"  # how the penalty joins the update: penalties.py
    initializer: str = "xavier"
    seed: int = 0
    use_bias: bool = True
    dtype: str = "float64"
    shuffle: bool = True

    def __post_init__(self) -> None:
        validate_config(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> ModelConfig:
        return self  # immutable all through: a copy of a model shares it

    @functools.cached_property
    def architecture(self) -> tuple[Any, ...]:
        """The network's shapes and functions: what two models must share to compute alike
        (``together.py`` stacks such models), not their rates, penalties or data."""
        layers = tuple((layer.units, layer.activation) for layer in self.layers)
        return self.input_size, layers, self.use_bias, self.loss, self.dtype


# Settings that may change between steps without rebuilding the weights.
HYPERPARAMETERS = (
    "learning_rate",
    "batch_size",
    "momentum",
    "l1",
    "l2",
    "penalty_rule",
    "shuffle",
    "loss",
)


def validate_config(config: ModelConfig) -> None:
    """Raise ConfigError naming the first field that cannot build a model."""
    if config.input_size < 1:
        raise ConfigError("input_size", f"must be at least 1, got {config.input_size}")
    if not config.layers:
        raise ConfigError("layers", "a network needs at least one layer")
    for k, layer in enumerate(config.layers):
        if layer.units < 1:
            raise ConfigError(f"layers[{k}].units", f"must be at least 1, got {layer.units}")
        activation = get_activation_for(f"layers[{k}].activation", layer.activation)
        if activation.output_only and k != len(config.layers) - 1:
            raise ConfigError(
                f"layers[{k}].activation", f"{activation.name} is only for the output layer"
            )
    output = config.layers[-1]
    if output.activation == "softmax" and output.units < 2:
        raise ConfigError("layers[-1].units", "a softmax output needs at least 2 units")
    loss = get_loss_for("loss", config.loss)
    if loss.output_activations and output.activation not in loss.output_activations:
        wanted = " or ".join(sorted(loss.output_activations))
        raise ConfigError(
            "loss", f"{config.loss} needs a {wanted} output layer, not {output.activation}"
        )
    _check_number("learning_rate", config.learning_rate, low=0.0, low_open=True)
    if config.batch_size is not None and config.batch_size < 1:
        raise ConfigError(
            "batch_size", f"must be at least 1 (or null for full batch), got {config.batch_size}"
        )
    _check_number("momentum", config.momentum, low=0.0, high=1.0, high_open=True)
    _check_number("l1", config.l1, low=0.0)
    _check_number("l2", config.l2, low=0.0)
    if config.penalty_rule not in PENALTY_RULES:
        raise ConfigError(
            "penalty_rule",
            f"unknown rule {config.penalty_rule!r}; choose one of: {', '.join(PENALTY_RULES)}",
        )
    if config.initializer not in INITIALIZERS:
        known = ", ".join(sorted(INITIALIZERS))
        raise ConfigError(
            "initializer", f"unknown initializer {config.initializer!r}; choose one of: {known}"
        )
    if config.dtype not in DTYPES:
        raise ConfigError("dtype", f"must be float64 or float32, got {config.dtype!r}")


def _check_number(
    name: str,
    value: float,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> None:
    if not np.isfinite(value):
        raise ConfigError(name, f"must be a finite number, got {value}")
    if low is not None and (value < low or (low_open and value == low)):
        raise ConfigError(name, f"must be {'>' if low_open else '≥'} {low}, got {value}")
    if high is not None and (value > high or (high_open and value == high)):
        raise ConfigError(name, f"must be {'<' if high_open else '≤'} {high}, got {value}")


def get_activation_for(field_name: str, name: str) -> Activation:
    try:
        return get_activation(name)
    except ValueError as error:
        raise ConfigError(field_name, str(error)) from None


def get_loss_for(field_name: str, name: str) -> Loss:
    try:
        return get_loss(name)
    except ValueError as error:
        raise ConfigError(field_name, str(error)) from None


class DenseLayer:
    """One layer of a model, a view of its parameters: W (n_in, n_out) and b (1, n_out) or
    None, views of the model's θ; momentum's velocities v_W and v_b, views of v (None until an
    update with momentum made them); the tfp rule's dead weights (bool, W's shape; None:
    none): L1 pushed them across 0, so they are 0 and frozen (nn.ts's isDead); and the
    activation that follows the layer.

    Assigning W or b writes into θ (the parameters have one form); writing into them in place
    does too. The views change at each update (the new θ is another vector: ``fast.Params``).
    """

    __slots__ = ("_k", "_model")

    def __init__(self, model: Model, k: int) -> None:
        self._model, self._k = model, k

    @property
    def W(self) -> Array:
        return self._model._params.cur.views[self._k].W

    @W.setter
    def W(self, value: Array) -> None:
        self._model._write_parameter(self._k, "W", value)

    @property
    def b(self) -> Array | None:
        return self._model._params.cur.views[self._k].b

    @b.setter
    def b(self, value: Array | None) -> None:
        self._model._write_parameter(self._k, "b", value)

    @property
    def velocity_W(self) -> Array | None:
        return self._model._params.cur.views[self._k].velocity_W

    @property
    def velocity_b(self) -> Array | None:
        return self._model._params.cur.views[self._k].velocity_b

    @property
    def dead(self) -> Mask | None:
        return self._model._params.dead[self._k]

    @property
    def activation(self) -> Activation:
        return self._model.activations[self._k]


@dataclass(frozen=True)
class Phase:
    """One phase of a batch step; ``layer`` is the 0-based layer index (None for loss/update)."""

    kind: PhaseKind
    layer: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "layer": self.layer}

    def __deepcopy__(self, memo: dict[int, Any]) -> Phase:
        return self  # immutable: a copy of a model shares it


@dataclass
class PhaseResult:
    """What a phase did: which phase, and whether it completed a batch or an epoch."""

    phase: Phase
    loss: float | None = None
    batch_done: bool = False
    epoch_done: bool = False
    diverged: str | None = None


@dataclass(slots=True)
class BatchResult:
    """A whole batch step: the batch's loss (before its update) and how it ended."""

    loss: float
    epoch_done: bool
    diverged: str | None = None


def phases_of(n_layers: int) -> list[Phase]:
    """forward 0…L−1, loss, backward L−1…0, update."""
    forward = [Phase("forward", k) for k in range(n_layers)]
    backward = [Phase("backward", k) for k in reversed(range(n_layers))]
    return [*forward, Phase("loss"), *backward, Phase("update")]


def initial_parameters(config: ModelConfig) -> Flat:
    """Every layer's W and b drawn from one Generator seeded with ``config.seed``, in a Flat."""
    rng = np.random.default_rng(config.seed)
    init = INITIALIZERS[config.initializer]
    dtype = DTYPES[config.dtype]
    Ws: list[Array] = []
    bs: list[Array | None] = []
    n_in = config.input_size
    for spec in config.layers:
        W, b = init(rng, n_in, spec.units)
        Ws.append(W.astype(dtype))
        bs.append(b.astype(dtype) if config.use_bias else None)
        n_in = spec.units
    return fast.pack(Ws, bs)


def rates_of(config: ModelConfig) -> Rates:
    """What one model's backward pass and update take from its configuration."""
    lr = config.learning_rate
    return Rates(
        learning_rate=lr,
        momentum=config.momentum,
        momentum_on=config.momentum != 0.0,
        l1=config.l1,
        l2=config.l2,
        tfp=config.penalty_rule == "tfp",
        l1_step=lr * config.l1,
        l2_step=lr * config.l2,
    )


def forward_all(layers: list[DenseLayer], x: Array) -> tuple[Array, Array]:
    """(z, ŷ) of the last layer for x (n, n_in), touching no trace: predict and evaluate."""
    a = x
    z = x
    for layer in layers:
        z = fc_forward(a, layer.W, layer.b)
        a = layer.activation.forward(z)
    return z, a


def data_loss(loss_fn: Loss, y: Array, z: Array, a: Array) -> float:
    """E(y, ŷ) alone (no penalty): from the logits z for a fused loss, else from ŷ = a."""
    return loss_fn.f(y, a) if loss_fn.from_logits is None else float(loss_fn.from_logits(y, z))


# Inside ``errors_ignored()``: the floating-point error state that step_batch would set is
# set already (NumPy keeps it per thread and task, as a context variable: so is this).
_ERRORS_IGNORED: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "errors_ignored", default=False
)


@contextlib.contextmanager
def errors_ignored() -> Iterator[None]:
    """Floating-point errors ignored (each step reports divergence itself) for a run of batch
    steps: one ``np.errstate`` for them all instead of one per ``step_batch``."""
    with np.errstate(all="ignore"):
        token = _ERRORS_IGNORED.set(True)
        try:
            yield
        finally:
            _ERRORS_IGNORED.reset(token)


class Model:
    """A dense network with its data, counters and the trace of the current batch."""

    def __init__(self, config: ModelConfig) -> None:
        self.config = config
        self.dtype = DTYPES[config.dtype]
        # The parameters: the model's own, or its row of a stack's while it is in one.
        self._params: Params | Row = Params(initial_parameters(config))
        self.activations = [get_activation(spec.activation) for spec in config.layers]
        self.layers = [DenseLayer(self, k) for k in range(len(config.layers))]
        self.loss_fn = get_loss(config.loss)
        self.phases = phases_of(len(self.layers))
        # Shuffling has its own stream, so the initial weights don't depend on the data order.
        self.rng = np.random.default_rng([config.seed, 1])
        self.step = 0  # batch steps completed
        self.epoch = 0  # epochs completed
        self.cursor = 0  # index into self.phases of the next phase
        self._epoch_just_ended = False  # did the last update finish an epoch?
        self.position = 0  # how many samples of this epoch's order have been trained on
        self.order: np.ndarray = np.zeros(0, dtype=np.int64)
        self.order_drawn = False  # has this epoch's order been drawn yet?
        # x and y rows in this epoch's order, gathered once an epoch: a batch is then a slice.
        self._epoch_rows: tuple[Array, Array] | None = None
        self.x_train: Array = np.zeros((0, config.input_size), dtype=self.dtype)
        self.y_train: Array = np.zeros((0, config.layers[-1].units), dtype=self.dtype)
        self.batch_indices: np.ndarray = np.zeros(0, dtype=np.int64)
        self.batch_y: Array | None = None
        self.loss: float | None = None  # data loss of the current / last batch
        self.traces = [LayerTrace() for _ in self.layers]
        self.diverged: str | None = None
        self._rates_config = config  # what _rates_made was made of
        self._rates_made = rates_of(config)

    # ----- parameters ---------------------------------------------------------------------

    @property
    def _before_update(self) -> Flat | None:
        """The parameters before the last update (None: none since the last restore), which a
        divergence of the next forward pass restores."""
        return self._params.before

    @property
    def _dead_before(self) -> list[Mask | None]:
        """Each layer's dead weights before the last update, restored with the weights."""
        return self._params.dead_before

    def _own(self) -> Params:
        """The model's own parameters: a model steps alone only out of a stack."""
        params = self._params
        assert isinstance(params, Params), "a model in a stack steps with its stack"
        return params

    def _write_parameter(self, k: int, name: str, value: Array | None) -> None:
        """``layers[k].W = value`` (or b): written into θ, checked for its shape."""
        views = self._params.cur.views[k]
        target = views.W if name == "W" else views.b
        if target is None or value is None:
            if target is None and value is None:
                return
            raise ConfigError(
                f"layers[{k}].{name}",
                "this network has no biases" if target is None else "cannot be removed",
            )
        array = np.asarray(value)
        if array.shape != target.shape:
            raise ConfigError(
                f"layers[{k}].{name}", f"expected shape {target.shape}, got {array.shape}"
            )
        target[...] = array

    def buffers(self) -> list[Array]:
        """The arrays the parameters live in: θ and v of the current weights, of those kept
        for a restore and of the spare, and ∇θ (each once)."""
        params = self._own()
        flats = [flat for flat in (params.cur, params.before, params.spare) if flat is not None]
        arrays = [params.layout.grad]
        for flat in flats:
            arrays.append(flat.theta)
            if flat.velocity is not None:
                arrays.append(flat.velocity)
        seen: dict[int, Array] = {id(array): array for array in arrays}
        return list(seen.values())

    def _rates(self) -> Rates:
        """``rates_of(self.config)``, made once per configuration."""
        rates = self._rates_made
        if self._rates_config is not self.config:
            rates = self._rates_made = rates_of(self.config)
            self._rates_config = self.config
        return rates

    # ----- data -------------------------------------------------------------------------

    def set_data(self, x: Array, y: Array) -> None:
        """Train on x (n, input_size) and y (n, outputs); checked for shape and finiteness."""
        x = np.asarray(x, dtype=self.dtype)
        y = np.asarray(y, dtype=self.dtype)
        self.x_train, self.y_train = check_data(self.config, x, y)
        self.order = np.zeros(0, dtype=np.int64)
        self.order_drawn = False
        self._epoch_rows = None
        self.position = 0
        self.cursor = 0

    @property
    def n_samples(self) -> int:
        return len(self.x_train)

    @property
    def batch_size(self) -> int:
        """The effective batch size: the whole training set for full batch."""
        size = self.config.batch_size
        return self.n_samples if size is None else min(size, self.n_samples)

    @property
    def next_phase(self) -> Phase:
        return self.phases[self.cursor]

    @property
    def in_batch(self) -> bool:
        """True between a batch's first phase and its update."""
        return self.cursor > 0

    # ----- stepping -----------------------------------------------------------------------

    def step_phase(self) -> PhaseResult:
        """Run the next phase of the current batch (starting a new batch if none is open)."""
        phase = self.phases[self.cursor]
        with np.errstate(all="ignore"):  # overflow is reported as divergence, not warned
            diverged = self._run_phase(phase)
        result = PhaseResult(phase, diverged=diverged)
        if phase.kind == "loss" or (phase.kind == "update" and not diverged):
            result.loss = self.loss
        if phase.kind == "update" and not diverged:
            result.batch_done = True
            result.epoch_done = self._epoch_just_ended
        return result

    def step_batch(self) -> BatchResult:
        """Run phases until the open batch (or a new one) is updated: one SGD step.

        A new batch runs in one go (``kernel.run_forward``, ``run_backward``, ``update``); an
        open batch is finished phase by phase. Either way the weights equal those of a walk
        with ``step_phase``, bit for bit (tests/engine/test_model.py says so).
        """
        if _ERRORS_IGNORED.get():
            diverged = self._step_batch()
        else:
            with np.errstate(all="ignore"):  # overflow is reported as divergence, not warned
                diverged = self._step_batch()
        if diverged:
            return BatchResult(float(self.loss or np.nan), False, diverged)
        return BatchResult(float(self.loss or 0.0), self._epoch_just_ended)

    def _step_batch(self) -> str | None:
        if self.cursor != 0:  # an open batch: its remaining phases
            while True:
                phase = self.phases[self.cursor]
                diverged = self._run_phase(phase)
                if diverged or phase.kind == "update":
                    return diverged
        # A new batch, every phase in one go.
        params, traces, activations = self._params, self.traces, self.activations
        assert isinstance(params, Params), "a model in a stack steps with its stack"
        if not len(self.x_train):
            raise ConfigError("data", "no training data: call set_data(x, y) first")
        self._draw_batch()  # (every trace field is written below: none needs clearing first)
        assert self.batch_y is not None
        loss = self.loss = float(
            kernel.run_forward(traces, activations, params.cur, self.loss_fn, self.batch_y)
        )
        if not math.isfinite(loss):
            kernel.keep_loss_trace(traces)
            return self._check_loss(loss)
        rates = self._rates()
        kernel.run_backward(traces, activations, params, rates)
        return self._take_update(rates)

    def _run_phase(self, phase: Phase) -> str | None:
        """Run one phase and move the cursor; returns why it diverged, if it did."""
        if self.n_samples == 0:
            raise ConfigError("data", "no training data: call set_data(x, y) first")
        if phase.kind == "forward":
            assert phase.layer is not None
            self._forward_layer(phase.layer)
        elif phase.kind == "loss":
            diverged = self._loss_phase()
            if diverged:
                return diverged
        elif phase.kind == "backward":
            assert phase.layer is not None
            self._backward_layer(phase.layer)
        else:
            return self._update_phase()
        self.cursor += 1
        return None

    def _loss_phase(self) -> str | None:
        """The loss; a non-finite one diverges (back to the weights before the last update)."""
        return self._check_loss(self._compute_loss())

    def _check_loss(self, loss: float) -> str | None:
        if not math.isfinite(loss):
            return self._diverge(f"the loss became {loss}", restore=True)
        return None

    def _update_phase(self) -> str | None:
        """The update; the batch is done (cursor back to its start) unless it diverged."""
        return self._take_update(self._rates())

    def step_epoch(self) -> list[BatchResult]:
        """Run batch steps until the current epoch ends; returns each batch's result."""
        results = []
        while True:
            result = self.step_batch()
            results.append(result)
            if result.diverged or result.epoch_done:
                return results

    def _start_batch(self) -> None:
        """The next batch's rows, and a trace with nothing of the last batch left in it."""
        self._draw_batch()
        for trace in self.traces:
            trace.clear_backward()
        for trace in self.traces[1:]:  # not yet run for this batch: no stale values shown
            trace.input = trace.z = trace.output = trace.W = trace.b = None

    def _draw_batch(self) -> None:
        """batch_indices, batch_y and layer 0's input: the next rows of this epoch's order."""
        epoch_x, epoch_y = self._epoch_rows or self._epoch_data()
        rows = slice(self.position, self.position + self.batch_size)
        self.batch_indices = self.order[rows]
        self.batch_y = epoch_y[rows]
        self.traces[0].input = epoch_x[rows]
        self.diverged = None

    def _epoch_data(self) -> tuple[Array, Array]:
        """x and y rows in this epoch's order (drawn first if this epoch has none yet),
        gathered once an epoch: a batch is then a slice of them."""
        if not self.order_drawn:
            self.order = self._epoch_order()
            self.order_drawn = True
        rows = self._epoch_rows = (self.x_train[self.order], self.y_train[self.order])
        return rows

    def _epoch_order(self) -> np.ndarray:
        # A full batch sums every sample whatever the order: don't spend RNG draws on it.
        if self.config.shuffle and self.batch_size < self.n_samples:
            return self.rng.permutation(self.n_samples)
        return np.arange(self.n_samples)

    def _forward_layer(self, k: int) -> None:
        """forward k (``kernel.forward``); layer k's input is layer k−1's output."""
        if k == 0:
            self._start_batch()
        x = self.traces[k - 1].output if k > 0 else self.traces[0].input
        assert x is not None
        views = self._params.cur.views[k]
        kernel.forward(self.traces[k], x, views.W, views.b, self.activations[k])

    def _compute_loss(self) -> float:
        """The loss phase (``kernel.loss``): E(y, ŷ) on the batch, and ∂E/∂ŷ handed to the
        last layer as its output error (with a fused loss, ∂E/∂z as well: its δ)."""
        assert self.batch_y is not None
        self.loss = float(kernel.loss(self.loss_fn, self.batch_y, self.traces[-1]))
        return self.loss

    def is_fused(self, k: int) -> bool:
        """Is layer k's δ the loss's fused (p − y)/n (the output layer of a cross-entropy)?"""
        return self.loss_fn.fused and k == len(self.layers) - 1

    def _backward_layer(self, k: int) -> None:
        """backward k (``kernel.backward``): δ, ∂E/∂W (+ penalty) and ∂E/∂b into ∇θ, δ·Wᵀ to
        layer k−1."""
        params = self._own()
        below = self.traces[k - 1] if k > 0 else None
        W = params.cur.views[k].W
        kernel.backward(
            self.traces[k], self.activations[k], W, params.layout.grads[k], self._rates(), below
        )

    def _take_update(self, rates: Rates) -> str | None:
        """The update (``kernel.update``), taken unless it would leave non-finite weights;
        then the batch is done (cursor back to its start)."""
        params = self._own()
        new, dead, finite = kernel.update(params, rates)
        if not finite:
            params.spare = new
            return self._diverge(UPDATE_OVERFLOW)
        params.commit(new, dead)
        self.step += 1
        self._epoch_just_ended = self._advance_position()
        self.cursor = 0
        return None

    def _diverge(self, why: str, restore: bool = False) -> str:
        """Abandon the batch, keep (or, with ``restore``, go back to) the last good weights.

        A non-finite loss means the weights the last update made overflow the forward pass:
        the ones before that update gave a finite loss, so those are the last good ones.
        """
        restored = ""
        if restore and self._own().restore():
            restored = f" (restored to those before step {self.step})"
        self.diverged = (
            f"diverged at step {self.step}: {why}; the weights are the last good ones{restored}"
        )
        self.cursor = 0
        return self.diverged

    def _advance_position(self) -> bool:
        self.position += len(self.batch_indices)
        if self.position >= self.n_samples:
            self._end_epoch()
            return True
        return False

    def _end_epoch(self) -> None:
        """The epoch's last batch is done: the next one draws a new order."""
        self.position = 0
        self.order_drawn = False
        self._epoch_rows = None
        self.epoch += 1

    # ----- reading ----------------------------------------------------------------------

    def predict(self, x: Array) -> Array:
        """ŷ (n, outputs) for x (n, input_size)."""
        x = self._inputs(x)
        with np.errstate(all="ignore"):
            return forward_all(self.layers, x)[1]

    def _inputs(self, x: Array) -> Array:
        x = np.asarray(x, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.config.input_size:
            raise ConfigError(
                "inputs", f"expected shape (n, {self.config.input_size}), got {x.shape}"
            )
        return x

    def evaluate(self, x: Array, y: Array) -> float:
        """The data loss E(y, ŷ) of the current weights on x, y (no penalty)."""
        if len(x) == 0:
            return float("nan")
        return self.predict_with_loss(x, y)[1]

    def predict_with_loss(self, x: Array, y: Array) -> tuple[Array, float]:
        """ŷ for x and the data loss E(y, ŷ) (no penalty), from one forward pass."""
        x = self._inputs(x)
        with np.errstate(all="ignore"):
            z, y_pred = forward_all(self.layers, x)
            return y_pred, data_loss(self.loss_fn, np.asarray(y, dtype=self.dtype), z, y_pred)

    def objective_penalty(self) -> float:
        """The regularisation term added to the loss: (l2/2)·ΣW² + l1·Σ|W|."""
        return penalty([layer.W for layer in self.layers], self.config.l1, self.config.l2)

    # ----- changing between steps ---------------------------------------------------------

    def apply_changes(
        self,
        hyperparameters: Mapping[str, Any] | None = None,
        activations: Mapping[int, str] | None = None,
    ) -> None:
        """Change hyperparameters (``HYPERPARAMETERS``) and layers' activations, all or nothing.

        The new config is built and validated whole before anything is touched, so a bad
        change (or one that only fits with another, like a softmax loss and a softmax output)
        raises ConfigError with the model as it was. The weights stay. A change that alters
        the forward or backward pass of an open batch (batch size, loss, an activation)
        abandons that batch before its update, so no batch mixes two settings.
        """
        hyperparameters = dict(hyperparameters or {})
        activations = dict(activations or {})
        unknown = set(hyperparameters) - set(HYPERPARAMETERS)
        if unknown:
            raise ConfigError(sorted(unknown)[0], f"cannot change; changeable: {HYPERPARAMETERS}")
        specs = list(self.config.layers)
        for k, name in activations.items():
            if not 0 <= k < len(specs):
                raise ConfigError("layer", f"must be 0…{len(specs) - 1}, got {k}")
            specs[k] = replace(specs[k], activation=name)
        config = replace(self.config, layers=tuple(specs), **hyperparameters)  # validates
        # Everything below only assigns: nothing can fail half-way.
        reshapes_batch = any(
            getattr(config, name) != getattr(self.config, name)
            for name in ("batch_size", "loss", "layers")
        )
        if self.in_batch and reshapes_batch:
            self.cursor = 0
        self.config = config
        self.loss_fn = get_loss(config.loss)
        self.activations = [get_activation(spec.activation) for spec in config.layers]
        if config.penalty_rule != "tfp":  # dead weights are the tfp rule's: they revive
            params = self._own()
            params.dead = [None] * len(self.layers)
            params.dead_before = [None] * len(self.layers)

    def set_hyperparameters(self, **changes: Any) -> None:
        """Change learning rate, batch size, momentum, l1, l2, shuffle or loss; weights stay."""
        self.apply_changes(hyperparameters=changes)

    def set_activation(self, k: int, name: str) -> None:
        """Change layer k's activation; its weights stay. An open batch is abandoned."""
        self.apply_changes(activations={k: name})

    # ----- state, for export / import -----------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """Everything training depends on, as NumPy arrays and plain values (no copies)."""
        return {
            "layers": [
                {
                    "W": L.W,
                    "b": L.b,
                    "velocity_W": L.velocity_W,
                    "velocity_b": L.velocity_b,
                    "dead": L.dead,
                }
                for L in self.layers
            ],
            "rng": self.rng.bit_generator.state,
            "step": self.step,
            "epoch": self.epoch,
            "cursor": self.cursor,
            "position": self.position,
            "order": self.order,
            "order_drawn": self.order_drawn,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore ``state_dict()``'s values, then replay the open batch's phases (exact)."""
        if len(state["layers"]) != len(self.layers):
            raise ConfigError("layers", "the saved state has a different number of layers")
        Ws: list[Array] = []
        bs: list[Array | None] = []
        velocities: list[tuple[Array, Array | None]] = []
        dead: list[Mask | None] = []
        for k, (layer, saved) in enumerate(zip(self.layers, state["layers"], strict=True)):
            W = _restore(f"layers[{k}].W", saved["W"], layer.W.shape, self.dtype)
            b = None
            if layer.b is not None:
                b = _restore(f"layers[{k}].b", saved["b"], layer.b.shape, self.dtype)
            Ws.append(W)
            bs.append(b)
            vW = _restore_optional(saved.get("velocity_W"), W.shape, self.dtype)
            vb = (
                None
                if b is None
                else _restore_optional(saved.get("velocity_b"), b.shape, self.dtype)
            )
            if vW is not None and (b is None or vb is not None):
                velocities.append((vW, vb))
            dead.append(_restore_dead(f"layers[{k}].dead", saved.get("dead"), W.shape))
        full = len(velocities) == len(Ws)  # momentum's velocities: every layer's, or none
        params = Params(fast.pack(Ws, bs, velocities if full else None))
        params.dead = dead
        self._params = params
        self.rng.bit_generator.state = state["rng"]
        self.step, self.epoch = int(state["step"]), int(state["epoch"])
        self.position = int(state["position"])
        self.order = np.asarray(state["order"], dtype=np.int64)
        self.order_drawn = bool(state["order_drawn"])
        self._epoch_rows = None
        open_phases = int(state["cursor"])
        self.cursor = 0
        # The weights change only in the update, the last phase: re-running the open batch's
        # first phases on the same rows recomputes exactly the values the saved model held.
        for _ in range(open_phases):
            self.step_phase()


def _restore(name: str, value: Any, shape: tuple[int, ...], dtype: Any) -> Array:
    array = np.asarray(value, dtype=dtype)
    if array.shape != shape:
        raise ConfigError(name, f"expected shape {shape}, got {array.shape}")
    if not np.isfinite(array).all():
        raise ConfigError(name, "holds NaN or infinity")
    return array


def _restore_optional(value: Any, shape: tuple[int, ...], dtype: Any) -> Array | None:
    return None if value is None else _restore("velocity", value, shape, dtype)


def _restore_dead(name: str, value: Any, shape: tuple[int, ...]) -> Mask | None:
    """A saved mask of dead weights (True/False, W's shape), or None (older saves: none)."""
    if value is None:
        return None
    array = np.asarray(value)
    if array.shape != shape or array.dtype != np.bool_:
        raise ConfigError(name, f"expected {shape} true/false values")
    return array if array.any() else None


def check_data(config: ModelConfig, x: Array, y: Array) -> tuple[Array, Array]:
    """Raise ConfigError unless x is (n, input_size) and y (n, outputs), finite, n ≥ 1."""
    n_out = config.layers[-1].units
    if x.ndim != 2 or x.shape[1] != config.input_size:
        raise ConfigError("x", f"expected shape (n, {config.input_size}), got {x.shape}")
    if y.ndim != 2 or y.shape != (len(x), n_out):
        raise ConfigError(
            "y", f"expected shape ({len(x)}, {n_out}) for a {n_out}-unit output, got {y.shape}"
        )
    if len(x) == 0:
        raise ConfigError("x", "no samples")
    for name, array in (("x", x), ("y", y)):
        bad = np.argwhere(~np.isfinite(array))
        if len(bad):
            row, col = bad[0]
            raise ConfigError(name, f"row {row}, column {col} is {array[row, col]}")
    if config.loss == "binary_cross_entropy" and ((y < 0) | (y > 1)).any():
        raise ConfigError("y", "binary cross-entropy needs targets in [0, 1]")
    if config.loss == "softmax_cross_entropy" and not np.allclose(y.sum(axis=1), 1.0):
        raise ConfigError("y", "softmax cross-entropy needs one-hot (or probability) target rows")
    return x, y


def config_as_dict(config: ModelConfig) -> dict[str, Any]:
    """A ModelConfig as plain JSON-able values."""
    out: dict[str, Any] = {f.name: getattr(config, f.name) for f in fields(config)}
    out["layers"] = [{"units": s.units, "activation": s.activation} for s in config.layers]
    return out


def config_from_dict(data: dict[str, Any]) -> ModelConfig:
    """The inverse of ``config_as_dict``; raises ConfigError on bad values."""
    values = dict(data)
    values["layers"] = tuple(LayerConfig(**spec) for spec in values.get("layers", ()))
    return ModelConfig(**values)


__all__ = [
    "BatchResult",
    "ConfigError",
    "DenseLayer",
    "LayerConfig",
    "LayerTrace",
    "Model",
    "ModelConfig",
    "Phase",
    "PhaseResult",
    "config_as_dict",
    "config_from_dict",
    "phases_of",
]
