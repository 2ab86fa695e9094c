"""A session's gradient check: copied under the session's lock, run apart from it.

Only the traced batch's rows and weights are copied (``engine.gradcheck.check_input``), so
training need not wait and a check of a large dataset costs no more than its batch. The
check stops when ``job.should_stop()`` says so — its time budget spent, its caller gone —
and answers what it checked, saying so.
"""

from __future__ import annotations

from typing import Any

from app.engine.gradcheck import NotCheckableError, check_input, run_check, tolerance_for

from .costly import Job
from .session import Session


def check_session(session: Session, max_entries: int, job: Job) -> dict[str, Any]:
    """Analytic vs central-difference gradients of the session's last traced batch."""
    with session.lock:
        model = session.model
        if model.diverged:
            raise NotCheckableError(
                f"diverged — nothing to check: {model.diverged}; step a batch to trace a fresh one"
            )
        if not session.batch_traced():
            raise NotCheckableError(
                "no batch has been traced yet: step a batch (or all its forward phases) first"
            )
        inputs = check_input(model)
        step, rows, dtype = model.step, len(model.batch_indices), model.config.dtype
    report = run_check(inputs, max_entries_per_layer=max_entries, stop=job.should_stop)
    tolerance = tolerance_for(dtype)
    layers = []
    for check in report.layers:
        error_W = check.relative_error_W if len(check.numeric_W) else None
        error_b = None
        if check.numeric_b is not None and len(check.numeric_b):
            error_b = check.relative_error_b
        errors = [error for error in (error_W, error_b) if error is not None]
        layers.append(
            {
                "layer": check.layer,
                "relative_error_W": error_W,
                "relative_error_b": error_b,
                "max_abs_error": check.max_abs_error if errors else None,
                "checked": check.checked,
                "planned": check.planned,
                "passed": all(error < tolerance for error in errors) if errors else None,
            }
        )
    verdicts = [layer["passed"] for layer in layers]
    passed = False if False in verdicts else (None if None in verdicts else True)
    note = None
    if not report.complete:
        note = (
            f"stopped after {report.checked} of {report.planned} parameters: "
            f"{job.stopped_because}; every "
            "layer was checked on the same share of its parameters"
        )
    return {
        "step": step,
        "batch_rows": rows,
        "tolerance": tolerance,
        "passed": passed,
        "complete": report.complete,
        "checked": report.checked,
        "planned": report.planned,
        "note": note,
        "layers": layers,
    }
