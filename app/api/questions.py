"""Predict, then reveal, on the class link: asking, answering and revealing, shared by the
REST routes (``class_questions.py``) and the class socket (``classes.py``).

A question belongs to the session the class follows (``Session.questions``): it is stored
with it and its answers outlive the class. The class socket carries the live part:

- to everyone (students and teachers): ``question`` when the teacher asks, ``reveal`` when
  they reveal — a student's ``reveal`` carries their own ``mark``, a teacher's the tally;
- to teachers: ``answers`` (count and histogram) after each answer;
- to the student who sent it: ``answered`` or ``error`` (naming the field).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from typing import Any

from fastapi import FastAPI
from pydantic import Field

from app.engine import ConfigError
from app.live.classroom import ClassroomHub
from app.service.classes import Classroom
from app.service.manager import SessionManager, SessionNotFoundError
from app.service.questions import (
    AnswerQuotaError,
    AnswerRefusedError,
    Kind,
    Question,
    QuestionBook,
    QuestionClosedError,
    QuestionNotFoundError,
    ReceiptRefusedError,
    ask,
    clean_name,
    tally,
)
from app.service.quotas import ANONYMOUS, ClientKey, RateLimiter
from app.service.session import Session
from app.settings import Settings

from .errors import ApiError
from .schemas import RequestBody, ResponseBody

Message = dict[str, Any]
MAX_RECEIPT_LENGTH = 100  # a receipt is 22 characters; anything longer is not one


# ----- bodies -----------------------------------------------------------------------------


class QuestionAsk(RequestBody):
    """A question about the phase the class's session runs next, picked on the diagram."""

    kind: Kind = Field(
        description="delta_sign: the sign of δ[layer][row, j] (before that layer's backward "
        "phase); largest_change: which weight of the layer the update changes most (before "
        "the update); gradient: the value of ∂L/∂W[layer][i, j], or ∂L/∂b[layer][j] without "
        "i (before that layer's backward phase), within `tolerance`."
    )
    layer: int = Field(ge=0, le=10_000)
    j: int = Field(0, ge=0, le=100_000, description="The unit (the weight's column).")
    i: int | None = Field(None, ge=0, le=100_000, description="The weight's input (row).")
    row: int | None = Field(None, ge=0, le=1_000_000, description="δ's batch row (default 0).")
    tolerance: float | None = Field(
        None, gt=0, le=1, description="gradient: relative tolerance (default: the setting)."
    )


class AnswerSend(RequestBody):
    """A student's answer over REST (the class socket takes the same fields)."""

    code: str = Field(max_length=20, description="The class code.")
    question: int = Field(ge=0, le=2**53)
    name: str = Field(max_length=1000, description="Any name: no account.")
    answer: str | int | float | dict[str, int] = Field(
        description='delta_sign: "+", "-" or "0"; largest_change: {"i", "j"}; gradient: a number.'
    )


class QuestionPublic(ResponseBody):
    """A question as students see it (never its truth)."""

    id: int
    kind: str
    layer: int
    i: int | None
    j: int
    row: int | None
    tolerance: float | None
    text: str
    moment: dict[str, Any] = Field(description="step, epoch, cursor and phase when asked.")
    choices: list[str] | None
    status: str


class AnswerAccepted(ResponseBody):
    question: int
    name: str
    answer: Any
    receipt: str = Field(
        description="A secret for this answer alone: a page that reloads sends it back on the "
        'class socket (`{"type": "claim", "question", "receipt"}`) to get its mark.'
    )


class RevealResult(ResponseBody):
    """The truth, the tally, and whether the phase ran on the session (it does unless the
    session changed since the question was asked, or plays)."""

    question: QuestionPublic
    truth: dict[str, Any]
    tally: dict[str, int]
    ran: bool


# ----- the app's pieces ---------------------------------------------------------------------


def manager_of(app: FastAPI) -> SessionManager:
    manager: SessionManager = app.state.manager
    return manager


def settings_of(app: FastAPI) -> Settings:
    settings: Settings = app.state.settings
    return settings


def class_session(app: FastAPI, classroom: Classroom) -> Session:
    """The session the class follows now (404 naming the class when it is gone)."""
    try:
        return manager_of(app).get(classroom.session_id)
    except SessionNotFoundError:
        raise ApiError(
            404, "the class's session has ended: move the class to another", field="code"
        ) from None


def as_api_error(error: ConfigError) -> ApiError:
    """A refused answer or a closed question as the HTTP error a client can act on."""
    if isinstance(error, QuestionNotFoundError):
        return ApiError(404, error.message, field=error.field)
    if isinstance(error, QuestionClosedError):
        return ApiError(409, error.message, field=error.field)
    if isinstance(error, AnswerQuotaError):
        return ApiError(429, error.message, field=error.field, headers={"Retry-After": "60"})
    if isinstance(error, AnswerRefusedError):
        return ApiError(429 if error.field == "question" else 409, error.message, field=error.field)
    if isinstance(error, ReceiptRefusedError):
        return ApiError(404, error.message, field=error.field)
    return ApiError(422, error.message, field=error.field)


