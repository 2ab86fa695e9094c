"""Predict, then reveal over REST: the teacher asks about the phase that runs next and
reveals it; students answer (over the class socket, or here); answers export as CSV.

- ``POST /api/classes/current/questions`` ask (the teacher token as the bearer);
- ``POST /api/classes/current/questions/{question}/rounds`` open the next round (discuss,
  then answer again: peer instruction);
- ``POST /api/classes/current/questions/{question}/reveal`` run the phase, tell the truth;
- ``GET /api/classes/current/answers`` every answer given in the class's session, as CSV;
- ``GET /api/classes/current/record`` the lesson's record: per student, the questions
  answered and right in each round, the hand checks and the grades (JSON, or CSV);
- ``GET /api/sessions/{id}/answers`` and ``…/record`` the same with the session's control
  token (answers and the record are stored with the session: they outlive the class, and a
  restart);
- ``POST /api/classes/answers`` a student's answer (the class code in the body).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from app.live.class_messages import (
    MAX_QUESTION_ID,
    MAX_RECEIPT_LENGTH,
    Answer,
    AnswerKept,
    ConfidenceField,
    QuestionId,
    QuestionView,
    Revealed,
)
from app.service.questions import Kind
from app.service.record import lesson_record, record_csv

from .classes import TEACHER_ERRORS, ClassesDep, TeachersClass, class_of_code
from .deps import ClientDep, ControlledSession
from .schemas import ErrorMessage, RequestBody
from .sessions import BODY_ERRORS


class QuestionAsk(RequestBody):
    """A question about the phase the class's session runs next, picked on the diagram."""

    kind: Kind = Field(
        description="Before that layer's backward phase — delta_sign: the sign of "
        "δ[layer][row, j]; gradient: the value of ∂L/∂W[layer][i, j], or ∂L/∂b[layer][j] "
        "without i, within `tolerance`·|truth|; largest_delta: which unit of the layer gets "
        "the largest mean |δ| over the batch. Before the update — largest_change: which "
        "weight of the layer changes most; loss_change: does the batch's loss go down or up "
        "(no layer: it is the output's); weight_after: the value of W[layer][i, j] (or "
        "b[layer][j]) after it, within `tolerance`·|its change|."
    )
    layer: int | None = Field(
        None, ge=0, le=10_000, description="The layer asked about (loss_change: none)."
    )
    j: int = Field(0, ge=0, le=100_000, description="The unit (the weight's column).")
    i: int | None = Field(None, ge=0, le=100_000, description="The weight's input (row).")
    row: int | None = Field(None, ge=0, le=1_000_000, description="δ's batch row (default 0).")
    tolerance: float | None = Field(
        None,
        gt=0,
        le=1,
        description="gradient, weight_after: the relative tolerance (default: the setting).",
    )


class AnswerSend(RequestBody):
    """A student's answer over REST (the class socket's ``answer`` takes the same fields)."""

    code: str = Field(max_length=20, description="The class code.")
    question: QuestionId
    name: str = Field(max_length=1000, description="Any name: no account.")
    answer: Answer
    confidence: ConfidenceField = None
    receipt: str | None = Field(
        None,
        min_length=1,
        max_length=MAX_RECEIPT_LENGTH,
        description="To answer again under a name (a change of mind, or the next round): the "
        "receipt its first answer got.",
    )


class StudentRecord(BaseModel):
    """One student of the lesson, by the name they answer under."""

    name: str
    answered: list[int] = Field(description="Questions answered in round 1, 2 …")
    right: list[int] = Field(description="Of those, right (once revealed), round by round.")
    checks: int = Field(description="Hand checks (POST …/check with this `student`).")
    checks_right: int
    grades: int = Field(description="Grades of their backprop (POST …/grade with `student`).")
    grades_passed: int


class LessonRecord(BaseModel):
    """What each student did on the class's session: questions, hand checks, grades."""

    rounds: int = Field(description="The most rounds a question had: each list's length.")
    questions: int
    revealed: int
    students: list[StudentRecord]


RecordFormat = Annotated[
    Literal["json", "csv"], Query(description="json, or csv (one row per student).")
]

