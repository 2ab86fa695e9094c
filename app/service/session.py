"""A training session: one model, its data, its history, and everything a client may read.

The REST API and the websocket share these objects. A session's methods take its lock, so
concurrent calls never interleave inside a step; each change bumps ``version`` and tells the
listeners (the live stream), from whatever thread made it.
"""

from __future__ import annotations

import copy
import functools
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

from app.engine import ConfigError, Model, config_as_dict, config_from_dict, errors_ignored
from app.engine.datasets import (
    DATASETS,
    PLANE_FEATURES,
    Dataset,
    Plane,
    from_arrays,
    make_dataset,
    plane_of,
    with_features,
)
from app.engine.model import HYPERPARAMETERS, BatchResult

from . import chain, coach, grader, handcheck, lessons
from .costly import Job
from .history import Timeline
from .memory import SessionShape, check_memory_budget
from .presets import PRESETS
from .questions import QuestionBook
from .record import StudyRecord, Tool
from .stopping import stopping

Unit = Literal["phase", "batch", "epoch"]
Listener = Callable[["Session", str, dict[str, Any]], None]
T = TypeVar("T")

MAX_TRACE_ROWS = 100  # batch rows per layer in a state; the manager sets it from the settings
MAX_HISTORY = 2000  # points kept per session; older ones are thinned, never the newest
EXPORT_FORMAT = "backprop-playground-session"
EXPORT_VERSION = 1


def new_token() -> str:
    """256 random bits, URL-safe: unguessable ids and tokens."""
    return secrets.token_urlsafe(32)


# ----- configs ------------------------------------------------------------------------------


def resolve_config(request: dict[str, Any]) -> dict[str, Any]:
    """A create request (a preset name, a full config, or a preset with overrides) →
    ``{"preset", "model", "data"}`` with every field filled in."""
    preset_name = request.get("preset")
    base: dict[str, Any] = {"model": {}, "data": {}}
    if preset_name is not None:
        if preset_name not in PRESETS:
            known = ", ".join(sorted(PRESETS))
            raise ConfigError("preset", f"unknown preset {preset_name!r}; choose one of: {known}")
        base = copy.deepcopy(PRESETS[preset_name])
    model = {**base["model"], **(request.get("model") or {})}
    data = {**base["data"], **(request.get("data") or {})}
    if "features" in (request.get("data") or {}) and "input_size" not in (
        request.get("model") or {}
    ):
        model.pop("input_size", None)  # the chosen features decide it
    if "model" not in request and preset_name is None:
        raise ConfigError("model", "give a preset or a model config")
    return {"preset": preset_name, "model": model, "data": data}


def build_dataset(data: dict[str, Any], uploaded: Callable[[str], dict[str, Any]]) -> Dataset:
    """The data spec → a Dataset: a built-in by name, or an uploaded one by id."""
    try:
        if data.get("upload"):
            table = uploaded(str(data["upload"]))
            return from_arrays(
                table["name"],
                np.asarray(table["features"], dtype=np.float64),
                np.asarray(table["targets"], dtype=np.float64),
                task=table["task"],
                train_ratio=float(data.get("train_ratio", 0.8)),
                seed=int(data.get("seed", 0)),
                feature_names=table["feature_names"],
                class_names=table.get("class_names"),
                standardize=bool(data.get("standardize", True)),
                labels=upload_labels(data.get("labels", "01"), table["task"]),
                shuffle=bool(data.get("shuffle", True)),
            )
        name = data.get("dataset")
        if name not in DATASETS:
            known = ", ".join(sorted(DATASETS))
            raise ConfigError("data.dataset", f"unknown dataset {name!r}; choose one of: {known}")
        dataset = make_dataset(
            name,
            n_samples=data.get("n_samples"),
            noise=float(data.get("noise", 0.0)),
            train_ratio=float(data.get("train_ratio", 0.5)),
            seed=int(data.get("seed", 0)),
            labels=data.get("labels", "01"),
        )
        features = data.get("features")
        if features is None or list(features) == list(PLANE_FEATURES):
            return dataset
        try:
            return with_features(dataset, list(features))
        except ValueError as error:
            raise ConfigError("data.features", str(error)) from None
    except ConfigError:
        raise
    except (ValueError, TypeError) as error:
        raise ConfigError("data", str(error)) from None


