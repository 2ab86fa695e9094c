"""The gradient coach: what is going wrong with training, in one sentence each.

Four checks, on the current weights and the training data (one forward pass) and on the
loss history:

- **saturation** (vanishing gradients): a hidden sigmoid/tanh unit is saturated when
  |f′(z)| < 0.01 on at least 90 % of the training rows; a layer is flagged when half its
  units are. δ = ∂L/∂a ⊙ f′(z), so their weights barely move (σ′ = a(1 − a) is at most ¼).
- **dead ReLUs**: a relu unit whose output is 0 on every training row: f′(z) = 0 there, so
  δ = 0 and its weights never change again.
- **exploding / learning rate too high**: the run diverged, or the train loss grew to
  1.5× its lowest, or it zigzags (at least 5 of the last 7 changes flip direction, by more
  than 5 %).
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

from app.engine.dense import fc_forward

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
    """Every finding on the session now (call with its lock held)."""
    model = session.model
    x = session.dataset.x_train
    findings: list[Finding] = []
    a = np.asarray(x, dtype=model.dtype)
    last = len(model.layers) - 1
    with np.errstate(all="ignore"):
        for k, layer in enumerate(model.layers):
            z = fc_forward(a, layer.W, layer.b)
            a = layer.activation.forward(z)
            name = layer.activation.name
            if name in SATURATING and k < last:
                findings.extend(saturation(k, name, z, layer.activation.prime))
            if name == "relu":
                findings.extend(dead_units(k, a))
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
