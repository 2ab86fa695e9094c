"""The gradient coach: what is going wrong with training, in one sentence each.

Six checks, on the current weights and the training data (one forward pass over the
training rows; for a deep sigmoid network one backward pass too, the rows as one batch,
nothing changed) and on the loss history:

- **saturation** (vanishing gradients): a hidden sigmoid/tanh unit is saturated when
  |f′(z)| < 0.01 on at least 90 % of the training rows; a layer is flagged when half its
  units are. δ = ∂L/∂a ⊙ f′(z), so their weights barely move (σ′ = a(1 − a) is at most ¼).
- **dead ReLUs**: a relu unit whose output is 0 on every training row: f′(z) = 0 there, so
  δ = 0 and its weights never change again.
- **exploding / learning rate too high**: the run diverged, or the train loss grew to
  1.5× its lowest, or it zigzags (at least 5 of the last 7 changes flip direction, by more
  than 5 %).
- **saturated output** (δ vanishes at the output itself): a sigmoid/tanh output layer whose
  δ = ∂L/∂ŷ ⊙ f′(z) carries f′(z) (not fused with a cross-entropy, where δ = (p − y)/n), with
  |f′(z)| < 0.01 on at least half the rows and at least a tenth of the rows stuck at the wrong
  end (|ŷ − y| ≥ ½): the error is large there, δ is not, so those rows barely teach.
- **vanishing with depth** (no unit saturated): at least 3 sigmoid hidden layers, no
  saturation finding, and ‖∂L/∂W‖ of the first layer below 1/100 of the output layer's, on
  the training rows: each sigmoid layer multiplies δ by σ′(z) ≤ ¼ on the way down.
- **stuck at the majority class** (classification, after an epoch): at least 99 % of the
  training rows get the same predicted class and the accuracy is no better than that class's
  share.

Each finding names the layer and the units (or weights) at fault so the page can point at
them. No FastAPI import here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from app.engine.dense import fc_forward, fc_input_error, fc_weights_error
from app.engine.kernel import loss_and_gradients
from app.engine.model import Model

if TYPE_CHECKING:
    from .session import Session

FLAT_DERIVATIVE = 0.01  # |f′(z)| below this: the unit passes almost no gradient
SATURATED_ROWS = 0.9  # a unit is saturated on this share of the rows
SATURATED_UNITS = 0.5  # a layer is flagged when this share of its units is saturated
GROWTH = 1.5  # loss this many times its lowest: growing
ZIGZAG_FLIPS = 5  # of the last 7 loss changes, this many flip direction
ZIGZAG_SIZE = 0.05  # … each by more than this share of the loss
MAJORITY = 0.99  # this share of rows predicted as one class: stuck
SATURATING = ("sigmoid", "tanh")
# The output layer: "most rows" on the flat tails of f, and enough of them at the wrong end to
# matter. A well-fitted tanh or sigmoid output sits on its tails too, at the right end (a
# trained two-gaussians run: 77 % of the rows), so the share at the wrong end decides.
OUTPUT_SATURATED_ROWS = 0.5
# A saturated output is within a hair of one end of its range (1 apart for sigmoid's 0/1,
# 2 for tanh's ±1): this far from its target it is at the other end.
WRONG_END = 0.5
OUTPUT_STUCK_ROWS = 0.1  # a tenth of the rows at the wrong end: more than a few noisy points
# Vanishing with depth: ¼³ = 1/64 from σ′'s bound alone at 3 sigmoid layers, so depth, not
# saturation, can account for two orders of magnitude — the ratio flagged.
DEEP_SIGMOID_LAYERS = 3
VANISHING_RATIO = 1e-2  # ‖∂L/∂W‖ of the first layer / the output layer's, below this


@dataclass
class Finding:
    """One problem: a kind, a sentence, the lesson's formula, and where to look."""

    kind: str
    message: str
    formula: str
    layer: int | None = None
    units: list[int] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "message": self.message,
            "formula": self.formula,
            "layer": self.layer,
            "units": self.units,
            "values": self.values,
        }


