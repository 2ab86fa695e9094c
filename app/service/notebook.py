"""A run as a Jupyter notebook (nbformat v4) in the lessons' own NumPy, continuing the run.

``notebook_of(session, style, exercise, url)`` takes one export of the session (under its
lock) and writes it out as code a student reads: lesson 003's ``FCLayer``,
``ActivationLayer``, the loss and its derivative and ``Network`` (``style="lesson003"``), or
lesson 000's ``TwoLayerNetwork`` with its named steps (``"lesson000"``, for lesson 000's
network only) — with the run's data, architecture, hyperparameters, weights, momentum's
velocities, the tfp rule's dead weights, and its place in the batch order with the generator
that shuffles the next epochs. Running it continues the training: its next batch steps are
the server's next ones, bit for bit (tests/api/test_notebook_runs.py).

``exercise=True`` leaves the backward pass for the student (a stub beside the formulas) and
adds a check: central differences here, then the playground's grader (its URL, the session's
id and watch token are written into the check, read-only), when it can be reached.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass
from typing import Any, Literal

import nbformat
import numpy as np
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from app.engine import ConfigError
from app.engine.gradcheck import STEP, tolerance_for

from . import notebook_text as text
from .session import Session, unstringify_ints

Style = Literal["lesson003", "lesson000"]
MEDIA_TYPE = "application/x-ipynb+json"
TRAIN_STEPS = 10  # what the last cell trains; a student changes the number


@dataclass(frozen=True)
class Notebook:
    """The notebook's file name and its JSON text."""

    filename: str
    text: str


@dataclass(frozen=True)
class Playground:
    """Where the exercise's check finds the grader: the server, the session, a read token."""

    url: str
    session_id: str
    watch_token: str


@dataclass(frozen=True)
class Run:
    """What a notebook writes out of one session export (``Session.export``)."""

    session_id: str
    preset: str | None
    model: dict[str, Any]  # ModelConfig's fields, as the session's config has them
    data: dict[str, Any]  # the dataset summary: name, task, feature_names, x_train, y_train …
    layers: list[dict[str, Any]]  # per layer: W, b, velocity_W, velocity_b, dead (lists)
    state: dict[str, Any]  # step, epoch, cursor, position, order, order_drawn, rng

    @classmethod
    def of(cls, exported: dict[str, Any]) -> Run:
        model = exported["model"]
        return cls(
            exported["id"],
            exported["config"].get("preset"),
            exported["config"]["model"],
            exported["data"],
            model["layers"],
            {**model, "rng": unstringify_ints(model["rng"])},
        )

    @property
    def n_train(self) -> int:
        return len(self.data["x_train"])

    @property
    def activations(self) -> list[str]:
        return [layer["activation"] for layer in self.model["layers"]]

    @property
    def full_batch(self) -> bool:
        size = self.model["batch_size"]
        return size is None or size >= self.n_train

    @property
    def name(self) -> str:
        return self.preset or f"a network on {self.data['name']}"

    def architecture(self) -> str:
        """'2 → 4 tanh → 1 tanh'."""
        units = [f"{layer['units']} {layer['activation']}" for layer in self.model["layers"]]
        return " → ".join([str(self.model["input_size"]), *units])


def notebook_of(session: Session, style: Style, exercise: bool, url: str) -> Notebook:
    """The session's run as a notebook of ``style``; ConfigError("style") when lesson 000's
    style does not fit its network."""
    run = Run.of(session.export())
    playground = Playground(url, session.id, session.watch_token)
    if style == "lesson000":
        misfit = lesson000_misfit(run)
        if misfit:
            raise ConfigError("style", misfit)
        cells = lesson000_cells(run, exercise, playground)
    else:
        cells = lesson003_cells(run, exercise, playground)
    notebook = new_notebook(cells=cells, metadata=metadata(run, style, exercise))
    return Notebook(filename_of(run, style, exercise), nbformat.writes(notebook))


