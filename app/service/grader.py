"""Grade a student's own backprop against the engine, layer by layer, and name the mistake.

A student who wrote ``backward_propagation`` (lesson 003) or ``backprop`` (lesson 000) in
their own NumPy runs it on the session's current batch and submits, per layer, ∂L/∂W and
∂L/∂b — or their updated weights, from which the gradient is recovered as
(W_before − W_after) / α. Each layer is compared with the engine by the relative error
‖s − e‖ / (‖s‖ + ‖e‖). The first wrong layer is the first one in backprop's order (from
the output back to the input): its mistake is where the student's code went wrong.

For a wrong layer the grader tries the common mistakes, each computed here independently:

- sign flipped: s = −e, lesson 000's *adjustment* 2(y − ŷ)·… is −∂L/∂W (the lesson adds it);
- missing 1/n: s = n·e, the mean loss's 1/n left out of ∂E/∂ŷ;
- transposed: sᵀ = e, δᵀ·x instead of xᵀ·δ;
- derivative on z instead of a: f′ written on the output (σ′ = a(1 − a), tanh′ = 1 − a²)
  applied to z, the pre-activation — or f′(z) applied to a;

alone or with the sign flipped. The current batch is the open one (run on a copy down to
its last backward phase when needed), or, between batches, the last one run.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import ConfigError, Model
from app.engine.dense import Array, fc_input_error, fc_weights_error
from app.engine.gradcheck import relative_error
from app.engine.penalties import penalty_gradient

TOLERANCE = 1e-6  # float64: relative error; the same sums in another order differ by ~1e-15
# float32 (PyTorch's and many students' default): each rounding is up to 2⁻²⁴ ≈ 6e-8 and a
# batch's backprop chains hundreds of them, so 1e-4 is float32 noise with room; a real
# mistake (a factor, a sign, a derivative) is off by far more.
TOLERANCES = {"float64": TOLERANCE, "float32": 1e-4}
PRECISION_REASONS = {
    "given": "the submission says so (precision)",
    "inferred_float32": "every number submitted is exactly a float32",
    "inferred_float64": "some number submitted is not a float32",
}


class NotTracedError(RuntimeError):
    """The session has no batch to grade (or it diverged before its backward pass)."""


@dataclass
class Reference:
    """The engine's batch: what each layer saw and the gradients it computed."""

    model: Model  # a private copy, its traces holding the batch
    dW: list[Array]
    db: list[Array | None]


def current_batch(model: Model) -> Model:
    """A copy of ``model`` whose traces hold the current batch's complete backward pass."""
    memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
    copied = copy.deepcopy(model, memo)
    traced = all(trace.dW is not None for trace in copied.traces)
    if copied.cursor == 0 and traced:
        return copied  # between batches: the last one run
    last_backward = len(copied.phases) - 1  # the update is next
    while copied.cursor != last_backward:
        result = copied.step_phase()
        if result.diverged:
            raise NotTracedError(f"this batch diverged before its backward pass: {result.diverged}")
    return copied


def reference(model: Model) -> Reference:
    copied = current_batch(model)
    dW = [trace.dW for trace in copied.traces]
    db = [None if trace.db is None else trace.db[0] for trace in copied.traces]
    assert all(g is not None for g in dW)
    return Reference(copied, [g for g in dW if g is not None], db)


def problem(model: Model) -> dict[str, Any]:
    """What a student needs to run their backprop on the current batch."""
    ref = reference(model)
    m = ref.model
    assert m.batch_y is not None and m.traces[0].input is not None
    return {
        "step": m.step,
        "batch_rows": len(m.batch_indices),
        "batch_indices": m.batch_indices.tolist(),
        "x": m.traces[0].input.tolist(),
        "y": m.batch_y.tolist(),
        "loss": m.config.loss,
        "learning_rate": m.config.learning_rate,
        "momentum": m.config.momentum,
        "l1": m.config.l1,
        "l2": m.config.l2,
        "layers": [
            {
                "activation": layer.activation.name,
                "W": _used(trace.W).tolist(),
                "b": None if trace.b is None else trace.b[0].tolist(),
            }
            for layer, trace in zip(m.layers, m.traces, strict=True)
        ],
    }


def _used(value: Array | None) -> Array:
    assert value is not None
    return value