# ----- asking and revealing (the teacher) ---------------------------------------------------


def ask_question(app: FastAPI, classroom: Classroom, body: QuestionAsk) -> Question:
    """Ask (in a thread: it copies the model and runs a phase); the open question, if any,
    is replaced."""
    if classroom.ended:
        raise ApiError(409, "this class has ended: open a new one", field="Authorization")
    session = class_session(app, classroom)
    settings = settings_of(app)
    with session.lock:
        if session.playing:
            raise ApiError(409, "pause first: a question is about the phase that runs next", "kind")
        tolerance = body.tolerance
        if body.kind == "gradient" and tolerance is None:
            tolerance = settings.question_tolerance
        try:
            question = ask(
                session.model,
                session.questions.next_id(),
                body.kind,
                body.layer,
                body.j,
                body.i,
                body.row,
                tolerance,
                version=session.version,
            )
        except ConfigError as error:
            raise as_api_error(error) from None
        session.questions.add(question, settings.question_max_kept)
    manager_of(app).save(session)
    return question


def reveal_question(
    app: FastAPI, classroom: Classroom, question_id: int
) -> tuple[Question, Message]:
    """Run the phase on the session (when it is still where the question was asked), close
    the question; the reveal message for the class socket (marks by name inside)."""
    session = class_session(app, classroom)
    book = session.questions
    try:
        question = book.find(question_id)
    except LookupError:
        raise ApiError(404, f"no question {question_id} in this class", field="question") from None
    with session.lock:
        if question.status != "open":
            raise ApiError(409, f"question {question_id} was {question.status} already", "question")
        model, moment = session.model, question.moment
        ran = (
            not session.playing
            and session.version == moment["version"]
            and (model.step, model.cursor) == (moment["step"], moment["cursor"])
        )
        if ran:
            session.step("phase", 1, by="reveal")
        book.reveal(question_id, ran)
    manager_of(app).save(session)
    return question, reveal_message(book, question)


def reveal_message(book: QuestionBook, question: Question) -> Message:
    """The ``reveal`` for the class socket (marks by name inside: ``personal`` keeps each
    socket's own)."""
    return {
        "type": "reveal",
        "question": question.public(),
        "truth": question.truth,
        "tally": tally(question),
        "ran": question.ran,
        "marks": book.marks(question),
    }


def questions_csv(session: Session) -> str:
    return session.questions.csv()


# ----- answering (a student) -----------------------------------------------------------------


class AnswerRates:
    """The answer rate limits: per page (a class socket), per client, per address."""

    def __init__(self, settings: Settings) -> None:
        self.page = RateLimiter(settings.answers_per_minute_per_page)
        self.client = RateLimiter(settings.answers_per_minute_per_client)
        self.address = RateLimiter(settings.answers_per_minute_per_address)

    def check(self, client: ClientKey, page: str | None) -> None:
        """429 naming the rate (its setting) and when to retry, when one is exceeded."""
        checks = [(self.client, client.key, "answers_per_minute_per_client")]
        checks.append((self.address, client.address, "answers_per_minute_per_address"))
        if page is not None:
            checks.insert(0, (self.page, page, "answers_per_minute_per_page"))
        for limiter, key, quota in checks:
            wait = limiter.wait(key)
            if wait > 0:
                seconds = max(1, math.ceil(wait))
                raise ApiError(
                    429,
                    f"answers come too fast ({quota} = {limiter.rate * 60:g}): retry in "
                    f"{seconds} s",
                    field=quota,
                    headers={"Retry-After": str(seconds)},
                )


def answer_rates(app: FastAPI) -> AnswerRates:
    rates: AnswerRates | None = getattr(app.state, "answer_rates", None)
    if rates is None:
        rates = app.state.answer_rates = AnswerRates(settings_of(app))
    return rates


def client_digest(client: ClientKey) -> str:
    """Who answered, as stored with the answer: a digest, never the address itself."""
    return hashlib.sha256(client.key.encode("utf-8", "surrogateescape")).hexdigest()[:16]


