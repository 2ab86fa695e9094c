"""Every error answers JSON that says what was wrong and, when it can, which field.

Two shapes, both under ``detail``:

- ``{"detail": "message", "field": "model.learning_rate"}`` — one problem, from our checks;
- ``{"detail": [{"loc": ["body", "count"], "msg": "...", "type": "..."}]}`` — schema
  validation, one entry per problem (FastAPI's shape, without echoing the input back).

Bad input is never a 500: the engine's ``ConfigError`` is 422 (predict-then-reveal's
refusals, ``ConfigError``s too, say what they mean: 404, 409, 429 or 503, ``REFUSAL_STATUS``),
an unknown session 404, a session whose stored row is unreadable 409, a full server 429, a body
too large 413. A 500 means a bug; it is logged, never explained.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from app.engine import ConfigError
from app.service.chain import BackwardNotRunError
from app.service.class_questions import AnswerNotStoredError, SessionPlaysError
from app.service.classes import ClassEndedError, ClassSessionGoneError
from app.service.manager import SessionDamagedError, SessionNotFoundError
from app.service.questions import (
    AnswerRefusedError,
    QuestionClosedError,
    QuestionFullError,
    QuestionNotFoundError,
    ReceiptRefusedError,
    RoundRefusedError,
)
from app.service.quotas import QuotaExceededError

from .responses import OrjsonResponse
from .security import SECURITY_HEADERS

log = logging.getLogger("app.api")


class ApiError(StarletteHTTPException):
    """An HTTP error with a message and, when one field is at fault, its name."""

    def __init__(
        self,
        status_code: int,
        detail: str,
        field: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(status_code, detail, headers)
        self.field = field


def error_body(detail: Any, field: str | None = None) -> dict[str, Any]:
    """``{"detail": ...}`` plus ``"field"`` when one field is at fault."""
    return {"detail": detail} if field is None else {"detail": detail, "field": field}


def validation_entries(errors: Any) -> list[dict[str, Any]]:
    """Pydantic's errors as ``loc``/``msg``/``type`` only: the input is never echoed back."""
    return [
        {"loc": list(error.get("loc", ())), "msg": str(error.get("msg", "")), "type": error["type"]}
        for error in errors
    ]


# The status of a refusal that is not a bad value (every other ConfigError is a 422); the
# class socket sends the same refusals as `error` messages naming the same field.
REFUSAL_STATUS: dict[type[ConfigError], int] = {
    ClassSessionGoneError: 404,
    QuestionNotFoundError: 404,
    ReceiptRefusedError: 404,
    BackwardNotRunError: 409,  # no gradient to break down yet
    ClassEndedError: 409,
    SessionPlaysError: 409,
    QuestionClosedError: 409,
    RoundRefusedError: 409,  # the question has had its rounds: reveal it
    AnswerRefusedError: 409,  # this name answered already
    QuestionFullError: 429,
    AnswerNotStoredError: 503,
}


def refusal_status(error: ConfigError) -> int:
    """The status of the most particular kind ``error`` is (422 for a plain bad value)."""
    for kind in type(error).__mro__:
        if kind in REFUSAL_STATUS:
            return REFUSAL_STATUS[kind]
    return 422


async def handle_config_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, ConfigError)
    retry_after = getattr(error, "retry_after", None)
    return OrjsonResponse(
        error_body(error.message, error.field),
        status_code=refusal_status(error),
        headers=None if retry_after is None else {"Retry-After": str(retry_after)},
    )


async def handle_not_found(request: Request, error: Exception) -> Response:
    return OrjsonResponse(error_body(str(error), "id"), status_code=404)


async def handle_damaged(request: Request, error: Exception) -> Response:
    return OrjsonResponse(error_body(str(error), "id"), status_code=409)


async def handle_limit(request: Request, error: Exception) -> Response:
    """429 naming the quota (its setting) in ``field`` and when to retry, in seconds, in
    ``retry_after`` and the Retry-After header."""
    assert isinstance(error, QuotaExceededError)
    body = {**error_body(str(error), error.quota or None), "retry_after": error.retry_after}
    return OrjsonResponse(body, status_code=429, headers={"Retry-After": str(error.retry_after)})


def allowed_methods(request: Request) -> str:
    """Every method the request's path answers (Starlette's 405 names one route's only)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        route_methods = getattr(route, "methods", None)
        path_regex = getattr(route, "path_regex", None)
        if route_methods and path_regex is not None and path_regex.match(request.url.path):
            methods |= set(route_methods)
    return ", ".join(sorted(methods))


UNPARSED_BODY = "There was an error parsing the body"  # FastAPI's words, naming no reason


def parse_failure(cause: BaseException | None) -> str:
    """Why FastAPI could not read a body, in words a client can act on."""
    if isinstance(cause, UnicodeDecodeError):
        return f"the body is not UTF-8 text (byte {cause.start} cannot be decoded); send UTF-8 JSON"
    if isinstance(cause, RecursionError):
        return "the JSON body is nested too deeply to be read"
    if isinstance(cause, ValueError):
        return f"the JSON body holds a value that cannot be read: {str(cause)[:200]}"
    if cause is None:
        return "the body could not be read"
    return f"the body could not be read ({type(cause).__name__})"


async def handle_http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, StarletteHTTPException)
    field = getattr(error, "field", None)
    detail = error.detail
    if error.status_code == 400:  # an unreadable body: say why, and that the body is at fault
        if detail == UNPARSED_BODY:
            detail = parse_failure(error.__cause__)
        field = field or "body"
    body = error_body(detail, field)
    headers = dict(error.headers or {})
    if error.status_code == 429 and headers.get("Retry-After", "").isdigit():
        body["retry_after"] = int(headers["Retry-After"])
    if error.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    if error.status_code in (204, 304):
        return Response(status_code=error.status_code, headers=headers)
    return OrjsonResponse(body, status_code=error.status_code, headers=headers)


async def handle_validation_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, RequestValidationError | ValidationError)
    return OrjsonResponse({"detail": validation_entries(error.errors())}, status_code=422)


async def handle_unexpected(request: Request, error: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    # Answered from outside every middleware (Starlette's ServerErrorMiddleware): the
    # security headers are added here.
    headers = {name.decode(): value.decode() for name, value in SECURITY_HEADERS}
    return OrjsonResponse(
        error_body("internal error; it has been logged"), status_code=500, headers=headers
    )


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers above on ``app``."""
    app.add_exception_handler(ConfigError, handle_config_error)
    app.add_exception_handler(SessionNotFoundError, handle_not_found)
    app.add_exception_handler(SessionDamagedError, handle_damaged)
    app.add_exception_handler(QuotaExceededError, handle_limit)
    app.add_exception_handler(StarletteHTTPException, handle_http_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(ValidationError, handle_validation_error)
    app.add_exception_handler(Exception, handle_unexpected)
