"""``/api/classes`` and ``/ws/classes``: a class link that follows the teacher's current session.

REST (the teacher's token, or a session's control token, as ``Authorization: Bearer``; the
class code travels in bodies only, never in a path, so it stays out of access logs):

- ``POST /api/classes`` opens a class on a session (its control token);
- ``GET /api/classes/current`` the teacher's class and how many students follow it;
- ``PATCH /api/classes/current`` moves it to another session (that session's control token
  in the body): every student follows;
- ``DELETE /api/classes/current`` ends it: students are told so;
- ``POST /api/classes/follow`` what a code points at now: the session and its watch token.

The socket ``/ws/classes?token=<code or teacher token>`` (``token=`` is masked in the logs)
sends a student ``class`` messages (where the class is now, or that it ended) and a teacher
``students`` messages (how many follow); it carries predict-then-reveal's questions, answers
and reveals too (``questions.py``; the REST routes are in ``class_questions.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Depends, FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field

from app.live.classroom import ClassroomHub
from app.service.classes import ClassNotFoundError, ClassRegistry, Classroom
from app.service.manager import SessionNotFoundError
from app.service.session import Session

from .clients import client_of
from .deps import ClientDep, ManagerDep
from .errors import ApiError
from .questions import claim_answer, opening_messages, personal, record_answer, save_answers
from .schemas import ErrorMessage, RequestBody, ResponseBody
from .sessions import BODY_ERRORS
from .ws import CLOSE_FOREIGN_ORIGIN, held_socket, origin_allowed

CLOSE_NO_CLASS = 4404
MAX_ANSWER_MESSAGE = 4096  # characters of one message a page sends on the class socket
CODE_EXAMPLE = "K7M2QX"
SESSION_EXAMPLE = "Jm3o9oV1W1x7d8ZcQe2xXw2k6z3b0b8cT3vQ1kq7v5E"
OPEN_EXAMPLES: dict[str, Any] = {
    "open": {
        "summary": "Open a class on a session (its control token as the bearer)",
        "value": {"session_id": SESSION_EXAMPLE},
    }
}
MOVE_EXAMPLES: dict[str, Any] = {
    "move": {
        "summary": "Students follow this session from now on",
        "value": {
            "session_id": SESSION_EXAMPLE,
            "session_token": "the new session's control token",
        },
    }
}
FOLLOW_EXAMPLES: dict[str, Any] = {
    "follow": {"summary": "A code as a student types it", "value": {"code": "k7m2qx"}}
}

teacher_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="teacher token",
    description="The class's teacher token (POST /api/classes answers it); to open a class, "
    "the session's control token.",
)

_ERROR: dict[str, Any] = {"model": ErrorMessage}
TEACHER_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {**_ERROR, "description": "No bearer token."},
    404: {**_ERROR, "description": "No class has this teacher token (it may have expired)."},
}


# ----- bodies -------------------------------------------------------------------------------


class ClassCreate(RequestBody):
    """The session the class starts on; send its control token as the bearer token."""

    session_id: str = Field(
        max_length=200, examples=["Jm3o9oV1W1x7d8ZcQe2xXw2k6z3b0b8cT3vQ1kq7v5E"]
    )


class ClassMove(RequestBody):
    """The session the class follows from now on, with its control token (in the body, so
    the teacher token stays the bearer)."""

    session_id: str = Field(max_length=200)
    session_token: str = Field(max_length=200, description="The new session's control token.")


class ClassFollow(RequestBody):
    """A class code as a student types it (case and spaces do not matter)."""

    code: str = Field(max_length=20, examples=[CODE_EXAMPLE])


class ClassPublic(ResponseBody):
    """A class as its teacher sees it."""

    code: str = Field(
        examples=[CODE_EXAMPLE], description="What students type, or open as /#class=<code>."
    )
    session_id: str = Field(description="The session the class follows now.")
    version: int = Field(description="+1 each time the class moves to another session.")
    ended: bool
    students: int = Field(description="Students whose page follows the class right now.")
    join_url: str = Field(
        examples=["http://192.168.1.23:8000/#class=K7M2QX"],
        description="The link students open: the server's public address "
        "(PLAYGROUND_PUBLIC_URL) or the one this request came to, with #class=<code>.",
    )
    join_qr: str = Field(
        description="A QR code of join_url, as an SVG data: URL (for an <img>).",
    )


class ClassOpened(ClassPublic):
    """A new class: keep the teacher token, it moves and ends the class."""

    teacher_token: str


class ClassWhere(ResponseBody):
    """Where a class is now: the session to watch, read-only, with its watch token."""

    code: str
    session_id: str
    watch_token: str
    version: int
    ended: bool


# ----- the app's registry and hub -------------------------------------------------------------


def get_classes(app: FastAPI) -> ClassRegistry:
    """The app's class registry, made on first use."""
    registry: ClassRegistry | None = getattr(app.state, "classes", None)
    if registry is None:
        settings = app.state.settings
        registry = app.state.classes = ClassRegistry(
            settings.max_classes,
            settings.class_ttl_seconds,
            per_client=(settings.max_classes_per_client, settings.max_classes_per_address),
        )
    return registry