def lesson000_misfit(run: Run) -> str | None:
    """Why lesson 000's ``TwoLayerNetwork`` cannot hold this run (None: it can)."""
    model = run.model
    differences = []
    if run.activations != ["sigmoid", "sigmoid"]:
        differences.append(f"its layers are {run.architecture()}")
    if model["use_bias"]:
        differences.append("it has biases")
    if model["loss"] != "sse":
        differences.append(f"its loss is {model['loss']}")
    if not run.full_batch:
        differences.append(f"it trains batches of {model['batch_size']} of {run.n_train} rows")
    if model["momentum"] != 0.0:
        differences.append(f"it has momentum {model['momentum']}")
    if model["l1"] != 0.0 or model["l2"] != 0.0 or any(layer["dead"] for layer in run.layers):
        differences.append("it has an L1/L2 penalty")
    if not differences:
        return None
    return (
        "lesson 000's style is for lesson 000's network: two sigmoid layers without biases, the "
        "sum of squared errors, every row in each batch, no momentum, no L1/L2; this run differs: "
        + "; ".join(differences)
        + " (style=lesson003 writes any network)"
    )


def metadata(run: Run, style: Style, exercise: bool) -> dict[str, Any]:
    return {
        "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"},
        "language_info": {"name": "python"},
        "backprop_playground": {
            "session": run.session_id,
            "step": run.state["step"],
            "style": style,
            "exercise": exercise,
            "numpy": np.__version__,
        },
    }


def filename_of(run: Run, style: Style, exercise: bool) -> str:
    """'circle-step-40.ipynb', 'lesson-000-step-0-lesson000-exercise.ipynb'."""
    slug = re.sub(r"[^a-z0-9]+", "-", (run.preset or run.data["name"]).lower()).strip("-")
    parts = [slug or "run", "step", str(run.state["step"])]
    if style == "lesson000":
        parts.append("lesson000")
    if exercise:
        parts.append("exercise")
    return "-".join(parts) + ".ipynb"


# ----- cells ----------------------------------------------------------------------------------


def code(cell_id: str, source: str, *tags: str) -> NotebookNode:
    cell: NotebookNode = new_code_cell(source, id=cell_id)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def markdown(cell_id: str, source: str) -> NotebookNode:
    cell: NotebookNode = new_markdown_cell(source, id=cell_id)
    return cell


def lesson003_cells(run: Run, exercise: bool, playground: Playground) -> list[NotebookNode]:
    """The run in lesson 003's classes, each piece's formulas before it."""
    model = run.model
    loss = text.LOSSES.get(model["loss"])
    if loss is None:
        raise ConfigError("loss", f"the notebook has no code for the loss {model['loss']!r}")
    loss_name, prime_name, loss_md, loss_code, fused_with = loss
    cells = [
        markdown("title", title(run, "lesson 003's `FCLayer`, `ActivationLayer` and `Network`")),
        code("imports", text.IMPORT),
        markdown("data-formulas", data_markdown(run)),
        code("data", data_code(run)),
        markdown("layers-formulas", text.LAYERS_MD + ("" if model["use_bias"] else text.NO_BIAS)),
        code("fc-layer", fc_layer_code(exercise), *(["exercise"] if exercise else [])),
        markdown("activations-formulas", activations_markdown(run)),
        code("activations", activations_code(run, exercise), *(["exercise"] if exercise else [])),
        markdown("loss-formulas", loss_markdown(loss_md, fused_with, prime_name)),
        code("loss", f"# The loss E(y_true, y_pred) and its derivative.\n{loss_code}"),
        markdown("update-formulas", update_markdown(run)),
        code("update", text.UPDATE),
        markdown("network-formulas", text.NETWORK_MD),
        code("network", text.NETWORK),
        markdown("batches-formulas", text.BATCHES_MD),
        code("batches", text.BATCHES),
        markdown("run-formulas", run_markdown(run)),
        code("run", network_code(run, loss_name, prime_name, fused_with is not None)),
        code("weights", weights_code(run)),
        code("position", position_code(run)),
    ]
    if exercise:
        # The check holds the playground's run to this network (lesson 000's, to its own).
        facts = f"RUN_LOSS = {model['loss']!r}\nRUN_ACTIVATIONS = {run.activations!r}\n\n\n"
        cells += check_cells(run, playground, "backward_propagation", facts + text.CHECK_003)
    return [
        *cells,
        markdown("train-formulas", text.TRAIN_MD.format(numpy=np.__version__)),
        code("train-function", text.TRAIN),
        code("train", text.TRAIN_CALL.format(steps=TRAIN_STEPS), "train"),
    ]