def record_answer(
    app: FastAPI,
    hub: ClassroomHub,
    classroom: Classroom,
    question_id: Any,
    name: Any,
    answer: Any,
    client: ClientKey = ANONYMOUS,
    page: str | None = None,
) -> Message:
    """Record a student's answer and tell the teachers the new count; ApiError (naming the
    field) when it is refused. Runs on the event loop: it only appends to a list.

    ``client`` sends it (its rates and its answers per question), from ``page`` (a class
    socket's id; None over REST)."""
    settings = settings_of(app)
    if classroom.ended:
        raise ApiError(409, "this class has ended", field="code")
    if isinstance(question_id, bool) or not isinstance(question_id, int):
        raise ApiError(422, "the question's id: an integer", field="question")
    answer_rates(app).check(client, page)
    try:
        name = clean_name(name, settings.question_max_name_length)
        session = class_session(app, classroom)
        question, kept, receipt = session.questions.answer(
            question_id,
            name,
            answer,
            settings.question_max_answers,
            client_digest(client),
            settings.max_answers_per_client,
        )
    except ConfigError as error:
        raise as_api_error(error) from None
    hub.tell_teachers(
        classroom.code,
        {
            "type": "answers",
            **session.questions.snapshot(question, settings.question_histogram_bins),
        },
    )
    return {"question": question.id, "name": name, "answer": kept, "receipt": receipt}


def claim_answer(
    app: FastAPI, classroom: Classroom, question_id: Any, receipt: Any
) -> tuple[Message, Message | None]:
    """A page that answered, then reloaded, claims its answer by the receipt it was given:
    the ``answered`` it got then, and the question's ``reveal`` if it came meanwhile."""
    if isinstance(question_id, bool) or not isinstance(question_id, int):
        raise ApiError(422, "the question's id: an integer", field="question")
    if not isinstance(receipt, str) or not 0 < len(receipt) <= MAX_RECEIPT_LENGTH:
        raise ApiError(422, "the receipt: the text the answer was given", field="receipt")
    try:
        book = class_session(app, classroom).questions
        question, kept = book.claim(question_id, receipt)
    except ConfigError as error:
        raise as_api_error(error) from None
    answered = {"type": "answered", "question": question.id, "name": kept["name"],
                "answer": kept["answer"], "receipt": receipt}  # fmt: skip
    revealed = reveal_message(book, question) if question.status == "revealed" else None
    return answered, revealed


class AnswerSaver:
    """Group commit of answers: an answer is acknowledged (its 201, its ``answered``) only
    once a save of its session that began after the answer was recorded has finished.
    Answers that come while a save runs share the next one, so a class answering at once
    costs two saves, not one each."""

    def __init__(self) -> None:
        self._next: dict[str, asyncio.Future[None]] = {}  # session id → the save to come
        self._running: dict[str, asyncio.Task[None]] = {}

    async def saved(self, manager: SessionManager, session: Session) -> None:
        """Return once the session's answers recorded so far are in the store."""
        waiting = self._next.get(session.id)
        if waiting is None:
            waiting = self._next[session.id] = asyncio.get_running_loop().create_future()
            if session.id not in self._running:
                self._running[session.id] = asyncio.create_task(self._run(manager, session))
        await asyncio.shield(waiting)

    async def _run(self, manager: SessionManager, session: Session) -> None:
        try:
            while session.id in self._next:
                future = self._next.pop(session.id)
                try:
                    await asyncio.to_thread(manager.save, session)
                except Exception as error:  # the waiting answers hear it; the next save retries
                    future.set_exception(error)
                else:
                    future.set_result(None)
        finally:
            del self._running[session.id]


async def save_answers(app: FastAPI, classroom: Classroom) -> None:
    """Store the class's session with its answers before they are acknowledged (503 when
    the store refuses: the answer is then kept in memory only, and the client is told so)."""
    manager = manager_of(app)
    saver: AnswerSaver | None = getattr(app.state, "answer_saver", None)
    if saver is None:
        saver = app.state.answer_saver = AnswerSaver()
    try:
        session = manager.get(classroom.session_id)
    except SessionNotFoundError:
        return
    try:
        await saver.saved(manager, session)
    except Exception as error:
        raise ApiError(
            503,
            f"the answer was recorded but could not be stored ({type(error).__name__}); "
            "it may be lost if the server restarts",
            field="question",
            headers={"Retry-After": "1"},
        ) from None


# ----- the class socket's part ----------------------------------------------------------------


def opening_messages(app: FastAPI, classroom: Classroom, teacher: bool) -> list[Message]:
    """The open question (and, for a teacher, its answers so far) for a socket that joins."""
    try:
        session = manager_of(app).get(classroom.session_id)
    except SessionNotFoundError:
        return []
    question = session.questions.open_question()
    if question is None:
        return []
    messages: list[Message] = [{"type": "question", "question": question.public()}]
    if teacher:
        bins = settings_of(app).question_histogram_bins
        messages.append({"type": "answers", **session.questions.snapshot(question, bins)})
    return messages


def personal(message: Message, teacher: bool, answered: dict[int, str]) -> Message:
    """A ``reveal`` as this socket sees it: a student's own mark, or the teacher's tally."""
    if message.get("type") != "reveal":
        return message
    marks: dict[str, bool] = message["marks"]
    shown = {k: v for k, v in message.items() if k != "marks"}
    if teacher:
        return shown
    name = answered.get(message["question"]["id"])
    return {**shown, "name": name, "mark": None if name is None else marks.get(name)}
