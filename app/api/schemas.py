"""The REST API's request and response bodies, named by role (``SessionCreate``, ``StepResult``).

Requests forbid unknown fields and NaN/infinity, and carry the bounds that never change
(learning rate > 0, momentum in [0, 1)); the limits that are settings (layers, units, rows …)
are checked by the handlers and the session manager. Names of activations, losses,
initialisers and datasets are the engine's own registries, listed in the OpenAPI schema and
checked by the engine.

In responses a number that can be NaN or infinite (a loss, a trace of a diverged batch) is
typed ``float | None``: the JSON encoder writes it ``null``.
"""

from __future__ import annotations

from dataclasses import MISSING, fields
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator

from app.engine import ACTIVATIONS, INITIALIZERS, LOSSES, ModelConfig
from app.engine.datasets import DATASETS, FEATURES, MAX_SAMPLES, MIN_SAMPLES, Task
from app.service.session import MAX_HISTORY, Unit

# Every stored integer (seeds, counters, sizes) is exact in a JavaScript number (and in
# a float64, so JSON Schema tools that compare as floats agree with the server).
MAX_INT = 2**53 - 1
NAME_LENGTH = 100
Number = float | None  # null where the value is NaN or infinite
Vector = list[Number]
Matrix = list[list[Number]]

ENGINE_DEFAULTS: dict[str, Any] = {
    f.name: f.default for f in fields(ModelConfig) if f.default is not MISSING
}


