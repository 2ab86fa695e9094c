"""Every class of the app and its predict-then-reveal: the one object the class REST routes
and the class socket call (``app.state.classes``).

``Classes`` holds where each class is (the service's ``ClassRegistry``) and who listens (the
``ClassroomHub``); it does each step on the session a class follows through
``app/service/class_questions.py``, then tells the class. It runs on the event loop; what
may wait for a session's lock or the store runs in a thread. Refusals are the service's
errors, each naming its field (the API gives them statuses, the socket ``error`` messages).
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from app.service.class_questions import (
    AnswerNotStoredError,
    AnswerRates,
    answer_question,
    ask_question,
    class_session,
    next_round,
    reveal_question,
)
from app.service.classes import ClassEndedError, ClassRegistry, Classroom
from app.service.manager import SessionManager, SessionNotFoundError
from app.service.questions import (
    AnswerRefusedError,
    Kind,
    Question,
    QuestionBook,
    moved,
    name_key,
    tally,
)
from app.service.quotas import ANONYMOUS, ClientKey
from app.service.record import lesson_record
from app.service.session import Session
from app.service.variants import class_names, class_worksheets

from .class_messages import (
    AnswerCount,
    Answered,
    ClassMoved,
    ClassWhere,
    Moved,
    QuestionAsked,
    QuestionView,
    Reveal,
    RevealToClass,
    RoundTally,
    StudentCount,
    StudentMarks,
    StudentReveal,
    Tally,
    Told,
)
from .classroom import ClassroomHub, Listener


@dataclass
class Page:
    """One class socket: whose it is, and the answers it gave (question id → the name, and
    the receipt that lets it answer again under that name)."""

    teacher: bool
    client: ClientKey = ANONYMOUS
    answered: dict[int, str] = field(default_factory=dict)
    receipts: dict[int, str] = field(default_factory=dict)
    # What answers_per_minute_per_page counts this page's answers by.
    key: str = field(default_factory=lambda: secrets.token_urlsafe(12))

    @property
    def listener(self) -> Listener:
        return "teacher" if self.teacher else "student"

    def sees(self, message: Told) -> BaseModel:
        """A message as this socket sends it: a reveal with a student's own mark, or a
        teacher's with the tally only."""
        if not isinstance(message, RevealToClass):
            return message
        if self.teacher:
            return message.reveal
        return message.to_student(self.answered.get(message.reveal.question.id))


def where(classroom: Classroom) -> ClassWhere:
    return ClassWhere(
        code=classroom.code,
        session_id=classroom.session_id,
        watch_token=classroom.watch_token,
        version=classroom.version,
        ended=classroom.ended,
    )


def class_moved(classroom: Classroom) -> ClassMoved:
    return ClassMoved(**where(classroom).model_dump())


def reveal_to_class(book: QuestionBook, question: Question) -> RevealToClass:
    went = moved(question)
    reveal = Reveal(
        question=QuestionView.model_validate(question.public()),
        truth=question.truth,
        tally=Tally(**tally(question)),
        rounds=[
            RoundTally(round=n, tally=Tally(**tally(question, n)))
            for n in range(1, question.round + 1)
        ],
        moved=None if went is None else Moved(**went),
        ran=question.ran,
        students=[
            StudentMarks.model_validate({"name": name, "answers": answers})
            for name, answers in book.marks(question).items()
        ],
    )
    return RevealToClass(reveal=reveal)


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


