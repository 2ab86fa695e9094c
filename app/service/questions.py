"""Predict, then reveal: a teacher asks the class what the next phase will compute.

The session is paused before a phase (``model.next_phase``). The teacher asks about it:

- ``delta_sign``: the sign of δ[l][row, j] = ∂L/∂z, which the backward phase of layer l
  computes (answers: ``"+"``, ``"-"`` or ``"0"``);
- ``largest_change``: which weight W[l][i, j] the update changes most, |ΔW| largest
  (answers: ``{"i": …, "j": …}``; a tie counts every tied weight as right);
- ``gradient``: the value of ∂L/∂W[l][i, j] (∂L/∂b[l][j] without ``i``), which the backward
  phase of layer l computes, within a relative tolerance ``tol``: right when
  |answer − truth| ≤ tol·|truth|;
- ``largest_delta``: which unit j of layer l gets the largest δ in size — the mean of
  |δ[l][row, j]| over the batch's rows — in the backward phase of layer l (answers:
  ``{"j": …}``; a tie counts every tied unit as right);
- ``loss_change``: will the update make the batch's loss E (the data loss, on the same rows)
  lower or higher than it is at the weights now (answers: ``"down"``, ``"up"``, or
  ``"same"`` when exactly equal); asked about the output layer, whose ŷ the loss reads;
- ``weight_after``: the value of W[l][i, j] (b[l][j] without ``i``) after the update —
  momentum, the penalty and its rule included — within ``tol`` of the weight's change:
  right when |answer − truth| ≤ tol·|ΔW| plus the rounding of the value the question gives
  for the weight now (so "it stays" is right, typed as shown, when the update leaves it).

The truth is computed when the question is asked, by running the phase on a private copy of
the model (the session is never touched); Reveal then runs the same phase on the session
itself, which gives the same numbers bit for bit.

Peer instruction: a question has rounds (vote alone, discuss with a neighbour, vote again).
The teacher opens the next round (``next_round``); in each round a student's latest answer
counts; Reveal ends the question and marks the last round, and says how many moved from
wrong to right (and back) between the first round and the last. Students answer under a name
of their choosing, optionally saying how sure they are. A name belongs to the page that first
answered under it: answering again (a change of mind, or the next round) takes that answer's
receipt, and without it another page is refused (names are compared by ``name_key``: without
case, surrounding spaces, compatibility forms or look-alike letters of other scripts), so a
reload cannot vote twice, nor "Аna" with a Cyrillic А, nor a neighbour under Ana's name.

A session's questions live in its ``QuestionBook``, stored with the session (survive a
restart) and exportable as CSV. No FastAPI import here.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import secrets
import threading
import time
import unicodedata
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal, get_args

import numpy as np

from app.engine import ConfigError, Model
from app.service.quotas import QuotaExceededError

Kind = Literal[
    "delta_sign", "largest_change", "gradient", "largest_delta", "loss_change", "weight_after"
]
KINDS: tuple[str, ...] = get_args(Kind)
# The phase each kind is asked before (a backward phase: the question's layer's).
PHASE_OF: dict[str, str] = {
    "delta_sign": "backward", "gradient": "backward", "largest_delta": "backward",
    "largest_change": "update", "loss_change": "update", "weight_after": "update",
}  # fmt: skip
# About one parameter, W[l][i, j] (b[l][j] without i), answered by a number within a tolerance.
TOLERANT_KINDS = ("gradient", "weight_after")
SIGNS = ("+", "-", "0")
SIGN_WORDS = {"+": "positive", "-": "negative", "0": "zero"}
DIRECTIONS = ("down", "up", "same")  # of the loss, after the update
CHOICES = {"delta_sign": SIGNS, "loss_change": DIRECTIONS}  # the kinds answered by a choice
SHOWN_DIGITS = 6  # significant digits a weight_after question gives the weight now with
Confidence = Literal["sure", "unsure"]
CONFIDENCES: tuple[str, ...] = get_args(Confidence)
RECEIPT_BYTES = 16  # an answer's receipt: 128 random bits, URL-safe text
ANSWER_QUOTA_RETRY_SECONDS = 60  # Retry-After once a client gave a question its most answers
MAX_TIED = 100  # weights (units) kept as the largest when several tie exactly
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class QuestionNotFoundError(ConfigError):
    """No question has that id here."""


class QuestionClosedError(ConfigError):
    """The question was revealed or replaced: it takes no more answers."""


class RoundRefusedError(ConfigError):
    """The question has its most rounds (``question_max_rounds``)."""


class AnswerRefusedError(ConfigError):
    """This name (or this page) has answered the question already."""


class QuestionFullError(AnswerRefusedError):
    """The question has its most answers (``question_max_answers``)."""


class AnswerQuotaError(QuotaExceededError):
    """The sender gave its most answers to this question (``quota``: the setting)."""


class ReceiptRefusedError(ConfigError):
    """No answer to the question was given this receipt."""


@dataclass
class Question:
    """One question, its truth (kept from the students until Reveal) and its answers."""

    id: int
    kind: Kind
    layer: int
    j: int
    i: int | None = None
    row: int | None = None
    tolerance: float | None = None
    shape: list[int] = field(default_factory=list)  # the layer's W: [inputs, units]
    text: str = ""
    moment: dict[str, Any] = field(default_factory=dict)  # step, epoch, phase when asked
    truth: dict[str, Any] = field(default_factory=dict)
    # {name, answer, at, receipt, client, round, confidence}: a name's latest in each round
    answers: list[dict[str, Any]] = field(default_factory=list)
    asked_at: float = field(default_factory=time.time)
    status: Literal["open", "revealed", "replaced"] = "open"
    ran: bool = False  # did Reveal run the phase on the session?
    round: int = 1  # the round answers go to now (the last one, once revealed)

    def in_round(self, number: int) -> list[dict[str, Any]]:
        """The answers that count in round ``number``: each name's latest in it."""
        return [a for a in self.answers if a.get("round", 1) == number]

    def public(self) -> dict[str, Any]:
        """What students see: the question, never its truth."""
        return {
            "id": self.id,
            "kind": self.kind,
            "layer": self.layer,
            "i": self.i,
            "j": self.j,
            "row": self.row,
            "tolerance": self.tolerance,
            "text": self.text,
            "moment": self.moment,
            "choices": list(CHOICES[self.kind]) if self.kind in CHOICES else None,
            "status": self.status,
            "round": self.round,
        }

    def is_right(self, answer: Any) -> bool:
        truth = self.truth
        if self.kind == "delta_sign":
            return bool(answer == truth["sign"])
        if self.kind == "loss_change":
            return bool(answer == truth["direction"])
        if self.kind == "largest_change":
            return bool([answer["i"], answer["j"]] in truth["tied"])
        if self.kind == "largest_delta":
            return bool(answer["j"] in truth["tied"])
        value = float(truth["value"])
        return abs(float(answer) - value) <= self.allowance()

    def allowance(self) -> float:
        """How far from the truth a number may be and still be right: ``tolerance``·|truth|
        for a gradient; for a weight after the update, ``tolerance``·|ΔW| plus the rounding
        of the weight as the question's text gives it (to SHOWN_DIGITS digits)."""
        assert self.tolerance is not None
        truth = self.truth
        if self.kind == "gradient":
            return self.tolerance * abs(float(truth["value"]))
        before = float(truth["before"])
        shown = float(f"{before:.{SHOWN_DIGITS}g}")
        return self.tolerance * abs(float(truth["change"])) + abs(shown - before)


