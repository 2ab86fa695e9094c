"""Grade a student's own backprop against the engine, layer by layer, and name the mistake.

A student who wrote ``backward_propagation`` (lesson 003) or ``backprop`` (lesson 000) in
their own NumPy runs it on the session's current batch and submits, per layer, ∂L/∂W and
∂L/∂b — or their updated weights, from which the gradient is recovered as
(W_before − W_after) / α. Each layer is compared with the engine by the relative error
‖s − e‖ / (‖s‖ + ‖e‖). The first wrong layer is the first one in backprop's order (from
the output back to the input): its mistake is where the student's code went wrong.

For a wrong layer the grader tries the common mistakes, each a wrong-but-plausible backprop
computed here independently from the batch's network:

- sign flipped: s = −e, lesson 000's *adjustment* 2(y − ŷ)·… is −∂L/∂W (the lesson adds it);
- missing 1/n: the mean loss's 1/n left out of ∂E/∂ŷ, so the data's part is n times too
  large while an L1/L2 penalty's part (not averaged) is as it was;
- half (the 2 of 2(ŷ − y) missing), doubled, times the learning rate;
- transposed: sᵀ = e, δᵀ·x instead of xᵀ·δ;
- the activation's derivative wrong: taken on z instead of a (σ′ = a(1 − a) given z) or on
  a instead of z (σ′(a) = σ(a)(1 − σ(a)) with a = σ(z) already), the other activation's
  (a sigmoid layer given tanh's 1 − a², or the reverse), or the activation itself, a = f(z),
  where f′(z) belongs;
- ∂L/∂a passed back as δ (f′(z) left out, in every layer or in the hidden layers);
- the bias left out of the forward pass (z = x·W), then a right backward from that forward;
- the first layer never reached (all zeros).

A wrong layer names every mistake that fits its numbers, the likeliest first: when two give
the same numbers (α = 0.5 and the missing 2) both are said. The current batch is the open
one (run on a copy down to its last backward phase when needed), or, between batches, the
last one run. A class's student grades a batch of their own instead (``drawn_batch``: rows
drawn by their seed, ``variants.py``, at the session's weights now).

Each mistake tried is a backward pass of the whole batch: on the largest session allowed the
search takes half a second on a quiet machine, seconds on a busy one. So the grader works on a
``snapshot`` of the model, taken with the session held and graded apart from it (training
goes on), and the search stops when its job says so (``costly.Job``: a time budget, its
caller gone): the verdict of every layer is complete, the causes are those found so far, and
the answer says the search was cut short.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.engine import ACTIVATIONS, ConfigError, Model
from app.engine.dense import Array, fc_forward, fc_input_error, fc_weights_error
from app.engine.gradcheck import relative_error
from app.engine.kernel import loss_and_gradients

from .costly import Job

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
    dW: list[Array]  # ∂L/∂W: the data's part and the penalty's
    db: list[Array | None]
    penalty: list[Array | None]  # ∂P/∂W = l2·W + l1·sign(W), None without a penalty

    @property
    def data(self) -> list[Array]:
        """∂E/∂W, the data's part of ∂L/∂W."""
        return [g if p is None else g - p for g, p in zip(self.dW, self.penalty, strict=True)]


def snapshot(model: Model) -> Model:
    """A private copy of ``model`` sharing only its training data, which nothing here writes:
    taken with the session held (milliseconds), so that the rest runs apart from it."""
    memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
    return copy.deepcopy(model, memo)


def current_batch(copied: Model) -> Model:
    """``copied`` (a ``snapshot``, run on in place) with its traces holding the current batch's
    complete backward pass: an open batch is run down to its last backward phase."""
    traced = all(trace.dW is not None for trace in copied.traces)
    if copied.cursor == 0 and traced:
        return copied  # between batches: the last one run
    return _run_to_update(copied)


def drawn_batch(copied: Model, seed: int) -> tuple[Model, np.ndarray]:
    """``copied`` (a ``snapshot``, changed in place: its training data becomes the batch's
    rows) with its traces holding the complete backward pass of a batch drawn by ``seed``,
    at the weights it has now; and the training set's rows it drew, in the data's order: as
    many as the session's batch has, never all of them (a full batch would be everyone's)."""
    n = copied.n_samples
    size = min(copied.batch_size, max(n - 1, 1))
    rows = np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))
    copied.set_data(copied.x_train[rows], copied.y_train[rows])  # one batch, unshuffled
    return _run_to_update(copied), rows