class RequestBody(BaseModel):
    """A request body: unknown fields, NaN/infinity and loose types ("3" or true for an
    integer) are refused."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False, strict=True)


class ResponseBody(BaseModel):
    """A response body."""


class ExportBody(BaseModel):
    """A part of an export: answered by GET …/export and taken back, strictly, by import."""

    model_config = ConfigDict(strict=True)


# ----- names the engine knows ---------------------------------------------------------------

ActivationName = Annotated[
    str,
    Field(
        max_length=NAME_LENGTH,
        description="An activation: " + ", ".join(ACTIVATIONS),
        json_schema_extra={"enum": list(ACTIVATIONS)},
    ),
]
LossName = Annotated[
    str,
    Field(
        max_length=NAME_LENGTH,
        description="A loss, and what it divides by: "
        + "; ".join(f"{name} — {loss.convention}" for name, loss in LOSSES.items())
        + ". The cross-entropies are fused with their output activation: loss from the "
        "logits (log-sum-exp), ∂L/∂z = (p − y)/n.",
        json_schema_extra={"enum": list(LOSSES)},
    ),
]
InitializerName = Annotated[
    str,
    Field(
        max_length=NAME_LENGTH,
        description="A weight initialiser: " + ", ".join(INITIALIZERS),
        json_schema_extra={"enum": list(INITIALIZERS)},
    ),
]
DatasetName = Annotated[
    str,
    Field(
        max_length=NAME_LENGTH,
        description="A built-in dataset: " + ", ".join(DATASETS),
        json_schema_extra={"enum": list(DATASETS)},
    ),
]
Seed = Annotated[int, Field(ge=0, le=MAX_INT, description="Seed of the random draws.")]
LearningRate = Annotated[float, Field(gt=0, description="α in W ← W − α·∂L/∂W.")]
BatchSize = Annotated[
    int | None,
    Field(ge=1, le=MAX_INT, description="Rows per batch step; null trains on the full batch."),
]
Momentum = Annotated[float, Field(ge=0, lt=1, description="μ in v ← μv − α·∂L/∂W.")]
Penalty = Annotated[float, Field(ge=0)]
PenaltyRule = Annotated[
    Literal["gradient", "tfp"],
    Field(
        description="How L1/L2 join the update. gradient: W − α·(∂E/∂W + l2·W + l1·sign W). "
        "tfp: TF Playground's nn.ts, the data's step then the penalty's, W₁ = W − α·∂E/∂W, "
        "W₂ = W₁ − α·l2·W − α·l1·sign(W); where L1 takes W₂ across 0 from W₁ the weight is "
        "set to 0 and dies: frozen (`dead`) until the weights are rebuilt (reset) or the "
        "rule becomes gradient again."
    ),
]


# ----- creating a session -------------------------------------------------------------------


class LayerSpec(RequestBody):
    """One dense layer: its units, and the activation after it."""

    units: int = Field(ge=1, le=MAX_INT, description="Neurons in this layer.")
    activation: ActivationName = "tanh"


class ModelSpec(RequestBody):
    """The network and how it trains. With a preset, only the fields given override it."""

    input_size: int | None = Field(
        None,
        ge=1,
        le=MAX_INT,
        description="Inputs per sample; absent or null: the data's feature count.",
    )
    layers: list[LayerSpec] = Field(
        default_factory=list,
        description="The dense layers after the inputs, the last one the output layer.",
    )
    loss: LossName = ENGINE_DEFAULTS["loss"]
    learning_rate: LearningRate = ENGINE_DEFAULTS["learning_rate"]
    batch_size: BatchSize = ENGINE_DEFAULTS["batch_size"]
    momentum: Momentum = ENGINE_DEFAULTS["momentum"]
    l1: Penalty = Field(ENGINE_DEFAULTS["l1"], description="L1 penalty l1·Σ|W|.")
    l2: Penalty = Field(ENGINE_DEFAULTS["l2"], description="L2 penalty (l2/2)·ΣW².")
    penalty_rule: PenaltyRule = ENGINE_DEFAULTS["penalty_rule"]
    initializer: InitializerName = ENGINE_DEFAULTS["initializer"]
    seed: Seed = ENGINE_DEFAULTS["seed"]
    use_bias: bool = Field(ENGINE_DEFAULTS["use_bias"], description="Give each layer biases b.")
    dtype: Literal["float64", "float32"] = ENGINE_DEFAULTS["dtype"]
    shuffle: bool = Field(ENGINE_DEFAULTS["shuffle"], description="Reshuffle rows every epoch.")

    @field_validator("layers")
    @classmethod
    def at_least_one_layer(cls, layers: list[LayerSpec]) -> list[LayerSpec]:
        if not layers:
            raise ValueError("a network needs at least one layer")
        return layers


class BuiltinData(RequestBody):
    """A built-in dataset, generated reproducibly from its seed."""

    dataset: DatasetName = "circle"
    n_samples: int | None = Field(
        None,
        ge=MIN_SAMPLES,
        le=MAX_SAMPLES,
        description="Points to generate (generated datasets); null: the dataset's default.",
    )
    noise: float = Field(0.0, ge=0, le=1, description="TF Playground's noise slider / 100.")
    train_ratio: float = Field(0.5, gt=0, le=1, description="Share of rows used for training.")
    seed: Seed = 0
    labels: Literal["01", "pm1"] = Field(
        "01", description="Binary targets as 0/1, or −1/+1 (TF Playground's, for tanh)."
    )
    features: list[Annotated[str, Field(max_length=NAME_LENGTH)]] | None = Field(
        None,
        max_length=len(FEATURES),
        description="2-D datasets: TF Playground's inputs, any of "
        + ", ".join(FEATURES)
        + "; null: x1 and x2.",
        examples=[["x1", "x2", "x1_squared"]],
    )


class UploadData(RequestBody):
    """A dataset uploaded with POST /api/datasets, split into train and test rows."""

    upload: str = Field(
        min_length=1, max_length=NAME_LENGTH, description="The id POST /api/datasets returned."
    )
    train_ratio: float = Field(0.8, gt=0, le=1, description="Share of rows used for training.")
    seed: Seed = Field(0, description="Seed of the train/test split.")
    standardize: bool = Field(
        True,
        description="Scale each feature by the train split's mean and std (shown in the "
        "dataset's `scaling`); false keeps the numbers as uploaded.",
    )
    labels: Literal["01", "pm1"] = Field(
        "01",
        description="Binary targets as 0/1, or −1/+1 (the file's −1/+1 kept: for a tanh "
        "output with the square loss). The lower class is 0 or −1.",
    )
    shuffle: bool = Field(
        True,
        description="Shuffle the rows (by seed) before the train/test split; false keeps the "
        "file's order, the first rows training. With train_ratio 1 the order is always kept.",
    )


def _data_kind(value: Any) -> str:
    if isinstance(value, dict):
        return "upload" if "upload" in value else "builtin"
    return "upload" if isinstance(value, UploadData) else "builtin"


DataSpec = Annotated[
    Annotated[BuiltinData, Tag("builtin")] | Annotated[UploadData, Tag("upload")],
    Discriminator(_data_kind),
]


class SessionCreate(RequestBody):
    """A preset by name, a full config, or a preset with some fields overridden."""

    preset: str | None = Field(
        None, max_length=NAME_LENGTH, description="A preset id from GET /api/presets."
    )
    model: ModelSpec | None = Field(None, description="Required without a preset.")
    data: DataSpec | None = Field(None, description="Required without a preset.")


CREATE_EXAMPLES: dict[str, Any] = {
    "preset": {
        "summary": "A preset: lesson 003's XOR",
        "value": {"preset": "lesson-003-xor"},
    },
    "preset_overridden": {
        "summary": "A preset with overrides: the spiral with a bigger network and noise",
        "value": {
            "preset": "spiral",
            "model": {
                "layers": [
                    {"units": 8, "activation": "tanh"},
                    {"units": 8, "activation": "tanh"},
                    {"units": 1, "activation": "tanh"},
                ]
            },
            "data": {"noise": 0.1},
        },
    },
    "full": {
        "summary": "A full config: moons, relu, cross-entropy, momentum",
        "value": {
            "model": {
                "layers": [
                    {"units": 8, "activation": "relu"},
                    {"units": 1, "activation": "sigmoid"},
                ],
                "loss": "binary_cross_entropy",
                "learning_rate": 0.1,
                "batch_size": 16,
                "momentum": 0.9,
                "l2": 0.001,
                "initializer": "he",
                "seed": 7,
            },
            "data": {
                "dataset": "moons",
                "n_samples": 300,
                "noise": 0.2,
                "train_ratio": 0.7,
                "seed": 3,
                "labels": "01",
            },
        },
    },
}


# ----- driving a session --------------------------------------------------------------------


class StepRequest(RequestBody):
    """Run ``count`` units: phases of a batch step, whole batch steps, or whole epochs."""

    unit: Unit = Field("batch", description="phase, batch or epoch.")
    count: int = Field(1, ge=1, description="How many units (at most max_units_per_step).")


STEP_EXAMPLES: dict[str, Any] = {
    "batch": {"summary": "One batch step (SGD step)", "value": {"unit": "batch", "count": 1}},
    "phases": {
        "summary": "The next three phases (forward, loss, backward …)",
        "value": {"unit": "phase", "count": 3},
    },
    "epochs": {"summary": "A hundred epochs", "value": {"unit": "epoch", "count": 100}},
}


class SessionUpdate(RequestBody):
    """Hyperparameters to change between steps; the weights stay. Give at least one."""

    learning_rate: LearningRate | None = None
    batch_size: BatchSize = None
    momentum: Momentum | None = None
    l1: Penalty | None = None
    l2: Penalty | None = None
    penalty_rule: PenaltyRule | None = None
    shuffle: bool | None = None
    loss: LossName | None = None
    activations: list[ActivationName] | dict[str, ActivationName] | None = Field(
        None,
        description="Per layer: a list with one name per layer, or {layer index: name}.",
    )

    @field_validator(
        "learning_rate",
        "momentum",
        "l1",
        "l2",
        "penalty_rule",
        "shuffle",
        "loss",
        "activations",
        mode="before",
    )
    @classmethod
    def not_null(cls, value: Any) -> Any:
        # Only batch_size has a meaning for null (full batch); for the others it is a mistake.
        if value is None:
            raise ValueError("must not be null; leave the field out to keep its value")
        return value


UPDATE_EXAMPLES: dict[str, Any] = {
    "learning_rate": {"summary": "A smaller learning rate", "value": {"learning_rate": 0.01}},
    "full_batch": {
        "summary": "Full batch with momentum",
        "value": {"batch_size": None, "momentum": 0.9},
    },
    "activation": {
        "summary": "Layer 0 becomes relu",
        "value": {"activations": {"0": "relu"}},
    },
}


class ResetRequest(RequestBody):
    """Fresh weights from the config; a new ``seed`` draws different ones."""

    seed: Seed | None = None


RESET_EXAMPLES: dict[str, Any] = {
    "same": {"summary": "The same initial weights again", "value": {}},
    "new_seed": {"summary": "Different initial weights", "value": {"seed": 42}},
}


class PredictRequest(RequestBody):
    """Rows of inputs, each with the network's input_size values."""

    inputs: list[list[float]] = Field(min_length=1, description="Rows (n, input_size).")


