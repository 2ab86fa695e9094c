"""The lessons' walk-throughs, computed from the live trace under the lessons' own names.

Each guide is a list of steps in the lesson's order. A step names the quantity as the
lesson does, gives its formula, says which phase of the batch must have run for it to
exist (``phase_index``, an index into the model's phases), where it lives in the diagram,
and — once that phase has run — its current values.

Lesson 000 writes its steps as *adjustments* that carry the sign of (y − ŷ): each is the
negative of the gradient the model traces (e.g. delta output sum = −∂E/∂z of the output),
and the weight adjustment is −α·∂E/∂W (α = 1 in the lesson).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from app.engine import ConfigError, LayerTrace, Model, ModelConfig
from app.engine.dense import fc_input_error

Values = Callable[[Model, int], dict[str, Any]]  # (model, rows) → name → values


@dataclass(frozen=True)
class NetworkNeeds:
    """The network a lesson's guide needs: one (units, activation) per layer (units None: any
    number), the loss, biases or not; ``words`` says it to a person."""

    layers: tuple[tuple[int | None, str], ...]
    loss: str
    use_bias: bool
    words: str

    def fits(self, config: ModelConfig) -> bool:
        shape = [(spec.units, spec.activation) for spec in config.layers]
        return (
            len(shape) == len(self.layers)
            and all(
                activation == wanted and units in (None, size)
                for (size, activation), (units, wanted) in zip(shape, self.layers, strict=True)
            )
            and (config.loss, config.use_bias) == (self.loss, self.use_bias)
        )


@dataclass(frozen=True)
class Lesson:
    """A lesson the guide walks: its name in the page's picker, the preset that builds its
    network and data, the introduction the page shows first, and the network it needs (None:
    any)."""

    title: str
    preset: str
    load: str  # the page's button that loads the preset
    introduction: str
    network: NetworkNeeds | None = None

    @property
    def needs(self) -> str:
        return "any network" if self.network is None else self.network.words

    def refusal(self, name: str) -> str | None:
        """Why the guide of lesson ``name`` refuses a network that does not fit (None: any
        network fits)."""
        return None if self.network is None else f"the {name} guide needs {self.network.words}"


LessonName = Literal["lesson-000", "lesson-003"]
DEFAULT_LESSON: LessonName = "lesson-003"
# The page offers these (app/api/pages.py sends the table), GET …/lesson walks them.
LESSONS: dict[LessonName, Lesson] = {
    "lesson-000": Lesson(
        "lesson 000 · backprop by hand",
        "lesson-000",
        "Load lesson 000",
        "Lesson 000 trains a two-layer sigmoid network by hand: feedforward, then backprop's "
        "named steps — output error, delta output sum, layer1 error, layer1 delta — and the "
        "weight adjustments, which already carry the sign of (y − ŷ) and are added to the "
        "weights.",
        NetworkNeeds(
            ((None, "sigmoid"), (1, "sigmoid")),
            "sse",
            False,
            "lesson 000's network: a sigmoid hidden layer, one sigmoid output, SSE loss, no biases",
        ),
    ),
    "lesson-003": Lesson(
        "lesson 003 · FCLayer, ActivationLayer",
        "lesson-003-xor",
        "Load lesson 003's XOR",
        "Lesson 003 builds the network from layers: each FCLayer (Y = X·W + B) and "
        "ActivationLayer (Y = f(X)) runs forward_propagation, the MSE measures the error, "
        "backward_propagation runs through the layers in reverse order, and gradient descent "
        "updates W and B.",
    ),
}


@dataclass(frozen=True)
class GuideStep:
    """One step of a walk-through: what it is called, its formula, when and where it is."""

    id: str
    title: str
    formula: str
    explanation: str
    phase_index: int  # this phase must have run in the current batch
    layer: int | None  # the layer to highlight, None for the loss
    part: str  # "forward", "loss", "backward" or "update": how to highlight it
    values: Values


def phases_run(model: Model) -> int:
    """How many of the current batch's phases have run (all of them right after an update)."""
    if model.in_batch:
        return model.cursor
    return len(model.phases) if model.traces[0].dW is not None else 0


def _trace(model: Model, k: int) -> LayerTrace:
    return model.traces[k]


def _rows(value: Any, n: int | None = None) -> Any:
    """As lists; per-row (batch) arrays pass ``n`` to keep their first n rows only."""
    return None if value is None else np.asarray(value)[:n].tolist()


def _neg(value: Any, n: int) -> Any:
    return None if value is None else (-np.asarray(value)[:n]).tolist()


def _batch_targets(model: Model) -> np.ndarray:
    assert model.batch_y is not None
    return model.batch_y


def _adjustment(model: Model, k: int) -> Any:
    trace = _trace(model, k)
    return None if trace.dW is None else (-model.config.learning_rate * trace.dW).tolist()


# ----- lesson 000 ------------------------------------------------------------------------------


