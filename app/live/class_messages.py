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

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, WithJsonSchema

from app.service.questions import DIRECTIONS, SIGNS, Confidence, Kind

from .commands import Command, one_error, parse_message

MAX_CLASS_MESSAGE_BYTES = 4096  # a page's answer or claim is a few dozen bytes
MAX_RECEIPT_LENGTH = 100  # a receipt is 22 characters; anything longer is not one
MAX_QUESTION_ID = 2**53  # the largest integer a page's JSON holds exactly

# ----- client → server ------------------------------------------------------------------------


Answer = Annotated[
    str | int | float | dict[str, int],
    # One error for a value no kind of question takes: the answer's kind is the question's,
    # checked against it when the answer is recorded.
    one_error(
        'a sign ("+", "-" or "0"), a direction ("down", "up" or "same"), a weight '
        '({"i", "j"}), a unit ({"j"}) or a number'
    ),
    # The schema says what each kind takes, as the recording checks it.
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(SIGNS), "description": "delta_sign: the sign of δ."},
                {"enum": list(DIRECTIONS), "description": "loss_change: where the loss goes."},
                {
                    "type": "object",
                    "properties": {"i": {"type": "integer"}, "j": {"type": "integer"}},
                    "required": ["i", "j"],
                    "additionalProperties": False,
                    "description": "largest_change: the weight W[i, j].",
                },
                {
                    "type": "object",
                    "properties": {"j": {"type": "integer"}},
                    "required": ["j"],
                    "additionalProperties": False,
                    "description": "largest_delta: the unit j.",
                },
                {
                    "type": "number",
                    "description": "gradient: ∂L/∂W[i, j] or ∂L/∂b[j]; weight_after: the "
                    "parameter after the update.",
                },
            ]
        }
    ),
    Field(
        description='delta_sign: "+", "-" or "0"; loss_change: "down", "up" or "same"; '
        'largest_change: {"i", "j"}; largest_delta: {"j"}; gradient, weight_after: a number.'
    ),
]
QuestionId = Annotated[int, Field(ge=0, le=MAX_QUESTION_ID, description="The question's id.")]


ConfidenceField = Annotated[
    Confidence | None,
    Field(description='How sure the student is: "sure" or "unsure" (optional).'),
]


class AnswerMessage(Command):
    """A student's answer to the open question's current round, under any name; the page
    that first answered under a name may answer again (the latest of a round counts), no
    other page may, and a page answers under one name."""

    type: Literal["answer"]
    question: QuestionId
    name: str = Field(
        max_length=1000,
        description="Any name, no account: at most question_max_name_length characters "
        "once runs of spaces are one.",
    )
    answer: Answer
    confidence: ConfidenceField = None


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
    choices: list[str] | None = Field(
        description='delta_sign: ["+", "-", "0"]; loss_change: ["down", "up", "same"]; else null.'
    )
    status: Literal["open", "revealed", "replaced"]
    round: int = Field(
        description="The round answers go to now (1, then 2 … as the teacher opens them); "
        "once revealed, the last."
    )


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
        None, exclude_if=_absent_if_none, description="A number's bin: its lower edge."
    )
    high: float | None = Field(
        None, exclude_if=_absent_if_none, description="A number's bin: its upper edge."
    )
    sure: int = Field(description="Of `count`, the answers said to be sure.")
    unsure: int = Field(description="Of `count`, the answers said to be unsure.")


Histogram = Annotated[
    list[HistogramBar],
    Field(
        description="The three signs or directions; the question_histogram_bins most chosen "
        "weights or units (and `other`); or question_histogram_bins equal bins over the "
        "numbers given."
    ),
]


class RoundCount(BaseModel):
    """One round's answers: each name's latest in that round."""

    round: int
    count: int
    histogram: Histogram


class AnswerCount(BaseModel):
    """To the teachers after every answer and when a round opens (each message whole: the
    latest wins). ``count`` and ``histogram`` are the current round's; ``rounds`` every
    round's so far, the current one last (peer instruction: the two votes side by side)."""

    type: Literal["answers"] = "answers"
    question: int
    round: int
    count: int
    histogram: Histogram
    rounds: list[RoundCount]


AnswerValue = str | float | dict[str, int]


class AnswerKept(BaseModel):
    """An answer as it was recorded."""

    question: int
    round: int = Field(description="The round it counts in.")
    name: str
    answer: AnswerValue
    confidence: Confidence | None
    receipt: str = Field(
        description="A secret of this name's answers to the question: a page that reloads "
        'sends it back on the class socket (`{"type": "claim", "question", "receipt"}`) to '
        "get its mark; over REST, answering again under the name takes it (`receipt`)."
    )