PREDICT_EXAMPLES: dict[str, Any] = {
    "xor": {
        "summary": "The four XOR inputs",
        "value": {"inputs": [[0, 0], [0, 1], [1, 0], [1, 1]]},
    }
}


# ----- a session's state --------------------------------------------------------------------


class PhasePublic(ResponseBody):
    """One phase of a batch step; ``layer`` is 0-based, null for loss and update."""

    kind: Literal["forward", "loss", "backward", "update"]
    layer: int | None


class LayerState(ResponseBody):
    """One dense layer: parameters always; the current batch's trace once computed.

    Shapes, n the rows of the batch (at most the state's trace_rows): W (inputs, units);
    b (units); input (n, inputs);
    z, a, upstream, delta (n, units); dW (inputs, units); db (units).
    """

    index: int = Field(description="0-based; layer 0 follows the inputs.")
    activation: str
    units: int
    inputs: int
    W: list[list[float]] = Field(description="Weights, rows × columns = inputs × units.")
    b: list[float] | None = Field(description="Biases (null when the network has none).")
    dead: list[list[bool]] | None = Field(
        None,
        description="W's shape: true where the tfp penalty rule froze the weight (L1 took it "
        "across 0: it is 0, or the value set by hand since, and no update moves it); null "
        "when none is. dW still shows its gradient; the update skips it.",
    )
    input: Matrix | None = Field(None, description="x: this layer's input rows.")
    z: Matrix | None = Field(None, description="z = x·W + b.")
    a: Matrix | None = Field(None, description="a = f(z), the layer's output.")
    upstream: Matrix | None = Field(
        None,
        description="∂L/∂a, handed back from above. Sign: a gradient; lesson 000's "
        "“layer1 error” is its negative (−upstream of layer 0, with the sse loss). On a "
        "cross-entropy's output, ∂L/∂ŷ is taken from z, exact at any margin; null where it "
        "passes the dtype's range (see upstream_overflow).",
    )
    upstream_overflow: str | None = Field(
        None,
        description="Present when some upstream entries are null because ∂L/∂ŷ is too large "
        "for the dtype (1/p past ~1.8e308 in float64): says why. δ, dW and the loss are exact.",
    )
    delta: Matrix | None = Field(
        None,
        description="δ = ∂L/∂z = ∂L/∂a ⊙ f'(z); on the output of a cross-entropy, (p − y)/n "
        "from the loss (fused). Sign: lesson 000's “delta output sum” is −δ of the output "
        "layer (with the sse loss).",
    )
    dW: Matrix | None = Field(
        None,
        description="∂L/∂W = xᵀ·δ (+ the penalty's gradient); the update is W − α·dW (with "
        "penalty_rule tfp: two steps, and dead weights stay, see penalty_rule). Sign: "
        "lesson 000's weight adjustment, which it adds, is −dW (with the sse loss).",
    )
    db: Vector | None = Field(None, description="∂L/∂b = Σ_rows δ.")
    W_used: Matrix | None = Field(
        None, description="The weights dW belongs to (before this batch's update)."
    )