def lesson000_cells(run: Run, exercise: bool, playground: Playground) -> list[NotebookNode]:
    """The run as lesson 000's ``TwoLayerNetwork``, its named steps before it."""
    backward = text.TWO_LAYER_BACKWARD_STUB if exercise else text.TWO_LAYER_BACKWARD
    cells = [
        markdown("title", title(run, "lesson 000's `TwoLayerNetwork` and its named steps")),
        code("imports", text.IMPORT),
        markdown("data-formulas", data_markdown(run)),
        code("data", data_code(run)),
        markdown("sigmoid-formulas", text.SIGMOID_MD),
        code("sigmoid", text.SIGMOID),
        markdown("network-formulas", text.TWO_LAYER_MD),
        code(
            "two-layer-network",
            text.TWO_LAYER.replace("{backward}", backward),
            *(["exercise"] if exercise else []),
        ),
        markdown(
            "run-formulas",
            f"## The run\n\nThe network, {run.architecture()}, with its weights at step "
            f"{run.state['step']}, and its learning rate.",
        ),
        code("run", two_layer_code(run)),
    ]
    if exercise:
        cells += check_cells(run, playground, "backward()", text.CHECK_000)
    return [
        *cells,
        markdown("train-formulas", text.TRAIN_000_MD.format(numpy=np.__version__)),
        code("train", text.TRAIN_000_CALL.format(steps=TRAIN_STEPS), "train"),
    ]


def title(run: Run, written_as: str) -> str:
    state = run.state
    return (
        f"# {run.name}, continued in plain NumPy\n\n"
        f"This notebook is a run of Backprop Playground — {run.architecture()}, "
        f"{run.model['loss']} loss, on the {run.data['name']} data — exported at batch step "
        f"{state['step']} (epoch {state['epoch']}, {state['position']} of its {run.n_train} "
        f"training rows done). It is written as {written_as}, in plain NumPy: nothing of the "
        "playground is imported.\n\n"
        "Run the cells in order: the last one trains the next batch steps, which are the "
        "playground's own next steps — the same rows, the same sums in the same order."
    )


def data_markdown(run: Run) -> str:
    data = run.data
    names = ", ".join(data["feature_names"])
    classes = "" if not data["class_names"] else f" ({', '.join(data['class_names'])})"
    scaled = " standardized with the training rows' mean and spread," if data["scaling"] else ""
    return (
        "## The data\n\n"
        f"The {run.n_train} training rows the run trains on,{scaled} as it holds them: `x_train` "
        f"(n, {len(data['feature_names'])}) has the inputs {names}; `y_train` "
        f"(n, {len(data['y_train'][0])}) the {data['task']} targets{classes}. One row is one "
        f"sample. The numbers are {run.model['dtype']}, written so they read back exactly."
    )


def data_code(run: Run) -> str:
    return (
        "# The training rows, exactly as the run holds them: x_train (n, inputs), y_train "
        "(n, outputs).\n"
        f"DTYPE = np.{run.model['dtype']}\n"
        f"x_train = {array_literal(run.data['x_train'], 'DTYPE')}\n"
        f"y_train = {array_literal(run.data['y_train'], 'DTYPE')}"
    )