class Answered(AnswerKept):
    """To the page that answered (or claimed the answer after a reload)."""

    type: Literal["answered"] = "answered"


class _Truth(BaseModel):
    model_config = ConfigDict(extra="forbid")  # the kinds' truths tell apart by their fields

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


class LargestDeltaTruth(_Truth):
    j: int
    tied: list[int] = Field(description="Every unit j whose mean |δ| is as large.")
    mean_abs: float = Field(description="The mean of |δ[row, j]| over the batch's rows.")


class LossTruth(_Truth):
    direction: Literal["down", "up", "same"]
    before: float = Field(description="E on the batch at the weights when asked.")
    after: float = Field(description="E on the same rows after the update.")


class WeightTruth(_Truth):
    value: float = Field(description="W[layer][i, j] (or b[layer][j]) after the update.")
    before: float = Field(description="Its value when asked.")
    change: float = Field(description="value − before.")


Truth = SignTruth | ChangeTruth | GradientTruth | LargestDeltaTruth | LossTruth | WeightTruth


class Tally(BaseModel):
    answers: int
    right: int
    wrong: int


class RoundTally(BaseModel):
    round: int
    tally: Tally


class Moved(BaseModel):
    """Between the first round and the last, among the names that answered in both."""

    wrong_to_right: int
    right_to_wrong: int
    right_to_right: int
    wrong_to_wrong: int


class OwnAnswer(BaseModel):
    """One of a name's answers, marked: its latest in one round."""

    round: int
    answer: AnswerValue
    confidence: Confidence | None
    right: bool


class StudentMarks(BaseModel):
    name: str
    answers: list[OwnAnswer] = Field(description="A round each, the first first.")


class Revealed(BaseModel):
    """The truth, the last round's tally (and every round's), how many moved between the
    first round and the last, and whether the phase ran on the session (it does unless the
    session changed since the question was asked, or plays). The teacher's alone (REST, and
    the teacher's socket) also names every student with their marks: the page shows them
    only when the teacher turns names on."""

    question: QuestionView
    truth: Truth
    tally: Tally = Field(description="The last round's: it is the one Reveal marks.")
    rounds: list[RoundTally]
    moved: Moved | None = Field(description="null with a single round.")
    ran: bool
    students: list[StudentMarks] | None = Field(
        None, exclude_if=_absent_if_none, description="The teacher's only: every name's marks."
    )


class Reveal(Revealed):
    """To a teacher on Reveal: the tallies and every name's marks."""

    type: Literal["reveal"] = "reveal"


class StudentReveal(BaseModel):
    """To a student on Reveal (or on claiming an answer revealed since): the truth, the
    class's tallies, and their own answers and mark — never anyone else's."""

    type: Literal["reveal"] = "reveal"
    question: QuestionView
    truth: Truth
    tally: Tally
    rounds: list[RoundTally]
    moved: Moved | None
    ran: bool
    name: str | None = Field(description="The name this page answered under; null if none.")
    answers: list[OwnAnswer] = Field(description="This page's answers, a round each.")
    mark: bool | None = Field(
        description="Right or wrong in the last round; null if this page did not answer it."
    )


class RevealToClass(BaseModel):
    """A reveal as the hub carries it to every socket of the class, never sent as it is: a
    student's socket sends its own ``StudentReveal``, a teacher's the ``Reveal``."""

    reveal: Reveal
    _by_name: dict[str, list[OwnAnswer]] | None = PrivateAttr(None)

    def to_student(self, name: str | None) -> StudentReveal:
        """The reveal for the page that answered under ``name`` (None: it did not answer)."""
        reveal = self.reveal
        if self._by_name is None:
            self._by_name = {s.name: s.answers for s in reveal.students or []}
        own = [] if name is None else self._by_name.get(name, [])
        last = reveal.question.round
        return StudentReveal(
            question=reveal.question,
            truth=reveal.truth,
            tally=reveal.tally,
            rounds=reveal.rounds,
            moved=reveal.moved,
            ran=reveal.ran,
            name=name,
            answers=own,
            mark=next((a.right for a in own if a.round == last), None),
        )


# What the hub tells the sockets of a class.
Told = ClassMoved | StudentCount | QuestionAsked | AnswerCount | RevealToClass