def coach(session: Session) -> dict[str, Any]:
    """Every finding on the session now (call with the session held: ``Session.coach``)."""
    model = session.model
    x = session.dataset.x_train
    findings: list[Finding] = []
    a = np.asarray(x, dtype=model.dtype)
    inputs, zs, outputs = [], [], []  # per layer: x, z = x·W + b, a = f(z) on every row
    last = len(model.layers) - 1
    with np.errstate(all="ignore"):
        for k, layer in enumerate(model.layers):
            inputs.append(a)
            z = fc_forward(a, layer.W, layer.b)
            a = layer.activation.forward(z)
            zs.append(z)
            outputs.append(a)
            name = layer.activation.name
            if name in SATURATING and k < last:
                findings.extend(saturation(k, name, z, layer.activation.prime))
            if name == "relu":
                findings.extend(dead_units(k, a))
        y = np.asarray(session.dataset.y_train, dtype=model.dtype)
        findings.extend(output_saturation(model, zs[-1], outputs[-1], y))
        if not any(finding.kind == "saturation" for finding in findings):
            findings.extend(vanishing_with_depth(model, inputs, zs, outputs, y))
        y_pred = a
    findings.extend(loss_trend(session))
    findings.extend(majority_class(session, y_pred))
    return {
        "step": model.step,
        "epoch": model.epoch,
        "rows": len(x),
        "findings": [finding.as_dict() for finding in findings],
    }


def saturation(k: int, name: str, z: np.ndarray, prime: Any) -> list[Finding]:
    flat = np.abs(prime(z)) < FLAT_DERIVATIVE  # (rows, units)
    units = [int(j) for j in np.flatnonzero(flat.mean(axis=0) >= SATURATED_ROWS)]
    if len(units) < SATURATED_UNITS * z.shape[1]:
        return []
    bound = "σ′ = a(1 − a) ≤ ¼" if name == "sigmoid" else "tanh′ = 1 − a² ≤ 1"
    return [
        Finding(
            "saturation",
            f"Layer {k}: {len(units)} of {z.shape[1]} {name} units are saturated "
            f"(|f′(z)| < {FLAT_DERIVATIVE} on {SATURATED_ROWS:.0%} of the rows), so almost no "
            "gradient passes through them and the layers below stop learning — lower the "
            "learning rate or start again with smaller weights.",
            f"δ = ∂L/∂a ⊙ f′(z), and {bound}: where f′(z) ≈ 0, δ ≈ 0 and ∂L/∂W = xᵀ·δ ≈ 0",
            k,
            units,
            {"saturated_share": float(flat.mean())},
        )
    ]


def output_saturation(model: Model, z: np.ndarray, a: np.ndarray, y: np.ndarray) -> list[Finding]:
    """The output layer on its flat tails with rows at the wrong end: z, ŷ = a, y (n, k)."""
    k = len(model.layers) - 1
    activation = model.layers[k].activation
    if activation.name not in SATURATING or model.is_fused(k):
        return []  # a fused δ = (p − y)/n has no f′(z) in it to vanish
    prime = np.abs(activation.local_derivative(z, a))  # f′(z), as the backward pass takes it
    flat = prime < FLAT_DERIVATIVE  # (rows, outputs)
    stuck = flat & (np.abs(a - y) >= WRONG_END)
    saturated_share, stuck_share = float(flat.mean()), float(stuck.mean())
    if saturated_share < OUTPUT_SATURATED_ROWS or stuck_share < OUTPUT_STUCK_ROWS:
        return []
    largest = float(prime[stuck].max())
    units = [int(j) for j in np.flatnonzero(stuck.any(axis=0))]
    name = activation.name
    return [
        Finding(
            "output_saturation",
            f"The output layer (layer {k}) is saturated: its {name} has |f′(z)| < "
            f"{FLAT_DERIVATIVE} on {saturated_share:.0%} of the training rows, and "
            f"{stuck_share:.0%} of the rows sit at the wrong end (|ŷ − y| ≥ {WRONG_END}), "
            f"where δ = ∂L/∂ŷ · f′(z) is at most {largest:.2g} × ∂L/∂ŷ — the rows it gets "
            "most wrong barely move the weights, so learning stalls; lower the learning rate "
            "or start again with smaller weights (or, for classes, a sigmoid output with "
            "cross-entropy, whose δ = (p − y)/n has no f′(z)).",
            f"δ = ∂L/∂ŷ ⊙ f′(z) at the output: f′(z) ≈ 0 on the tails of {name}, so δ ≈ 0 "
            "however wrong ŷ is",
            k,
            units,
            {
                "saturated_share": saturated_share,
                "stuck_share": stuck_share,
                "largest_derivative": largest,
            },
        )
    ]