router = APIRouter(tags=["classes"])

_ERROR: dict[str, Any] = {"model": ErrorMessage}
CSV_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/csv": {"example": "question,kind,…,name,answer,right,answered_at\r\n"}},
        "description": "One row per answer: the question, the truth once revealed, the mark.",
    }
}
ASK_EXAMPLES: dict[str, Any] = {
    "delta_sign": {
        "summary": "Before layer 1's backward phase: the sign of δ of its unit 0",
        "value": {"kind": "delta_sign", "layer": 1, "j": 0},
    },
    "largest_change": {
        "summary": "Before the update: which weight of layer 0 changes most",
        "value": {"kind": "largest_change", "layer": 0},
    },
    "gradient": {
        "summary": "Before layer 0's backward phase: ∂L/∂W[0][1, 2] within 10 %",
        "value": {"kind": "gradient", "layer": 0, "i": 1, "j": 2, "tolerance": 0.1},
    },
    "largest_delta": {
        "summary": "Before layer 1's backward phase: which of its units gets the largest |δ|",
        "value": {"kind": "largest_delta", "layer": 1},
    },
    "loss_change": {
        "summary": "Before the update: does the batch's loss go down or up",
        "value": {"kind": "loss_change"},
    },
    "weight_after": {
        "summary": "Before the update: W[1][0, 1] after it, within 10 % of its change",
        "value": {"kind": "weight_after", "layer": 1, "i": 0, "j": 1, "tolerance": 0.1},
    },
}
ANSWER_EXAMPLES: dict[str, Any] = {
    "sign": {
        "summary": "The sign of δ",
        "value": {"code": "K7M2QX", "question": 1, "name": "Ana", "answer": "-"},
    },
    "weight": {
        "summary": "The weight that changes most",
        "value": {"code": "K7M2QX", "question": 2, "name": "Ana", "answer": {"i": 0, "j": 1}},
    },
    "unit": {
        "summary": "The unit with the largest |δ|",
        "value": {"code": "K7M2QX", "question": 3, "name": "Ana", "answer": {"j": 2}},
    },
    "direction": {
        "summary": "Where the loss goes",
        "value": {"code": "K7M2QX", "question": 4, "name": "Ana", "answer": "down"},
    },
    "number": {
        "summary": "A value: a gradient, or a weight after the update",
        "value": {"code": "K7M2QX", "question": 5, "name": "Ana", "answer": 0.4213},
    },
}
QuestionPath = Annotated[int, Path(ge=0, le=MAX_QUESTION_ID, description="The question's id.")]


def csv_response(text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="answers.csv"'},
    )


@router.post(
    "/classes/current/questions",
    status_code=201,
    response_model=QuestionView,
    responses={
        **TEACHER_ERRORS,
        **BODY_ERRORS,
        409: {**_ERROR, "description": "The class has ended, or its session plays."},
    },
)
async def ask_class(
    body: Annotated[QuestionAsk, Body(openapi_examples=ASK_EXAMPLES)],
    classroom: TeachersClass,
    classes: ClassesDep,
) -> QuestionView:
    """Ask the class about the phase its session runs next (the session paused there); the
    truth is computed on a copy of the model and kept until Reveal. An open question is
    replaced."""
    return await classes.ask(
        classroom, body.kind, body.layer, body.j, body.i, body.row, body.tolerance
    )


@router.post(
    "/classes/current/questions/{question}/rounds",
    status_code=201,
    response_model=QuestionView,
    responses={
        **TEACHER_ERRORS,
        409: {
            **_ERROR,
            "description": "The question was revealed or replaced already, or has had its "
            "question_max_rounds rounds.",
        },
    },
)
async def open_next_round(
    question: QuestionPath, classroom: TeachersClass, classes: ClassesDep
) -> QuestionView:
    """Close the question's round and open the next (peer instruction: discuss with a
    neighbour, then answer again). Each round counts every name's latest answer in it;
    Reveal marks the last round."""
    return await classes.next_round(classroom, question)