# ----- asking: the question and its truth ------------------------------------------------------


def ask(
    model: Model,
    question_id: int,
    kind: str,
    layer: int | None,
    j: int,
    i: int | None = None,
    row: int | None = None,
    tolerance: float | None = None,
    version: int = 0,
) -> Question:
    """A question about ``model``'s next phase, its truth computed on a copy of the model;
    ``layer`` None: the output layer, for a loss_change question (the others name theirs);
    ``version``: the session's, so Reveal knows whether it changed since."""
    if kind not in KINDS:
        raise ConfigError("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    last = len(model.layers) - 1
    if layer is None and kind != "loss_change":
        raise ConfigError("layer", f"a {kind} question names a layer: 0…{last}")
    layer = last if layer is None else layer
    if not 0 <= layer <= last:
        raise ConfigError("layer", f"must be 0…{last}, got {layer}")
    if kind == "loss_change" and layer != last:
        raise ConfigError(
            "layer", f"a loss_change question is about the loss: leave layer out (or {last})"
        )
    phase = model.next_phase
    wanted = PHASE_OF[kind]
    if phase.kind != wanted or (wanted == "backward" and phase.layer != layer):
        where = "the update" if wanted == "update" else f"the backward phase of layer {layer}"
        raise ConfigError(
            "kind",
            f"a {kind} question is asked before {where}; the next phase is {phase.kind}"
            + ("" if phase.layer is None else f" of layer {phase.layer}"),
        )
    n_in, n_out = model.layers[layer].W.shape
    if not 0 <= j < n_out:
        raise ConfigError("j", f"layer {layer} has units 0…{n_out - 1}, got {j}")
    if kind not in TOLERANT_KINDS and i is not None:
        raise ConfigError("i", f"a {kind} question names no weight's input: leave i out")
    if kind in TOLERANT_KINDS and i is not None and not 0 <= i < n_in:
        raise ConfigError("i", f"layer {layer} has inputs 0…{n_in - 1}, got {i}")
    if kind in TOLERANT_KINDS and i is None and model.layers[layer].b is None:
        raise ConfigError("i", "this network has no biases: give i for a weight")
    if kind == "largest_delta" and n_out < 2:
        raise ConfigError("layer", f"layer {layer} has one unit: ask about a layer of several")
    rows = len(model.batch_indices)
    if kind == "delta_sign":
        row = 0 if row is None else row
        if not 0 <= row < rows:
            raise ConfigError("row", f"the batch has rows 0…{rows - 1}, got {row}")
    elif row is not None:
        raise ConfigError("row", f"a {kind} question takes no row")
    if kind in TOLERANT_KINDS:
        if tolerance is None or not 0 < tolerance <= 1 or not math.isfinite(tolerance):
            raise ConfigError("tolerance", f"must be in (0, 1], got {tolerance}")
    else:
        tolerance = None
    question = Question(question_id, kind, layer, j, i, row, tolerance, [n_in, n_out])  # type: ignore[arg-type]
    question.moment = {
        "step": model.step,
        "epoch": model.epoch,
        "cursor": model.cursor,
        "phase": phase.as_dict(),
        "version": version,
    }
    question.text = _text(question, model)
    question.truth = truth_of(model, question)
    return question


def _text(q: Question, model: Model) -> str:
    n_in, n_out = q.shape
    if q.kind == "delta_sign":
        return (
            f"Layer {q.layer}'s backward phase is next. What is the sign of δ of unit {q.j} "
            f"(∂L/∂z) on batch row {q.row}: +, − or 0?"
        )
    if q.kind == "largest_change":
        return (
            f"The update is next. Which weight of layer {q.layer} will change most "
            f"(largest |ΔW[i, j]|, i of {n_in} inputs)?"
        )
    if q.kind == "largest_delta":
        return (
            f"Layer {q.layer}'s backward phase is next. Which of its {n_out} units will get "
            f"the largest δ (∂L/∂z) in size: the mean of |δ| over the batch's "
            f"{len(model.batch_indices)} rows?"
        )
    if q.kind == "loss_change":
        return (
            f"The update is next. After it, will the loss on this batch (E = "
            f"{_batch_loss(model):.4g} now, the same {len(model.batch_indices)} rows, "
            "no penalty) go down or up?"
        )
    assert q.tolerance is not None
    if q.kind == "weight_after":
        now = _parameter(model, q)
        return (
            f"The update is next. What will {_parameter_name(q)} be after it? It is "
            f"{now:.{SHOWN_DIGITS}g} now. Within ±{q.tolerance:.0%} of its change counts as right."
        )
    return (
        f"Layer {q.layer}'s backward phase is next. What is ∂L/∂{_parameter_name(q)}? "
        f"Within ±{q.tolerance:.0%} of the true value counts as right."
    )


def _parameter_name(q: Question) -> str:
    return f"b[{q.layer}][{q.j}]" if q.i is None else f"W[{q.layer}][{q.i}, {q.j}]"


def _parameter(model: Model, q: Question) -> float:
    """The parameter a question names, as it is in ``model``: W[l][i, j], or b[l][j]."""
    dense = model.layers[q.layer]
    if q.i is None:
        assert dense.b is not None  # ask refused a bias question without biases
        return float(dense.b[0, q.j])
    return float(dense.W[q.i, q.j])


def _batch_loss(model: Model) -> float:
    """E on the open batch's rows at ``model``'s weights as they are (the data loss)."""
    x, y = model.traces[0].input, model.batch_y
    assert x is not None and y is not None  # the update is next: the batch ran forward
    return model.evaluate(x, y)


def truth_of(model: Model, q: Question) -> dict[str, Any]:
    """Run the next phase on a copy of ``model`` and read what the question asks about (the
    model itself is what it was before the phase)."""
    memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
    copied = copy.deepcopy(model, memo)
    result = copied.step_phase()
    if result.diverged:
        raise ConfigError("kind", f"this phase diverges ({result.diverged}): nothing to predict")
    trace = copied.traces[q.layer]
    if q.kind == "delta_sign":
        assert trace.delta is not None and q.row is not None
        value = float(trace.delta[q.row, q.j])
        sign = "+" if value > 0 else "-" if value < 0 else "0"
        return {"sign": sign, "value": value, "text": f"δ = {value:.4g} ({SIGN_WORDS[sign]})"}
    if q.kind == "largest_delta":
        assert trace.delta is not None
        return _largest_delta(q, np.abs(trace.delta.astype(np.float64)).mean(axis=0))
    if q.kind == "largest_change":
        return _largest_change(q, model.layers[q.layer].W, copied.layers[q.layer].W)
    if q.kind == "loss_change":
        return _loss_change(_batch_loss(model), _batch_loss(copied))
    if q.kind == "weight_after":
        before, value = _parameter(model, q), _parameter(copied, q)
        change = value - before
        return {
            "value": value,
            "before": before,
            "change": change,
            "text": f"{_parameter_name(q)} = {value:.6g} after the update (Δ = {change:.4g})",
        }
    if q.i is None:
        assert trace.db is not None
        value = float(trace.db[0, q.j])
    else:
        assert trace.dW is not None
        value = float(trace.dW[q.i, q.j])
    return {"value": value, "text": f"{value:.6g}"}


def _largest_delta(q: Question, mean_abs: np.ndarray) -> dict[str, Any]:
    """The units of mean |δ| (n_out,) largest; every one tied with the first."""
    largest = float(mean_abs.max())
    if not math.isfinite(largest):
        raise ConfigError("layer", f"δ of layer {q.layer} is not finite: nothing to predict")
    if not largest > 0:
        raise ConfigError("layer", f"every δ of layer {q.layer} is 0 on this batch")
    tied = [int(j) for j in np.nonzero(mean_abs == largest)[0][:MAX_TIED]]
    return {
        "j": tied[0],
        "tied": tied,
        "mean_abs": largest,
        "text": f"unit {tied[0]}: mean |δ| = {largest:.4g}"
        + ("" if len(tied) == 1 else f" (tied: units {', '.join(map(str, tied))})"),
    }


def _largest_change(q: Question, before: np.ndarray, after: np.ndarray) -> dict[str, Any]:
    """The weights of |after − before| largest; every one tied with the first."""
    change = np.abs(after.astype(np.float64) - before)
    largest = float(change.max())
    if not largest > 0:
        raise ConfigError("layer", f"the update changes no weight of layer {q.layer}")
    rows, columns = np.nonzero(change == largest)
    tied = [[int(i), int(j)] for i, j in zip(rows[:MAX_TIED], columns[:MAX_TIED], strict=True)]
    i, j = tied[0]
    delta_w = float(after[i, j] - before[i, j])
    return {
        "i": i,
        "j": j,
        "tied": tied,
        "change": delta_w,
        "text": f"W[{q.layer}][{i}, {j}] changes most: ΔW = {delta_w:.4g}",
    }


def _loss_change(before: float, after: float) -> dict[str, Any]:
    if not (math.isfinite(before) and math.isfinite(after)):
        raise ConfigError("kind", "the batch's loss is not finite here: nothing to predict")
    direction = "down" if after < before else "up" if after > before else "same"
    return {
        "direction": direction,
        "before": before,
        "after": after,
        "text": f"the loss goes {direction}: {before:.6g} → {after:.6g}",
    }


# ----- answers -------------------------------------------------------------------------------


def clean_name(given: Any, max_length: int) -> str:
    """The display name a student answers under: printable, 1…max_length characters."""
    if not isinstance(given, str):
        raise ConfigError("name", "must be a string")
    name = " ".join(given.split())
    if not name:
        raise ConfigError("name", "give a name to answer under (any name: no account)")
    if len(name) > max_length:
        raise ConfigError("name", f"at most {max_length} characters, got {len(name)}")
    if any(unicodedata.category(c).startswith("C") for c in name):
        raise ConfigError("name", "control characters are not allowed")
    return name


# Letters of other scripts drawn like a Latin one (Unicode's confusables.txt, the Cyrillic
# and Greek letters whose skeleton is one Latin letter): "Аna" with a Cyrillic А is "Ana".
LOOK_ALIKES = str.maketrans(
    "АВЕЅІЈКМНОРСТХУаеѕіјһԁԛԝорсухӏ"  # Cyrillic
    "ΑΒΕΖΗΙΚΜΝΟΡΤΥΧοιν",  # Greek
    "ABESIJKMHOPCTXYaesijhdqwopcyxlABEZHIKMNOPTYXoiv",
)


def name_key(name: str) -> str:
    """What two names must share to be one student: compatibility forms folded (NFKC:
    full-width letters, ligatures), look-alike letters of other scripts read as the Latin
    ones, then case folded — a skeleton in the sense of Unicode TS #39."""
    return unicodedata.normalize("NFKC", name).translate(LOOK_ALIKES).casefold()


def clean_answer(q: Question, answer: Any) -> Any:
    """The answer as stored, checked against the question's kind (ConfigError 'answer')."""
    n_in, n_out = q.shape
    if q.kind == "delta_sign":
        if answer not in SIGNS:
            raise ConfigError("answer", 'the sign of δ: "+", "-" or "0"')
        return answer
    if q.kind == "loss_change":
        if answer not in DIRECTIONS:
            raise ConfigError("answer", 'where the loss goes: "down", "up" or "same"')
        return answer
    if q.kind == "largest_delta":
        if not isinstance(answer, dict) or set(answer) != {"j"}:
            raise ConfigError("answer", 'a unit: {"j": unit index}')
        j = answer["j"]
        if not isinstance(j, int) or isinstance(j, bool):
            raise ConfigError("answer", "j must be an integer")
        if not 0 <= j < n_out:
            raise ConfigError("answer", f"j in 0…{n_out - 1}")
        return {"j": j}
    if q.kind == "largest_change":
        if not isinstance(answer, dict) or set(answer) != {"i", "j"}:
            raise ConfigError("answer", 'a weight: {"i": input index, "j": unit index}')
        i, j = answer["i"], answer["j"]
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (i, j)):
            raise ConfigError("answer", "i and j must be integers")
        if not (0 <= i < n_in and 0 <= j < n_out):
            raise ConfigError("answer", f"i in 0…{n_in - 1} and j in 0…{n_out - 1}")
        return {"i": i, "j": j}
    if isinstance(answer, bool) or not isinstance(answer, int | float):
        raise ConfigError("answer", "a number")
    if not math.isfinite(answer):
        raise ConfigError("answer", "a finite number")
    return float(answer)


