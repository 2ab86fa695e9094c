"""Predict, then reveal on the session a class follows: ask about the phase it runs next,
reveal it, take a student's answer. Each is done whole — under the session's lock where it
reads or runs the model — and asking and revealing store the session. No FastAPI and no
socket here: ``app/live/classes.py`` tells the class what happened.

Every refusal names its field and is of a kind a client can act on (``app/api/errors.py``
gives each its HTTP status; the class socket sends it as an ``error`` message): the class's
(``ClassEndedError``, ``ClassSessionGoneError``), ``SessionPlaysError``, the question book's
(``QuestionNotFoundError`` …), and ``QuotaExceededError`` for an answer rate.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any

from app.engine import ConfigError
from app.service.classes import Classroom, ClassSessionGoneError
from app.service.manager import SessionManager, SessionNotFoundError
from app.service.questions import (
    TOLERANT_KINDS,
    Kind,
    Question,
    QuestionClosedError,
    QuestionNotFoundError,
    ask,
    clean_name,
)
from app.service.quotas import ClientKey, QuotaExceededError, RateLimiter
from app.service.record import Tool
from app.service.session import Session
from app.service.variants import student_name
from app.settings import Settings


class SessionPlaysError(ConfigError):
    """The session plays: a question is about the phase it runs next, so it must be paused."""


class AnswerNotStoredError(ConfigError):
    """An answer was recorded in memory but the store refused the session (retry soon)."""

    retry_after = 1


def class_session(manager: SessionManager, classroom: Classroom, field: str = "code") -> Session:
    """The session the class follows now; ClassSessionGoneError naming ``field`` if gone."""
    try:
        return manager.get(classroom.session_id)
    except SessionNotFoundError:
        raise ClassSessionGoneError(
            field, "the class's session has ended: move the class to another"
        ) from None


def ask_question(
    manager: SessionManager,
    session: Session,
    kind: Kind,
    layer: int | None,
    j: int,
    i: int | None = None,
    row: int | None = None,
    tolerance: float | None = None,
) -> Question:
    """Ask about the phase the paused session runs next (its truth computed on a copy of
    the model); the open question, if any, is replaced. Stores the session (in a thread)."""
    settings = manager.settings
    with session.lock:
        if session.playing:
            raise SessionPlaysError(
                "kind", "pause first: a question is about the phase that runs next"
            )
        if kind in TOLERANT_KINDS and tolerance is None:
            tolerance = settings.question_tolerance
        question = ask(
            session.model,
            session.questions.next_id(),
            kind,
            layer,
            j,
            i,
            row,
            tolerance,
            version=session.version,
        )
        session.questions.add(question, settings.question_max_kept)
    manager.save(session)
    return question


def reveal_question(manager: SessionManager, session: Session, question_id: int) -> Question:
    """Close the question; run its phase on the session when the session is still where the
    question was asked (``question.ran`` says whether). Stores the session (in a thread)."""
    book = session.questions
    try:
        question = book.find(question_id)
    except LookupError:
        message = f"no question {question_id} in this class"
        raise QuestionNotFoundError("question", message) from None
    with session.lock:
        if question.status != "open":
            raise QuestionClosedError(
                "question", f"question {question_id} was {question.status} already"
            )
        model, moment = session.model, question.moment
        ran = (
            not session.playing
            and session.version == moment["version"]
            and (model.step, model.cursor) == (moment["step"], moment["cursor"])
        )
        if ran:
            session.step("phase", 1, by="reveal")
        book.reveal(question_id, ran)
    manager.save(session)
    return question


class AnswerRates:
    """The answer rate limits: per page (a class socket), per client, per address."""

    def __init__(self, settings: Settings) -> None:
        self.page = RateLimiter(settings.answers_per_minute_per_page)
        self.client = RateLimiter(settings.answers_per_minute_per_client)
        self.address = RateLimiter(settings.answers_per_minute_per_address)

    def check(self, client: ClientKey, page: str | None) -> None:
        """Count one answer against each rate; QuotaExceededError naming the first one it
        would exceed (its setting) and when to retry."""
        checks = [(self.client, client.key, "answers_per_minute_per_client")]
        checks.append((self.address, client.address, "answers_per_minute_per_address"))
        if page is not None:
            checks.insert(0, (self.page, page, "answers_per_minute_per_page"))
        for limiter, key, quota in checks:
            wait = limiter.wait(key)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise QuotaExceededError(
                    quota,
                    f"answers come too fast ({quota} = {limiter.rate * 60:g}): retry in "
                    f"{seconds} s",
                    seconds,
                )


def client_digest(client: ClientKey) -> str:
    """Who answered, as stored with the answer: a digest, never the address itself."""
    return hashlib.sha256(client.key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def answer_question(
    session: Session,
    rates: AnswerRates,
    settings: Settings,
    question_id: int,
    name: str,
    answer: Any,
    client: ClientKey,
    page: str | None = None,
    receipt: str | None = None,
    confidence: str | None = None,
) -> tuple[Question, dict[str, Any]]:
    """Record a student's answer in the question's current round (not yet stored); the
    question and ``{"question", "round", "name", "answer", "confidence", "receipt"}`` as
    kept. ``client`` sends it (its rates, its names per question), from ``page`` (a class
    socket's key; None over REST); ``receipt``: the one the name's first answer got, to
    answer again under it."""
    rates.check(client, page)
    name = clean_name(name, settings.question_max_name_length)
    question, kept = session.questions.answer(
        question_id,
        name,
        answer,
        settings.question_max_answers,
        client_digest(client),
        settings.max_answers_per_client,
        receipt=receipt,
        confidence=confidence,
    )
    return question, {
        "question": question.id,
        "round": kept["round"],
        "name": kept["name"],  # as the name first answered
        "answer": kept["answer"],
        "confidence": kept["confidence"],
        "receipt": kept["receipt"],
    }


def record_study(
    manager: SessionManager, session: Session, student: str, tool: Tool, right: bool
) -> bool:
    """A hand check or grade by a named student, noted in the session's lesson record and
    stored before the caller answers (``student``: as a class answer's name; ConfigError
    naming ``student`` otherwise). False when the record is full (``question_max_answers``
    students): the check itself stands."""
    settings = manager.settings
    name = student_name(student, settings.question_max_name_length)
    noted = session.note_study(name, tool, right, settings.question_max_answers)
    if noted:
        manager.save(session)
    return noted


def next_round(manager: SessionManager, session: Session, question_id: int) -> Question:
    """Open the question's next round (peer instruction's second vote); stores the session
    (in a thread), so a restart keeps the round."""
    question = session.questions.next_round(question_id, manager.settings.question_max_rounds)
    manager.save(session)
    return question
