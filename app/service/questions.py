"""Predict, then reveal: a teacher asks the class what the next phase will compute.

The session is paused before a phase (``model.next_phase``). The teacher asks about it:

- ``delta_sign``: the sign of δ[l][row, j] = ∂L/∂z, which the backward phase of layer l
  computes (answers: ``"+"``, ``"-"`` or ``"0"``);
- ``largest_change``: which weight W[l][i, j] the update changes most, |ΔW| largest
  (answers: ``{"i": …, "j": …}``; a tie counts every tied weight as right);
- ``gradient``: the value of ∂L/∂W[l][i, j] (∂L/∂b[l][j] without ``i``), which the backward
  phase of layer l computes, within a relative tolerance ``tol``: right when
  |answer − truth| ≤ tol·|truth|.

The truth is computed when the question is asked, by running the phase on a private copy of
the model (the session is never touched); Reveal then runs the same phase on the session
itself, which gives the same numbers bit for bit. Students answer under a name of their
choosing, once per question: a second answer under the same name is refused (names are
compared by ``name_key``: without case, surrounding spaces, compatibility forms or look-alike
letters of other scripts), so a reload cannot vote twice, nor "Аna" with a Cyrillic А.

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
from dataclasses import asdict, dataclass, field
from typing import Any, Literal, get_args

import numpy as np

from app.engine import ConfigError, Model
from app.service.quotas import QuotaExceededError

Kind = Literal["delta_sign", "largest_change", "gradient"]
KINDS: tuple[str, ...] = get_args(Kind)
SIGNS = ("+", "-", "0")
SIGN_WORDS = {"+": "positive", "-": "negative", "0": "zero"}
RECEIPT_BYTES = 16  # an answer's receipt: 128 random bits, URL-safe text
ANSWER_QUOTA_RETRY_SECONDS = 60  # Retry-After once a client gave a question its most answers
MAX_TIED = 100  # weights kept as "changes most" when several change exactly as much
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class QuestionNotFoundError(ConfigError):
    """No question has that id here."""


class QuestionClosedError(ConfigError):
    """The question was revealed or replaced: it takes no more answers."""


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
    answers: list[dict[str, Any]] = field(default_factory=list)  # {name, answer, at, receipt}
    asked_at: float = field(default_factory=time.time)
    status: Literal["open", "revealed", "replaced"] = "open"
    ran: bool = False  # did Reveal run the phase on the session?

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
            "choices": list(SIGNS) if self.kind == "delta_sign" else None,
            "status": self.status,
        }

    def is_right(self, answer: Any) -> bool:
        truth = self.truth
        if self.kind == "delta_sign":
            return bool(answer == truth["sign"])
        if self.kind == "largest_change":
            return bool([answer["i"], answer["j"]] in truth["tied"])
        assert self.tolerance is not None
        value = float(truth["value"])
        return abs(float(answer) - value) <= self.tolerance * abs(value)


# ----- asking: the question and its truth ------------------------------------------------------


def ask(
    model: Model,
    question_id: int,
    kind: str,
    layer: int,
    j: int,
    i: int | None = None,
    row: int | None = None,
    tolerance: float | None = None,
    version: int = 0,
) -> Question:
    """A question about ``model``'s next phase, its truth computed on a copy of the model;
    ``version``: the session's, so Reveal knows whether it changed since."""
    if kind not in KINDS:
        raise ConfigError("kind", f"must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 0 <= layer < len(model.layers):
        raise ConfigError("layer", f"must be 0…{len(model.layers) - 1}, got {layer}")
    phase = model.next_phase
    wanted = "update" if kind == "largest_change" else "backward"
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
    if kind == "largest_change" and i is not None:
        raise ConfigError("i", "a largest_change question names a layer only: leave i out")
    if kind == "gradient" and i is not None and not 0 <= i < n_in:
        raise ConfigError("i", f"layer {layer} has inputs 0…{n_in - 1}, got {i}")
    if kind == "gradient" and i is None and model.layers[layer].b is None:
        raise ConfigError("i", "this network has no biases: give i for a weight")
    rows = len(model.batch_indices)
    if kind == "delta_sign":
        row = 0 if row is None else row
        if not 0 <= row < rows:
            raise ConfigError("row", f"the batch has rows 0…{rows - 1}, got {row}")
    elif row is not None:
        raise ConfigError("row", f"a {kind} question takes no row")
    if kind == "gradient":
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
    question.text = _text(question, n_in)
    question.truth = truth_of(model, question)
    return question


def _text(q: Question, n_in: int) -> str:
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
    name = f"∂L/∂b[{q.layer}][{q.j}]" if q.i is None else f"∂L/∂W[{q.layer}][{q.i}, {q.j}]"
    assert q.tolerance is not None
    return (
        f"Layer {q.layer}'s backward phase is next. What is {name}? "
        f"Within ±{q.tolerance:.0%} of the true value counts as right."
    )


def truth_of(model: Model, q: Question) -> dict[str, Any]:
    """Run the next phase on a copy of ``model`` and read what the question asks about."""
    memo = {id(model.x_train): model.x_train, id(model.y_train): model.y_train}
    copied = copy.deepcopy(model, memo)
    before = copied.layers[q.layer].W.copy()
    result = copied.step_phase()
    if result.diverged:
        raise ConfigError("kind", f"this phase diverges ({result.diverged}): nothing to predict")
    trace = copied.traces[q.layer]
    if q.kind == "delta_sign":
        assert trace.delta is not None and q.row is not None
        value = float(trace.delta[q.row, q.j])
        sign = "+" if value > 0 else "-" if value < 0 else "0"
        return {"sign": sign, "value": value, "text": f"δ = {value:.4g} ({SIGN_WORDS[sign]})"}
    if q.kind == "largest_change":
        change = np.abs(copied.layers[q.layer].W.astype(np.float64) - before)
        largest = float(change.max())
        if not largest > 0:
            raise ConfigError("layer", f"the update changes no weight of layer {q.layer}")
        rows, columns = np.nonzero(change == largest)
        tied = [[int(i), int(j)] for i, j in zip(rows[:MAX_TIED], columns[:MAX_TIED], strict=True)]
        i, j = tied[0]
        delta_w = float(copied.layers[q.layer].W[i, j] - before[i, j])
        return {
            "i": i,
            "j": j,
            "tied": tied,
            "change": delta_w,
            "text": f"W[{q.layer}][{i}, {j}] changes most: ΔW = {delta_w:.4g}",
        }
    if q.i is None:
        assert trace.db is not None
        value = float(trace.db[0, q.j])
    else:
        assert trace.dW is not None
        value = float(trace.dW[q.i, q.j])
    return {"value": value, "text": f"{value:.6g}"}


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


def answer_label(q: Question, answer: Any) -> str:
    if q.kind == "delta_sign":
        return str(answer)
    if q.kind == "largest_change":
        return f"W[{answer['i']}, {answer['j']}]"
    return f"{answer:.6g}"


def histogram(q: Question, bins: int) -> list[dict[str, Any]]:
    """The answers so far as bars ``{"label", "count"}`` for the teacher's live chart."""
    if q.kind == "delta_sign":
        counts = dict.fromkeys(SIGNS, 0)
        for a in q.answers:
            counts[a["answer"]] += 1
        return [{"label": sign, "count": count} for sign, count in counts.items()]
    if q.kind == "largest_change":
        picks: dict[str, int] = {}
        for a in q.answers:
            label = answer_label(q, a["answer"])
            picks[label] = picks.get(label, 0) + 1
        ranked = sorted(picks.items(), key=lambda item: (-item[1], item[0]))
        bars = [{"label": label, "count": count} for label, count in ranked[:bins]]
        rest = sum(count for _, count in ranked[bins:])
        return [*bars, {"label": "other", "count": rest}] if rest else bars
    values = np.array([a["answer"] for a in q.answers], dtype=np.float64)
    if not len(values):
        return []
    low, high = float(values.min()), float(values.max())
    if low == high:
        return [{"label": f"{low:.4g}", "count": len(values), "low": low, "high": high}]
    counts_, edges = np.histogram(values, bins=bins, range=(low, high))
    return [
        {
            "label": f"{edges[k]:.3g} … {edges[k + 1]:.3g}",
            "count": int(counts_[k]),
            "low": float(edges[k]),
            "high": float(edges[k + 1]),
        }
        for k in range(bins)
    ]


def tally(q: Question) -> dict[str, int]:
    right = sum(1 for a in q.answers if q.is_right(a["answer"]))
    return {"answers": len(q.answers), "right": right, "wrong": len(q.answers) - right}


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
    ) -> tuple[Question, Any, str]:
        """Record one answer under ``name``; returns the question, the answer as kept and its
        receipt: a secret the answering page keeps to claim the answer again (a reload).

        ``client``: who sends it (a digest, never the address), who gives at most
        ``per_client`` answers to one question whatever the names."""
        try:
            q = self.find(question_id)
        except LookupError:
            raise QuestionNotFoundError("question", f"no question {question_id} here") from None
        value = clean_answer(q, answer)
        key = name_key(name)
        with self._lock:
            if q.status != "open":
                raise QuestionClosedError(
                    "question", f"question {q.id} was {q.status}: it takes no more answers"
                )
            if any(name_key(a["name"]) == key for a in q.answers):
                raise AnswerRefusedError(
                    "name", f"{name!r} has answered this question already: one answer each"
                )
            if len(q.answers) >= limit:
                raise QuestionFullError("question", f"this question is full ({limit} answers)")
            if client and sum(a.get("client") == client for a in q.answers) >= per_client:
                raise AnswerQuotaError(
                    "max_answers_per_client",
                    f"this browser gave {per_client} answers to question {q.id} already, the "
                    "most one client may (max_answers_per_client)",
                    ANSWER_QUOTA_RETRY_SECONDS,
                )
            receipt = secrets.token_urlsafe(RECEIPT_BYTES)
            q.answers.append(
                {"name": name, "answer": value, "at": time.time(), "receipt": receipt,
                 "client": client}
            )  # fmt: skip
        return q, value, receipt

    def claim(self, question_id: int, receipt: str) -> tuple[Question, dict[str, Any]]:
        """The answer this receipt was given for (a page reloaded after answering)."""
        try:
            q = self.find(question_id)
        except LookupError:
            raise QuestionNotFoundError("question", f"no question {question_id} here") from None
        with self._lock:
            for a in q.answers:
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

    def marks(self, q: Question) -> dict[str, bool]:
        """Each answering name → right or wrong (after Reveal)."""
        with self._lock:
            return {a["name"]: q.is_right(a["answer"]) for a in q.answers}

    def snapshot(self, q: Question, bins: int) -> dict[str, Any]:
        """The count and histogram of a question's answers, taken under the lock."""
        with self._lock:
            return {"question": q.id, "count": len(q.answers), "histogram": histogram(q, bins)}

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
             "truth", "name", "answer", "right", "answered_at"]
        )  # fmt: skip
        with self._lock:
            for q in self._questions:
                phase = q.moment.get("phase") or {}
                shown = q.status == "revealed"
                truth = _truth_cell(q) if shown else ""
                for a in q.answers:
                    writer.writerow(
                        [q.id, q.kind, _iso(q.asked_at), q.moment.get("epoch"),
                         q.moment.get("step"),
                         f"{phase.get('kind')}" + ("" if phase.get("layer") is None
                                                   else f" {phase.get('layer')}"),
                         safe_cell(q.text), q.status, safe_cell(truth), safe_cell(a["name"]),
                         safe_cell(_answer_cell(q, a["answer"])),
                         ("yes" if q.is_right(a["answer"]) else "no") if shown else "",
                         _iso(a["at"])]
                    )  # fmt: skip
        return out.getvalue()


def _truth_cell(q: Question) -> str:
    if q.kind == "delta_sign":
        return SIGN_WORDS[q.truth["sign"]]
    if q.kind == "largest_change":
        return " ".join(f"W[{i}, {j}]" for i, j in q.truth["tied"])
    return repr(q.truth["value"])


def _answer_cell(q: Question, answer: Any) -> str:
    if q.kind == "delta_sign":
        return SIGN_WORDS[answer]
    if q.kind == "largest_change":
        return f"W[{answer['i']}, {answer['j']}]"
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