def clean_confidence(given: Any) -> Confidence | None:
    """How sure the student is: "sure", "unsure", or None (not said)."""
    if given is None or given in CONFIDENCES:
        return given  # type: ignore[no-any-return]
    raise ConfigError("confidence", f'"sure", "unsure" or left out, got {given!r}')


def answer_label(q: Question, answer: Any) -> str:
    if q.kind in CHOICES:
        return str(answer)
    if q.kind == "largest_change":
        return f"W[{answer['i']}, {answer['j']}]"
    if q.kind == "largest_delta":
        return f"unit {answer['j']}"
    return f"{answer:.6g}"


def histogram(q: Question, bins: int, number: int | None = None) -> list[dict[str, Any]]:
    """Round ``number``'s answers (the current round's by default) as bars ``{"label",
    "count", "sure", "unsure"}`` for the teacher's live chart: each bar split by how sure
    its students said they were (the rest did not say)."""
    answers = q.in_round(q.round if number is None else number)

    def bar(label: str, given: list[dict[str, Any]], **edges: float) -> dict[str, Any]:
        sure = sum(1 for a in given if a.get("confidence") == "sure")
        unsure = sum(1 for a in given if a.get("confidence") == "unsure")
        return {"label": label, "count": len(given), "sure": sure, "unsure": unsure, **edges}

    if q.kind in CHOICES:
        by_choice: dict[str, list[dict[str, Any]]] = {choice: [] for choice in CHOICES[q.kind]}
        for a in answers:
            by_choice[a["answer"]].append(a)
        return [bar(choice, given) for choice, given in by_choice.items()]
    if q.kind in ("largest_change", "largest_delta"):
        picks: dict[str, list[dict[str, Any]]] = {}
        for a in answers:
            picks.setdefault(answer_label(q, a["answer"]), []).append(a)
        ranked = sorted(picks.items(), key=lambda item: (-len(item[1]), item[0]))
        bars = [bar(label, given) for label, given in ranked[:bins]]
        rest = [a for _, given in ranked[bins:] for a in given]
        return [*bars, bar("other", rest)] if rest else bars
    if not answers:
        return []
    values = np.array([a["answer"] for a in answers], dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [bar(f"{low:.4g}", answers, low=low, high=high)]
    edges = np.histogram_bin_edges(values, bins=bins, range=(low, high))
    # np.histogram's bins: each half-open [edge, next edge), the last one closed
    at = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
    return [
        bar(
            f"{edges[k]:.3g} … {edges[k + 1]:.3g}",
            [a for a, where in zip(answers, at.tolist(), strict=True) if where == k],
            low=float(edges[k]),
            high=float(edges[k + 1]),
        )
        for k in range(bins)
    ]


def tally(q: Question, number: int | None = None) -> dict[str, int]:
    """Right and wrong among round ``number``'s answers (by default the current round: the
    last one, once revealed)."""
    answers = q.in_round(q.round if number is None else number)
    right = sum(1 for a in answers if q.is_right(a["answer"]))
    return {"answers": len(answers), "right": right, "wrong": len(answers) - right}


def moved(q: Question) -> dict[str, int] | None:
    """Between the first round and the last, among the names that answered in both: how many
    went wrong → right, right → wrong, or stayed (what peer-instruction studies report);
    None with a single round."""
    if q.round == 1:
        return None
    first = {name_key(a["name"]): q.is_right(a["answer"]) for a in q.in_round(1)}
    counts = dict.fromkeys(MOVES, 0)
    for a in q.in_round(q.round):
        before = first.get(name_key(a["name"]))
        if before is not None:
            now = q.is_right(a["answer"])
            counts[f"{'right' if before else 'wrong'}_to_{'right' if now else 'wrong'}"] += 1
    return counts


MOVES = ("wrong_to_right", "right_to_wrong", "right_to_right", "wrong_to_wrong")


# ----- a session's questions -------------------------------------------------------------------


class QuestionBook:
    """A session's questions, oldest first; at most one open. Thread-safe: students answer
    on the event loop while the teacher's calls run in threads."""

    def __init__(self, questions: list[Question] | None = None) -> None:
        self._questions: list[Question] = questions or []
        self._lock = threading.Lock()

    def __len__(self) -> int:
        with self._lock:
            return len(self._questions)

    def all(self) -> list[Question]:
        """Copies of every question, each with its answers as they stand (taken under the
        lock: students answer meanwhile)."""
        with self._lock:
            return [replace(q, answers=list(q.answers)) for q in self._questions]

    def open_question(self) -> Question | None:
        with self._lock:
            last = self._questions[-1] if self._questions else None
            return last if last is not None and last.status == "open" else None

    def find(self, question_id: int) -> Question:
        with self._lock:
            for q in self._questions:
                if q.id == question_id:
                    return q
        raise LookupError(question_id)

    def next_id(self) -> int:
        with self._lock:
            return self._questions[-1].id + 1 if self._questions else 1

    def add(self, question: Question, max_kept: int) -> Question | None:
        """Keep a new question; the open one, if any, is replaced (and returned)."""
        with self._lock:
            replaced = None
            if self._questions and self._questions[-1].status == "open":
                replaced = self._questions[-1]
                replaced.status = "replaced"
            self._questions.append(question)
            del self._questions[:-max_kept]
            return replaced

    def answer(
        self,
        question_id: int,
        name: str,
        answer: Any,
        limit: int,
        client: str = "",
        per_client: int = 1 << 30,
        receipt: str | None = None,
        confidence: Any = None,
    ) -> tuple[Question, dict[str, Any]]:
        """Record one answer under ``name`` in the question's current round; returns the
        question and the answer as kept (its ``receipt``: a secret the answering page keeps
        to answer again and to claim the answer after a reload).

        A name's first answer to the question gets a new receipt; answering again under it
        (in the same round: the latest counts; or in the next) needs that ``receipt``.
        ``client``: who sends it (a digest, never the address), who answers under at most
        ``per_client`` names to one question; ``limit``: the names one question takes."""
        try:
            q = self.find(question_id)
        except LookupError:
            raise QuestionNotFoundError("question", f"no question {question_id} here") from None
        value = clean_answer(q, answer)
        sure = clean_confidence(confidence)
        key = name_key(name)
        with self._lock:
            if q.status != "open":
                raise QuestionClosedError(
                    "question", f"question {q.id} was {q.status}: it takes no more answers"
                )
            given = [a for a in q.answers if name_key(a["name"]) == key]
            if given:
                name = given[0]["name"]  # as first given: one student, one spelling
                kept = given[0]["receipt"]
                if not (isinstance(receipt, str) and secrets.compare_digest(kept, receipt)):
                    raise AnswerRefusedError(
                        "name",
                        f"{name!r} has answered this question already: only the page that "
                        "did may answer again under that name",
                    )
            else:
                names = {name_key(a["name"]) for a in q.answers}
                if len(names) >= limit:
                    raise QuestionFullError("question", f"this question is full ({limit} answers)")
                if client and _names_of(q, client) >= per_client:
                    raise AnswerQuotaError(
                        "max_answers_per_client",
                        f"this browser gave {per_client} answers to question {q.id} already, "
                        "the most one client may (max_answers_per_client)",
                        ANSWER_QUOTA_RETRY_SECONDS,
                    )
                kept = secrets.token_urlsafe(RECEIPT_BYTES)
            entry = {"name": name, "answer": value, "at": time.time(), "receipt": kept,
                     "client": client, "round": q.round, "confidence": sure}  # fmt: skip
            this_round = [a for a in given if a.get("round", 1) == q.round]
            if this_round:  # a change of mind: the latest answer of the round counts
                q.answers[q.answers.index(this_round[0])] = entry
            else:
                q.answers.append(entry)
        return q, dict(entry)

    def next_round(self, question_id: int, max_rounds: int) -> Question:
        """Open the question's next round ("discuss with your neighbour, then answer
        again"): the answers of the rounds before stay, each name answers afresh."""
        with self._lock:
            for q in self._questions:
                if q.id == question_id:
                    if q.status != "open":
                        raise QuestionClosedError(
                            "question", f"question {q.id} was {q.status} already"
                        )
                    if q.round >= max_rounds:
                        raise RoundRefusedError(
                            "round",
                            f"question {q.id} has had its {max_rounds} rounds "
                            "(question_max_rounds): reveal it",
                        )
                    q.round += 1
                    return q
        raise QuestionNotFoundError("question", f"no question {question_id} here")

    def claim(self, question_id: int, receipt: str) -> tuple[Question, dict[str, Any]]:
        """The latest answer this receipt was given for (a page reloaded after answering)."""
        try:
            q = self.find(question_id)
        except LookupError:
            raise QuestionNotFoundError("question", f"no question {question_id} here") from None
        with self._lock:
            for a in reversed(q.answers):
                kept = a.get("receipt")
                if isinstance(kept, str) and secrets.compare_digest(kept, receipt):
                    return q, dict(a)
        raise ReceiptRefusedError(
            "receipt", f"no answer to question {question_id} has this receipt"
        )

    def reveal(self, question_id: int, ran: bool) -> Question:
        with self._lock:
            for q in self._questions:
                if q.id == question_id:
                    if q.status != "open":
                        raise QuestionClosedError(
                            "question", f"question {q.id} was {q.status} already"
                        )
                    q.status, q.ran = "revealed", ran
                    return q
        raise QuestionNotFoundError("question", f"no question {question_id} here")

    def marks(self, q: Question) -> dict[str, list[dict[str, Any]]]:
        """Each answering name → its answers, a round each: ``{"round", "answer",
        "confidence", "right"}`` (after Reveal)."""
        with self._lock:
            marked: dict[str, list[dict[str, Any]]] = {}
            for a in sorted(q.answers, key=lambda a: a.get("round", 1)):
                own = {
                    "round": a.get("round", 1),
                    "answer": a["answer"],
                    "confidence": a.get("confidence"),
                    "right": q.is_right(a["answer"]),
                }
                marked.setdefault(a["name"], []).append(own)
            return marked

    def snapshot(self, q: Question, bins: int) -> dict[str, Any]:
        """Every round's count and histogram (the current one last), taken under the lock."""
        with self._lock:
            rounds = [
                {"round": n, "count": len(q.in_round(n)), "histogram": histogram(q, bins, n)}
                for n in range(1, q.round + 1)
            ]
            now = rounds[-1]
            return {"question": q.id, "round": q.round, "count": now["count"],
                    "histogram": now["histogram"], "rounds": rounds}  # fmt: skip

    # ----- storing and exporting ------------------------------------------------------------

    def export(self) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(q) for q in self._questions]

    @classmethod
    def from_export(cls, stored: Any) -> QuestionBook:
        """The book a stored session carried (an older export has none)."""
        if not isinstance(stored, list):
            return cls()
        try:
            return cls([Question(**dict(q)) for q in stored])
        except (TypeError, ValueError):
            return cls()  # a damaged list of questions never costs the session

    def csv(self) -> str:
        """Every answer, one row each, with its question, the truth and the mark."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(
            ["question", "kind", "asked_at", "epoch", "step", "phase", "text", "status",
             "truth", "name", "round", "answer", "confidence", "right", "answered_at"]
        )  # fmt: skip
        with self._lock:
            for q in self._questions:
                phase = q.moment.get("phase") or {}
                shown = q.status == "revealed"
                truth = _truth_cell(q) if shown else ""
                for a in sorted(q.answers, key=lambda a: a.get("round", 1)):
                    writer.writerow(
                        [q.id, q.kind, _iso(q.asked_at), q.moment.get("epoch"),
                         q.moment.get("step"),
                         f"{phase.get('kind')}" + ("" if phase.get("layer") is None
                                                   else f" {phase.get('layer')}"),
                         safe_cell(q.text), q.status, safe_cell(truth), safe_cell(a["name"]),
                         a.get("round", 1), safe_cell(_answer_cell(q, a["answer"])),
                         a.get("confidence") or "",
                         ("yes" if q.is_right(a["answer"]) else "no") if shown else "",
                         _iso(a["at"])]
                    )  # fmt: skip
        return out.getvalue()


def _names_of(q: Question, client: str) -> int:
    """How many names ``client`` has answered the question under."""
    return len({name_key(a["name"]) for a in q.answers if a.get("client") == client})


def _truth_cell(q: Question) -> str:
    if q.kind == "delta_sign":
        return SIGN_WORDS[q.truth["sign"]]
    if q.kind == "loss_change":
        return str(q.truth["direction"])
    if q.kind == "largest_change":
        return " ".join(f"W[{i}, {j}]" for i, j in q.truth["tied"])
    if q.kind == "largest_delta":
        return " ".join(f"unit {j}" for j in q.truth["tied"])
    return repr(q.truth["value"])


def _answer_cell(q: Question, answer: Any) -> str:
    if q.kind == "delta_sign":
        return SIGN_WORDS[answer]
    if q.kind in CHOICES or q.kind in ("largest_change", "largest_delta"):
        return answer_label(q, answer)
    return repr(answer)


def safe_cell(value: str) -> str:
    """A text cell a spreadsheet shows as text: a leading = + - @ (or tab, CR) would make it a
    formula, so it gets a leading apostrophe — unless it is a plain number."""
    if value.startswith(FORMULA_STARTS):
        try:
            float(value)
            return value
        except ValueError:
            return "'" + value
    return value


def _iso(timestamp: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(timestamp))
