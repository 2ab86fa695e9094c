"""Who is calling: the ``ClientKey`` of every request and socket (``app.service.quotas``).

An ASGI middleware reads the peer's address (or a trusted proxy's ``X-Forwarded-For``) and
the browser's ``bp_client`` cookie, puts the ``ClientKey`` in ``scope["state"]["client"]``,
and gives a browser without the cookie a new one (HttpOnly, SameSite=Lax): the page's own
calls and sockets then send it.
"""

from __future__ import annotations

import re
import secrets
from http.cookies import SimpleCookie

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.service.quotas import ANONYMOUS, ClientIds, ClientKey, forwarded_address
from app.settings import Settings

COOKIE = "bp_client"
COOKIE_SHAPE = re.compile(r"^[A-Za-z0-9_-]{22}$")  # secrets.token_urlsafe(16)
COOKIE_MAX_AGE = 30 * 24 * 3600


def cookie_id(headers: Headers) -> str | None:
    """The client id the request's cookie carries, if it has one of the right shape."""
    raw = headers.get("cookie")
    if not raw:
        return None
    cookies: SimpleCookie = SimpleCookie()
    try:
        cookies.load(raw)
    except Exception:  # a malformed Cookie header is as good as none
        return None
    morsel = cookies.get(COOKIE)
    if morsel is None or not COOKIE_SHAPE.match(morsel.value):
        return None
    return morsel.value


class ClientIdentity:
    """ASGI middleware: the ``ClientKey`` of each request and socket, and the cookie."""

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app
        self.trusted = frozenset(settings.trusted_proxies)
        self.ids = ClientIds(settings.max_clients_per_address, settings.session_ttl_seconds)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        peer = scope["client"][0] if scope.get("client") else ANONYMOUS.address
        address = forwarded_address(peer, headers.get("x-forwarded-for"), self.trusted)
        given = cookie_id(headers)
        issued = None
        if given is None and scope["type"] == "http":
            given = issued = secrets.token_urlsafe(16)
        admitted = given is not None and self.ids.admit(address, given)
        client = ClientKey(address, given if admitted and given else "")
        scope.setdefault("state", {})["client"] = client
        if issued is None or not admitted:
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                cookie = (
                    f"{COOKIE}={issued}; Path=/; Max-Age={COOKIE_MAX_AGE}; HttpOnly; SameSite=Lax"
                )
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())],
                }
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def client_of(scope: Scope) -> ClientKey:
    """The caller's ``ClientKey`` (its address alone when no middleware set one)."""
    client = scope.get("state", {}).get("client")
    if isinstance(client, ClientKey):
        return client
    return ClientKey(scope["client"][0]) if scope.get("client") else ANONYMOUS