def _run_to_update(copied: Model) -> Model:
    """Run ``copied``'s batch (open, or the next) down to its last backward phase."""
    last_backward = len(copied.phases) - 1  # the update is next
    while copied.cursor != last_backward:
        if copied.step_phase().diverged:
            raise NotTracedError(
                f"this batch diverged before its backward pass: its loss is {copied.loss} at "
                "the weights it runs with; step a batch to start a fresh one"
            )
    return copied


def reference(copied: Model) -> Reference:
    """The engine's gradients of ``copied``'s current batch (``copied``: a ``snapshot``)."""
    copied = current_batch(copied)
    dW = [trace.dW for trace in copied.traces]
    db = [None if trace.db is None else trace.db[0] for trace in copied.traces]
    assert all(g is not None for g in dW)
    penalty = [trace.dW_penalty for trace in copied.traces]
    return Reference(copied, [g for g in dW if g is not None], db, penalty)


def problem(copied: Model) -> dict[str, Any]:
    """What a student needs to run their backprop on the current batch (of a ``snapshot``)."""
    ref = reference(copied)
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

Local = Callable[[int, Array, Array], Array | None]  # (layer k, z, a) → f′ used, None: right


@dataclass
class Forward:
    """One forward pass of the batch and its loss phase, every array (n, ·): each layer's
    input x, z = x·W + b and a = f(z); ∂E/∂ŷ; and for a fused loss (a cross-entropy) the
    output layer's ∂E/∂z = (p − y)/n, else None."""

    inputs: list[Array]
    zs: list[Array]
    outputs: list[Array]
    output_error: Array
    loss_delta: Array | None


def traced_forward(model: Model) -> Forward:
    """The engine's own forward pass of the batch, as its traces hold it."""
    traces = model.traces
    last = traces[-1]
    assert last.output_error is not None
    return Forward(
        [_used(trace.input) for trace in traces],
        [_used(trace.z) for trace in traces],
        [_used(trace.output) for trace in traces],
        last.output_error,
        last.loss_delta,
    )


def forward_without_bias(model: Model) -> Forward | None:
    """The forward pass with +b left out, z = x·W at every layer, and the loss phase on its
    ŷ; None when no layer's bias is nonzero (the mistake would change nothing)."""
    if not any(trace.b is not None and trace.b.any() for trace in model.traces):
        return None
    assert model.batch_y is not None
    inputs, zs, outputs = [], [], []
    a = _used(model.traces[0].input)
    for layer, trace in zip(model.layers, model.traces, strict=True):
        inputs.append(a)
        zs.append(fc_forward(a, _used(trace.W), None))
        a = layer.activation.forward(zs[-1])
        outputs.append(a)
    _, output_error, loss_delta = loss_and_gradients(model.loss_fn, model.batch_y, zs[-1], a)
    return Forward(inputs, zs, outputs, output_error, loss_delta)


def backward_with(model: Model, local: Local, forward: Forward | None = None) -> list[Array]:
    """The data's ∂E/∂W = xᵀ·δ of every layer (no penalty) by a backward pass through
    ``forward`` (the engine's own when None) whose local derivative at layer k is
    ``local(k, z, a)``, δ = ∂E/∂a ⊙ local; None there: the engine's own δ."""
    passed = traced_forward(model) if forward is None else forward
    last = len(model.layers) - 1
    upstream = passed.output_error
    grads: list[Array] = [np.zeros(0)] * len(model.layers)
    for k in reversed(range(len(model.layers))):
        z, a = passed.zs[k], passed.outputs[k]
        derivative = local(k, z, a)
        delta: Array
        if derivative is not None:
            delta = upstream * derivative
        elif k == last and passed.loss_delta is not None:
            delta = passed.loss_delta  # the fused (p − y)/n, as the engine takes it
        else:
            delta = model.layers[k].activation.backward(upstream, z, a)
        grads[k] = fc_weights_error(passed.inputs[k], delta)
        upstream = fc_input_error(_used(model.traces[k].W), delta)
    return grads