class HistoryPoint(ExportBody):
    """Loss and accuracy of the weights after ``step`` batch steps (one point per epoch)."""

    step: int = Field(ge=0, le=MAX_INT)
    epoch: int = Field(ge=0, le=MAX_INT)
    train_loss: Number = Field(None, description="Data loss: the L1/L2 penalty is not in it.")
    test_loss: Number = Field(None, description="Data loss: the L1/L2 penalty is not in it.")
    train_accuracy: Number = Field(None, description="null for regression.")
    test_accuracy: Number = None


class ModelConfigPublic(ExportBody):
    """Every field of the model's config as the engine holds it."""

    input_size: int = Field(ge=1, le=MAX_INT)
    layers: list[LayerSpec] = Field(min_length=1)
    loss: str
    learning_rate: float
    batch_size: BatchSize
    momentum: float
    l1: float
    l2: float
    penalty_rule: PenaltyRule
    initializer: str
    seed: int = Field(ge=0, le=MAX_INT)
    use_bias: bool
    dtype: Literal["float64", "float32"]
    shuffle: bool


class SessionConfig(ExportBody):
    """What the session was built from, and what reset rebuilds."""

    preset: str | None
    model: ModelConfigPublic
    data: dict[str, Any] = Field(description="The data spec, as in SessionCreate.data.")


