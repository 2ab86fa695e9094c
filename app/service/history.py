"""A session's timeline: revisit any earlier moment exactly, and branch from it.

Training is deterministic given the starting weights, the shuffling generator and the
changes made along the way, so the timeline keeps two things:

- a **log** of what was run since the run began (the last reset, creation or import):
  phases and batches, run-length encoded, each change of hyperparameters (activations
  included) and each weight or bias set by hand — every change a replay could not redo from
  the steps alone;
- **checkpoints**: full copies of the model taken at batch boundaries, every
  ``interval`` batches. When their bytes pass ``max_bytes``, every other one is dropped
  (the run's first is always kept) and the interval doubles, so memory stays within the
  budget — one checkpoint more at most — and a replay runs at most ``interval`` batches.

A moment is ``(epoch, batch, phase)``: the state just before phase ``phase`` (an index into
the model's phase list, 0 = forward of layer 0) of batch ``batch`` (0-based, counted within
the epoch) of epoch ``epoch``. If the run passed that moment more than once — a change that
abandons an open batch, or a divergence, puts the run back at the batch's start — the moment
is the last time the run was there: the run as it went on from it.

``at`` copies the nearest checkpoint at or before the moment and replays the log on a
``Session`` of its own, through the same calls the original made, so the result is equal bit
for bit to the original run. No FastAPI import here.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from app.engine import ConfigError, Model

if TYPE_CHECKING:
    from .session import Session

# Batches between checkpoints at first; the manager sets the setting. A checkpoint is a deep
# copy of the model (about 2 ms for a small one): every 25 batches it cost a student playing
# at 300 batches/s about 2 % of a core; a replay of 250 small batches takes about 15 ms.
CHECKPOINT_EVERY = 250
MAX_BYTES = 2_000_000  # checkpoint bytes per session; the manager sets the setting
MAX_REPLAY_SECONDS = 10.0  # one replay's CPU time; the manager sets the setting


@dataclass(frozen=True)
class Moment:
    """(epoch, batch within the epoch, phase index)."""

    epoch: int
    batch: int
    phase: int

    def as_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "batch": self.batch, "phase": self.phase}


@dataclass
class Checkpoint:
    """A private copy of the model and the session's config, ``done`` log entries in."""

    done: int  # log primitives run before it
    model: Model
    config: dict[str, Any]
    epoch_start: int  # the step at which this checkpoint's epoch began
    nbytes: int


# A log entry: ["phase", n] or ["batch", n] (n primitives), or one change (one primitive):
# ["set", changes, by] (hyperparameters) or ["parameter", {layer, i, j, value}, by] (by hand).
CHANGES = ("set", "parameter")
LogEntry = list[Any]


@dataclass
class EpochRun:
    """Epochs ``epoch`` … ``epoch + count − 1`` began at steps ``step + m·batches``: while the
    batch size stays, every epoch has as many batches, so a long run is one of these."""

    epoch: int
    step: int
    batches: int | None  # None while it holds one epoch
    count: int = 1

    def start(self, epoch: int) -> int:
        return self.step + (epoch - self.epoch) * (self.batches or 0)


class EpochIndex:
    """The step at which each epoch of the run began, in O(changes of epoch length) memory."""

    def __init__(self, epoch: int, step: int) -> None:
        self.runs = [EpochRun(epoch, step, None)]

    @property
    def first(self) -> int:
        return self.runs[0].epoch

    @property
    def last(self) -> int:
        run = self.runs[-1]
        return run.epoch + run.count - 1

    def begin(self, step: int) -> None:
        """The next epoch began at ``step``."""
        run = self.runs[-1]
        length = step - run.start(self.last)
        if run.count == 1:
            run.batches = length
        if length == run.batches:
            run.count += 1
        else:
            self.runs.append(EpochRun(self.last + 1, step, None))

    def start(self, epoch: int) -> int:
        run = next(r for r in reversed(self.runs) if r.epoch <= epoch)
        return run.start(epoch)