def upload_labels(labels: Any, task: str) -> Any:
    """An upload's label convention: −1/+1 ("pm1") only for binary targets."""
    if labels == "pm1" and task != "binary":
        raise ConfigError(
            "data.labels", f"'pm1' (−1/+1 targets) is for binary data; this is {task}"
        )
    return labels


def model_config_for(model: dict[str, Any], dataset: Dataset) -> dict[str, Any]:
    """Fill input_size from the data; check the output layer fits the targets."""
    model = dict(model)
    n_features = dataset.x_train.shape[1]
    model.setdefault("input_size", n_features)
    if model["input_size"] != n_features:
        raise ConfigError(
            "model.input_size", f"the data has {n_features} features, not {model['input_size']}"
        )
    layers = model.get("layers") or []
    n_targets = dataset.y_train.shape[1]
    if layers and layers[-1].get("units") != n_targets:
        raise ConfigError(
            "model.layers",
            f"the output layer needs {n_targets} unit(s) for this data's targets, "
            f"not {layers[-1].get('units')}",
        )
    return model


# ----- the session --------------------------------------------------------------------------


@dataclass
class StepOutcome:
    """What a step call did: one entry per unit run, and why it stopped early if it did."""

    unit: Unit
    requested: int
    done: int = 0
    units: list[dict[str, Any]] = field(default_factory=list)
    stopped: str | None = None  # "diverged", "time budget", "server stopping" …
    diverged: str | None = None

    def add(self, entry: dict[str, Any]) -> bool:
        """Count one unit run; True when it diverged (no more units after it)."""
        self.units.append(entry)
        self.done += 1
        if entry.get("diverged"):
            self.stopped, self.diverged = "diverged", entry["diverged"]
            return True
        return False


@dataclass(frozen=True)
class Metrics:
    """``Session.metrics()`` as computed at one moment: the model, its counters, the edits."""

    model: Model
    step: int
    cursor: int
    edits: int
    value: dict[str, Any]
    at: float = field(default_factory=time.perf_counter)  # when it was worked out