class SessionState(ResponseBody):
    """Everything about a session now: counters, metrics, config, layers, history."""

    id: str
    version: int = Field(description="Grows by one with every change.")
    step: int = Field(description="Batch steps completed.")
    epoch: int = Field(description="Epochs completed.")
    phase: PhasePublic = Field(description="The next phase to run.")
    in_batch: bool = Field(description="True while a batch is part-way through its phases.")
    position: int = Field(description="Rows of the current epoch already trained on.")
    batch_size: int = Field(description="Effective rows per batch step.")
    n_train: int
    n_test: int
    loss: Number = Field(
        description="Train data loss of the current weights (also at step 0); the L1/L2 "
        "penalty that dW includes is not in it."
    )
    test_loss: Number = Field(description="Test data loss (no penalty); null without test rows.")
    accuracy: Number = Field(description="Train accuracy; null for regression.")
    test_accuracy: Number
    batch_loss: Number = Field(description="Data loss (no penalty) of the last (or open) batch.")
    diverged: str | None = Field(description="Why training stopped, if the loss blew up.")
    playing: bool = Field(description="Whether the live stream is training it.")
    task: Task
    config: SessionConfig
    phases: list[PhasePublic] = Field(description="One batch step's phases, in order.")
    batch_indices: list[int] = Field(description="Rows of the open batch (empty between).")
    batch_rows: int = Field(description="Rows in the traced batch.")
    trace_rows: int = Field(
        description="Rows of the batch that the per-row trace fields (input, z, a, upstream, "
        "delta) carry: the first ones, at most PLAYGROUND_MAX_TRACE_ROWS."
    )
    layers: list[LayerState]
    history: list[HistoryPoint]


class SessionCreated(ResponseBody):
    """A new session: its id, its two tokens and its first state."""

    id: str = Field(description="Unguessable (256 random bits).")
    token: str = Field(description="The control token: reads and changes.")
    watch_token: str = Field(description="The watch token: reads only.")
    state: SessionState


class StepUnitResult(ResponseBody):
    """One unit run: the phase (for phase steps), the loss after it, divergence."""

    phase: PhasePublic | None = None
    loss: Number = Field(
        None,
        description="phase: the batch loss (loss and update phases only); batch: that "
        "batch's loss; epoch: the train loss after the epoch.",
    )
    epoch: int | None = None
    diverged: str | None = None


class StepResult(ResponseBody):
    """What a step call did, and the state after it (with the last batch's trace)."""

    unit: Unit
    requested: int
    done: int = Field(description="Units run; fewer than requested when stopped early.")
    stopped: str | None = Field(
        description="'time budget', 'diverged' or 'server stopping' when it stopped early."
    )
    diverged: str | None
    losses: list[Number] = Field(description="The loss after each unit run.")
    units: list[StepUnitResult]
    state: SessionState


class PredictResult(ResponseBody):
    """The network's outputs ŷ for the given rows (n, outputs)."""

    outputs: Matrix


class Boundary(ResponseBody):
    """ŷ over a resolution × resolution grid of the data's plane; z[row][column] is at
    (x[column], y[row]). The grid spans the points' extent plus a margin on each side (the
    page's ``data-grid-margin``); each point is mapped through the session's input features
    before the network sees it.

    For multiclass networks z is the predicted class index.
    """

    resolution: int
    axes: list[str] = Field(
        min_length=2,
        max_length=2,
        description="What x and y are: the plane's coordinates, e.g. ['x1', 'x2'] (an "
        "upload's two columns otherwise) — never the input features.",
        examples=[["x1", "x2"]],
    )
    inputs: list[str] = Field(
        description="The network's inputs each grid point (x, y) was mapped to before "
        "predicting, e.g. ['x1²', 'x2²']; equal to axes when the inputs are the plane.",
        examples=[["x1²", "x2²"]],
    )
    x: list[float]
    y: list[float]
    z: Matrix


class GradcheckLayer(ResponseBody):
    """One layer's analytic ∂L/∂W, ∂L/∂b against central differences."""

    layer: int
    relative_error_W: Number = Field(description="null when none of its weights was checked.")
    relative_error_b: Number = Field(
        description="null when the network has no biases (or none was checked)."
    )
    max_abs_error: Number
    checked: int = Field(description="Parameters perturbed (sampled in large layers).")
    planned: int = Field(description="Parameters to perturb; more than checked if it stopped.")
    passed: bool | None = Field(
        description="Both relative errors below the tolerance; null when nothing was checked."
    )