def get_hub(app: FastAPI) -> ClassroomHub:
    hub: ClassroomHub | None = getattr(app.state, "classroom_hub", None)
    if hub is None:
        hub = app.state.classroom_hub = ClassroomHub()
    return hub


def bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(teacher_bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "this call needs a token: send 'Authorization: Bearer <token>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


BearerDep = Annotated[str, Depends(bearer_token)]


def controlled(manager: ManagerDep, session_id: str, token: str, field: str) -> Session:
    """The session, if `token` is its control token (404 / 403 naming `field` otherwise)."""
    try:
        session = manager.get(session_id)
    except SessionNotFoundError:
        raise ApiError(404, "no such session (it may have expired)", field="session_id") from None
    if not hmac.compare_digest(token.encode("utf-8", "surrogateescape"), session.token.encode()):
        raise ApiError(
            403, "a class follows a session you control: use its control token", field=field
        )
    return session


def join_link(code: str, request: Request) -> str:
    """The link students open: PLAYGROUND_PUBLIC_URL (``make classroom`` sets it to the LAN
    address), else the address this request came to, with ``#class=<code>``."""
    base = request.app.state.settings.public_url or str(request.base_url)
    return f"{base.rstrip('/')}/#class={code}"


@lru_cache(maxsize=256)
def qr_data_url(link: str) -> str:
    """A QR code of `link` as an SVG ``data:`` URL (segno: pure Python, offline); it scales
    to any size (a viewBox, no width or height)."""
    return str(segno.make(link, error="m").svg_data_uri(omitsize=True, border=4))


def public(classroom: Classroom, request: Request) -> dict[str, Any]:
    link = join_link(classroom.code, request)
    return {
        "code": classroom.code,
        "session_id": classroom.session_id,
        "version": classroom.version,
        "ended": classroom.ended,
        "students": get_hub(request.app).students(classroom.code),
        "join_url": link,
        "join_qr": qr_data_url(link),
    }


def where(classroom: Classroom) -> dict[str, Any]:
    return {
        "code": classroom.code,
        "session_id": classroom.session_id,
        "watch_token": classroom.watch_token,
        "version": classroom.version,
        "ended": classroom.ended,
    }


def teachers_class(app: FastAPI, token: str) -> Classroom:
    try:
        return get_classes(app).for_teacher(token)
    except ClassNotFoundError:
        raise ApiError(
            404, "no class has this teacher token (it may have expired)", field="Authorization"
        ) from None


# ----- REST ---------------------------------------------------------------------------------

router = APIRouter(prefix="/classes", tags=["classes"])


@router.post(
    "",
    status_code=201,
    response_model=ClassOpened,
    responses={
        **TEACHER_ERRORS,
        **BODY_ERRORS,
        403: {**_ERROR, "description": "Not the session's control token."},
        429: {**_ERROR, "description": "The server runs its maximum number of classes."},
    },
)
async def open_class(
    body: Annotated[ClassCreate, Body(openapi_examples=OPEN_EXAMPLES)],
    token: BearerDep,
    manager: ManagerDep,
    request: Request,
    client: ClientDep,
) -> dict[str, Any]:
    """Open a class on a session you control (its control token as the bearer): students
    follow its code from now on."""
    session = await asyncio.to_thread(controlled, manager, body.session_id, token, "Authorization")
    classroom = get_classes(request.app).open(session.id, session.watch_token, client)
    return {**public(classroom, request), "teacher_token": classroom.teacher_token}


@router.get("/current", response_model=ClassPublic, responses=TEACHER_ERRORS)
async def read_class(token: BearerDep, request: Request) -> dict[str, Any]:
    """The teacher's class: where it is and how many students follow it."""
    return public(teachers_class(request.app, token), request)


@router.patch(
    "/current",
    response_model=ClassPublic,
    responses={
        **TEACHER_ERRORS,
        **BODY_ERRORS,
        403: {**_ERROR, "description": "`session_token` is not that session's control token."},
        409: {**_ERROR, "description": "The class has ended."},
    },
)
async def move_class(
    body: Annotated[ClassMove, Body(openapi_examples=MOVE_EXAMPLES)],
    token: BearerDep,
    manager: ManagerDep,
    request: Request,
) -> dict[str, Any]:
    """Move the class to another session you control: every student's page follows."""
    classroom = teachers_class(request.app, token)
    if classroom.ended:
        raise ApiError(409, "this class has ended: open a new one", field="Authorization")
    session = await asyncio.to_thread(
        controlled, manager, body.session_id, body.session_token, "session_token"
    )
    classroom = get_classes(request.app).move(token, session.id, session.watch_token)
    hub = get_hub(request.app)
    hub.tell_students(classroom.code, {"type": "class", **where(classroom)})
    return public(classroom, request)


@router.delete("/current", response_model=ClassPublic, responses=TEACHER_ERRORS)
async def end_class(token: BearerDep, request: Request) -> dict[str, Any]:
    """End the class: students' pages say it has ended (the session itself stays)."""
    teachers_class(request.app, token)
    classroom = get_classes(request.app).end(token)
    hub = get_hub(request.app)
    hub.tell_students(classroom.code, {"type": "class", **where(classroom)})
    return public(classroom, request)


@router.post(
    "/follow",
    response_model=ClassWhere,
    responses={**BODY_ERRORS, 404: {**_ERROR, "description": "No class has this code."}},
)
async def follow_class(
    body: Annotated[ClassFollow, Body(openapi_examples=FOLLOW_EXAMPLES)], request: Request
) -> dict[str, Any]:
    """Where a class is now: the session to watch and its (read-only) watch token."""
    try:
        classroom = get_classes(request.app).find(body.code)
    except ClassNotFoundError:
        raise ApiError(
            404, "no class has this code: check it with your teacher", field="code"
        ) from None
    return where(classroom)


# ----- the socket -----------------------------------------------------------------------------

ws_router = APIRouter(tags=["live"])


@ws_router.websocket("/ws/classes")
async def stream_class(websocket: WebSocket) -> None:
    """A student (``token=<code>``) hears where the class is and its questions, and answers
    them; its teacher (``token=<teacher token>``) hears how many students follow and the
    answers as they come. Unknown: closed with 4404; a foreign ``Origin``: 4403."""
    registry = get_classes(websocket.app)
    token = websocket.query_params.get("token", "")
    await websocket.accept()
    if not origin_allowed(websocket, websocket.app.state.settings.cors_origins):
        await websocket.close(
            CLOSE_FOREIGN_ORIGIN, "this origin may not open the socket (see cors_origins)"
        )
        return
    try:
        classroom, who = registry.find(token), "student"
    except ClassNotFoundError:
        try:
            classroom, who = registry.for_teacher(token), "teacher"
        except ClassNotFoundError:
            await websocket.close(CLOSE_NO_CLASS, "no such class: check the code")
            return
    async with held_socket(websocket) as held:
        if held:
            await serve_class(websocket, classroom, who == "teacher")


async def serve_class(websocket: WebSocket, classroom: Classroom, teacher: bool) -> None:
    """The class socket's stream, once it is known whose it is and its place is held."""
    registry = get_classes(websocket.app)
    hub = get_hub(websocket.app)
    answered: dict[int, str] = {}  # question id → the name this socket answered under
    sending = asyncio.Lock()  # the reader answers a student while the loop sends the class's

    async def send(message: dict[str, Any]) -> None:
        async with sending:
            await websocket.send_json(message)

    async with hub.listen(classroom.code, "teacher" if teacher else "student") as queue:
        first = (
            {"type": "students", "count": hub.students(classroom.code)}
            if teacher
            else {"type": "class", **where(classroom)}
        )
        receiver = asyncio.create_task(read_answers(websocket, classroom, teacher, answered, send))
        try:
            await send(first)
            for message in opening_messages(websocket.app, classroom, teacher):
                await send(message)
            while not receiver.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait(
                    {getter, receiver}, return_when=asyncio.FIRST_COMPLETED
                )
                if getter not in done:
                    getter.cancel()
                    break
                registry.touch(classroom.code)
                await send(personal(getter.result(), teacher, answered))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away while we were sending
        finally:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await receiver


async def read_answers(
    websocket: WebSocket,
    classroom: Classroom,
    teacher: bool,
    answered: dict[int, str],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    """Until the page goes away: a student's ``answer`` messages, each answered with
    ``answered`` or an ``error`` naming the field (the socket stays open)."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            text = await websocket.receive_text()
            try:
                replies = answer_message(websocket, classroom, teacher, answered, text)
                if replies[0]["type"] == "answered":
                    await save_answers(websocket.app, classroom)  # stored before "answered"
            except ApiError as error:
                replies = [{"type": "error", "field": error.field, "message": error.detail}]
            for reply in replies:
                await send(personal(reply, teacher, answered))


MESSAGE_FIELDS = {"answer": ("question", "name", "answer"), "claim": ("question", "receipt")}


def answer_message(
    websocket: WebSocket, classroom: Classroom, teacher: bool, answered: dict[int, str], text: str
) -> list[dict[str, Any]]:
    """One message a page sent — ``{"type": "answer", "question", "name", "answer"}``, or
    ``{"type": "claim", "question", "receipt"}`` after a reload — and the replies to it."""
    if len(text) > MAX_ANSWER_MESSAGE:
        raise ApiError(413, f"a message is at most {MAX_ANSWER_MESSAGE} characters", "body")
    try:
        message = json.loads(text)
    except ValueError:
        raise ApiError(422, 'not JSON: send {"type": "answer", …}', "body") from None
    kind = message.get("type") if isinstance(message, dict) else None
    if kind not in MESSAGE_FIELDS:
        raise ApiError(
            422, "unknown message type: a class socket takes 'answer' or 'claim'", "type"
        )
    if teacher:
        raise ApiError(403, "the teacher asks and reveals; students answer", "type")
    fields, what = MESSAGE_FIELDS[kind], "an answer" if kind == "answer" else "a claim"
    unknown = sorted(set(message) - {"type", *fields})
    if unknown:
        raise ApiError(422, f"{what} has no field {unknown[0][:40]!r}", unknown[0][:40])
    for needed in fields:
        if needed not in message:
            raise ApiError(422, f"{what} needs '{needed}'", needed)
    question = message["question"]
    if kind == "claim":
        claimed, revealed = claim_answer(websocket.app, classroom, question, message["receipt"])
        answered[claimed["question"]] = claimed["name"]
        return [claimed] if revealed is None else [claimed, revealed]
    if isinstance(question, int) and question in answered:
        raise ApiError(
            409, "this page has answered this question already: one answer each", "question"
        )
    kept = record_answer(
        websocket.app,
        get_hub(websocket.app),
        classroom,
        question,
        message["name"],
        message["answer"],
        client_of(websocket.scope),
        page=str(id(answered)),  # this socket's own dict: one per page while it is open
    )
    answered[kept["question"]] = kept["name"]
    return [{"type": "answered", **kept}]
