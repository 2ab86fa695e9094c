"""Check a hand calculation, and print a worksheet of one step for the class.

**Check.** A student picks a weight W[l][i, j], a bias b[l][j] or a δ[l][s, j] of the current
batch (see ``grader.current_batch``) and types the value they worked out. It is marked against
backprop's value and the central difference, within a relative tolerance that is shown;
a value right in size but wrong in sign is marked wrong with the reason. On request the
chain-rule factors come with it: upstream ∂L/∂a, local f′(z), input x, per row.

**Worksheet.** A network built from the session's config with a seed, its weights rounded to
two decimals (so the sheet shows exactly the numbers it was computed with), a few training
rows drawn by the same seed, and blank cells for z, a, δ, ∂L/∂W and ∂L/∂b of one step; the
answer key fills them. The same seed gives the same sheet. No FastAPI import here.
"""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from app.engine import ConfigError, Model, config_from_dict
from app.engine.dense import Array, fc_forward
from app.engine.gradcheck import STEP, chain_terms, check_one

if TYPE_CHECKING:
    from .session import Session

Quantity = Literal["W", "b", "delta"]
WORKSHEET_DECIMALS = 2  # weights and inputs as printed, and as computed with


def check(
    model: Model,
    quantity: Quantity,
    layer: int,
    j: int,
    value: float,
    tolerance: float,
    i: int | None = None,
    row: int | None = None,
    reveal: bool = False,
) -> dict[str, Any]:
    """Mark ``value`` against backprop and the central difference (``model`` is a batch
    copy whose traces hold the complete backward pass)."""
    if not 0 <= layer < len(model.layers):
        raise ConfigError("layer", f"must be 0…{len(model.layers) - 1}, got {layer}")
    if quantity == "delta":
        backprop, numeric, factors, name = _delta(model, layer, row, j)
    else:
        if quantity == "W" and i is None:
            raise ConfigError("i", "give the weight's input index i")
        index = None if quantity == "b" else i
        terms = chain_terms(model, layer, index, j)
        numeric, _ = check_one(model, layer, index, j)
        backprop = terms.reported
        name = f"∂L/∂b[{layer}][{j}]" if index is None else f"∂L/∂W[{layer}][{index}, {j}]"
        factors = {
            "formula": f"{name} = Σ_rows ∂L/∂a · f′(z) · "
            + ("1" if index is None else "x")
            + (" + penalty" if terms.penalty else ""),
            "upstream": terms.upstream.tolist(),
            "local": terms.local.tolist(),
            "input": terms.input.tolist(),
            "products": terms.products.tolist(),
            "penalty": terms.penalty,
        }
    allowed = tolerance * abs(backprop)
    difference = value - backprop
    correct = abs(difference) <= allowed
    off_by_sign = not correct and backprop != 0.0 and abs(value + backprop) <= allowed
    factor, hints = (None, []) if correct else _factor(model, value, backprop, tolerance)
    answer: dict[str, Any] = {
        "quantity": quantity,
        "name": name,
        "value": value,
        "backprop": backprop,
        "numeric": numeric,
        "tolerance": tolerance,
        "allowed": allowed,
        "difference": difference,
        "correct": bool(correct),
        "off_by_sign": bool(off_by_sign),
        "off_by_factor": factor,
        "reason": " ".join(hints) or _reason(correct, off_by_sign, difference, allowed, quantity),
    }
    if reveal:
        answer["factors"] = factors
    return answer


def _factor(
    model: Model, value: float, backprop: float, tolerance: float
) -> tuple[float | None, list[str]]:
    """value ≈ f · backprop for f = 2, ½, n or 1/n (n the batch's rows, or its targets when the
    mean runs over every output): the named slips. When two readings give one factor (n = 2),
    both are said: the numbers cannot tell them apart."""
    if backprop == 0.0:
        return None, []
    assert model.batch_y is not None
    sizes = sorted({n for n in (len(model.batch_indices), int(model.batch_y.size)) if n > 1})
    readings: list[tuple[float, str]] = [
        (
            2.0,
            "2× too large: a factor 2 where the lesson has none, or the ½ of ½(ŷ − y)² left out.",
        ),
        (0.5, "½ of the value: the 2 of (ŷ − y)²'s derivative 2(ŷ − y) is missing."),
    ]
    for n in sizes:
        readings.append(
            (
                float(n),
                f"{n}× too large: the mean over the batch's {n} values, E = (1/{n}) Σ …, "
                f"puts 1/{n} in ∂E/∂ŷ; it is missing.",
            )
        )
        readings.append(
            (
                1.0 / n,
                f"1/{n} of the value: divided by the batch's {n} values where the loss "
                "is a sum (or the mean taken twice).",
            )
        )
    hits = [
        (f, text)
        for f, text in readings
        if abs(value - f * backprop) <= tolerance * abs(f * backprop)
    ]
    if not hits:
        return None, []
    return hits[0][0], [text for f, text in hits if f == hits[0][0]]