def vanishing_with_depth(
    model: Model,
    inputs: list[np.ndarray],
    zs: list[np.ndarray],
    outputs: list[np.ndarray],
    y: np.ndarray,
) -> list[Finding]:
    """A deep sigmoid network whose first layer's gradient is orders of magnitude below the
    output layer's: per layer x, z, a (n, units), targets y (n, k)."""
    hidden = model.layers[:-1]
    sigmoid_layers = [k for k, layer in enumerate(hidden) if layer.activation.name == "sigmoid"]
    if len(sigmoid_layers) < DEEP_SIGMOID_LAYERS:
        return []
    norms = data_gradient_norms(model, inputs, zs, outputs, y)
    first, output = norms[0], norms[-1]
    if not (np.isfinite(first) and np.isfinite(output)) or output == 0.0:
        return []
    ratio = first / output
    if ratio >= VANISHING_RATIO:
        return []
    # σ′(z) = a(1 − a), averaged over each sigmoid layer's rows and units
    mean_primes = [float(np.mean(outputs[k] * (1.0 - outputs[k]))) for k in sigmoid_layers]
    product = float(np.prod(mean_primes))
    last = len(model.layers) - 1
    return [
        Finding(
            "vanishing_gradient",
            f"The gradient vanishes with depth though no unit is saturated: ‖∂L/∂W‖ of layer "
            f"0 is {first:.2g}, {ratio:.2g} × the output layer's {output:.2g}, because each of "
            f"the {len(sigmoid_layers)} sigmoid layers multiplies δ by σ′(z) ≤ ¼ (mean σ′ "
            f"{', '.join(f'{value:.2f}' for value in mean_primes)}; product {product:.2g}) — "
            "the first layers barely learn; use tanh or relu in the hidden layers, or fewer "
            "layers.",
            "δₖ = (δₖ₊₁·Wₖ₊₁ᵀ) ⊙ σ′(zₖ) with σ′ = a(1 − a) ≤ ¼: each layer down shrinks δ, "
            "and ∂L/∂Wₖ = xₖᵀ·δₖ with it",
            0,
            values={
                "grad_norms": norms,
                "ratio": ratio,
                "mean_sigmoid_derivatives": mean_primes,
                "product": product,
                "layers": {"first": 0, "output": last},
            },
        )
    ]


def data_gradient_norms(
    model: Model,
    inputs: list[np.ndarray],
    zs: list[np.ndarray],
    outputs: list[np.ndarray],
    y: np.ndarray,
) -> list[float]:
    """‖∂L/∂W‖ (Frobenius, the data loss's: no penalty) of each layer, the training rows as
    one batch: the model's own backward pass, δ = ∂L/∂a ⊙ f′(z) (or the fused δ) and
    ∂L/∂W = xᵀ·δ, without touching its traces."""
    _, output_error, fused = loss_and_gradients(model.loss_fn, y, zs[-1], outputs[-1])
    norms = [0.0] * len(model.layers)
    for k in reversed(range(len(model.layers))):
        layer = model.layers[k]
        if fused is not None and k == len(model.layers) - 1:
            delta = fused
        else:
            delta = layer.activation.backward(output_error, zs[k], outputs[k])
        norms[k] = float(np.linalg.norm(fc_weights_error(inputs[k], delta)))
        output_error = fc_input_error(layer.W, delta)
    return norms