# ----- the mistakes -------------------------------------------------------------------------


def backward_with(model: Model, local: Callable[[int, Array, Array], Array | None]) -> list[Array]:
    """∂L/∂W of every layer by a backward pass whose local derivative at layer k is
    ``local(k, z, a)`` (None: the engine's own); from the engine's ∂E/∂ŷ."""
    traces = model.traces
    upstream = traces[-1].output_error
    grads: list[Array] = [np.zeros(0)] * len(traces)
    for k in reversed(range(len(traces))):
        trace, layer = traces[k], model.layers[k]
        assert upstream is not None and trace.z is not None and trace.output is not None
        assert trace.input is not None and trace.W is not None
        derivative = local(k, trace.z, trace.output)
        if derivative is None:
            delta = layer.activation.backward(upstream, trace.z, trace.output)
        else:
            delta = upstream * derivative
        penalty = penalty_gradient(trace.W, model.config.l1, model.config.l2)
        grads[k] = fc_weights_error(trace.input, delta) + (0.0 if penalty is None else penalty)
        upstream = fc_input_error(trace.W, delta)
    return grads


def wrong_variable(model: Model, swap: str, only: int | None) -> list[Array] | None:
    """Backprop with the derivative taken on the wrong variable, at every layer (``only``
    None) or at one; None when no layer's activation makes the two differ."""

    def local(k: int, z: Array, a: Array) -> Array | None:
        activation = model.layers[k].activation
        if (only is not None and k != only) or activation.name not in ("sigmoid", "tanh"):
            return None
        if swap == "z_for_a":  # lesson 000's z(1 − z), written on a, given z
            assert activation.prime_of_output is not None
            return activation.prime_of_output(z)
        assert activation.prime is not None  # σ′(x) = σ(x)(1 − σ(x)), given a
        return activation.prime(a)

    if not any(layer.activation.name in ("sigmoid", "tanh") for layer in model.layers):
        return None
    return backward_with(model, local)


CAUSES = {
    "sign": "the sign is flipped: these are −∂L/∂W, lesson 000's adjustment 2(y − ŷ)·f′·x, "
    "which the lesson adds (W += adjustment); gradient descent subtracts ∂L/∂W",
    "scale": "it is {n} times too large: the loss averages over the batch, E = (1/n) Σ …, so "
    "∂E/∂ŷ carries 1/n (n = {n})",
    "sign_scale": "the sign is flipped and it is {n} times too large: −∂L/∂W without the mean "
    "loss's 1/n (n = {n})",
    "transposed": "the matrix is transposed: ∂L/∂W = xᵀ·δ has the shape of W, (inputs, units) = "
    "{shape}; δᵀ·x gives (units, inputs)",
    "z_for_a": "the derivative is taken on z instead of a: the form written on the output "
    "(σ′ = a(1 − a), tanh′ = 1 − a²) was given the pre-activation z",
    "a_for_z": "the derivative is taken on a instead of z: f′(z) (σ′(z) = σ(z)(1 − σ(z))) was "
    "given the activation a = f(z)",
    "sign_z_for_a": "the sign is flipped and the derivative taken on z instead of a",
    "sign_a_for_z": "the sign is flipped and the derivative taken on a instead of z",
    "half": "it is half the gradient: the 2 of (ŷ − y)²'s derivative 2(ŷ − y) is missing",
    "doubled": "it is twice the gradient: either gradients accumulated over two backward passes "
    "(added with += and not zeroed between calls) or a factor 2 where the loss has ½; the "
    "numbers cannot tell these two apart",
    "learning_rate": "it is the gradient times the learning rate α = {n}: that is the update "
    "step α·∂L/∂W, not ∂L/∂W",
    "not_reached": "it is all zeros: the backward loop stops one layer early and never reaches "
    "the first layer",
    "downstream": "it follows from layer {first}'s error: backprop hands each layer the error "
    "of the one after it",
}


