"""Bodies of the timeline endpoints: a moment, a state at it, a branch request and answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from .schemas import (
    MAX_INT,
    Boundary,
    RequestBody,
    ResponseBody,
    SessionCreated,
    SessionState,
    SessionUpdate,
)

Count = Annotated[int, Field(ge=0, le=MAX_INT)]


class MomentPublic(ResponseBody):
    """(epoch, batch within the epoch, phase index): just before that phase runs."""

    epoch: int
    batch: int
    phase: int


class EpochRunPublic(ResponseBody):
    """Epochs ``epoch`` … ``epoch + epochs − 1``, which began at ``first_step + m·batches``.

    While the batch size stays the same every epoch has as many batches, so a long run is one
    entry. A run's last epoch ends where the next run begins; the last run's last epoch is
    the one now running, ``open_batches`` batches so far (counting the one open or next).
    """

    epoch: int
    epochs: int
    first_step: int
    batches: int = Field(description="Batches of each epoch of the run (0 when it holds one).")
    open_batches: int | None = None


class TimelineSummary(ResponseBody):
    """What the timeline can revisit, and the memory its checkpoints hold."""

    start: MomentPublic = Field(description="The run's first moment (the last reset/import).")
    now: MomentPublic
    phases: list[dict[str, str | int | None]] = Field(description="A batch's phases, in order.")
    epochs: list[EpochRunPublic]
    checkpoints: int
    checkpoint_interval: int = Field(description="Batches between checkpoints now.")
    checkpoint_bytes: int
    max_bytes: int = Field(description="PLAYGROUND_TIMELINE_MAX_BYTES.")
    logged: int = Field(description="Phases, batches and changes recorded since the start.")


class MomentState(ResponseBody):
    """The session as it was at a moment, bit for bit; ``boundary`` when asked for."""

    moment: MomentPublic
    state: SessionState
    boundary: Boundary | None = None


class BranchRequest(RequestBody):
    """Start a new session at a moment of this one, with some settings changed."""

    epoch: Count
    batch: Count
    phase: Count
    changes: SessionUpdate | None = Field(
        None, description="Hyperparameters changed at the branch point (as in PATCH)."
    )


BRANCH_EXAMPLES = {
    "learning_rate": {
        "summary": "From the start of epoch 2, ten times the learning rate",
        "value": {"epoch": 2, "batch": 0, "phase": 0, "changes": {"learning_rate": 0.3}},
    }
}


class BranchCreated(SessionCreated):
    """The branch: a new session (its own tokens) and where it came from."""

    branched_from: str = Field(description="The id of the session it was branched from.")
    moment: MomentPublic
