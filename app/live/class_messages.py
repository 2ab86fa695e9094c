"""The class socket's messages (``/ws/classes``, docs/protocol.md): one pydantic model per
``type``, each way.

Client → server: ``answer`` and ``claim``. ``parse_class_message(text)`` turns one message
into its model or raises CommandError — as the session socket's commands do — whose
``field`` names the part at fault; the socket answers with an ``error`` (``ErrorReply``) and
stays open. Server → client: ``class``, ``students``, ``question``, ``answers``,
``answered``, ``reveal`` and ``error``. The REST API answers the bodies of four of them
(where a class is, a question, an answer kept, a reveal) with the same models.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from app.service.questions import Kind

from .commands import Command, one_error, parse_message

MAX_CLASS_MESSAGE_BYTES = 4096  # a page's answer or claim is a few dozen bytes
MAX_RECEIPT_LENGTH = 100  # a receipt is 22 characters; anything longer is not one
MAX_QUESTION_ID = 2**53  # the largest integer a page's JSON holds exactly

# ----- client → server ------------------------------------------------------------------------


Answer = Annotated[
    str | int | float | dict[str, int],
    # One error for a value no kind of question takes: the answer's kind is the question's,
    # checked against it when the answer is recorded.
    one_error('a sign ("+", "-" or "0"), a weight ({"i", "j"}) or a number'),
    Field(
        description='delta_sign: "+", "-" or "0"; largest_change: {"i", "j"}; gradient: a number.'
    ),
]
QuestionId = Annotated[int, Field(ge=0, le=MAX_QUESTION_ID, description="The question's id.")]


class AnswerMessage(Command):
    """A student's answer to the open question, under any name: one per name and question,
    and one per page."""

    type: Literal["answer"]
    question: QuestionId
    name: str = Field(
        max_length=1000,
        description="Any name, no account: at most question_max_name_length characters "
        "once runs of spaces are one.",
    )
    answer: Answer


class ClaimMessage(Command):
    """After a reload: the page claims the answer it gave, by the receipt it was given."""

    type: Literal["claim"]
    question: QuestionId
    receipt: str = Field(min_length=1, max_length=MAX_RECEIPT_LENGTH)


ClassCommand = AnswerMessage | ClaimMessage
CLASS_COMMANDS: dict[str, type[ClassCommand]] = {"answer": AnswerMessage, "claim": ClaimMessage}


def parse_class_message(text: str | bytes) -> ClassCommand:
    """One class socket message → its model, or CommandError naming the field at fault
    (``body`` when the message as a whole is: over 4096 bytes, or not JSON)."""
    return parse_message(text, CLASS_COMMANDS, MAX_CLASS_MESSAGE_BYTES, whole="body")


# ----- server → client --------------------------------------------------------------------------


class ClassWhere(BaseModel):
    """Where a class is now: the session to watch, read-only, with its watch token."""

    code: str = Field(description="What students type, or open as /#class=<code>.")
    session_id: str
    watch_token: str
    version: int = Field(description="+1 each time the class moves to another session.")
    ended: bool


class ClassMoved(ClassWhere):
    """To a student: first, and on every move of the class (``ended``: the teacher ended it)."""

    type: Literal["class"] = "class"


class StudentCount(BaseModel):
    """To a teacher: first, and whenever a student's socket comes or goes."""

    type: Literal["students"] = "students"
    count: int


class PhaseView(BaseModel):
    kind: str
    layer: int | None


class Moment(BaseModel):
    """Where the session was when the question was asked."""

    step: int
    epoch: int
    cursor: int
    phase: PhaseView = Field(description="The phase the question is about (it ran next).")
    version: int = Field(description="The session's version: Reveal runs the phase if equal.")


class QuestionView(BaseModel):
    """A question as students see it (never its truth)."""

    id: int
    kind: Kind
    layer: int
    i: int | None
    j: int
    row: int | None
    tolerance: float | None
    text: str
    moment: Moment
    choices: list[str] | None = Field(description='delta_sign: ["+", "-", "0"]; else null.')
    status: Literal["open", "revealed", "replaced"]


class QuestionAsked(BaseModel):
    """To everyone when the teacher asks, and to a socket that joins while it is open."""

    type: Literal["question"] = "question"
    question: QuestionView


def _absent_if_none(value: Any) -> bool:
    return value is None


class HistogramBar(BaseModel):
    label: str
    count: int
    low: float | None = Field(
        None, exclude_if=_absent_if_none, description="gradient: the bin's lower edge."
    )
    high: float | None = Field(
        None, exclude_if=_absent_if_none, description="gradient: the bin's upper edge."
    )


class AnswerCount(BaseModel):
    """To the teachers after every answer (each message whole: the latest wins)."""

    type: Literal["answers"] = "answers"
    question: int
    count: int
    histogram: list[HistogramBar] = Field(
        description="The three signs; the question_histogram_bins most chosen weights (and "
        "`other`); or question_histogram_bins equal bins over the values given."
    )


class AnswerKept(BaseModel):
    """An answer as it was recorded."""

    question: int
    name: str
    answer: str | float | dict[str, int]
    receipt: str = Field(
        description="A secret for this answer alone: a page that reloads sends it back on the "
        'class socket (`{"type": "claim", "question", "receipt"}`) to get its mark.'
    )


class Answered(AnswerKept):
    """To the page that answered (or claimed the answer after a reload)."""

    type: Literal["answered"] = "answered"


class _Truth(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the three kinds' truths tell apart by fields

    text: str = Field(description="The truth in words, to show.")


class SignTruth(_Truth):
    sign: Literal["+", "-", "0"]
    value: float = Field(description="δ itself.")


class ChangeTruth(_Truth):
    i: int
    j: int
    tied: list[list[int]] = Field(description="Every weight [i, j] that changes as much.")
    change: float = Field(description="ΔW[i, j].")


class GradientTruth(_Truth):
    value: float = Field(description="∂L/∂W[layer][i, j], or ∂L/∂b[layer][j].")


class Tally(BaseModel):
    answers: int
    right: int
    wrong: int


class Revealed(BaseModel):
    """The truth, the tally, and whether the phase ran on the session (it does unless the
    session changed since the question was asked, or plays)."""

    question: QuestionView
    truth: SignTruth | ChangeTruth | GradientTruth
    tally: Tally
    ran: bool


class Reveal(Revealed):
    """To a teacher on Reveal: the tally, no one's mark."""

    type: Literal["reveal"] = "reveal"


class StudentReveal(Reveal):
    """To a student on Reveal (or on claiming an answer revealed since): their own mark."""

    name: str | None = Field(description="The name this page answered under; null if none.")
    mark: bool | None = Field(description="Right or wrong; null if this page did not answer.")


class RevealToClass(BaseModel):
    """A reveal as the hub carries it to every socket of the class, never sent as it is: a
    student's socket sends its own ``StudentReveal``, a teacher's the ``Reveal``."""

    reveal: Reveal
    marks: dict[str, bool] = Field(description="Each name that answered → right or wrong.")

    def to_student(self, name: str | None) -> StudentReveal:
        """The reveal for the page that answered under ``name`` (None: it did not answer)."""
        return StudentReveal(
            question=self.reveal.question,
            truth=self.reveal.truth,
            tally=self.reveal.tally,
            ran=self.reveal.ran,
            name=name,
            mark=None if name is None else self.marks.get(name),
        )


# What the hub tells the sockets of a class.
Told = ClassMoved | StudentCount | QuestionAsked | AnswerCount | RevealToClass
