"""Dependencies: the settings, the manager, and a session checked against the caller's token.

A handler's signature says what it needs and what the caller may do::

    def step_session(session: ControlledSession, manager: ManagerDep, ...)

- ``ReadableSession``: the control or the watch token (``Authorization: Bearer <token>``);
- ``ControlledSession``: the control token only;
- ``DeletableSessionId``: the control token, of a session or of a set-aside damaged one;
- ``UploadTokenDep``: the upload token, when one was sent (it owns the caller's uploads).

No token: 401. A token that isn't this session's, or the watch token where the control
token is needed: 403. No such session: 404; one whose stored row is unreadable: 409.
"""

from __future__ import annotations

import threading
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from app.service.access import HasTokens, role_of
from app.service.manager import SessionDamagedError, SessionManager
from app.service.quotas import ClientKey
from app.service.session import Session
from app.service.store import open_store
from app.settings import Settings

from .clients import client_of
from .errors import ApiError

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="session token",
    description="The session's control token (reads and changes) or its watch token "
    "(reads only), as returned by POST /api/sessions.",
)


upload_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="upload token",
    description="The token POST /api/datasets answered: it owns your uploads (list them, "
    "train a session on one, delete one). Send it with your next upload to keep them together.",
)


_reopening = threading.Lock()


def reopen_store(app: FastAPI) -> None:
    """A fresh handle on the same store once the app's lifespan has closed it: for an
    app started again, or called again after it stopped (TestClient, test tools)."""
    with _reopening:
        if not app.state.store_closed:
            return
        manager: SessionManager = app.state.manager
        app.state.store = manager.store = open_store(
            manager.settings.data_dir, manager.settings.database_url
        )
        app.state.store_closed = False


# The dependencies that only read the request or the app's state are ``async``: FastAPI runs a
# plain ``def`` dependency on a worker thread, and each such hop waits for the GIL behind the
# training on the event loop. Those that may read the store (get_session) stay plain.


def query_names(dependant: Dependant) -> set[str]:
    """The query parameters a route takes, its dependencies' included."""
    names = {param.alias for param in dependant.query_params}
    for dependency in dependant.dependencies:
        names |= query_names(dependency)
    return names


async def reject_unknown_query(request: Request) -> None:
    """422 for a query parameter the route does not take (a typo must not pass unnoticed)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = query_names(route.dependant)
    unknown = sorted(set(request.query_params) - known)
    if unknown:
        takes = ", ".join(sorted(known)) or "none"
        raise ApiError(
            422,
            f"unknown query parameter {unknown[0][:40]!r}; this call takes: {takes}",
            field=unknown[0][:40],
        )


async def get_settings(request: Request) -> Settings:
    """The app's settings (``app.state.settings``)."""
    settings: Settings = request.app.state.settings
    return settings


async def get_manager(request: Request) -> SessionManager:
    """The app's session manager (``app.state.manager``), its store open."""
    if request.app.state.store_closed:
        reopen_store(request.app)
    manager: SessionManager = request.app.state.manager
    return manager


SettingsDep = Annotated[Settings, Depends(get_settings)]
ManagerDep = Annotated[SessionManager, Depends(get_manager)]
SessionId = Annotated[
    str,
    Path(
        alias="id",  # the path says /api/sessions/{id}, as the issue and the protocol write it
        description="The session id returned by POST /api/sessions.",
        examples=["Jm3o9oV1W1x7d8ZcQe2xXw2k6z3b0b8cT3vQ1kq7v5E"],
        max_length=200,
    ),
]


async def get_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> str:
    """The bearer token of the request; 401 without one."""
    if credentials is None or not credentials.credentials:
        raise ApiError(
            401,
            "this call needs the session's token: send 'Authorization: Bearer <token>'",
            field="Authorization",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return credentials.credentials


TokenDep = Annotated[str, Depends(get_token)]


async def get_upload_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(upload_bearer)],
) -> str | None:
    """The upload token of the request, if it sent one."""
    if credentials is None or not credentials.credentials:
        return None
    return credentials.credentials


async def get_client(request: Request) -> ClientKey:
    """The caller (its browser's id at its address; a trusted proxy's X-Forwarded-For only
    when the ``trusted_proxies`` setting names the proxy): the key of per-client quotas."""
    return client_of(request.scope)


UploadTokenDep = Annotated[str | None, Depends(get_upload_token)]
# For a route where the upload token is optional: an empty requirement says so in OpenAPI.
OPTIONAL_UPLOAD_TOKEN: dict[str, Any] = {"security": [{}]}  # added to the bearer scheme's
ClientDep = Annotated[ClientKey, Depends(get_client)]


def get_session(session_id: SessionId, manager: ManagerDep) -> Session:
    """The session with that id (from memory or the store); 404 if there is none."""
    session = manager.get(session_id)
    session.touch()  # reading is using: it keeps the session from expiring
    return session


async def get_readable_session(
    token: TokenDep, session: Annotated[Session, Depends(get_session)]
) -> Session:
    """The session, if the token is its control or watch token (403 otherwise)."""
    if role_of(session, token) is None:
        raise ApiError(403, "the token is not this session's", field="Authorization")
    return session


def require_control(owner: HasTokens, token: str) -> None:
    """403 unless the token is the owner's control token."""
    role = role_of(owner, token)
    if role == "watch":
        raise ApiError(
            403,
            "the watch token only reads; changing the session needs its control token",
            field="Authorization",
        )
    if role is None:
        raise ApiError(403, "the token is not this session's", field="Authorization")


async def get_controlled_session(
    token: TokenDep, session: Annotated[Session, Depends(get_session)]
) -> Session:
    """The session, if the token is its control token (403 for the watch token or another)."""
    require_control(session, token)
    return session


def get_deletable_id(session_id: SessionId, token: TokenDep, manager: ManagerDep) -> str:
    """The id of a session the token controls, a set-aside (damaged) one included."""
    owner: HasTokens
    try:
        owner = manager.get(session_id)
    except SessionDamagedError as damaged:
        owner = damaged
    require_control(owner, token)
    return session_id


ReadableSession = Annotated[Session, Depends(get_readable_session)]
ControlledSession = Annotated[Session, Depends(get_controlled_session)]
DeletableSessionId = Annotated[str, Depends(get_deletable_id)]