class GradcheckResult(ResponseBody):
    """Backprop checked on the last traced batch, at the weights its gradients belong to:
    the dW the state shows (float32 stays float32) against float64 central differences."""

    step: int
    batch_rows: int
    tolerance: float = Field(
        description="Relative error a layer passes below, fit for the session's dtype: "
        "1e-5 for float64, 1e-3 for float32 (whose dW carries float32 rounding)."
    )
    passed: bool | None = Field(
        description="Every layer passed; false if one failed; null if one was not checked."
    )
    complete: bool = Field(
        description="Every planned parameter was checked. False when the time budget "
        "(max_gradcheck_seconds) ran out: each layer was then checked on the same share of "
        "its parameters, and ``note`` says how many."
    )
    checked: int
    planned: int
    note: str | None = Field(None, description="Why the check stopped early, when it did.")
    layers: list[GradcheckLayer]


class ChainResult(ResponseBody):
    """∂L/∂W[layer][i, j] (or ∂L/∂b[layer][j]) as its chain-rule factors, per batch row."""

    layer: int
    i: int | None = Field(description="Input index; null for the bias.")
    j: int = Field(description="Unit index.")
    parameter: str = Field(description="Which parameter, e.g. W[0][1, 2] or b[1][0].")
    value: float = Field(description="Its value (the weight the gradient belongs to).")
    activation: str
    formula: str = Field(description="The chain rule being evaluated, as the lesson writes it.")
    upstream: Vector = Field(
        description="∂L/∂a_sj per row s; ∂L/∂z_sj itself on a softmax or fused layer. Sign: "
        "as gradient descent subtracts it; lesson 000's errors carry the opposite sign."
    )
    local: Vector = Field(description="f'(z_sj) per row s (1 on a softmax or fused layer).")
    input: Vector = Field(description="x_si per row s (1 for a bias).")
    products: Vector = Field(description="upstream · local · input per row.")
    penalty: Number = Field(description="The regularisation's share of the gradient.")
    gradient: Number = Field(
        description="Σ products + penalty: equal to ``reported`` to rounding (the matrix "
        "product sums the rows in its own order)."
    )
    reported: Number = Field(description="The gradient backprop computed (dW or db).")
    numeric: Number = Field(description="Central difference (L(p+h) − L(p−h)) / 2h.")
    relative_error: Number = Field(description="|reported − numeric| / (|reported| + |numeric|).")
    note: str
    fused: bool = Field(
        description="The loss and this output layer's activation are fused (a cross-entropy "
        "on its sigmoid / softmax): ∂L/∂z = (p − y)/n comes from the loss in one step, exact "
        "at any margin, and is shown as upstream with local 1."
    )
    separate: Vector | None = Field(
        description="On a fused layer, ∂L/∂z per row taken apart: ∂L/∂ŷ (exact, from z) "
        "pushed through the activation's own derivative. Equal to upstream to rounding, "
        "except where ∂L/∂ŷ passes the dtype's range (then null: why the layer is fused); "
        "null on other layers."
    )
    equal_to_rounding: bool = Field(
        description="gradient and reported differ by no more than the rounding of summing "
        "the products (2·(n + 1)·ε·Σ|products|, ε of the session's dtype)."
    )
    tolerance: float = Field(
        description="Relative error the numeric check passes below, fit for the dtype."
    )


class FeatureScaling(ExportBody):
    """The train split's per-column mean and std the features were standardized with."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    mean: list[float]
    std: list[float]


class PlanePoints(ExportBody):
    """The rows' points (x1, x2) on the plane, when the inputs are features of them."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    x_train: list[list[float]]
    x_test: list[list[float]]


class DatasetPublic(ExportBody):
    """A session's rows: x (n, features), y (n, outputs; one-hot for multiclass)."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    name: str
    task: Task
    feature_names: list[str]
    class_names: list[str] | None
    scaling: FeatureScaling | None = Field(
        None, description="Uploaded features standardized: x = (raw − mean) / std per column."
    )
    scale_ratio: float = Field(
        1.0, description="Largest / smallest spread of the raw feature columns (train split)."
    )
    plane: PlanePoints | None = Field(
        None, description="With input features other than x1, x2: the points on the plane."
    )
    image_shape: list[int] | None = Field(
        None,
        min_length=2,
        max_length=2,
        description="Inputs that are an image's pixels, row after row: [rows, columns] "
        "(the digits: [8, 8]); null when they are not.",
    )
    x_train: list[list[float]]
    y_train: list[list[float]]
    x_test: list[list[float]]
    y_test: list[list[float]]


# ----- export and import --------------------------------------------------------------------


class ExportedLayer(ExportBody):
    """A layer's parameters and momentum velocities; b and velocities are (1, units) rows."""

    model_config = ConfigDict(strict=True, allow_inf_nan=False)

    W: list[list[float]]
    b: list[list[float]] | None
    velocity_W: list[list[float]] | None = None
    velocity_b: list[list[float]] | None = None
    dead: list[list[bool]] | None = Field(None, description="The tfp rule's frozen weights.")


