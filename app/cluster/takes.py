"""The stream a web process takes its sockets' messages by: one TCP connection per worker.

A Ray actor call costs about 1 ms of CPU on each side; a frame interval's messages on a plain
TCP stream cost about 0.04–0.09 ms (``bench/takes.py`` measures both). The worker
listens on its node's address, on a port of the system's choosing, and tells a web process
where, and a secret, through Ray (``SessionWorker.take_address``). Ray still places, names and
restarts the workers; this stream only carries what the worker's app sends to its sockets,
one take at a time, as the Ray call did.

On the wire each message is a 4-byte big-endian length, then msgpack:

- web → worker: first ``{"secret", "relay"}``, then each take ``{"connections", "wait"}``;
- worker → web: each take's answer, ``{"texts": [...], "sockets": {connection: [ASGI
  messages]}}``, each message's ``text`` an index into ``texts``: the sockets watching one
  session with one view get the same frame text (one string), which goes once per take
  however many they are.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import msgpack

from .asgi import Message

log = logging.getLogger("app.cluster")

Taken = dict[str, list[Message]]
Take = Callable[[str, list[str], float], Awaitable[Taken]]

HELLO_LIMIT = 1024  # bytes: what a connection may send before it has given the secret
HELLO_SECONDS = 5.0  # a connection that has not given the secret by then is closed
REQUEST_LIMIT = 1024 * 1024  # a take names its sockets: ~20 bytes each
ANSWER_LIMIT = 256 * 1024 * 1024  # a take's messages: a few frames per socket
ANSWER_GRACE_SECONDS = 30.0  # past its wait, a take unanswered this long: the worker is gone


class ChannelLostError(ConnectionError):
    """The stream to a worker broke (it died or restarted): its sockets are to be reopened."""


async def read_message(reader: asyncio.StreamReader, limit: int) -> Any:
    size = int.from_bytes(await reader.readexactly(4), "big")
    if size > limit:
        raise ValueError(f"a message of {size} bytes, over {limit}")
    return msgpack.unpackb(await reader.readexactly(size), raw=False)


def framed(value: Any) -> bytes:
    data: bytes = msgpack.packb(value, use_bin_type=True)
    return len(data).to_bytes(4, "big") + data


def pack_taken(taken: Taken) -> bytes:
    """A take's answer, framed, each text once (by identity: the frame's one encoding)."""
    texts: list[str] = []
    index: dict[int, int] = {}  # id of a text → its place in texts (taken keeps them alive)
    sockets: dict[str, list[Message]] = {}
    for connection, messages in taken.items():
        packed = []
        for message in messages:
            text = message.get("text")
            if isinstance(text, str):
                at = index.get(id(text))
                if at is None:
                    at = index[id(text)] = len(texts)
                    texts.append(text)
                message = {**message, "text": at}
            packed.append(message)
        sockets[connection] = packed
    return framed({"texts": texts, "sockets": sockets})


def unpack_taken(value: Any) -> Taken:
    texts: list[str] = value["texts"]
    sockets: Taken = value["sockets"]
    for messages in sockets.values():
        for message in messages:
            if isinstance(message.get("text"), int):
                message["text"] = texts[message["text"]]
    return sockets


class TakeServer:
    """The worker's side: answers each take of a connected web process with ``take``."""

    def __init__(self, take: Take, hello_seconds: float = HELLO_SECONDS) -> None:
        self.take = take
        self.hello_seconds = hello_seconds
        self.secret = secrets.token_hex(16)
        self.server: asyncio.Server | None = None
        self.address: tuple[str, int] = ("", 0)

    async def start(self, host: str) -> None:
        self.server = await asyncio.start_server(self._serve, host, 0)
        self.address = (host, int(self.server.sockets[0].getsockname()[1]))

    def where(self) -> dict[str, Any]:
        return {"host": self.address[0], "port": self.address[1], "secret": self.secret}

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(self.hello_seconds):  # a web process sends it at once
                hello = await read_message(reader, HELLO_LIMIT)
            if not (
                isinstance(hello, dict)
                and isinstance(hello.get("secret"), str)
                and secrets.compare_digest(hello["secret"], self.secret)
                and isinstance(hello.get("relay"), str)
            ):
                log.warning("a take connection without the secret was closed")
                return
            relay: str = hello["relay"]
            while True:
                request = await read_message(reader, REQUEST_LIMIT)
                taken = await self.take(relay, list(request["connections"]), request["wait"])
                writer.write(pack_taken(taken))
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the web process went away
        except TimeoutError:
            log.warning("a take connection that never gave the secret was closed")
        except (ValueError, KeyError, TypeError, msgpack.UnpackException) as error:
            log.warning("a take connection sent a bad message: %s", error)
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()


class TakeChannel:
    """The web process's side for one worker: ``take`` over the stream, connected on first
    use (and again after it broke) to where the worker says it listens."""

    def __init__(self, worker: Any, relay: str) -> None:
        self.worker = worker
        self.relay = relay
        self.stream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def take(self, connections: list[str], wait: float) -> Taken:
        """The messages waiting for these sockets (``SessionWorker.ws_take``'s answer). A Ray
        error (the worker is restarting) or ``ChannelLostError`` when the worker is gone."""
        if self.stream is None:
            self.stream = await self._connect()
        reader, writer = self.stream
        try:
            writer.write(framed({"connections": connections, "wait": wait}))
            await writer.drain()
            async with asyncio.timeout(wait + ANSWER_GRACE_SECONDS):  # no task, as wait_for's
                taken = unpack_taken(await read_message(reader, ANSWER_LIMIT))
        except (
            OSError,
            EOFError,
            TimeoutError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            msgpack.UnpackException,
        ) as error:
            self.close()
            raise ChannelLostError(f"the take stream broke: {type(error).__name__}") from None
        return taken

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        where = await self.worker.take_address.remote()
        try:
            reader, writer = await asyncio.open_connection(where["host"], where["port"])
        except OSError as error:
            raise ChannelLostError(f"the worker's take port refused: {error}") from None
        writer.write(framed({"secret": where["secret"], "relay": self.relay}))
        return reader, writer

    def close(self) -> None:
        if self.stream is not None:
            self.stream[1].close()
            self.stream = None