def fc_layer_code(exercise: bool) -> str:
    backward = text.FC_BACKWARD_STUB if exercise else text.FC_BACKWARD
    return text.FC_LAYER.replace("{backward}", backward)


def activations_markdown(run: Run) -> str:
    used = dict.fromkeys(run.activations)
    return text.ACTIVATIONS_MD + "\n".join(text.ACTIVATION_FORMULAS[name] for name in used)


def activations_code(run: Run, exercise: bool) -> str:
    used = dict.fromkeys(run.activations)
    backward = text.ACTIVATION_BACKWARD_STUB if exercise else text.ACTIVATION_BACKWARD
    pieces = [text.ACTIVATION_CODE[name] for name in used]
    pieces.append(text.ACTIVATION_LAYER.replace("{backward}", backward))
    if "softmax" in used:
        pieces.append(text.SOFTMAX_LAYER)
    first = "# The activations this network uses, each f with its derivative, and their layers.\n"
    return first + "\n\n\n".join(pieces)


def loss_markdown(formula: str, fused_with: str | None, prime_name: str) -> str:
    fused = (
        "" if fused_with is None else text.FUSED_MD.format(activation=fused_with, prime=prime_name)
    )
    return f"## The loss\n\n{formula}{fused}"


def update_markdown(run: Run) -> str:
    model = run.model
    return text.UPDATE_MD.format(
        momentum=model["momentum"], l1=model["l1"], l2=model["l2"], rule=model["penalty_rule"]
    )


def run_markdown(run: Run) -> str:
    state = run.state
    if state["cursor"]:
        open_batch = (
            " The playground was inside a batch (its forward or backward pass walked phase by "
            "phase): that batch has not updated the weights yet, so the first step here runs it "
            "whole, as the playground's next batch step finishes it."
        )
    else:
        open_batch = ""
    return (
        "## The run\n\n"
        f"The network, {run.architecture()}, its loss and hyperparameters; then its weights as "
        f"they are at step {state['step']}, and where it is in its batch order.{open_batch}"
    )


def network_code(run: Run, loss_name: str, prime_name: str, fused: bool) -> str:
    model = run.model
    lines = [
        "# The run's network: its layers in order, and its loss.",
        "# (A function: a check builds it again from the classes as their cells last ran.)",
        "def make_network():",
        "    network = Network()",
    ]
    n_in = model["input_size"]
    bias = "" if model["use_bias"] else ", bias=False"
    for layer in model["layers"]:
        lines.append(f"    network.add(FCLayer({n_in}, {layer['units']}{bias}))")
        name = layer["activation"]
        lines.append(
            "    network.add(SoftmaxLayer())"
            if name == "softmax"
            else f"    network.add(ActivationLayer({name}, {name}_prime))"
        )
        n_in = layer["units"]
    lines += [
        f"    network.use({loss_name}, {prime_name}{', fused=True' if fused else ''})",
        "    return network",
        "",
        "",
        "network = make_network()",
        "",
        "# The run's hyperparameters (change them to try others; the playground's are these).",
        f"learning_rate = {model['learning_rate']!r}",
        f"momentum = {model['momentum']!r}",
        f"l1 = {model['l1']!r}",
        f"l2 = {model['l2']!r}",
        f'penalty_rule = "{model["penalty_rule"]}"  # how L1/L2 join the update: see above',
        f"batch_size = {model['batch_size']!r}  # None: every row in each batch",
        f"shuffle = {model['shuffle']!r}",
    ]
    return "\n".join(lines)