def candidates(ref: Reference, first: int | None) -> list[tuple[str, list[Array]]]:
    """Each common mistake's ∂L/∂W for every layer, computed from the engine's batch."""
    m = ref.model
    rows = len(m.batch_indices)
    assert m.batch_y is not None
    found: list[tuple[str, list[Array]]] = [("sign", [-g for g in ref.dW])]
    if m.config.loss != "sse":  # every other loss averages over the rows
        for n in sorted({rows, int(m.batch_y.size)}):
            if n > 1:
                found.append((f"scale:{n}", [n * g for g in ref.dW]))
                found.append((f"sign_scale:{n}", [-n * g for g in ref.dW]))
    if m.config.loss != "square":  # TF Playground's ½-square loss has no 2
        found.append(("half", [g / 2 for g in ref.dW]))
    found.append(("doubled", [2 * g for g in ref.dW]))
    rate = m.config.learning_rate
    if rate != 1.0:
        found.append((f"learning_rate:{rate:g}", [rate * g for g in ref.dW]))
    for swap in ("z_for_a", "a_for_z"):
        for only in (None, first):
            grads = wrong_variable(m, swap, only)
            if grads is not None:
                found.append((swap, grads))
                found.append((f"sign_{swap}", [-g for g in grads]))
    return found


def explain(code: str, layer: int, shape: tuple[int, ...], first: int | None) -> str:
    name, _, n = code.partition(":")
    return f"Layer {layer}: " + CAUSES[name].format(n=n, shape=shape, first=first) + "."


# ----- grading ------------------------------------------------------------------------------


def implied_gradients(
    ref: Reference, weights: list[dict[str, Any]]
) -> list[tuple[Array, Array | None]]:
    """Updated weights → the gradients they imply, (W_before − W_after) / α (plain SGD)."""
    config = ref.model.config
    if config.momentum != 0.0:
        raise ConfigError("weights", "with momentum the update is not W − α·∂L/∂W: send gradients")
    out: list[tuple[Array, Array | None]] = []
    for k, (entry, trace) in enumerate(zip(weights, ref.model.traces, strict=True)):
        W = _array(f"weights[{k}].W", entry.get("W"))
        W_used = _used(trace.W)
        if W.shape == W_used.T.shape and W.shape != W_used.shape:
            W_used = W_used.T  # a transposed W gives a transposed gradient: graded as such
        dW = (W_used - W) / config.learning_rate if W.shape == W_used.shape else W
        db = None
        if entry.get("b") is not None:
            db = _bias(f"weights[{k}].b", entry["b"])
            if trace.b is not None and db.shape == trace.b[0].shape:
                db = (trace.b[0] - db) / config.learning_rate
        out.append((dW, db))
    return out


def precision_of(submission: dict[str, Any], kind: str) -> tuple[str, str]:
    """The submission's precision and why: as given, or float32 when every number is one."""
    given = submission.get("precision")
    if given is not None:
        if given not in TOLERANCES:
            raise ConfigError("precision", f"must be one of {sorted(TOLERANCES)}, got {given!r}")
        return str(given), "given"
    numbers = [
        np.asarray(value, dtype=np.float64).ravel()
        for entry in submission.get(kind) or []
        for value in entry.values()
        if value is not None
    ]
    try:
        flat = np.concatenate(numbers) if numbers else np.zeros(0)
    except ValueError:
        return "float64", "inferred_float64"  # ragged: _array names the field
    if flat.size and np.array_equal(flat.astype(np.float32).astype(np.float64), flat):
        return "float32", "inferred_float32"
    return "float64", "inferred_float64"


def grade(model: Model, submission: dict[str, Any]) -> dict[str, Any]:
    """Per layer: relative error, passed, and the likely cause; the first wrong layer."""
    ref = reference(model)
    n_layers = len(ref.dW)
    kind = "gradients" if submission.get("gradients") is not None else "weights"
    entries = submission.get(kind)
    if not isinstance(entries, list) or len(entries) != n_layers:
        raise ConfigError(kind, f"give {n_layers} entries, one per layer (input side first)")
    precision, why = precision_of(submission, kind)
    tol = TOLERANCES[precision]
    if kind == "weights":
        submitted = implied_gradients(ref, entries)
    else:
        submitted = [
            (
                _array(f"gradients[{k}].dW", entry.get("dW")),
                None if entry.get("db") is None else _bias(f"gradients[{k}].db", entry["db"]),
            )
            for k, entry in enumerate(entries)
        ]
    layers = [_compare(k, s, ref, tol) for k, s in enumerate(submitted)]
    wrong = [layer["layer"] for layer in layers if not layer["passed"]]
    first = max(wrong) if wrong else None  # backprop runs from the output back
    _diagnose(layers, submitted, ref, first, tol)
    return {
        "step": ref.model.step,
        "batch_rows": len(ref.model.batch_indices),
        "submitted": kind,
        "tolerance": {
            "relative": tol,
            "precision": precision,
            "reason": f"{precision}: {PRECISION_REASONS[why]}",
        },
        "passed": first is None,
        "first_wrong_layer": first,
        "diagnosis": "Every layer matches the engine."
        if first is None
        else layers[first]["explanation"],
        "layers": layers,
    }