def _lesson000_steps() -> list[GuideStep]:
    return [
        GuideStep(
            "layer1",
            "layer1 (feedforward)",
            "layer1 = σ(input · weights1)",
            "The hidden layer: each of the 4 units sums its weighted inputs and squashes the "
            "sum with the sigmoid.",
            0,
            0,
            "forward",
            lambda m, n: {
                "input": _rows(_trace(m, 0).input, n),
                "layer1": _rows(_trace(m, 0).output, n),
            },
        ),
        GuideStep(
            "output",
            "output ŷ (feedforward)",
            "ŷ = σ(layer1 · weights2)",
            "The prediction: the output unit does the same with the hidden layer's values.",
            1,
            1,
            "forward",
            lambda m, n: {"output": _rows(_trace(m, 1).output, n)},
        ),
        GuideStep(
            "loss",
            "loss (sum of squared errors)",
            "Loss(y, ŷ) = Σ (y − ŷ)²",
            "How far the network is from the targets: the quantity backprop makes smaller.",
            2,
            None,
            "loss",
            lambda m, n: {"y": _rows(_batch_targets(m), n), "loss": m.loss},
        ),
        GuideStep(
            "output_error",
            "output error",
            "output error = y − ŷ",
            "The error of the output layer: the difference between the targets and the prediction.",
            2,
            1,
            "backward",
            lambda m, n: {"output_error": _rows(_batch_targets(m) - _trace(m, 1).output, n)},
        ),
        GuideStep(
            "delta_output_sum",
            "delta output sum",
            "delta output sum = 2(y − ŷ) · ŷ(1 − ŷ)",
            "The output error times the sigmoid's derivative, written on the activated value "
            "ŷ as ŷ(1 − ŷ); the 2 comes from the square. It is −∂Loss/∂z of the output.",
            3,
            1,
            "backward",
            lambda m, n: {"delta_output_sum": _neg(_trace(m, 1).delta, n)},
        ),
        GuideStep(
            "layer1_error",
            "layer1 error",
            "layer1 error = delta output sum · weights2ᵀ",
            "How much each hidden unit contributed to the output's error: the delta output "
            "sum sent back through the second weight matrix.",
            3,
            0,
            "backward",
            lambda m, n: {"layer1_error": _neg(_trace(m, 0).output_error, n)},
        ),
        GuideStep(
            "layer1_delta",
            "layer1 delta",
            "layer1 delta = layer1 error · layer1(1 − layer1)",
            "The hidden layer's error times its sigmoid derivative: −∂Loss/∂z of layer1.",
            4,
            0,
            "backward",
            lambda m, n: {"layer1_delta": _neg(_trace(m, 0).delta, n)},
        ),
        GuideStep(
            "weight_adjustments",
            "weight adjustments",
            "weights1 += inputᵀ · layer1 delta;  weights2 += layer1ᵀ · delta output sum",
            "Each matrix moves by its adjustment, −α·∂Loss/∂W (α = 1 in the lesson). The "
            "adjustment already carries the sign of y − ŷ, so it is added.",
            5,
            0,
            "update",
            lambda m, n: {
                "weights1_adjustment": _adjustment(m, 0),
                "weights2_adjustment": _adjustment(m, 1),
                "learning_rate": m.config.learning_rate,
                "weights1": _rows(m.layers[0].W),
                "weights2": _rows(m.layers[1].W),
            },
        ),
    ]


def _check_network(model: Model, name: LessonName) -> None:
    lesson = LESSONS[name]
    refusal = lesson.refusal(name)
    if lesson.network is not None and not lesson.network.fits(model.config):
        raise ConfigError("lesson", f"{refusal} (create the session from preset {lesson.preset})")


# ----- lesson 003 ------------------------------------------------------------------------------


PER_PARAMETER = {"dW", "db"}  # trace fields shaped like the parameters, not batch rows


def _fields(**named: tuple[str, int]) -> Values:
    """Values read straight off the trace: name → (LayerTrace field, layer index)."""

    def values(model: Model, rows: int) -> dict[str, Any]:
        return {
            name: _rows(getattr(_trace(model, k), attr), None if attr in PER_PARAMETER else rows)
            for name, (attr, k) in named.items()
        }

    return values


def _input_error(model: Model, k: int, rows: int) -> Any:
    """FCLayer k's ∂E/∂X = ∂E/∂Y · Wᵀ, (rows, n_in), with the W the batch used (before the
    update): the output error the model handed layer k − 1, or — for layer 0, whose ∂E/∂X
    (the gradient with respect to the data) the model never needs — worked out here as the
    lesson's FCLayer.backward_propagation returns it."""
    if k > 0:
        return _rows(_trace(model, k - 1).output_error, rows)
    trace = _trace(model, 0)
    if trace.delta is None or trace.W is None:
        return None
    return fc_input_error(trace.W, trace.delta[:rows]).tolist()


def _fc_backward(k: int) -> Values:
    gradients = _fields(dE_dW=("dW", k), dE_dB=("db", k))
    return lambda model, rows: {**gradients(model, rows), "dE_dX": _input_error(model, k, rows)}


