"""Predict, then reveal over REST: the teacher asks about the phase that runs next and
reveals it; students answer (over the class socket, or here); answers export as CSV.

- ``POST /api/classes/current/questions`` ask (the teacher token as the bearer);
- ``POST /api/classes/current/questions/{question}/reveal`` run the phase, tell the truth;
- ``GET /api/classes/current/answers`` every answer given in the class's session, as CSV;
- ``GET /api/sessions/{id}/answers`` the same with the session's control token (answers are
  stored with the session: they outlive the class, and a restart);
- ``POST /api/classes/answers`` a student's answer (the class code in the body).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Request
from fastapi.responses import Response

from .classes import TEACHER_ERRORS, BearerDep, get_classes, get_hub, teachers_class
from .deps import ClientDep, ControlledSession
from .errors import ApiError
from .questions import (
    AnswerAccepted,
    AnswerSend,
    QuestionAsk,
    QuestionPublic,
    RevealResult,
    ask_question,
    record_answer,
    reveal_question,
    save_answers,
)
from .schemas import ErrorMessage
from .sessions import BODY_ERRORS

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
}
QuestionId = Annotated[int, Path(ge=0, le=2**53, description="The question's id.")]


def csv_response(text: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="answers.csv"'},
    )


@router.post(
    "/classes/current/questions",
    status_code=201,
    response_model=QuestionPublic,
    responses={
        **TEACHER_ERRORS,
        **BODY_ERRORS,
        409: {**_ERROR, "description": "The class has ended, or its session plays."},
    },
)
async def ask_class(
    body: Annotated[QuestionAsk, Body(openapi_examples=ASK_EXAMPLES)],
    token: BearerDep,
    request: Request,
) -> dict[str, Any]:
    """Ask the class about the phase its session runs next (the session paused there); the
    truth is computed on a copy of the model and kept until Reveal. An open question is
    replaced."""
    classroom = teachers_class(request.app, token)
    question = await asyncio.to_thread(ask_question, request.app, classroom, body)
    message = {"type": "question", "question": question.public()}
    hub = get_hub(request.app)
    hub.tell_students(classroom.code, message)
    hub.tell_teachers(
        classroom.code, {"type": "answers", "question": question.id, "count": 0, "histogram": []}
    )
    return question.public()


@router.post(
    "/classes/current/questions/{question}/reveal",
    response_model=RevealResult,
    responses={
        **TEACHER_ERRORS,
        409: {**_ERROR, "description": "The question was revealed or replaced already."},
    },
)
async def reveal_class_question(
    question: QuestionId, token: BearerDep, request: Request
) -> dict[str, Any]:
    """Reveal: the phase runs on the session (every follower sees it), the truth goes to
    everyone, each student's page gets its own mark, the teacher the tally."""
    classroom = teachers_class(request.app, token)
    _, message = await asyncio.to_thread(reveal_question, request.app, classroom, question)
    get_hub(request.app).tell_students(classroom.code, message)
    return {k: v for k, v in message.items() if k in ("question", "truth", "tally", "ran")}


@router.get(
    "/classes/current/answers",
    response_class=Response,
    responses={**CSV_RESPONSE, **TEACHER_ERRORS},
)
async def export_class_answers(token: BearerDep, request: Request) -> Response:
    """Every answer given in the class's current session, as CSV (names escaped, and kept
    from running as spreadsheet formulas)."""
    classroom = teachers_class(request.app, token)
    manager = request.app.state.manager
    try:
        session = await asyncio.to_thread(manager.get, classroom.session_id)
    except LookupError:
        raise ApiError(404, "the class's session has ended", field="Authorization") from None
    return csv_response(session.questions.csv())


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
    response_model=AnswerAccepted,
    responses={
        **BODY_ERRORS,
        404: {**_ERROR, "description": "No class has this code, or no such question."},
        409: {**_ERROR, "description": "Revealed or replaced already; or this name answered."},
        429: {
            **_ERROR,
            "description": "The question has its maximum of answers, or you (your page, your "
            "address) answer too fast or gave your most answers to it: `field` names the "
            "quota, Retry-After says when to retry.",
        },
    },
)
async def answer_question(
    body: Annotated[AnswerSend, Body(openapi_examples=ANSWER_EXAMPLES)],
    request: Request,
    client: ClientDep,
) -> dict[str, Any]:
    """A student's answer, under any name (one answer per name and question)."""
    try:
        classroom = get_classes(request.app).find(body.code)
    except LookupError:
        raise ApiError(404, "no class has this code: check it with your teacher", "code") from None
    kept = record_answer(
        request.app,
        get_hub(request.app),
        classroom,
        body.question,
        body.name,
        body.answer,
        client,
    )
    await save_answers(request.app, classroom)  # stored before it is acknowledged
    return kept