@router.post(
    "/classes/current/questions/{question}/reveal",
    response_model=Revealed,
    responses={
        **TEACHER_ERRORS,
        409: {**_ERROR, "description": "The question was revealed or replaced already."},
    },
)
async def reveal_class_question(
    question: QuestionPath, classroom: TeachersClass, classes: ClassesDep
) -> Revealed:
    """Reveal: the phase runs on the session (every follower sees it), the truth goes to
    everyone, each student's page gets its own mark, the teacher the tally."""
    return await classes.reveal(classroom, question)


@router.get(
    "/classes/current/answers",
    response_class=Response,
    responses={**CSV_RESPONSE, **TEACHER_ERRORS},
)
async def export_class_answers(classroom: TeachersClass, classes: ClassesDep) -> Response:
    """Every answer given in the class's current session, as CSV (names escaped, and kept
    from running as spreadsheet formulas)."""
    return csv_response(await asyncio.to_thread(classes.answers_csv, classroom))


RECORD_CSV: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            "application/json": {},
            "text/csv": {"example": "name,answered_round_1,right_round_1,…,grades_passed\r\n"},
        },
        "description": "Per student; CSV with `format=csv` (names kept from running as "
        "spreadsheet formulas).",
    }
}


def record_response(table: dict[str, Any], format: str) -> Response | LessonRecord:
    if format == "csv":
        return Response(
            record_csv(table),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="lesson-record.csv"'},
        )
    return LessonRecord.model_validate(table)


@router.get(
    "/classes/current/record",
    response_model=LessonRecord,
    responses={**RECORD_CSV, **TEACHER_ERRORS},
)
async def read_class_record(
    classroom: TeachersClass, classes: ClassesDep, format: RecordFormat = "json"
) -> Response | LessonRecord:
    """The lesson's record of the class's current session: per student, the questions
    answered and right in each round, the hand checks done and right, the grades asked and
    passed (a page in the class sends its student's name with them)."""
    return record_response(await asyncio.to_thread(classes.record, classroom), format)


@router.get(
    "/sessions/{id}/record",
    response_model=LessonRecord,
    responses={**RECORD_CSV, 401: {**_ERROR}, 403: {**_ERROR}, 404: {**_ERROR}},
)
def read_session_record(
    session: ControlledSession, format: RecordFormat = "json"
) -> Response | LessonRecord:
    """The lesson's record kept with this session (its control token as the bearer): it
    outlives the class and a restart."""
    return record_response(lesson_record(session.questions, session.record), format)


@router.get(
    "/sessions/{id}/answers",
    response_class=Response,
    responses={**CSV_RESPONSE, 401: {**_ERROR}, 403: {**_ERROR}, 404: {**_ERROR}},
)
def export_session_answers(session: ControlledSession) -> Response:
    """Every answer a class gave on this session, as CSV (its control token as the bearer):
    stored with the session, so it outlives the class and a restart."""
    return csv_response(session.questions.csv())


@router.post(
    "/classes/answers",
    status_code=201,
    response_model=AnswerKept,
    responses={
        **BODY_ERRORS,
        404: {**_ERROR, "description": "No class has this code, or no such question."},
        409: {
            **_ERROR,
            "description": "Revealed or replaced already; or another page answered under "
            "this name (answering again takes its receipt).",
        },
        429: {
            **_ERROR,
            "description": "The question has its maximum of answers, or you (your page, your "
            "address) answer too fast or gave your most answers to it: `field` names the "
            "quota, Retry-After says when to retry.",
        },
        503: {**_ERROR, "description": "Recorded, but the store refused it: retry."},
    },
)
async def answer_question(
    body: Annotated[AnswerSend, Body(openapi_examples=ANSWER_EXAMPLES)],
    classes: ClassesDep,
    client: ClientDep,
) -> AnswerKept:
    """A student's answer to the question's current round, under any name; answering again
    under the name (the latest of a round counts) takes the receipt its first answer got.
    Answered once it is stored."""
    classroom = class_of_code(classes, body.code)
    return await classes.answer(
        classroom,
        body.question,
        body.name,
        body.answer,
        client,
        confidence=body.confidence,
        receipt=body.receipt,
    )