def _only(model: Model, only: int | None, names: tuple[str, ...]) -> list[int]:
    """The layers a mistake touches: every one (``only`` None) or one, of these activations."""
    layers = range(len(model.layers)) if only is None else [only]
    return [k for k in layers if model.layers[k].activation.name in names]


def wrong_derivative(model: Model, mistake: str, only: int | None) -> list[Array] | None:
    """Backprop with a wrong f′ at every layer (``only`` None) or at one; None when no layer
    it touches makes a difference. ``mistake``:

    - z_for_a: lesson 000's a(1 − a), a form written on a, given z;
    - a_for_z: f′(x) = σ(x)(1 − σ(x)), a form written on z, given a;
    - other_derivative: the other activation's, a sigmoid layer given 1 − a², a tanh one a(1 − a);
    - activation_for_derivative: a = f(z) itself where f′(z) belongs (every elementwise f).
    """
    elementwise = tuple(name for name, f in ACTIVATIONS.items() if f.prime is not None)
    names = elementwise if mistake == "activation_for_derivative" else ("sigmoid", "tanh")
    touched = _only(model, only, names)
    if not touched:
        return None

    def local(k: int, z: Array, a: Array) -> Array | None:
        activation = model.layers[k].activation
        if k not in touched:
            return None
        if mistake == "z_for_a":
            assert activation.prime_of_output is not None
            return activation.prime_of_output(z)
        if mistake == "a_for_z":
            assert activation.prime is not None
            return activation.prime(a)
        if mistake == "other_derivative":
            other = ACTIVATIONS["tanh" if activation.name == "sigmoid" else "sigmoid"]
            assert other.prime_of_output is not None
            return other.prime_of_output(a)
        return a

    return backward_with(model, local)


def upstream_for_delta(model: Model, hidden_only: bool) -> list[Array]:
    """Backprop handing ∂E/∂a on as δ, f′(z) left out: in every layer or in the hidden ones."""
    last = len(model.layers) - 1

    def local(k: int, z: Array, a: Array) -> Array | None:
        return None if hidden_only and k == last else np.ones_like(z)

    return backward_with(model, local)