def _compare(
    k: int, submitted: tuple[Array, Array | None], ref: Reference, tol: float
) -> dict[str, Any]:
    dW, db = submitted
    expected_W, expected_b = ref.dW[k], ref.db[k]
    entry: dict[str, Any] = {"layer": k, "shape": list(expected_W.shape), "cause": None}
    entry["relative_error_W"] = (
        relative_error(dW, expected_W) if dW.shape == expected_W.shape else None
    )
    entry["relative_error_b"] = None
    b_ok = True
    if expected_b is not None:
        if db is None:
            b_ok = False
        elif db.shape == expected_b.shape:
            entry["relative_error_b"] = relative_error(db, expected_b)
            b_ok = entry["relative_error_b"] < tol
        else:
            b_ok = False
    W_ok = entry["relative_error_W"] is not None and entry["relative_error_W"] < tol
    entry["passed"] = bool(W_ok and b_ok)
    entry["explanation"] = f"Layer {k} matches the engine." if entry["passed"] else None
    return entry


def _diagnose(
    layers: list[dict[str, Any]],
    submitted: list[tuple[Array, Array | None]],
    ref: Reference,
    first: int | None,
    tol: float,
) -> None:
    """Fill ``cause`` and ``explanation`` of each wrong layer."""
    if first is None:
        return
    options = candidates(ref, first)
    for entry, (dW, _) in zip(layers, submitted, strict=True):
        if entry["passed"]:
            continue
        k = entry["layer"]
        shape = tuple(ref.dW[k].shape)
        code = _match(dW, k, ref, options, tol)
        if code is None and k == 0 and not dW.any() and ref.dW[k].any():
            code = "not_reached"
        if (
            code is None
            and entry["relative_error_W"] is not None
            and entry["relative_error_W"] < tol
        ):
            code = "bias"
        if code is None and k < first:
            code = "downstream"
        entry["cause"] = code.partition(":")[0] if code else None
        if code == "bias":
            entry["explanation"] = (
                f"Layer {k}: ∂L/∂W is right but ∂L/∂b is not: ∂L/∂b = Σ δ over the batch's "
                f"rows, one value per unit ({shape[1]})."
            )
        elif code is not None:
            entry["explanation"] = explain(code, k, shape, first)
        elif dW.shape != ref.dW[k].shape:
            entry["explanation"] = (
                f"Layer {k}: ∂L/∂W must have W's shape {shape}, got {tuple(dW.shape)}."
            )
            entry["cause"] = "shape"
        else:
            entry["explanation"] = (
                f"Layer {k}: off by a relative error of {entry['relative_error_W']:.3g} and no "
                "common mistake matches; compare your δ with the state's `delta` of this layer."
            )


def _match(
    dW: Array, k: int, ref: Reference, options: list[tuple[str, list[Array]]], tol: float
) -> str | None:
    expected = ref.dW[k]
    transposed = dW.shape == expected.T.shape and relative_error(dW.T, expected) < tol
    if transposed and (dW.shape != expected.shape or relative_error(dW, expected) >= tol):
        return "transposed"
    if dW.shape != expected.shape:
        return None
    for code, grads in options:
        if relative_error(grads[k], expected) < tol:
            continue  # this mistake changes nothing on this layer: no evidence
        if relative_error(dW, grads[k]) < tol:
            return code
    return None


def _array(field: str, value: Any) -> Array:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ConfigError(field, "must be a number, a list of numbers or a list of rows") from None
    if not np.isfinite(array).all():
        raise ConfigError(field, "holds NaN or infinity")
    return array


def _bias(field: str, value: Any) -> Array:
    """A bias or its gradient: (units,), or lesson 003's own row (1, units)."""
    array = _array(field, value)
    return array[0] if array.ndim == 2 and array.shape[0] == 1 else array