def weights_code(run: Run) -> str:
    extras = [
        name
        for name, present in (
            ("momentum's velocities", any(layer["velocity_W"] for layer in run.layers)),
            ("the frozen weights", any(layer["dead"] for layer in run.layers)),
        )
        if present
    ]
    lines = [
        f"# The run's weights at step {run.state['step']}, layer by layer"
        + (f", with {' and '.join(extras)}." if extras else "."),
        "dense = [layer for layer in network.layers if isinstance(layer, FCLayer)]",
    ]
    for k, layer in enumerate(run.layers):
        lines.append(f"dense[{k}].weights = {array_literal(layer['W'], 'DTYPE')}")
        if layer["b"] is not None:
            lines.append(f"dense[{k}].bias = {array_literal(layer['b'], 'DTYPE')}")  # (1, units)
        if layer["velocity_W"] is not None:
            velocity = array_literal(layer["velocity_W"], "DTYPE")
            lines.append(f"dense[{k}].velocity_weights = {velocity}")
        if layer["velocity_b"] is not None:
            velocity = array_literal(layer["velocity_b"], "DTYPE")
            lines.append(f"dense[{k}].velocity_bias = {velocity}")
        if layer["dead"] is not None:
            lines.append(f"dense[{k}].dead = {array_literal(layer['dead'], None)}")
    return "\n".join(lines)


def position_code(run: Run) -> str:
    state = run.state
    order = state["order"] if state["order_drawn"] else None
    order_text = (
        "None  # the next batch starts a new epoch" if order is None else wrapped(order, "np.array")
    )
    return "\n".join(
        [
            f"# Where the run is: step {state['step']}, epoch {state['epoch']}, "
            f"{state['position']} rows of this epoch's order trained; and its generator.",
            "rng = np.random.default_rng()",
            "rng.bit_generator.state = {",
            *(f"    {key!r}: {value!r}," for key, value in state["rng"].items()),
            "}",
            f"order = {order_text}",
            "batches = Batches(",
            "    x_train, y_train, batch_size, shuffle, rng, order,",
            f"    position={state['position']}, epoch={state['epoch']}",
            ")",
            f"step = {state['step']}",
        ]
    )


def two_layer_code(run: Run) -> str:
    state = run.state
    first, second = run.layers
    return "\n".join(
        [
            f"# The run's network with its weights at step {state['step']}, and its learning rate.",
            f"network = TwoLayerNetwork(x_train, y_train, {run.model['layers'][0]['units']})",
            f"network.weights1 = {array_literal(first['W'], 'DTYPE')}",
            f"network.weights2 = {array_literal(second['W'], 'DTYPE')}",
            f"network.step = {state['step']}",
            f"learning_rate = {run.model['learning_rate']!r}",
        ]
    )


def check_cells(run: Run, playground: Playground, what: str, checks: str) -> list[NotebookNode]:
    """The exercise's check: central differences here, then the playground's grader."""
    dtype = run.model["dtype"]
    head = text.CHECK_HEAD.format(
        url=playground.url,
        session_id=playground.session_id,
        watch_token=playground.watch_token,
        step=STEP,
        tolerance=tolerance_for(dtype),
        precision=dtype,
    )
    formulas = text.CHECK_MD.format(what=what, step=STEP, tolerance=tolerance_for(dtype))
    return [
        markdown("check-formulas", formulas),
        code("check", f"{head}\n\n\n{checks}\n\n\n{text.CHECK_TAIL}", "check"),
    ]


def wrapped(values: list[Any], call: str) -> str:
    """``np.array([...])`` of a long flat list, a few numbers a line."""
    lines = textwrap.wrap(", ".join(repr(v) for v in values), 92, break_on_hyphens=False)
    if len(lines) <= 1:
        return f"{call}([{''.join(lines)}])"
    return f"{call}([\n" + "".join(f"    {line}\n" for line in lines) + "])"


def array_literal(rows: Any, dtype: str | None) -> str:
    """``np.array([...], dtype=DTYPE)`` of nested lists, a row a line, each float written
    shortest-round-trip (``repr``): the literal reads back to the very same numbers."""
    value = np.asarray(rows)
    if value.ndim == 1 or value.size == 0:
        body = repr(value.tolist())
    else:
        body = "[\n" + "".join(f"    {row!r},\n" for row in value.tolist()) + "]"
    return f"np.array({body}{'' if dtype is None else f', dtype={dtype}'})"
