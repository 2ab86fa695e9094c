"""One class socket's life (``/ws/classes``, docs/protocol.md), once the API knows whose it is
and holds its place: the class's messages out, a student's answers and claims in.

A reader and the stream run side by side until the page goes; each message the page sends is
answered (``answered``, a claimed reveal, or an ``error`` naming the field) and the socket
stays open.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from pydantic import BaseModel
from starlette.websockets import WebSocket, WebSocketDisconnect

from app.engine import ConfigError
from app.service.classes import Classroom
from app.service.quotas import QuotaExceededError

from .class_messages import AnswerMessage, ClassCommand, parse_class_message
from .classes import Classes, Page
from .commands import CommandError, ErrorReply

log = logging.getLogger("app.live")

Send = Callable[[BaseModel], Awaitable[None]]


async def serve_class(
    classes: Classes, websocket: WebSocket, classroom: Classroom, page: Page
) -> None:
    """Send the page what the class hears (first where it is, or how many follow) until it
    goes, while its messages are read and answered."""
    sending = asyncio.Lock()  # the reader answers the page while the stream sends the class's

    async def send(message: BaseModel) -> None:
        async with sending:
            await websocket.send_text(message.model_dump_json())

    async with classes.hub.listen(classroom.code, page.listener) as queue:
        reader = asyncio.create_task(_read(classes, websocket, classroom, page, send))
        try:
            for message in classes.opening(classroom, page):
                await send(page.sees(message))
            while not reader.done():
                getter = asyncio.create_task(queue.get())
                done, _ = await asyncio.wait({getter, reader}, return_when=asyncio.FIRST_COMPLETED)
                if getter not in done:
                    getter.cancel()
                    break
                classes.registry.touch(classroom.code)
                await send(page.sees(getter.result()))
        except (WebSocketDisconnect, RuntimeError):
            pass  # the page went away while we were sending
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await reader


async def _read(
    classes: Classes, websocket: WebSocket, classroom: Classroom, page: Page, send: Send
) -> None:
    """Each message in turn, answered before the next is read, until the page goes."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = message.get("bytes") or b""
            for reply in await replies(classes, classroom, page, text):
                await send(reply)


async def replies(
    classes: Classes, classroom: Classroom, page: Page, text: str | bytes
) -> list[BaseModel]:
    """What the page is sent for one message it sent: ``answered`` (with a claim, its reveal
    if the question was revealed since), or an ``error`` naming the field."""
    command: ClassCommand | None = None
    try:
        command = parse_class_message(text)
        if page.teacher:
            raise CommandError(
                "the teacher asks and reveals; students answer", "type", command.type, command.id
            )
        if isinstance(command, AnswerMessage):
            answered = await classes.answer(
                classroom,
                command.question,
                command.name,
                command.answer,
                page.client,
                page,
                confidence=command.confidence,
            )
            return [answered]
        return list(classes.claim(classroom, command.question, command.receipt, page))
    except CommandError as error:
        return [ErrorReply.of(error)]
    except ConfigError as error:
        return [_refused(error.message, error.field, command)]
    except QuotaExceededError as error:
        return [_refused(str(error), error.quota, command)]
    except Exception:  # a bug: say so, keep the socket
        log.exception("a class socket's message failed")  # (the code stays out of the log)
        return [_refused("the server failed to act on this message", None, command)]


def _refused(message: str, field: str | None, command: ClassCommand | None) -> ErrorReply:
    kind, message_id = (None, None) if command is None else (command.type, command.id)
    return ErrorReply.of(CommandError(message, field, kind, message_id))