def _lesson003_steps(model: Model) -> list[GuideStep]:
    n = len(model.layers)
    last = n - 1
    steps: list[GuideStep] = []
    for k in range(n):
        name = model.layers[k].activation.name
        steps.append(
            GuideStep(
                f"fc{k + 1}_forward",
                f"FCLayer {k + 1}: forward_propagation",
                "Y = X · W + B",
                f"The fully connected layer {k + 1} multiplies its input by W "
                f"({model.layers[k].W.shape[0]}×{model.layers[k].W.shape[1]}) and adds B.",
                k,
                k,
                "forward",
                _fields(X=("input", k), Y=("z", k)),
            )
        )
        steps.append(
            GuideStep(
                f"activation{k + 1}_forward",
                f"ActivationLayer {k + 1}: forward_propagation",
                f"Y = {name}(X)",
                "The activation layer applies its function to each value; it has no parameters.",
                k,
                k,
                "forward",
                _fields(X=("z", k), Y=("output", k)),
            )
        )
    loss = model.config.loss
    steps.append(
        GuideStep(
            "loss",
            f"loss ({loss}) and its derivative",
            "E = (1/n) Σ (y* − y)²;  ∂E/∂Y = (2/n)(Y − Y*)"
            if loss == "mse"
            else f"E = {loss}(y*, y);  ∂E/∂Y",
            "The error of the prediction, and the gradient that starts the backward pass: "
            "∇L(Y) for the last layer.",
            n,
            None,
            "loss",
            lambda m, rows: {
                "E": m.loss,
                "dE_dY": _rows(_trace(m, last).output_error, rows),
                "Y_true": _rows(_batch_targets(m), rows),
            },
        )
    )
    for j, k in enumerate(reversed(range(n))):
        phase = n + 1 + j
        fused = model.is_fused(k)
        steps.append(
            GuideStep(
                f"activation{k + 1}_backward",
                f"ActivationLayer {k + 1}: backward_propagation",
                "∂E/∂X = (p − y)/n  (fused with the loss; ∂E/∂Y ⊙ f'(X) to rounding)"
                if fused
                else "∂E/∂X = ∂E/∂Y ⊙ f'(X)",
                f"The {model.loss_fn.name} and this {model.layers[k].activation.name} are "
                "computed together: ∂E/∂X comes straight from the loss, exact even where "
                "f'(X) underflows."
                if fused
                else "The gradient passes through the activation, scaled by its derivative at "
                "the layer's input.",
                phase,
                k,
                "backward",
                _fields(dE_dY=("output_error", k), dE_dX=("delta", k)),
            )
        )
        steps.append(
            GuideStep(
                f"fc{k + 1}_backward",
                f"FCLayer {k + 1}: backward_propagation",
                "∂E/∂W = Xᵀ · ∂E/∂Y;  ∂E/∂B = ∂E/∂Y;  ∂E/∂X = ∂E/∂Y · Wᵀ",
                "The layer's gradients, and the error it hands to the layer before it "
                "(computed with W before the update, as the lesson does)."
                if k > 0
                else "The layer's gradients, and ∂E/∂X, the error with respect to the data "
                "itself: no layer before this one takes it, but backward_propagation returns "
                "it all the same (computed with W before the update, as the lesson does).",
                phase,
                k,
                "backward",
                _fc_backward(k),
            )
        )
    steps.append(
        GuideStep(
            "update",
            "gradient descent",
            "W ← W − α · ∂E/∂W;  B ← B − α · ∂E/∂B",
            "Every layer takes a step against its gradient; α is the learning rate.",
            2 * n + 1,
            0,
            "update",
            lambda m, n: {
                "learning_rate": m.config.learning_rate,
                "W": [_rows(layer.W) for layer in m.layers],
                "B": [_rows(layer.b) for layer in m.layers],
            },
        )
    )
    return steps


# ----- the guide -------------------------------------------------------------------------------


def lesson_guide(model: Model, lesson: str, max_rows: int = 100) -> dict[str, Any]:
    """The walk-through of ``lesson`` on ``model``'s current batch, values where available
    (per-row values: the batch's first ``max_rows`` rows)."""
    if lesson not in LESSONS:
        raise ConfigError(
            "lesson", f"unknown lesson {lesson!r}; choose one of: {', '.join(LESSONS)}"
        )
    _check_network(model, lesson)
    steps = _lesson000_steps() if lesson == "lesson-000" else _lesson003_steps(model)
    done = phases_run(model)
    current = None
    out = []
    for index, step in enumerate(steps):
        available = step.phase_index < done
        if available:
            current = index
        out.append(
            {
                "index": index,
                "id": step.id,
                "title": step.title,
                "formula": step.formula,
                "explanation": step.explanation,
                "phase_index": step.phase_index,
                "phase": model.phases[step.phase_index].as_dict(),
                "layer": step.layer,
                "part": step.part,
                "available": available,
                "values": step.values(model, max_rows) if available else None,
            }
        )
    return {
        "lesson": lesson,
        "phases_run": done,
        "n_phases": len(model.phases),
        "step": model.step,
        "epoch": model.epoch,
        "batch_indices": model.batch_indices.tolist() if done else [],
        "current": current,
        "steps": out,
    }