def _reason(correct: bool, off_by_sign: bool, difference: float, allowed: float, q: str) -> str:
    if correct:
        return f"Right: within ±{allowed:.3g} of backprop's value."
    if off_by_sign:
        start = "∂L/∂a" if q == "delta" else "∂L/∂ŷ"
        return (
            "Off by a sign: the size is right but the sign is not. The gradient starts from "
            f"{start} = ŷ − y (×2 for a squared error); lesson 000's y − ŷ gives the adjustment, "
            "which is minus the gradient."
        )
    return f"Off by {difference:.4g}; within ±{allowed:.3g} counts as right."


def _delta(
    model: Model, layer: int, row: int | None, j: int
) -> tuple[float, float, dict[str, Any], str]:
    """δ[layer][row, j] = ∂L/∂z: backprop's, the central difference's, and its factors."""
    trace = model.traces[layer]
    assert trace.delta is not None and trace.z is not None and trace.output is not None
    n, units = trace.delta.shape
    if row is None or not 0 <= row < n:
        raise ConfigError("row", f"give the batch row of δ: 0…{n - 1}")
    if not 0 <= j < units:
        raise ConfigError("j", f"must be 0…{units - 1}, got {j}")
    name = f"δ[{layer}][{row}, {j}]"
    z = trace.z.astype(np.float64)
    plus, minus = z.copy(), z.copy()
    plus[row, j] += STEP
    minus[row, j] -= STEP
    numeric = (_loss_from(model, layer, plus) - _loss_from(model, layer, minus)) / (2 * STEP)
    activation = model.layers[layer].activation
    assert trace.output_error is not None
    if activation.prime is None:  # softmax: δ is the upstream factor itself
        upstream, local = float(trace.delta[row, j]), 1.0
    else:
        upstream = float(trace.output_error[row, j])
        local = float(activation.local_derivative(trace.z, trace.output)[row, j])
    factors = {
        "formula": f"{name} = ∂L/∂a · f′(z)",
        "upstream": [upstream],
        "local": [local],
        "input": [1.0],
        "products": [upstream * local],
        "penalty": 0.0,
    }
    return float(trace.delta[row, j]), float(numeric), factors, name


def _loss_from(model: Model, layer: int, z: Array) -> float:
    """The batch's data loss with layer ``layer``'s pre-activation set to z (float64)."""
    a = model.layers[layer].activation.forward(z)
    for k in range(layer + 1, len(model.layers)):
        later = model.traces[k]
        assert later.W is not None
        b = None if later.b is None else later.b.astype(np.float64)
        a = model.layers[k].activation.forward(fc_forward(a, later.W.astype(np.float64), b))
    assert model.batch_y is not None
    return float(model.loss_fn.f(model.batch_y.astype(np.float64), a))


# ----- worksheet ----------------------------------------------------------------------------


def worksheet(session: Session, seed: int, rows: int, max_units: int) -> dict[str, Any]:
    """One step of a small network, seeded: its numbers and the answers (see module doc)."""
    config = copy.deepcopy(session.config["model"])
    widths = [config["input_size"]] + [layer["units"] for layer in config["layers"]]
    if max(widths) > max_units:
        raise ConfigError(
            "model.layers", f"a worksheet fits layers of at most {max_units} units (and inputs)"
        )
    dataset = session.dataset
    rows = min(rows, len(dataset.x_train))
    rng = np.random.default_rng(seed)
    picked = np.sort(rng.choice(len(dataset.x_train), size=rows, replace=False))
    x = np.round(dataset.x_train[picked], WORKSHEET_DECIMALS)
    y = dataset.y_train[picked]
    model_config = replace(
        config_from_dict(config), seed=seed, batch_size=None, shuffle=False, dtype="float64"
    )
    model = Model(model_config)
    for layer in model.layers:
        layer.W = np.round(layer.W, WORKSHEET_DECIMALS)
        if layer.b is not None:
            layer.b = np.round(layer.b, WORKSHEET_DECIMALS)
    model.set_data(x, y)
    while model.cursor != len(model.phases) - 1:  # every phase but the update
        model.step_phase()
    layers = []
    for k, (layer, trace) in enumerate(zip(model.layers, model.traces, strict=True)):
        layers.append(
            {
                "index": k,
                "activation": layer.activation.name,
                "W": layer.W.tolist(),
                "b": None if layer.b is None else layer.b[0].tolist(),
                "z": _list(trace.z),
                "a": _list(trace.output),
                "delta": _list(trace.delta),
                "dW": _list(trace.dW),
                "db": None if trace.db is None else trace.db[0].tolist(),
            }
        )
    return {
        "seed": seed,
        "rows": rows,
        "picked": picked.tolist(),
        "x": x.tolist(),
        "y": y.tolist(),
        "loss": model_config.loss,
        "batch_loss": model.loss,
        "learning_rate": model_config.learning_rate,
        "l1": model_config.l1,
        "l2": model_config.l2,
        "layers": layers,
    }


def _list(value: Array | None) -> list[Any]:
    return [] if value is None else value.tolist()
