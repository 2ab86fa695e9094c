"""Peer instruction's rounds in a question book: vote, discuss, vote again, reveal.

A class of random students answers a question over two rounds — changing their minds within
a round, saying how sure they are or not, some answering one round only — and every count the
book gives (each round's tally and histogram with its confidence split, the moves between the
rounds, each name's marks, the CSV) is checked against a recount from the answers as they
were sent, kept apart from the book. Names belong to the page that first answered under them
(its receipt); the rounds are bounded by a setting."""

from __future__ import annotations

import csv
import io
import random
from typing import Any

import numpy as np
import pytest

from app.engine import ConfigError
from app.service.questions import (
    AnswerRefusedError,
    Question,
    QuestionBook,
    QuestionClosedError,
    RoundRefusedError,
    histogram,
    moved,
    name_key,
    tally,
)

LIMIT = 1000


def sign_question(truth: str = "-") -> Question:
    return Question(1, "delta_sign", 1, 0, shape=[4, 2], truth={"sign": truth, "value": -0.5})


def value_question(truth: float = 0.25) -> Question:
    return Question(1, "gradient", 0, 1, i=0, tolerance=0.1, shape=[2, 4], truth={"value": truth})


def test_a_name_answers_again_only_with_its_receipt_and_the_latest_counts() -> None:
    book = QuestionBook([sign_question()])
    _, first = book.answer(1, "Ana", "+", LIMIT)
    with pytest.raises(AnswerRefusedError) as refused:  # a neighbour under Ana's name
        book.answer(1, "ana", "-", LIMIT)
    assert refused.value.field == "name"
    with pytest.raises(AnswerRefusedError):
        book.answer(1, "Ana", "-", LIMIT, receipt="not-hers")
    _, again = book.answer(1, "ANA", "-", LIMIT, receipt=first["receipt"], confidence="sure")
    assert (again["name"], again["receipt"], again["round"]) == ("Ana", first["receipt"], 1)
    q = book.find(1)
    assert [(a["answer"], a["confidence"]) for a in q.answers] == [("-", "sure")]
    assert tally(q) == {"answers": 1, "right": 1, "wrong": 0}


def test_rounds_open_until_the_setting_and_never_after_reveal() -> None:
    book = QuestionBook([sign_question()])
    assert book.next_round(1, max_rounds=3).round == 2
    assert book.next_round(1, max_rounds=3).round == 3
    with pytest.raises(RoundRefusedError) as refused:
        book.next_round(1, max_rounds=3)
    assert refused.value.field == "round" and "question_max_rounds" in refused.value.message
    book.reveal(1, ran=True)
    with pytest.raises(QuestionClosedError):
        book.next_round(1, max_rounds=5)
    with pytest.raises(QuestionClosedError):
        book.answer(1, "Ana", "+", LIMIT)


def test_confidence_is_sure_unsure_or_left_out() -> None:
    book = QuestionBook([sign_question()])
    with pytest.raises(ConfigError) as refused:
        book.answer(1, "Ana", "+", LIMIT, confidence="very")
    assert refused.value.field == "confidence"
    assert book.find(1).answers == []  # refused whole: nothing kept


def test_the_limit_counts_names_not_answers() -> None:
    book = QuestionBook([sign_question()])
    receipts = {name: book.answer(1, name, "+", 2)[1]["receipt"] for name in ("Ana", "Ben")}
    book.next_round(1, max_rounds=2)
    for name, receipt in receipts.items():  # both vote again: still two names
        book.answer(1, name, "-", 2, receipt=receipt)
    with pytest.raises(AnswerRefusedError):
        book.answer(1, "Cy", "+", 2)


def recount(
    q: Question, sent: list[tuple[int, str, Any, str | None]], rounds: int
) -> dict[str, Any]:
    """The counts from the answers as sent — (round, name, answer, confidence) in order —
    without the book: each name's last answer in a round is the one that counts."""
    latest: list[dict[str, tuple[Any, str | None]]] = [{} for _ in range(rounds + 1)]
    for number, name, answer, confidence in sent:
        latest[number][name_key(name)] = (answer, confidence)

    def right(answer: Any) -> bool:
        if q.kind == "delta_sign":
            return bool(answer == q.truth["sign"])
        return abs(answer - q.truth["value"]) <= 0.1 * abs(q.truth["value"])

    tallies, splits = [], []
    for number in range(1, rounds + 1):
        given = latest[number].values()
        good = sum(right(a) for a, _ in given)
        tallies.append({"answers": len(given), "right": good, "wrong": len(given) - good})
        split: dict[Any, list[int]] = {}
        for answer, confidence in given:
            counts = split.setdefault(answer, [0, 0, 0])
            counts[0] += 1
            counts[1] += confidence == "sure"
            counts[2] += confidence == "unsure"
        splits.append(split)
    moves = dict.fromkeys(
        ("wrong_to_right", "right_to_wrong", "right_to_right", "wrong_to_wrong"), 0
    )
    for key, (answer, _) in latest[rounds].items():
        if key in latest[1]:
            was, now = right(latest[1][key][0]), right(answer)
            moves[f"{'right' if was else 'wrong'}_to_{'right' if now else 'wrong'}"] += 1
    return {"tallies": tallies, "splits": splits, "moved": moves, "latest": latest}