CAUSES = {
    "sign": "the sign is flipped: these are −∂L/∂W, lesson 000's adjustment 2(y − ŷ)·f′·x, "
    "which the lesson adds (W += adjustment); gradient descent subtracts ∂L/∂W",
    "scale": "it is {n} times too large: the loss averages over the batch, E = (1/n) Σ …, so "
    "∂E/∂ŷ carries 1/n (n = {n}); an L1/L2 penalty, when on, is not averaged",
    "sign_scale": "the sign is flipped and it is {n} times too large: −∂L/∂W without the mean "
    "loss's 1/n (n = {n})",
    "transposed": "the matrix is transposed: ∂L/∂W = xᵀ·δ has the shape of W, (inputs, units) = "
    "{shape}; δᵀ·x gives (units, inputs)",
    "z_for_a": "the derivative is taken on z instead of a: the form written on the output "
    "(σ′ = a(1 − a), tanh′ = 1 − a²) was given the pre-activation z",
    "a_for_z": "the derivative is taken of the output, not the input: σ′(a) = σ(a)(1 − σ(a)) "
    "(tanh: 1 − tanh(a)²) was given a = f(z), already activated; σ′ takes z, or is written "
    "on a as a(1 − a) (tanh: 1 − a²)",
    "sign_z_for_a": "the sign is flipped and the derivative taken on z instead of a",
    "sign_a_for_z": "the sign is flipped and the derivative taken on a instead of z",
    "other_derivative": "the derivative is the other activation's: a sigmoid layer's f′ is "
    "a(1 − a) and a tanh layer's 1 − a²; the two are swapped (lesson 000 uses the sigmoid, "
    "lesson 003's XOR tanh)",
    "activation_for_derivative": "the activation is used in place of its derivative: δ = "
    "∂L/∂a ⊙ f′(z), and this multiplies by a = f(z); f′ is a(1 − a) for the sigmoid, 1 − a² "
    "for tanh, 1 where z > 0 for ReLU, 1 for linear",
    "upstream_for_delta": "∂L/∂a is passed back as δ in {n}: δ = ∂L/∂z = ∂L/∂a ⊙ f′(z), and "
    "the factor f′(z) is left out",
    "bias_left_out": "the forward pass leaves the bias out: these are the gradients of "
    "z = x·W, right for that forward pass; the layer computes z = x·W + b",
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


def candidates(ref: Reference, first: int | None) -> Iterator[tuple[str, list[Array]]]:
    """Each common mistake's ∂L/∂W for every layer, computed from the engine's batch, the
    likeliest first, one at a time (a big batch's backward passes are not all held at once).
    A slip in the data's gradient leaves the penalty's part as it is; where the wrong code
    could scale the penalty too, both are tried under one name."""
    m = ref.model
    rows = len(m.batch_indices)
    assert m.batch_y is not None
    penalised = any(p is not None for p in ref.penalty)

    def plus_penalty(data: list[Array]) -> list[Array]:
        return [g if p is None else g + p for g, p in zip(data, ref.penalty, strict=True)]

    def data_times(factor: float) -> list[Array]:
        return plus_penalty([factor * g for g in ref.data])

    yield "sign", [-g for g in ref.dW]
    if m.config.loss != "sse":  # every other loss averages over the rows
        for n in sorted({rows, int(m.batch_y.size)}):
            if n > 1:
                unaveraged = data_times(n)
                yield f"scale:{n}", unaveraged
                yield f"sign_scale:{n}", [-g for g in unaveraged]
                if penalised:  # the penalty inside the mean, its 1/n forgotten with the data's
                    yield f"scale:{n}", [n * g for g in ref.dW]
                    yield f"sign_scale:{n}", [-n * g for g in ref.dW]
    if m.config.loss != "square":  # TF Playground's ½-square loss has no 2
        yield "half", data_times(0.5)
    yield "doubled", [2 * g for g in ref.dW]  # two passes: the penalty's part too
    if penalised:
        yield "doubled", data_times(2)  # a 2 where the loss has ½: the data's alone
    rate = m.config.learning_rate
    if rate != 1.0:
        yield f"learning_rate:{rate:g}", [rate * g for g in ref.dW]
    for mistake in ("z_for_a", "a_for_z", "other_derivative", "activation_for_derivative"):
        for only in (None, first):
            grads = wrong_derivative(m, mistake, only)
            if grads is not None:
                slipped = plus_penalty(grads)
                yield mistake, slipped
                if mistake in ("z_for_a", "a_for_z"):
                    yield f"sign_{mistake}", [-g for g in slipped]
    yield "upstream_for_delta:every layer", plus_penalty(upstream_for_delta(m, False))
    if len(m.layers) > 1:
        hidden = upstream_for_delta(m, True)
        yield "upstream_for_delta:the hidden layers", plus_penalty(hidden)
    unbiased = forward_without_bias(m)
    if unbiased is not None:
        yield "bias_left_out", plus_penalty(backward_with(m, lambda *_: None, unbiased))


def explain(codes: list[str], layer: int, shape: tuple[int, ...], first: int | None) -> str:
    """The reason of each code that fits (``name`` or ``name:detail``), the likeliest first."""
    reasons = []
    for code in codes:
        name, _, n = code.partition(":")
        reasons.append(CAUSES[name].format(n=n, shape=shape, first=first))
    text = f"Layer {layer}: {reasons[0]}."
    if len(reasons) > 1:
        text += " The numbers fit another mistake just as well and cannot tell them apart: " + (
            "; or ".join(reasons[1:]) + "."
        )
    return text


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


def grade(copied: Model, submission: dict[str, Any], job: Job | None = None) -> dict[str, Any]:
    """Per layer: relative error, passed, and the likely cause; the first wrong layer. On a
    ``snapshot``; the search for the causes stops once ``job.should_stop()``."""
    ref = reference(copied)
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
    search = Search(job)
    _diagnose(layers, submitted, ref, first, tol, search)
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
        "complete": search.stopped_because is None,
        "note": search.note(),
    }


