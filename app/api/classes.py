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
is accepted here, its origin and token checked (closed with 4403 / 4404 / 4429), then handed
to ``app/live/class_socket.py``. Everything a class does is ``app.state.classes``
(``app/live/classes.py``); predict-then-reveal's REST routes are in ``class_questions.py``.
"""

from __future__ import annotations

import asyncio
import hmac
from functools import lru_cache
from typing import Annotated, Any

import segno
from fastapi import APIRouter, Body, Depends, Request, WebSocket
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import Field
from starlette.requests import HTTPConnection

from app.live.class_messages import ClassWhere
from app.live.class_socket import serve_class
from app.live.classes import Classes, Page, where
from app.live.close_codes import CloseCode
from app.service.classes import ClassNotFoundError, Classroom
from app.service.manager import SessionNotFoundError
from app.service.session import Session

from .clients import client_of
from .deps import ClientDep, ManagerDep
from .errors import ApiError
from .schemas import ErrorMessage, RequestBody, ResponseBody
from .sessions import BODY_ERRORS
from .ws import held_socket, origin_allowed

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


# ----- dependencies -------------------------------------------------------------------------


async def get_classes(connection: HTTPConnection) -> Classes:
    """The app's classes (``app.state.classes``), for a request or a socket."""
    classes: Classes = connection.app.state.classes
    return classes


ClassesDep = Annotated[Classes, Depends(get_classes)]


async def bearer_token(
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


async def teachers_class(token: BearerDep, classes: ClassesDep) -> Classroom:
    """The class this teacher token opened (401 without a token, 404 naming it if none)."""
    try:
        return classes.registry.for_teacher(token)
    except ClassNotFoundError:
        raise ApiError(
            404, "no class has this teacher token (it may have expired)", field="Authorization"
        ) from None


TeachersClass = Annotated[Classroom, Depends(teachers_class)]


def class_of_code(classes: Classes, code: str) -> Classroom:
    """The class a student's code names (404 naming ``code`` if none)."""
    try:
        return classes.registry.find(code)
    except ClassNotFoundError:
        raise ApiError(
            404, "no class has this code: check it with your teacher", field="code"
        ) from None


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


def public(classes: Classes, classroom: Classroom, request: Request) -> dict[str, Any]:
    link = join_link(classroom.code, request)
    return {
        **where(classroom).model_dump(exclude={"watch_token"}),
        "students": classes.students(classroom),
        "join_url": link,
        "join_qr": qr_data_url(link),
    }


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
    classes: ClassesDep,
    request: Request,
    client: ClientDep,
) -> dict[str, Any]:
    """Open a class on a session you control (its control token as the bearer): students
    follow its code from now on."""
    session = await asyncio.to_thread(controlled, manager, body.session_id, token, "Authorization")
    classroom = classes.open(session, client)
    return {**public(classes, classroom, request), "teacher_token": classroom.teacher_token}


@router.get("/current", response_model=ClassPublic, responses=TEACHER_ERRORS)
async def read_class(
    classroom: TeachersClass, classes: ClassesDep, request: Request
) -> dict[str, Any]:
    """The teacher's class: where it is and how many students follow it."""
    return public(classes, classroom, request)


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
    classroom: TeachersClass,
    manager: ManagerDep,
    classes: ClassesDep,
    request: Request,
) -> dict[str, Any]:
    """Move the class to another session you control: every student's page follows."""
    session = await asyncio.to_thread(
        controlled, manager, body.session_id, body.session_token, "session_token"
    )
    return public(classes, classes.move(classroom, session), request)


@router.delete("/current", response_model=ClassPublic, responses=TEACHER_ERRORS)
async def end_class(
    classroom: TeachersClass, classes: ClassesDep, request: Request
) -> dict[str, Any]:
    """End the class: students' pages say it has ended (the session itself stays)."""
    return public(classes, classes.end(classroom), request)


@router.post(
    "/follow",
    response_model=ClassWhere,
    responses={**BODY_ERRORS, 404: {**_ERROR, "description": "No class has this code."}},
)
async def follow_class(
    body: Annotated[ClassFollow, Body(openapi_examples=FOLLOW_EXAMPLES)], classes: ClassesDep
) -> ClassWhere:
    """Where a class is now: the session to watch and its (read-only) watch token."""
    return where(class_of_code(classes, body.code))


# ----- the socket -----------------------------------------------------------------------------

ws_router = APIRouter(tags=["live"])


@ws_router.websocket("/ws/classes")
async def stream_class(websocket: WebSocket, classes: ClassesDep) -> None:
    """A student (``token=<code>``) hears where the class is and its questions, and answers
    them; its teacher (``token=<teacher token>``) hears how many students follow and the
    answers as they come. Unknown: closed with 4404; a foreign ``Origin``: 4403; too many
    sockets of this client: 4429."""
    token = websocket.query_params.get("token", "")
    await websocket.accept()
    if not origin_allowed(websocket, classes.settings.cors_origins):
        await websocket.close(
            CloseCode.FOREIGN_ORIGIN, "this origin may not open the socket (see cors_origins)"
        )
        return
    try:
        classroom, teacher = classes.registry.find(token), False
    except ClassNotFoundError:
        try:
            classroom, teacher = classes.registry.for_teacher(token), True
        except ClassNotFoundError:
            await websocket.close(CloseCode.NOT_FOUND, "no such class: check the code")
            return
    async with held_socket(websocket) as held:
        if held:
            page = Page(teacher, client_of(websocket.scope))
            await serve_class(classes, websocket, classroom, page)