@pytest.mark.parametrize("seed", range(6))
def test_every_count_equals_a_recount_of_the_answers_sent(seed: int) -> None:
    """Thirty students over two rounds, changing their minds; the book's tallies, histograms
    (confidence split), moves, marks and CSV equal a recount of what they sent."""
    rng = random.Random(seed)
    q = sign_question(rng.choice("+-0"))
    book = QuestionBook([q])
    names = [f"student {k}" for k in range(30)]
    receipts: dict[str, str] = {}
    spelt: dict[str, str] = {}  # as each student first typed their name
    sent: list[tuple[int, str, Any, str | None]] = []
    for number in (1, 2):
        if number == 2:
            book.next_round(1, max_rounds=2)
        for _ in range(60):
            name = rng.choice(names)
            if number == 2 and name not in receipts and rng.random() < 0.5:
                continue  # most of round 2 are round 1's students
            answer, confidence = rng.choice("+-0"), rng.choice(["sure", "unsure", None])
            typed = rng.choice([name, name.upper(), name.title()])
            _, kept = book.answer(
                1, typed, answer, LIMIT, receipt=receipts.get(name), confidence=confidence
            )
            receipts.setdefault(name, kept["receipt"])
            spelt.setdefault(name, typed)
            assert (kept["receipt"], kept["name"]) == (receipts[name], spelt[name])
            sent.append((number, name, answer, confidence))
    expected = recount(q, sent, 2)

    snapshot = book.snapshot(q, bins=10)
    assert snapshot["round"] == 2 and [r["round"] for r in snapshot["rounds"]] == [1, 2]
    for number in (1, 2):
        assert tally(q, number) == expected["tallies"][number - 1]
        bars = snapshot["rounds"][number - 1]["histogram"]
        assert bars == histogram(q, 10, number)
        split = expected["splits"][number - 1]
        assert {b["label"]: [b["count"], b["sure"], b["unsure"]] for b in bars} == {
            sign: split.get(sign, [0, 0, 0]) for sign in "+-0"
        }
    assert tally(q) == expected["tallies"][1]  # the current round: the last one
    assert moved(q) == expected["moved"]
    book.reveal(1, ran=True)
    marks = book.marks(q)
    for name in names:
        own = [
            (number, expected["latest"][number][name_key(name)])
            for number in (1, 2)
            if name_key(name) in expected["latest"][number]
        ]
        got = [(a["round"], (a["answer"], a["confidence"])) for a in marks.get(spelt.get(name), [])]
        assert got == own
    rows = list(csv.DictReader(io.StringIO(book.csv())))
    assert len(rows) == sum(t["answers"] for t in expected["tallies"])
    for row in rows:
        answer, confidence = expected["latest"][int(row["round"])][name_key(row["name"])]
        assert row["confidence"] == (confidence or "")
        assert row["right"] == ("yes" if answer == q.truth["sign"] else "no")


def test_a_single_round_has_no_moves_and_numbers_split_by_confidence() -> None:
    q = value_question()
    book = QuestionBook([q])
    given = [(0.24, "sure"), (0.26, None), (0.9, "unsure"), (-0.3, "sure"), (0.25, "unsure")]
    for k, (value, confidence) in enumerate(given):
        book.answer(1, f"s{k}", value, LIMIT, confidence=confidence)
    assert moved(q) is None
    bars = histogram(q, 4)
    counts, edges = np.histogram([v for v, _ in given], bins=4)
    assert [b["count"] for b in bars] == counts.tolist()  # NumPy's own bins
    assert [b["low"] for b in bars] == edges[:-1].tolist()
    for bar in bars:
        inside = [
            c for v, c in given
            if bar["low"] <= v < bar["high"] or (v == bar["high"] == edges[-1])
        ]  # fmt: skip
        assert (bar["sure"], bar["unsure"]) == (inside.count("sure"), inside.count("unsure"))
    assert tally(q) == {"answers": 5, "right": 3, "wrong": 2}


def test_rounds_and_confidence_survive_an_export() -> None:
    book = QuestionBook([sign_question()])
    _, kept = book.answer(1, "Ana", "+", LIMIT, confidence="unsure")
    book.next_round(1, max_rounds=2)
    book.answer(1, "Ana", "-", LIMIT, receipt=kept["receipt"], confidence="sure")
    again = QuestionBook.from_export(book.export())
    q = again.find(1)
    assert q.round == 2 and [a["round"] for a in q.answers] == [1, 2]
    assert moved(q) == {"wrong_to_right": 1, "right_to_wrong": 0, "right_to_right": 0,
                        "wrong_to_wrong": 0}  # fmt: skip
    with pytest.raises(AnswerRefusedError):  # the name is still Ana's page's after a restart
        again.answer(1, "Ana", "+", LIMIT)
    again.answer(1, "Ana", "+", LIMIT, receipt=kept["receipt"])


def test_an_answer_stored_before_rounds_counts_in_round_one() -> None:
    q = sign_question()
    q.answers.append({"name": "Ana", "answer": "-", "at": 0.0, "receipt": "r" * 22})
    book = QuestionBook.from_export([{**vars(q)}])
    kept = book.find(1)
    assert tally(kept, 1) == {"answers": 1, "right": 1, "wrong": 0}
    assert histogram(kept, 3)[1] == {"label": "-", "count": 1, "sure": 0, "unsure": 0}
