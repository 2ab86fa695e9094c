"""The new kinds of question in a question book — the unit of largest |δ|, where the loss goes,
a weight after the update: a class answering over two rounds, and every count the book gives
(each round's tally, histogram with its confidence split, the moves, the marks, the CSV)
equals a recount of the answers as sent; answers of the wrong shape are refused naming
``answer``; a weight after the update is marked within the tolerance of its change."""

from __future__ import annotations

import csv
import io
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from app.engine import ConfigError
from app.service.questions import Question, QuestionBook, histogram, moved, name_key, tally

LIMIT = 1000
BINS = 3


def unit_question() -> Question:
    truth = {"j": 1, "tied": [1, 3], "mean_abs": 0.2, "text": "unit 1"}
    return Question(1, "largest_delta", 0, 0, shape=[2, 4], truth=truth)


def loss_question() -> Question:
    truth = {"direction": "up", "before": 0.25, "after": 0.5, "text": "up"}
    return Question(1, "loss_change", 2, 0, shape=[2, 1], truth=truth)


def weight_question(before: float = 0.4213371, change: float = -0.0012) -> Question:
    truth = {"value": before + change, "before": before, "change": change, "text": "w"}
    return Question(1, "weight_after", 1, 1, i=0, tolerance=0.1, shape=[4, 2], truth=truth)


def weight_right(q: Question, answer: float) -> bool:
    """Within 10 % of the change of the truth, plus the rounding of 6 significant digits."""
    before, value = q.truth["before"], q.truth["value"]
    allowance = 0.1 * abs(value - before) + abs(float(f"{before:.6g}") - before)
    return abs(answer - value) <= allowance


# (the question, a random answer, right or not, the answer's cell in the CSV)
KINDS: dict[str, tuple[Callable[[], Question], Any, Any, Any]] = {
    "largest_delta": (
        unit_question,
        lambda rng: {"j": rng.randrange(4)},
        lambda q, a: a["j"] in (1, 3),
        lambda a: f"unit {a['j']}",
    ),
    "loss_change": (
        loss_question,
        lambda rng: rng.choice(["down", "up", "same"]),
        lambda q, a: a == "up",
        lambda a: a,
    ),
    "weight_after": (
        weight_question,
        lambda rng: 0.4213371 - 0.0012 * rng.uniform(0.5, 1.5),
        weight_right,
        repr,
    ),
}


@pytest.mark.parametrize("kind", list(KINDS))
@pytest.mark.parametrize("seed", range(3))
def test_every_count_of_a_new_kind_equals_a_recount(kind: str, seed: int) -> None:
    make, draw, is_right, cell = KINDS[kind]
    rng = random.Random(seed)
    q = make()
    book = QuestionBook([q])
    receipts: dict[str, str] = {}
    latest: list[dict[str, tuple[Any, str | None]]] = [{}, {}, {}]
    for number in (1, 2):
        if number == 2:
            book.next_round(1, max_rounds=2)
        for _ in range(40):
            name = f"student {rng.randrange(15)}"
            value, confidence = draw(rng), rng.choice(["sure", "unsure", None])
            _, kept = book.answer(
                1, name, value, LIMIT, receipt=receipts.get(name), confidence=confidence
            )
            receipts.setdefault(name, kept["receipt"])
            latest[number][name] = (value, confidence)

    for number in (1, 2):
        given = latest[number].values()
        right = sum(is_right(q, a) for a, _ in given)
        assert tally(q, number) == {"answers": len(given), "right": right,
                                    "wrong": len(given) - right}  # fmt: skip
        bars = histogram(q, BINS, number)
        assert sum(b["count"] for b in bars) == len(given)
        assert sum(b["sure"] for b in bars) == sum(c == "sure" for _, c in given)
        assert sum(b["unsure"] for b in bars) == sum(c == "unsure" for _, c in given)
        if kind == "loss_change":  # a bar for each direction, in order, chosen or not
            assert [(b["label"], b["count"]) for b in bars] == [
                (d, sum(a == d for a, _ in given)) for d in ("down", "up", "same")
            ]
        elif kind == "largest_delta":  # the most chosen units first, the rest as "other"
            counts = {f"unit {j}": sum(a["j"] == j for a, _ in given) for j in range(4)}
            ranked = sorted((c for c in counts.items() if c[1]), key=lambda c: (-c[1], c[0]))
            shown = ranked[:BINS] + ([("other", sum(c for _, c in ranked[BINS:]))]
                                     if len(ranked) > BINS else [])  # fmt: skip
            assert [(b["label"], b["count"]) for b in bars] == shown
        else:  # NumPy's own bins over the values given
            values = [a for a, _ in given]
            counts_, edges = np.histogram(values, bins=BINS)
            assert [b["count"] for b in bars] == counts_.tolist()
            assert [b["low"] for b in bars] == edges[:-1].tolist()

    first = {name: is_right(q, a) for name, (a, _) in latest[1].items()}
    moves = dict.fromkeys(("wrong_to_right", "right_to_wrong", "right_to_right",
                           "wrong_to_wrong"), 0)  # fmt: skip
    for name, (a, _) in latest[2].items():
        if name in first:
            now = is_right(q, a)
            moves[f"{'right' if first[name] else 'wrong'}_to_{'right' if now else 'wrong'}"] += 1
    assert moved(q) == moves

    book.reveal(1, ran=True)
    rows = list(csv.DictReader(io.StringIO(book.csv())))
    assert len(rows) == len(latest[1]) + len(latest[2])
    for row in rows:
        value, confidence = latest[int(row["round"])][row["name"]]
        assert row["answer"] == cell(value) and row["kind"] == kind
        assert row["right"] == ("yes" if is_right(q, value) else "no")
        assert row["confidence"] == (confidence or "")
    truth = {"largest_delta": "unit 1 unit 3", "loss_change": "up"}.get(kind)
    assert {row["truth"] for row in rows} == {truth or repr(q.truth["value"])}
    again = QuestionBook.from_export(book.export()).find(1)  # stored and read back
    assert [tally(again, n) for n in (1, 2)] == [tally(q, n) for n in (1, 2)]
    assert {name_key(a["name"]) for a in again.answers} == {name_key(a["name"]) for a in q.answers}


@pytest.mark.parametrize(
    ("make", "bad"),
    [
        (unit_question, [{"j": 4}, {"j": -1}, {"j": 1.0}, {"j": True}, {"i": 0, "j": 1}, "up", 1]),
        (loss_question, ["+", "Up", "", 1, {"j": 0}, None]),
        (weight_question, ["up", {"j": 0}, True, float("nan"), float("inf"), None]),
    ],
)
def test_an_answer_of_another_shape_is_refused_naming_answer(
    make: Callable[[], Question], bad: list[Any]
) -> None:
    book = QuestionBook([make()])
    for value in bad:
        with pytest.raises(ConfigError) as refused:
            book.answer(1, "Ana", value, LIMIT)
        assert refused.value.field == "answer", value
    assert book.find(1).answers == []


def test_a_weight_the_update_leaves_is_right_as_the_question_shows_it() -> None:
    """A dead weight (or a zero gradient) stays: typed as the question gives it now, to 6
    significant digits, the answer is right; anything further off is wrong."""
    before = 0.123456789
    q = weight_question(before, change=0.0)
    shown = float(f"{before:.6g}")
    assert shown != before and q.is_right(shown) and q.is_right(before)
    assert not q.is_right(shown + 2 * abs(shown - before))
    moving = weight_question(before, change=0.01)
    assert moving.is_right(before + 0.0109) and not moving.is_right(before + 0.0112)
    assert not moving.is_right(shown)  # forgetting the update is wrong