class Session:
    """One model on one dataset, driven by REST calls and the live stream."""

    def __init__(
        self,
        config: dict[str, Any],
        dataset: Dataset,
        session_id: str | None = None,
        token: str | None = None,
        watch_token: str | None = None,
    ) -> None:
        self.id = session_id or new_token()
        self.token = token or new_token()
        self.watch_token = watch_token or new_token()
        self.dataset = dataset
        self._summary: tuple[Dataset, dict[str, Any]] | None = None  # see dataset_summary
        self._plane: tuple[Dataset, Plane | None] | None = None  # see plane
        self.config = config  # {"preset", "model", "data"}: what reset rebuilds
        self.lock = threading.RLock()
        self.version = 0
        self.created = self.last_used = time.time()
        self.listeners: list[Listener] = []
        self.playing = False  # set by the live stream; stored so a restart knows
        # A state carries at most this many batch rows of each per-row trace field: the
        # largest network on a full batch would otherwise answer gigabytes of JSON.
        self.max_trace_rows = MAX_TRACE_ROWS
        self.max_bytes: int | None = None  # the memory budget a batch size change must keep
        # Changes other than training (a setting, an edited weight, a reset): with the model
        # and its counters, they say whether metrics computed earlier still hold.
        self.edits = 0
        self.last_metrics: Metrics | None = None
        self._labels: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._build()
        self.timeline = Timeline(self)  # what ran since the last reset, to revisit any moment
        self.questions = QuestionBook()  # predict, then reveal: asked of a class, with answers
        self.record = StudyRecord()  # a class's students' hand checks and grades, by name

    def _build(self) -> None:
        model_config = config_from_dict(self.config["model"])
        self.model = Model(model_config)
        # Every field, not only those a preset or request named: state and export list them all.
        self.config["model"] = config_as_dict(model_config)
        self.model.set_data(self.dataset.x_train, self.dataset.y_train)
        self.history: list[dict[str, Any]] = []
        self._record_history()

    # ----- listeners -----------------------------------------------------------------------

    def add_listener(self, listener: Listener) -> None:
        with self.lock:
            self.listeners.append(listener)

    def remove_listener(self, listener: Listener) -> None:
        with self.lock:
            if listener in self.listeners:
                self.listeners.remove(listener)

    def _changed(self, kind: str, detail: dict[str, Any] | None = None) -> None:
        self.version += 1
        if kind != "step":
            self.edits += 1
        self.last_used = time.time()
        for listener in list(self.listeners):
            listener(self, kind, detail or {})

    def set_playing(self, playing: bool) -> None:
        """Whether the live stream plays the session now (its state and frames say so, and a
        restart knows). Without the lock: the event loop says it and must not wait for a step."""
        self.playing = playing

    def touch(self) -> None:
        """A client used the session (reading is using): it is not idle, so it does not expire."""
        self.last_used = time.time()

    # ----- metrics -------------------------------------------------------------------------

    def train_loss(self) -> float:
        return self.model.evaluate(self.dataset.x_train, self.dataset.y_train)

    def _accuracy_of(self, y: np.ndarray, y_pred: np.ndarray) -> float | None:
        """Fraction right: argmax for multiclass, the midpoint threshold for binary."""
        if self.dataset.task == "regression":
            return None
        right: np.ndarray = self.predicted_classes(y_pred) == self._label_classes(y)
        return int(np.count_nonzero(right)) / right.size  # np.mean's value exactly: count ÷ size

    def _label_classes(self, y: np.ndarray) -> np.ndarray:
        """The classes of a split's labels, worked out once (the data never changes)."""
        known = self._labels.get(id(y))
        if known is None or known[0] is not y:
            known = self._labels[id(y)] = (y, self.predicted_classes(y))
        return known[1]

    def predicted_classes(self, y: np.ndarray) -> np.ndarray:
        """Classes: argmax per row for multiclass (n,); the midpoint threshold per output for
        binary (n, outputs)."""
        if self.dataset.task == "multiclass":
            classes: np.ndarray = y.argmax(axis=1)
            return classes
        return (y > self._class_threshold).astype(np.int64)

    @functools.cached_property
    def _class_threshold(self) -> float:
        """The binary labels' midpoint: 0 for ±1 labels, 0.5 for 0/1 (the data never changes)."""
        return 0.0 if self.dataset.y_train.min() < 0 else 0.5

    def metrics(self) -> dict[str, Any]:
        """Train/test loss and accuracy of the current weights: one forward pass per split,
        once per moment (the history's point and a frame at the same moment share them)."""
        model = self.model
        last = self.last_metrics
        if (
            last is not None
            and last.model is model
            and (last.step, last.cursor, last.edits) == (model.step, model.cursor, self.edits)
        ):
            return last.value
        train_loss, train_accuracy = self._split_metrics(self.dataset.x_train, self.dataset.y_train)
        test_loss, test_accuracy = self._split_metrics(self.dataset.x_test, self.dataset.y_test)
        value = {
            "step": self.model.step,
            "epoch": self.model.epoch,
            "train_loss": train_loss,
            "test_loss": test_loss,
            "train_accuracy": train_accuracy,
            "test_accuracy": test_accuracy,
        }
        self.last_metrics = Metrics(model, model.step, model.cursor, self.edits, value)
        return value

    def _split_metrics(self, x: np.ndarray, y: np.ndarray) -> tuple[float | None, float | None]:
        """(loss, accuracy) of one split from a single prediction; (None, None) when empty."""
        if len(x) == 0:
            return None, None
        y_pred, loss = self.model.predict_with_loss(x, y)
        return loss, self._accuracy_of(y, y_pred)

    def _record_history(self) -> None:
        if self.history and self.history[-1]["step"] == self.model.step:
            return
        self.history.append(self.metrics())
        if len(self.history) > MAX_HISTORY:
            # Keep the first point and every other one after it: the curve's shape stays.
            self.history = [self.history[0], *self.history[1:-1:2], self.history[-1]]

    # ----- stepping ------------------------------------------------------------------------

    def step(
        self,
        unit: Unit,
        count: int,
        budget_seconds: float | None = None,
        by: str | None = None,
        interrupted: Callable[[], bool] | None = None,
    ) -> StepOutcome:
        """Run ``count`` phases, batches or epochs; stop early on divergence, the budget, or
        when ``interrupted()`` says so (play's pause); ``by`` is passed to the listeners."""
        if unit not in ("phase", "batch", "epoch"):
            raise ConfigError("unit", f"must be phase, batch or epoch, got {unit!r}")
        if count < 1:
            raise ConfigError("count", f"must be at least 1, got {count}")
        deadline = None if budget_seconds is None else time.monotonic() + budget_seconds
        outcome = StepOutcome(unit, count)
        with self.lock, errors_ignored():
            for _ in range(count):
                if interrupted is not None and interrupted():
                    outcome.stopped = "interrupted"
                    break
                if stopping():
                    outcome.stopped = "server stopping"
                    break
                entry = self._run_unit(unit, deadline)
                if entry is None:
                    outcome.stopped = "server stopping" if stopping() else "time budget"
                    break
                if outcome.add(entry):
                    break
                if deadline is not None and time.monotonic() > deadline and outcome.done < count:
                    outcome.stopped = "time budget"
                    break
            self.stepped(outcome, by)
        return outcome

    def step_and_state(
        self, unit: Unit, count: int, budget_seconds: float | None, include_trace: bool = True
    ) -> tuple[StepOutcome, dict[str, Any]]:
        """``step``, then the state it left, with no other change between them (a REST step's
        answer)."""
        with self.lock:
            outcome = self.step(unit, count, budget_seconds=budget_seconds)
            return outcome, self.state(include_trace)

    def stepped(self, outcome: StepOutcome, by: str | None) -> None:
        """Tell the listeners about a step call's units (the caller holds the lock)."""
        self._changed("step", {"unit": outcome.unit, "count": outcome.done, "by": by})

    def _run_unit(self, unit: Unit, deadline: float | None) -> dict[str, Any] | None:
        model = self.model
        if unit == "phase":
            result = model.step_phase()
            self.timeline.record_phase(self)
            entry: dict[str, Any] = {"phase": result.phase.as_dict(), "loss": result.loss}
            if result.diverged:
                entry["diverged"] = result.diverged
            if result.epoch_done:
                self._record_history()
            return entry
        if unit == "batch":
            return self.batch_done(model.step_batch())
        return self._run_epoch(deadline)

    def batch_done(self, batch: BatchResult) -> dict[str, Any]:
        """Record a batch step the model has just run (by ``step`` or with other sessions'
        models, ``together.py``): the timeline, the history at an epoch's end; its entry."""
        self.timeline.record_batch(self)
        if batch.epoch_done:
            self._record_history()
        return {"loss": batch.loss, "diverged": batch.diverged}

    def _run_epoch(self, deadline: float | None) -> dict[str, Any] | None:
        start_epoch = self.model.epoch
        while self.model.epoch == start_epoch:
            if stopping() or (deadline is not None and time.monotonic() > deadline):
                return None
            batch = self.model.step_batch()
            self.timeline.record_batch(self)
            if batch.diverged:
                return {"loss": batch.loss, "diverged": batch.diverged}
        self._record_history()
        return {"loss": self.history[-1]["train_loss"], "epoch": self.model.epoch}

    # ----- changing ------------------------------------------------------------------------

    def set_hyperparameters(self, changes: dict[str, Any], by: str | None = None) -> None:
        """learning_rate, batch_size, momentum, l1, l2, penalty_rule, shuffle, loss and per-layer
        ``activations`` (a list, or {index: name}); the weights stay."""
        with self.lock:
            activations = changes.get("activations")
            simple = {k: v for k, v in changes.items() if k in HYPERPARAMETERS}
            unknown = set(changes) - set(simple) - {"activations"}
            if unknown:
                name = sorted(unknown)[0]
                raise ConfigError(name, f"cannot be changed; changeable: {HYPERPARAMETERS}")
            if "batch_size" in simple and self.max_bytes is not None:
                batch_size = simple["batch_size"]
                if batch_size is None or (isinstance(batch_size, int) and batch_size >= 1):
                    try:
                        check_memory_budget(self.shape(batch_size), self.max_bytes)
                    except ConfigError as error:  # the change at fault: its batch size
                        raise ConfigError("batch_size", error.message) from None
            self.model.apply_changes(
                simple, dict(_activation_changes(activations, len(self.model.layers)))
            )
            self.config["model"] = config_as_dict(self.model.config)
            self.timeline.record_set(self, changes, by)
            self._changed("set", {"changes": changes, "by": by})

    def shape(self, batch_size: int | None) -> SessionShape:
        """What this session's memory depends on, with that batch size."""
        return SessionShape(
            [layer.W.shape[1] for layer in self.model.layers],
            int(self.dataset.x_train.shape[1]),
            len(self.dataset.x_train),
            len(self.dataset.x_train) + len(self.dataset.x_test),
            batch_size,
        )

    def set_parameter(
        self, layer: int, i: int | None, j: int, value: float, by: str | None = None
    ) -> dict[str, Any]:
        """Set one weight W[layer][i, j] (or, with i None, the bias b[layer][j]) by hand, as
        TF Playground lets a student type one; the next step trains from it. Answers the
        parameter as it is now (``value`` in the model's dtype; ``dead``: the tfp rule froze
        it, so it keeps the value) and the version this change made."""
        with self.lock:
            if not 0 <= layer < len(self.model.layers):
                raise ConfigError("layer", f"layer must be in 0..{len(self.model.layers) - 1}")
            dense = self.model.layers[layer]
            n_in, n_out = dense.W.shape
            if not 0 <= j < n_out:
                raise ConfigError("j", f"layer {layer} has units 0..{n_out - 1}")
            if i is None:
                if dense.b is None:
                    raise ConfigError("i", "this network has no biases: give i for a weight")
                dense.b[0, j] = value
            else:
                if not 0 <= i < n_in:
                    raise ConfigError("i", f"layer {layer} has inputs 0..{n_in - 1}")
                dense.W[i, j] = value
            change = {"layer": layer, "i": i, "j": j, "value": value}
            self.timeline.record_parameter(self, change, by)
            self._changed("set", {"changes": {"parameter": change}, "by": by})
            if i is None:
                assert dense.b is not None  # refused above otherwise
                now, dead = dense.b[0, j], False
            else:
                now = dense.W[i, j]
                dead = dense.dead is not None and bool(dense.dead[i, j])
            return {"value": float(now), "dead": dead, "version": self.version}

    def reset(self, seed: int | None = None, by: str | None = None) -> None:
        """Fresh weights from the config (a new seed if given); history and counters cleared."""
        with self.lock:
            if seed is not None:
                self.config["model"]["seed"] = seed
            self._build()
            self.timeline.restart(self)
            self._changed("reset", {"seed": seed, "by": by})

    # ----- reading -------------------------------------------------------------------------

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self.lock:
            return self.model.predict(x)

    @property
    def plane(self) -> Plane | None:
        """The plane the data's points lie on (None: its inputs are no plane's); found once
        per dataset, as frames with a boundary grid ask for it every tick."""
        cached = self._plane
        if cached is None or cached[0] is not self.dataset:
            cached = self._plane = (self.dataset, plane_of(self.dataset))
        return cached[1]

    def boundary(self, resolution: int) -> dict[str, Any]:
        """ŷ over a resolution × resolution grid of the data's plane (its extent with a
        margin), each point mapped through the session's input features before predicting."""
        plane = self.plane
        if plane is None:
            names = ", ".join(self.dataset.feature_names)
            raise ConfigError(
                "resolution",
                f"the decision boundary is drawn over a plane (x1, x2): this session's "
                f"{len(self.dataset.feature_names)} inputs ({names}) are not a plane's points "
                "or features of them",
            )
        xs, ys = plane.grid_axes(resolution)
        grid = np.stack(np.meshgrid(xs, ys), axis=-1).reshape(-1, 2)
        with self.lock:
            out = self.model.predict(plane.inputs(grid))
        # Multiclass: the predicted class; otherwise the (first) output.
        values = out.argmax(axis=1) if out.shape[1] > 1 else out[:, 0]
        return {
            "resolution": resolution,
            "axes": list(plane.axes),
            "inputs": list(self.dataset.feature_names),
            "x": xs.tolist(),
            "y": ys.tolist(),
            "z": values.reshape(resolution, resolution).tolist(),
        }

    def state(self, include_trace: bool = True) -> dict[str, Any]:
        """The whole state, as plain JSON-able values (NaN stays NaN: the encoder nulls it)."""
        with self.lock:
            model = self.model
            metrics = self.metrics()
            return {
                "id": self.id,
                "version": self.version,
                "step": model.step,
                "epoch": model.epoch,
                "phase": model.next_phase.as_dict(),
                "in_batch": model.in_batch,
                "position": model.position,
                "batch_size": model.batch_size,
                "n_train": len(self.dataset.x_train),
                "n_test": len(self.dataset.x_test),
                "loss": metrics["train_loss"],
                "test_loss": metrics["test_loss"],
                "accuracy": metrics["train_accuracy"],
                "test_accuracy": metrics["test_accuracy"],
                "batch_loss": model.loss,
                "diverged": model.diverged,
                "playing": self.playing,
                "task": self.dataset.task,
                "config": copy.deepcopy(self.config),
                "phases": [phase.as_dict() for phase in model.phases],
                "batch_indices": model.batch_indices.tolist() if model.in_batch else [],
                "batch_rows": len(model.batch_indices),
                "trace_rows": min(len(model.batch_indices), self.max_trace_rows),
                "layers": [
                    layer_state(k, model, include_trace, self.max_trace_rows)
                    for k in range(len(model.layers))
                ],
                "history": list(self.history),
            }

    def batch_traced(self) -> bool:
        """Has the current batch run forward through every layer (so gradients can be
        checked on it)?"""
        with self.lock:
            model = self.model
            return len(model.batch_indices) > 0 and all(t.W is not None for t in model.traces)

    def state_and_dataset(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The whole state and the dataset summary, of one moment (a live client's hello)."""
        with self.lock:
            return self.state(), self.dataset_summary()

    def read(self, reader: Callable[[Session], T]) -> T:
        """``reader(self)`` with the session held: a read made of many parts (a live frame)
        sees one moment, as no step or change runs meanwhile; what it answers is answered."""
        with self.lock:
            return reader(self)

    def timeline_summary(self) -> dict[str, Any]:
        """What the timeline can revisit: each epoch's batches, now, its checkpoints."""
        with self.lock:
            return self.timeline.summary(self)

    # ----- study reads: the tools of ``lessons``, ``coach``, ``grader``, ``handcheck`` -----

    def lesson(self, name: str) -> dict[str, Any]:
        """The walk-through of lesson ``name`` on the current batch (``lessons.py``)."""
        with self.lock:
            return lessons.lesson_guide(self.model, name, self.max_trace_rows)

    def coach(self) -> dict[str, Any]:
        """The gradient coach's findings on the weights now (``coach.py``)."""
        with self.lock:
            return coach.coach(self)

    def _batch_copy(self, seed: int | None) -> Model:
        """A ``snapshot`` of the model taken with the session held; with ``seed``, its batch
        is the one that seed draws (``grader.drawn_batch``, run after: training goes on)."""
        with self.lock:
            copied = grader.snapshot(self.model)
        return copied if seed is None else grader.drawn_batch(copied, seed)[0]

    def grade_problem(self, seed: int | None = None) -> dict[str, Any]:
        """The current batch (or the one ``seed`` draws, its training rows named) as a
        student's backprop needs it (``grader.problem``), on a copy taken with the session
        held and run on after (training goes on)."""
        with self.lock:
            copied = grader.snapshot(self.model)
        if seed is None:
            return grader.problem(copied)
        drawn, rows = grader.drawn_batch(copied, seed)
        return {**grader.problem(drawn), "batch_indices": rows.tolist()}

    def grade(
        self, submission: dict[str, Any], job: Job | None = None, seed: int | None = None
    ) -> dict[str, Any]:
        """A student's gradients or updated weights, graded per layer (``grader.grade``) on
        the current batch (or the one ``seed`` draws), on a copy (``_batch_copy``): graded
        apart from the session, the search for the mistake stopped when ``job`` says so."""
        return grader.grade(self._batch_copy(seed), submission, job)

    def check_hand_calculation(
        self,
        quantity: handcheck.Quantity,
        layer: int,
        j: int,
        value: float,
        tolerance: float,
        i: int | None = None,
        row: int | None = None,
        reveal: bool = False,
        seed: int | None = None,
    ) -> dict[str, Any]:
        """A hand-worked ∂L/∂W, ∂L/∂b or δ of the current batch (or the one ``seed`` draws),
        marked (``handcheck.check``) on a copy (``_batch_copy``): training goes on."""
        batch = grader.current_batch(self._batch_copy(seed))
        return handcheck.check(
            batch, quantity, layer, j, value, tolerance, i=i, row=row, reveal=reveal
        )

    def note_study(self, student: str, tool: Tool, right: bool, max_names: int) -> bool:
        """A named student's hand check or grade, for the lesson's record (``record.py``):
        kept with the session; False when the record has ``max_names`` students already."""
        return self.record.note(student, tool, right, max_names)

    def worksheet(self, seed: int | None, rows: int, max_units: int) -> dict[str, Any]:
        """One step of a small network built from this session's config (``handcheck``),
        seeded by ``seed`` (None: the session's own seed)."""
        with self.lock:
            chosen = int(self.config["model"]["seed"]) if seed is None else seed
            return handcheck.worksheet(self, chosen, rows, max_units)

    def chain_rule(self, layer: int, i: int | None, j: int) -> dict[str, Any]:
        """One weight's (or bias's) gradient as its chain-rule factors, per batch row
        (``chain.py``)."""
        with self.lock:
            return chain.chain_rule(self.model, layer, i, j)

    def dataset_summary(self) -> dict[str, Any]:
        """The dataset as JSON data — made once per dataset (a session keeps its dataset;
        every save and hello reads this, and 500 points' lists cost more than the rest of
        a save): callers only read it."""
        cached = self._summary
        if cached is not None and cached[0] is self.dataset:
            return cached[1]
        summary = self._summarize()
        self._summary = (self.dataset, summary)
        return summary

    def _summarize(self) -> dict[str, Any]:
        d = self.dataset
        return {
            "name": d.name,
            "task": d.task,
            "feature_names": list(d.feature_names),
            "class_names": None if d.class_names is None else list(d.class_names),
            "scaling": None
            if d.feature_mean is None or d.feature_std is None
            else {"mean": list(d.feature_mean), "std": list(d.feature_std)},
            "scale_ratio": d.scale_ratio,
            "image_shape": None if d.image_shape is None else list(d.image_shape),
            "plane": None
            if d.plane_train is None or d.plane_test is None
            else {"x_train": d.plane_train.tolist(), "x_test": d.plane_test.tolist()},
            "x_train": d.x_train.tolist(),
            "y_train": d.y_train.tolist(),
            "x_test": d.x_test.tolist(),
            "y_test": d.y_test.tolist(),
        }

    # ----- export / import -----------------------------------------------------------------

    def export(self) -> dict[str, Any]:
        """Everything, weights bit-exact (floats written shortest-round-trip), RNG included."""
        with self.lock:
            state = self.model.state_dict()
            return {
                "format": EXPORT_FORMAT,
                "version": EXPORT_VERSION,
                "id": self.id,
                "config": copy.deepcopy(self.config),
                "data": self.dataset_summary(),
                "model": {
                    "layers": [
                        {name: _tolist(value) for name, value in layer.items()}
                        for layer in state["layers"]
                    ],
                    # PCG64's 128-bit integers don't fit JSON numbers everywhere: strings.
                    "rng": _stringify_ints(state["rng"]),
                    "step": state["step"],
                    "epoch": state["epoch"],
                    "cursor": state["cursor"],
                    "position": state["position"],
                    "order": state["order"].tolist(),
                    "order_drawn": state["order_drawn"],
                },
                "history": list(self.history),
                "playing": self.playing,
                # Stored with the session (REST's export leaves them out: students' names).
                **({"questions": self.questions.export()} if len(self.questions) else {}),
                **({"record": self.record.export()} if len(self.record) else {}),
            }

    @classmethod
    def from_export(
        cls, exported: dict[str, Any], keep_identity: bool = False, **identity: str
    ) -> Session:
        """Rebuild a session from ``export()``; training continues exactly where it was."""
        if exported.get("format") != EXPORT_FORMAT:
            raise ConfigError("format", f"not a session export (expected {EXPORT_FORMAT!r})")
        if exported.get("version") != EXPORT_VERSION:
            raise ConfigError("version", f"unsupported export version {exported.get('version')}")
        try:
            data = exported["data"]
            x_train = _matrix("data.x_train", data["x_train"])
            y_train = _matrix("data.y_train", data["y_train"])
            dataset = Dataset(
                name=str(data["name"]),
                x_train=x_train,
                y_train=y_train,
                x_test=_matrix("data.x_test", data["x_test"], width=x_train.shape[1]),
                y_test=_matrix("data.y_test", data["y_test"], width=y_train.shape[1]),
                task=data["task"],
                feature_names=tuple(data["feature_names"]),
                class_names=None if data["class_names"] is None else tuple(data["class_names"]),
                **_scaling_of(data),
            )
            if keep_identity:
                identity = {"session_id": exported["id"], **identity}
            session = cls(exported["config"], dataset, **identity)
            saved = dict(exported["model"])
            saved["rng"] = unstringify_ints(saved["rng"])
            session.model.load_state_dict(saved)
            session.history = list(exported["history"])
            session.playing = bool(exported.get("playing", False))
            session.timeline.restart(session)
            if keep_identity:  # the same session, reloaded: its class's answers with it
                session.questions = QuestionBook.from_export(exported.get("questions"))
                session.record = StudyRecord.from_export(exported.get("record"))
            return session
        except ConfigError:
            raise
        except (KeyError, TypeError, ValueError) as error:
            raise ConfigError("model", f"the export is incomplete or malformed: {error}") from None


def _scaling_of(data: dict[str, Any]) -> dict[str, Any]:
    """The standardization an export recorded (older exports have none)."""
    scaling = data.get("scaling")
    fields: dict[str, Any] = {"scale_ratio": float(data.get("scale_ratio", 1.0))}
    plane = data.get("plane")
    if plane:
        fields["plane_train"] = _matrix("data.plane.x_train", plane["x_train"], width=2)
        fields["plane_test"] = _matrix("data.plane.x_test", plane["x_test"], width=2)
    shape = data.get("image_shape")
    if shape:
        fields["image_shape"] = (int(shape[0]), int(shape[1]))
    if scaling:
        fields["feature_mean"] = tuple(float(v) for v in scaling["mean"])
        fields["feature_std"] = tuple(float(v) for v in scaling["std"])
    return fields


# Why an upstream entry is null: ∂L/∂ŷ = −y/(n·p) is exact from z, but past the dtype's range.
UPSTREAM_OVERFLOW = (
    "∂L/∂ŷ passes {dtype}'s range in the null entries: with a cross-entropy it is −y/(n·p) "
    "(+ (1 − y)/(n·(1 − p))), and p = σ(z) or softmax(z) is too small for 1/p to be "
    "represented; δ = (p − y)/n, dW and the loss stay exact"
)


def layer_state(
    k: int, model: Model, include_trace: bool, max_rows: int = MAX_TRACE_ROWS
) -> dict[str, Any]:
    """Layer k: W, b, activation, and (once computed) its trace of the current batch.

    Per-row fields (input, z, a, upstream, delta) carry the batch's first ``max_rows`` rows.
    """
    layer, trace = model.layers[k], model.traces[k]
    out: dict[str, Any] = {
        "index": k,
        "activation": layer.activation.name,
        "units": layer.W.shape[1],
        "inputs": layer.W.shape[0],
        "W": layer.W.tolist(),
        "b": None if layer.b is None else layer.b[0].tolist(),
        "dead": None if layer.dead is None else layer.dead.tolist(),
    }
    if not include_trace:
        return out
    for name, value in (
        ("input", trace.input),
        ("z", trace.z),
        ("a", trace.output),
        ("upstream", trace.output_error),
        ("delta", trace.delta),
    ):
        if value is not None:
            out[name] = value[:max_rows].tolist()
    if trace.output_error is not None and not np.isfinite(trace.output_error[:max_rows]).all():
        out["upstream_overflow"] = UPSTREAM_OVERFLOW.format(dtype=model.config.dtype)
    if trace.dW is not None:
        out["dW"] = trace.dW.tolist()
    if trace.db is not None:
        out["db"] = trace.db[0].tolist()
    if trace.dW is not None and trace.W is not None:
        out["W_used"] = trace.W.tolist()  # the weights this batch's dW belongs to
    return out


def _activation_changes(activations: Any, n_layers: int) -> list[tuple[int, str]]:
    if activations is None:
        return []
    if isinstance(activations, list):
        if len(activations) != n_layers:
            raise ConfigError("activations", f"give {n_layers} names, one per layer")
        return list(enumerate(activations))
    if isinstance(activations, dict):
        try:
            return [(int(k), str(v)) for k, v in activations.items()]
        except ValueError:
            raise ConfigError("activations", "keys must be layer indices") from None
    raise ConfigError("activations", "a list of names or {layer index: name}")


def _tolist(value: Any) -> Any:
    return None if value is None else np.asarray(value).tolist()


def _matrix(name: str, rows: Any, width: int | None = None) -> np.ndarray:
    """A list of rows as a 2-D float64 array; an empty list is (0, width) when width is given."""
    array = np.asarray(rows, dtype=np.float64)
    if array.size == 0 and width is not None:
        return array.reshape(0, width)
    if array.ndim != 2:
        raise ConfigError(name, f"must be a list of rows, got shape {array.shape}")
    return array


def _stringify_ints(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _stringify_ints(v) for k, v in value.items()}
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return str(value)
    return value


def unstringify_ints(value: Any) -> Any:
    """An export's RNG state with its integers back (the export writes them as strings)."""
    if isinstance(value, dict):
        return {k: unstringify_ints(v) for k, v in value.items()}
    if isinstance(value, str) and value.lstrip("-").isdigit():
        return int(value)
    return value