class Classes:
    """The app's classes: open, move and end them; ask, reveal, answer and claim."""

    def __init__(self, manager: SessionManager) -> None:
        settings = self.settings = manager.settings
        self.manager = manager
        self.registry = ClassRegistry(
            settings.max_classes,
            settings.class_ttl_seconds,
            per_client=(settings.max_classes_per_client, settings.max_classes_per_address),
        )
        self.hub = ClassroomHub()
        self.rates = AnswerRates(settings)
        self.saver = AnswerSaver()

    # ----- where a class is: the teacher moves it, students follow -------------------------

    def open(self, session: Session, owner: ClientKey) -> Classroom:
        """A new class on ``session`` (the caller checked its control token)."""
        return self.registry.open(session.id, session.watch_token, owner)

    def move(self, classroom: Classroom, session: Session) -> Classroom:
        """The class follows ``session`` from now on (ClassEndedError if it has ended); every
        student is told."""
        self.registry.move(classroom.teacher_token, session.id, session.watch_token)
        self.hub.tell_students(classroom.code, class_moved(classroom))
        return classroom

    def end(self, classroom: Classroom) -> Classroom:
        """End the class; every student is told (the session itself stays)."""
        self.registry.end(classroom.teacher_token)
        self.hub.tell_students(classroom.code, class_moved(classroom))
        return classroom

    def students(self, classroom: Classroom) -> int:
        """How many students' sockets follow the class now."""
        return self.hub.students(classroom.code)

    def opening(self, classroom: Classroom, page: Page) -> list[Told]:
        """What a socket that joins is sent first: where the class is (a student) or how many
        follow (a teacher); then the open question, and a teacher its answers so far."""
        first: Told = (
            StudentCount(count=self.hub.students(classroom.code))
            if page.teacher
            else class_moved(classroom)
        )
        try:
            session = self.manager.get(classroom.session_id)
        except SessionNotFoundError:
            return [first]
        book = session.questions
        question = book.open_question()
        if question is None:
            return [first]
        messages: list[Told] = [
            first,
            QuestionAsked(question=QuestionView.model_validate(question.public())),
        ]
        if page.teacher:
            bins = self.settings.question_histogram_bins
            messages.append(AnswerCount.model_validate(book.snapshot(question, bins)))
        return messages

    # ----- predict, then reveal: the teacher ----------------------------------------------

    async def ask(
        self,
        classroom: Classroom,
        kind: Kind,
        layer: int | None,
        j: int,
        i: int | None = None,
        row: int | None = None,
        tolerance: float | None = None,
    ) -> QuestionView:
        """Ask the class about the phase its session runs next (an open question is
        replaced): everyone hears the question, the teachers its count from 0."""
        if classroom.ended:
            raise ClassEndedError("Authorization", "this class has ended: open a new one")

        def asked() -> tuple[Question, dict[str, Any]]:
            session = class_session(self.manager, classroom)
            question = ask_question(self.manager, session, kind, layer, j, i, row, tolerance)
            bins = self.settings.question_histogram_bins
            return question, session.questions.snapshot(question, bins)

        question, counts = await asyncio.to_thread(asked)
        view = QuestionView.model_validate(question.public())
        self.hub.tell_students(classroom.code, QuestionAsked(question=view))
        self.hub.tell_teachers(classroom.code, AnswerCount.model_validate(counts))
        return view

    async def reveal(self, classroom: Classroom, question_id: int) -> Reveal:
        """Reveal: the phase runs on the session (unless it moved on since the question),
        everyone hears the truth — each student's page its own mark, a teacher the tally."""

        def revealed() -> RevealToClass:
            session = class_session(self.manager, classroom)
            question = reveal_question(self.manager, session, question_id)
            return reveal_to_class(session.questions, question)

        told = await asyncio.to_thread(revealed)
        self.hub.tell_students(classroom.code, told)
        return told.reveal

    async def next_round(self, classroom: Classroom, question_id: int) -> QuestionView:
        """Open the question's next round (discuss, then answer again): the students hear
        the question in its new round, the teachers its counts, the new round's from 0."""
        if classroom.ended:
            raise ClassEndedError("Authorization", "this class has ended: open a new one")

        def opened() -> tuple[Question, dict[str, Any]]:
            session = class_session(self.manager, classroom)
            question = next_round(self.manager, session, question_id)
            bins = self.settings.question_histogram_bins
            return question, session.questions.snapshot(question, bins)

        question, counts = await asyncio.to_thread(opened)
        view = QuestionView.model_validate(question.public())
        self.hub.tell_students(classroom.code, QuestionAsked(question=view))
        self.hub.tell_teachers(classroom.code, AnswerCount.model_validate(counts))
        return view

    def record(self, classroom: Classroom) -> dict[str, Any]:
        """The lesson's record of the class's current session (in a thread)."""
        session = class_session(self.manager, classroom, "Authorization")
        return lesson_record(session.questions, session.record)

    def answers_csv(self, classroom: Classroom) -> str:
        """Every answer given in the class's current session, as CSV (in a thread)."""
        return class_session(self.manager, classroom, "Authorization").questions.csv()

    def worksheets(self, classroom: Classroom, names: list[str], rows: int) -> list[dict[str, Any]]:
        """Each student's own worksheet on the class's current session (``names``; none: every
        student of the lesson's record), at most ``max_worksheets_per_file`` (in a thread)."""
        session = class_session(self.manager, classroom, "Authorization")
        settings = self.settings
        students = class_names(
            session, names, settings.question_max_name_length, settings.max_worksheets_per_file
        )
        return class_worksheets(session, students, rows, settings.max_worksheet_units)

    # ----- predict, then reveal: a student ------------------------------------------------

    async def answer(
        self,
        classroom: Classroom,
        question_id: int,
        name: str,
        answer: Any,
        client: ClientKey,
        page: Page | None = None,
        confidence: str | None = None,
        receipt: str | None = None,
    ) -> Answered:
        """Record a student's answer in the question's current round (from ``page``, a class
        socket, which answers again under its name with the receipt it holds; None over
        REST, where ``receipt`` does), tell the teachers the new counts, and return once it
        is stored."""
        if classroom.ended:
            raise ClassEndedError("code", "this class has ended")
        if page is not None:
            before = page.answered.get(question_id)
            if before is not None and name_key(" ".join(name.split())) != name_key(before):
                raise AnswerRefusedError(
                    "name", f"this page answers this question as {before!r}: one name each"
                )
            receipt = page.receipts.get(question_id)
        session = class_session(self.manager, classroom)
        question, kept = answer_question(
            session,
            self.rates,
            self.settings,
            question_id,
            name,
            answer,
            client,
            None if page is None else page.key,
            receipt=receipt,
            confidence=confidence,
        )
        if page is not None:
            page.answered[question.id] = kept["name"]
            page.receipts[question.id] = kept["receipt"]
        bins = self.settings.question_histogram_bins
        self.hub.tell_teachers(
            classroom.code, AnswerCount.model_validate(session.questions.snapshot(question, bins))
        )
        try:
            await self.saver.saved(self.manager, session)
        except Exception as error:
            raise AnswerNotStoredError(
                "question",
                f"the answer was recorded but could not be stored ({type(error).__name__}); "
                "it may be lost if the server restarts",
            ) from None
        return Answered(**kept)

    def claim(
        self, classroom: Classroom, question_id: int, receipt: str, page: Page
    ) -> list[Answered | StudentReveal]:
        """A page that answered, then reloaded, claims its answer by its receipt: the
        ``answered`` it got then, and its own reveal if the question was revealed since.
        From now on this page is the answer's."""
        book = class_session(self.manager, classroom).questions
        question, kept = book.claim(question_id, receipt)
        page.answered[question.id] = kept["name"]
        page.receipts[question.id] = receipt
        answered = Answered(
            question=question.id,
            round=kept.get("round", 1),
            name=kept["name"],
            answer=kept["answer"],
            confidence=kept.get("confidence"),
            receipt=receipt,
        )
        if question.status != "revealed":
            return [answered]
        return [answered, reveal_to_class(book, question).to_student(kept["name"])]