@dataclass
class Search:
    """The search through the common mistakes: how many were tried, and why it stopped early
    (None: it tried every one, or had none to try)."""

    job: Job | None
    tried: int = 0
    stopped_because: str | None = None

    def go_on(self) -> bool:
        """May another mistake be tried? False, and why said, once the job says stop."""
        if self.job is not None and self.job.should_stop():
            self.stopped_because = self.job.stopped_because
            return False
        return True

    def note(self) -> str | None:
        if self.stopped_because is None:
            return None
        return (
            f"the search for the mistake stopped after {self.tried} common mistake(s) tried: "
            f"{self.stopped_because}; every layer's verdict is complete, its causes are those "
            "found so far"
        )


def _compare(
    k: int, submitted: tuple[Array, Array | None], ref: Reference, tol: float
) -> dict[str, Any]:
    dW, db = submitted
    expected_W, expected_b = ref.dW[k], ref.db[k]
    entry: dict[str, Any] = {
        "layer": k,
        "shape": list(expected_W.shape),
        "cause": None,
        "causes": [],
    }
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
    search: Search,
) -> None:
    """Fill ``cause``, ``causes`` and ``explanation`` of each wrong layer."""
    if first is None:
        return
    wrong = {
        entry["layer"]: submitted[entry["layer"]][0] for entry in layers if not entry["passed"]
    }
    found = _matches(wrong, ref, first, tol, search)
    for k, dW in wrong.items():
        entry = layers[k]
        shape = tuple(ref.dW[k].shape)
        codes = found[k]
        if not codes and k == 0 and not dW.any() and ref.dW[k].any():
            codes = ["not_reached"]
        if not codes and entry["relative_error_W"] is not None and entry["relative_error_W"] < tol:
            codes = ["bias"]
        if not codes and k < first:
            codes = ["downstream"]
        entry["causes"] = list(dict.fromkeys(code.partition(":")[0] for code in codes))
        entry["cause"] = entry["causes"][0] if codes else None
        if codes == ["bias"]:
            entry["explanation"] = (
                f"Layer {k}: ∂L/∂W is right but ∂L/∂b is not: ∂L/∂b = Σ δ over the batch's "
                f"rows, one value per unit ({shape[1]})."
            )
        elif codes:
            entry["explanation"] = explain(codes, k, shape, first)
        elif dW.shape != ref.dW[k].shape:
            entry["explanation"] = (
                f"Layer {k}: ∂L/∂W must have W's shape {shape}, got {tuple(dW.shape)}."
            )
            entry["cause"], entry["causes"] = "shape", ["shape"]
        elif search.stopped_because is not None:
            entry["explanation"] = (
                f"Layer {k}: off by a relative error of {entry['relative_error_W']:.3g}; no "
                f"common mistake matched among the {search.tried} tried before the search "
                f"stopped ({search.stopped_because}); compare your δ with the state's `delta` "
                "of this layer."
            )
        else:
            entry["explanation"] = (
                f"Layer {k}: off by a relative error of {entry['relative_error_W']:.3g} and no "
                "common mistake matches; compare your δ with the state's `delta` of this layer."
            )


def _matches(
    wrong: dict[int, Array], ref: Reference, first: int, tol: float, search: Search
) -> dict[int, list[str]]:
    """Per wrong layer k (its submitted ∂L/∂W), every mistake whose ∂L/∂W of layer k it is,
    in ``candidates``' order; each candidate computed once, for all layers, while ``search``
    may go on."""
    found: dict[int, list[str]] = {}
    open_layers = []
    for k, dW in wrong.items():
        expected = ref.dW[k]
        transposed = dW.shape == expected.T.shape and relative_error(dW.T, expected) < tol
        if transposed and (dW.shape != expected.shape or relative_error(dW, expected) >= tol):
            found[k] = ["transposed"]
            continue
        found[k] = []
        if dW.shape == expected.shape:
            open_layers.append(k)
    if not open_layers:
        return found
    for code, grads in candidates(ref, first):  # each one computed when it is asked for
        search.tried += 1
        for k in open_layers:
            if code in found[k] or relative_error(grads[k], ref.dW[k]) < tol:
                continue  # already found, or this mistake changes nothing here: no evidence
            if relative_error(wrong[k], grads[k]) < tol:
                found[k].append(code)
        if not search.go_on():
            break
    return found


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