class ExportedModel(ExportBody):
    """Everything training depends on: parameters, RNG, counters, the epoch's row order."""

    layers: list[ExportedLayer] = Field(min_length=1)
    rng: dict[str, Any] = Field(description="NumPy PCG64 state; integers as strings.")
    step: int = Field(ge=0, le=MAX_INT)
    epoch: int = Field(ge=0, le=MAX_INT)
    cursor: int = Field(ge=0, le=MAX_INT, description="Phases of the open batch already run.")
    position: int = Field(ge=0, le=MAX_INT)
    order: list[int] = Field(description="This epoch's row order (empty before it is drawn).")
    order_drawn: bool


class SessionExport(ExportBody):
    """A whole session as JSON: floats round-trip bit-exactly, so training continues exactly.

    POST /api/sessions/import takes this back (the ``id`` is ignored: an import is a new
    session with its own id and tokens).
    """

    format: str = Field(description="Always 'backprop-playground-session'.")
    version: int
    id: str
    config: SessionConfig
    data: DatasetPublic
    model: ExportedModel
    history: list[HistoryPoint] = Field(max_length=MAX_HISTORY)
    playing: bool = False


# ----- presets, datasets, health ------------------------------------------------------------


class PresetPublic(ResponseBody):
    """A named starting point; POST /api/sessions with {"preset": id} builds it."""

    id: str
    description: str
    task: Task
    model: ModelConfigPublic
    data: dict[str, Any] = Field(description="Its data spec, as in SessionCreate.data.")


class BuiltinDatasetPublic(ResponseBody):
    """A built-in dataset a session can use (``data.dataset``)."""

    name: str
    description: str
    task: Task
    n_features: int
    default_samples: int
    generated: bool = Field(description="True: honours n_samples and noise.")
    fixed_split: bool = Field(description="True: every row trains; train_ratio does not apply.")


class UploadedDatasetSummary(ResponseBody):
    """An uploaded dataset a session can use (``data.upload``)."""

    id: str
    name: str
    created: float = Field(description="Unix time of the upload.")


class DatasetList(ResponseBody):
    """Every dataset a session can train on."""

    builtin: list[BuiltinDatasetPublic]
    uploaded: list[UploadedDatasetSummary]


class DatasetUploaded(ResponseBody):
    """A stored upload: use its ``id`` as ``data.upload`` when creating a session, with its
    ``token`` as ``Authorization: Bearer <token>``."""

    id: str
    token: str = Field(
        description="The upload token: it owns this upload (and the earlier ones it was sent "
        "with); only it lists, uses or deletes them."
    )
    name: str
    task: Task
    rows: int
    feature_names: list[str]
    target: str
    class_names: list[str] | None = Field(
        description="Class i's label as it was written in the CSV (classification)."
    )


class Health(ResponseBody):
    """The server is up and its store answers; degraded: some stored sessions are set aside."""

    status: Literal["ok", "degraded"]
    damaged_sessions: list[str] = Field(
        description="Sessions whose stored rows could not be read, set aside; each can be "
        "deleted with its control token (DELETE /api/sessions/{id})."
    )
    sessions_loaded: int = Field(description="Sessions in memory.")
    sessions_stored: int = Field(description="Sessions in the store (the live count).")
    max_sessions: int
    costly_calls: int = Field(description="Costly reads (gradient checks) running or waiting.")


class ValidationProblem(ResponseBody):
    """One schema problem: ``loc`` is the path to the field, e.g. ["body", "model", "loss"]."""

    loc: list[str | int]
    msg: str
    type: str


class ErrorMessage(ResponseBody):
    """An error: a message naming the problem and the ``field`` at fault, or for schema
    validation one entry per problem."""

    detail: str | list[ValidationProblem]
    field: str | None = None
    retry_after: int | None = Field(
        None, description="A 429: the seconds to wait before trying again (as Retry-After)."
    )