def dead_units(k: int, a: np.ndarray) -> list[Finding]:
    dead = [int(j) for j in np.flatnonzero((a <= 0).all(axis=0))]
    if not dead:
        return []
    return [
        Finding(
            "dead_relu",
            f"Layer {k}: relu unit{'s' if len(dead) > 1 else ''} "
            f"{', '.join(map(str, dead))} output 0 on every training row (dead): f′(z) = 0 there, "
            "so their weights never change again — a large negative bias or a too-large step "
            "put them there.",
            "relu′(z) = 0 for z ≤ 0, so δ = ∂L/∂a ⊙ 0 = 0 and ∂L/∂W = xᵀ·δ = 0",
            k,
            dead,
            {"dead": len(dead), "units": int(a.shape[1])},
        )
    ]


def loss_trend(session: Session) -> list[Finding]:
    model = session.model
    formula = "W ← W − α·∂L/∂W: a step α too large jumps past the minimum and back"
    lr = model.config.learning_rate
    if model.diverged:
        return [
            Finding(
                "exploding",
                f"Training diverged ({model.diverged}): the gradients exploded — lower the "
                f"learning rate (now {lr:g}).",
                formula,
                values={"learning_rate": lr},
            )
        ]
    losses = [p["train_loss"] for p in session.history if p["train_loss"] is not None]
    losses = [value for value in losses if np.isfinite(value)]
    if len(losses) < 3:
        return []
    lowest, now = min(losses), losses[-1]
    if now > GROWTH * lowest and now - lowest > 1e-9:
        return [
            Finding(
                "lr_too_high",
                f"The train loss grew from its lowest {lowest:.4g} to {now:.4g}: each step "
                f"overshoots — lower the learning rate (now {lr:g}).",
                formula,
                values={"lowest": lowest, "now": now, "learning_rate": lr},
            )
        ]
    recent = np.diff(losses[-8:])
    flips = int(np.sum(np.sign(recent[1:]) != np.sign(recent[:-1])))
    big = bool(np.all(np.abs(recent) > ZIGZAG_SIZE * abs(now)))
    if len(recent) >= 7 and flips >= ZIGZAG_FLIPS and big:
        return [
            Finding(
                "lr_too_high",
                f"The train loss zigzags ({flips} of the last {len(recent) - 1} changes flip "
                f"direction): the steps overshoot — lower the learning rate (now {lr:g}).",
                formula,
                values={"flips": flips, "learning_rate": lr},
            )
        ]
    return []


def majority_class(session: Session, y_pred: np.ndarray) -> list[Finding]:
    dataset, model = session.dataset, session.model
    if dataset.task == "regression" or model.epoch < 1 or not np.isfinite(y_pred).all():
        return []
    predicted = session.predicted_classes(y_pred)
    actual = session.predicted_classes(dataset.y_train)
    values, counts = np.unique(predicted, return_counts=True)
    top = int(np.argmax(counts))
    share = counts[top] / len(predicted)
    majority_share = float(np.max(np.unique(actual, return_counts=True)[1]) / len(actual))
    accuracy = float(np.mean(predicted == actual))
    if share < MAJORITY or accuracy > majority_share + 1e-9:
        return []
    label = _class_name(session, int(values[top]))
    return [
        Finding(
            "majority_class",
            f"The network answers {label} for {share:.0%} of the rows: its accuracy "
            f"{accuracy:.0%} is only the majority class's share — it has learnt the class "
            "balance, not the boundary; try another seed, more units or a smaller learning "
            "rate.",
            "ŷ ≈ the same output for every x: ∂L/∂ŷ averages out to pushing all rows one way",
            len(model.layers) - 1,
            values={"share": float(share), "accuracy": accuracy, "class": label},
        )
    ]


def _class_name(session: Session, index: int) -> str:
    names = session.dataset.class_names
    if names is not None and 0 <= index < len(names):
        return f"'{names[index]}'"
    return f"class {index}"