class Timeline:
    """Records one run of a session and replays any moment of it."""

    def __init__(self, session: Session) -> None:
        self.base_interval = self.interval = CHECKPOINT_EVERY
        self.max_bytes = MAX_BYTES
        self.max_replay_seconds = MAX_REPLAY_SECONDS
        self.recording = True
        self.restart(session)

    def configure(
        self, checkpoint_every: int, max_bytes: int, max_replay_seconds: float = MAX_REPLAY_SECONDS
    ) -> None:
        """The settings: batches between checkpoints (at first), their memory budget, and how
        long one replay may run."""
        self.base_interval = self.interval = checkpoint_every
        self.max_bytes = max_bytes
        self.max_replay_seconds = max_replay_seconds
        self._thin()

    # ----- recording -----------------------------------------------------------------------

    def restart(self, session: Session) -> None:
        """Begin a new run at the session's current state (creation, reset, import)."""
        model = session.model
        self.log: list[LogEntry] = []
        self.done = 0  # primitives in the log
        # The step at which each epoch of the run began, from the origin's epoch on. An
        # imported session mid-epoch counts its batches from its position (exact unless the
        # batch size changed during that epoch before the export).
        self.epochs = EpochIndex(
            model.epoch, model.step - model.position // max(model.batch_size, 1)
        )
        self.interval = self.base_interval
        self.checkpoints = [self._checkpoint(session)]
        self.origin_cursor = model.cursor

    def record_phase(self, session: Session) -> None:
        self._append("phase", session)

    def record_batch(self, session: Session) -> None:
        self._append("batch", session)

    def record_set(self, session: Session, changes: dict[str, Any], by: str | None) -> None:
        self._record_change("set", changes, by)

    def record_parameter(self, session: Session, change: dict[str, Any], by: str | None) -> None:
        """A weight or bias set by hand: ``change`` is {layer, i, j, value}."""
        self._record_change("parameter", change, by)

    def _record_change(self, kind: str, changes: dict[str, Any], by: str | None) -> None:
        if not self.recording:
            return
        self.log.append([kind, copy.deepcopy(changes), by])
        self.done += 1

    def _append(self, kind: str, session: Session) -> None:
        if not self.recording:
            return
        last = self.log[-1] if self.log else None
        if last is not None and last[0] == kind:
            last[1] += 1
        else:
            self.log.append([kind, 1])
        self.done += 1
        model = session.model
        if model.epoch != self.epochs.last:
            self.epochs.begin(model.step)
        if self.checkpoint_due(model):
            self.checkpoints.append(self._checkpoint(session))
            self._thin()

    def checkpoint_due(self, model: Model) -> bool:
        """Will recording the model's state as it is now take a checkpoint (a copy of it)?"""
        return (
            self.recording
            and model.cursor == 0
            and model.step >= self.checkpoints[-1].model.step + self.interval
        )

    def _checkpoint(self, session: Session) -> Checkpoint:
        model = session.model
        # The data is shared, never copied: no one writes to it.
        memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
        copied = copy.deepcopy(model, memo)
        epoch_start = self.epochs.start(model.epoch)
        return Checkpoint(
            self.done, copied, copy.deepcopy(session.config), epoch_start, model_bytes(copied)
        )

    def _thin(self) -> None:
        """Over the budget: keep the first checkpoint and every other one after it."""
        while self.bytes > self.max_bytes and len(self.checkpoints) > 2:
            first, *rest = self.checkpoints
            self.checkpoints = [first, *rest[1::2]]
            self.interval *= 2

    @property
    def bytes(self) -> int:
        return sum(checkpoint.nbytes for checkpoint in self.checkpoints)

    # ----- reading -------------------------------------------------------------------------

    def summary(self, session: Session) -> dict[str, Any]:
        """The run's extent: each epoch's batch count, where it is now, what the memory holds."""
        model = session.model
        origin = self.checkpoints[0].model
        runs = [
            {"epoch": r.epoch, "epochs": r.count, "first_step": r.step, "batches": r.batches or 0}
            for r in self.epochs.runs
        ]
        # The epoch now running counts the batch now open (or next to open).
        runs[-1]["open_batches"] = model.step + 1 - self.epochs.start(self.epochs.last)
        return {
            "start": self.moment_of(origin, self.checkpoints[0].epoch_start).as_dict(),
            "now": self.moment_of(model, self.epochs.start(model.epoch)).as_dict(),
            "phases": [phase.as_dict() for phase in model.phases],
            "epochs": runs,
            "checkpoints": len(self.checkpoints),
            "checkpoint_interval": self.interval,
            "checkpoint_bytes": self.bytes,
            "max_bytes": self.max_bytes,
            "logged": self.done,
        }

    @staticmethod
    def moment_of(model: Model, epoch_start: int) -> Moment:
        return Moment(model.epoch, model.step - epoch_start, model.cursor)

    def step_of(self, session: Session, moment: Moment) -> int:
        """The step count at ``moment``; ConfigError naming the field when the run never was
        there (before the timeline's start, or after now)."""
        model = session.model
        first_epoch, last_epoch = self.epochs.first, self.epochs.last
        if not first_epoch <= moment.epoch <= last_epoch:
            raise ConfigError(
                "epoch",
                f"the timeline holds epochs {first_epoch}…{last_epoch}, not {moment.epoch}",
            )
        if not 0 <= moment.phase < len(model.phases):
            raise ConfigError("phase", f"must be 0…{len(model.phases) - 1}, got {moment.phase}")
        start = self.epochs.start(moment.epoch)
        end = self.epochs.start(moment.epoch + 1) if moment.epoch < last_epoch else model.step + 1
        if not 0 <= moment.batch < end - start:
            raise ConfigError(
                "batch", f"epoch {moment.epoch} has batches 0…{end - start - 1}, not {moment.batch}"
            )
        step = start + moment.batch
        origin = self.checkpoints[0].model
        if (step, moment.phase) < (origin.step, self.origin_cursor):
            raise ConfigError("batch", "that moment is before the timeline's start")
        if (step, moment.phase) > (model.step, model.cursor):
            raise ConfigError("phase", "that moment has not happened yet")
        return step

    def at(
        self,
        session: Session,
        moment: Moment,
        inspect: Callable[[Session], Any],
        should_stop: Callable[[], bool] | None = None,
    ) -> Any:
        """Replay to ``moment``; ``inspect(replayed)`` is called at each visit of it and the
        last call's answer returned. The replay stops with a ConfigError once ``should_stop()``
        (a costly job's budget, its caller gone: ``service/costly.py``) or, without one, once
        ``max_replay_seconds`` have passed. The caller may hold the session's lock or not."""
        with session.lock:
            step = self.step_of(session, moment)
            checkpoint = next(c for c in reversed(self.checkpoints) if c.model.step <= step)
            log = [list(entry) for entry in self.log]
            history = [point for point in session.history if point["step"] <= checkpoint.model.step]
            replay = self.replayer(session, checkpoint, history)
        answer: list[Any] = []

        def visit() -> bool:
            """Inspect if the replay is at the moment; False once it is past it."""
            model = replay.model
            if model.step > step:
                return False
            if model.step == step and model.cursor == moment.phase:
                answer[:] = [inspect(replay)]
            return True

        deadline = time.monotonic() + self.max_replay_seconds

        def past_deadline() -> bool:
            return time.monotonic() > deadline

        self._replay(replay, log, checkpoint.done, step, visit, should_stop or past_deadline)
        if not answer:  # step_of admitted it, so the run was there: a bug if not
            raise ConfigError("phase", "the replay did not reach that moment")
        return answer[0]

    def branch(
        self, session: Session, moment: Moment, should_stop: Callable[[], bool] | None = None
    ) -> Session:
        """A new Session at ``moment`` (new id and tokens), recording a timeline of its own
        (``should_stop`` as for ``at``)."""

        def keep(replayed: Session) -> Checkpoint:
            model = replayed.model
            memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
            copied = copy.deepcopy(model, memo)
            return Checkpoint(0, copied, copy.deepcopy(replayed.config), 0, 0)

        with session.lock:
            history = list(session.history)
        kept: Checkpoint = self.at(session, moment, keep, should_stop)
        step = kept.model.step
        branched = self.replayer(session, kept, [p for p in history if p["step"] <= step])
        branched.timeline.recording = True
        branched.timeline.restart(branched)
        return branched

    def replayer(
        self, session: Session, checkpoint: Checkpoint, history: list[dict[str, Any]]
    ) -> Session:
        """A private Session at the checkpoint, on the same data, not recording."""
        from .session import Session  # session.py imports this module

        replay = Session(copy.deepcopy(checkpoint.config), session.dataset)
        saved = checkpoint.model
        memo = {id(saved.x_train): saved.x_train, id(saved.y_train): saved.y_train}
        replay.model = copy.deepcopy(saved, memo)
        replay.history = history
        replay.max_trace_rows = session.max_trace_rows
        replay.timeline.configure(self.base_interval, self.max_bytes, self.max_replay_seconds)
        replay.timeline.recording = False
        return replay

    @staticmethod
    def _replay(
        replay: Session,
        log: list[LogEntry],
        skip: int,
        step: int,
        visit: Callable[[], bool],
        should_stop: Callable[[], bool],
    ) -> None:
        """Run the log's primitives after the first ``skip`` through the same Session calls
        the original made; walk phase by phase through the batch that holds the moment."""
        if not visit():
            return
        seen = 0
        for entry in log:
            kind = entry[0]
            count = 1 if kind in CHANGES else int(entry[1])
            first = max(skip - seen, 0)
            seen += count
            for _ in range(first, count):
                if kind == "set":
                    replay.set_hyperparameters(entry[1], by=entry[2])
                elif kind == "parameter":
                    replay.set_parameter(**entry[1], by=entry[2])
                elif kind == "phase":
                    replay.step("phase", 1)
                elif replay.model.step == step:  # the batch that holds the moment
                    while True:
                        replay.step("phase", 1)
                        model = replay.model
                        if model.cursor == 0 or not visit():
                            break
                else:
                    replay.step("batch", 1)
                if not visit():
                    return
                if should_stop():
                    raise ConfigError(
                        "batch",
                        "replaying to that moment takes longer than "
                        "PLAYGROUND_TIMELINE_MAX_REPLAY_SECONDS allows, or the server is stopping "
                        f"({step - replay.model.step} batches still to go from the nearest "
                        "checkpoint)",
                    )


def model_bytes(model: Model) -> int:
    """Bytes of the arrays a model copy holds (each counted once), data excluded."""
    seen: dict[int, int] = {}
    shared = {id(model.x_train), id(model.y_train)}

    def add(value: Any) -> None:
        if isinstance(value, np.ndarray) and id(value) not in shared:
            seen[id(value)] = value.nbytes

    for buffer in model.buffers():  # θ and v of every Flat, ∇θ: the layers view them
        add(buffer)
    for layer in model.layers:
        add(layer.dead)
    for trace in model.traces:
        for value in vars(trace).values():
            add(value)
    for value in (model.order, model.batch_indices, model.batch_y):
        add(value)
    return sum(seen.values())
