"""The take stream without Ray: a web process takes its sockets' messages from a worker over
TCP on loopback; the messages arrive as the app sent them, a connection without the worker's
secret gets nothing (nor holds its connection past the hello time), and a broken stream is
reported, then connected again to where the (restarted) worker now listens."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

pytest.importorskip("msgpack")

from app.cluster.takes import (
    ANSWER_LIMIT,
    ChannelLostError,
    TakeChannel,
    TakeServer,
    framed,
    pack_taken,
    read_message,
    unpack_taken,
)

ACCEPT = {"type": "websocket.accept", "subprotocol": None, "headers": [(b"x-a", b"1")]}
TEXT = {"type": "websocket.send", "text": '{"type":"frame","step":3,"loss":0.25}'}
BINARY = {"type": "websocket.send", "bytes": b"\x00\xff frame"}
CLOSE = {"type": "websocket.close", "code": 1000, "reason": "done"}


class Worker:
    """Stands for the actor: ``take_address.remote()`` says where its take server listens."""

    def __init__(self) -> None:
        self.takes: list[tuple[str, list[str], float]] = []
        self.server = TakeServer(self.take)
        self.asked = 0
        self.take_address = self
        self.break_next = False

    async def take(self, relay: str, connections: list[str], wait: float) -> dict[str, Any]:
        self.takes.append((relay, connections, wait))
        if self.break_next:  # an answer the stream cannot carry: the worker drops the stream
            self.break_next = False
            return {c: [{"type": "websocket.send", "text": object()}] for c in connections}
        return {c: [ACCEPT, TEXT, BINARY, CLOSE] for c in connections if c != "quiet"}

    async def where(self) -> dict[str, Any]:
        self.asked += 1
        return self.server.where()

    def remote(self) -> Any:
        return self.where()


def test_a_take_brings_the_apps_messages_as_sent() -> None:
    async def run() -> None:
        worker = Worker()
        await worker.server.start("127.0.0.1")
        channel = TakeChannel(worker, relay="web-a")
        taken = await channel.take(["c1", "quiet", "c2"], 2.5)
        again = await channel.take(["c2"], 1.0)
        channel.close()
        assert set(taken) == {"c1", "c2"}
        for messages in (taken["c1"], taken["c2"], again["c2"]):
            assert [m["type"] for m in messages] == [m["type"] for m in (ACCEPT, TEXT, BINARY)] + [
                "websocket.close"
            ]
            assert messages[0]["headers"] == [[b"x-a", b"1"]]  # pairs, as ASGI allows
            assert messages[1]["text"] == TEXT["text"] and isinstance(messages[1]["text"], str)
            assert messages[2]["bytes"] == BINARY["bytes"] and isinstance(
                messages[2]["bytes"], bytes
            )
            assert messages[3] == CLOSE
        assert worker.takes == [("web-a", ["c1", "quiet", "c2"], 2.5), ("web-a", ["c2"], 1.0)]
        assert worker.asked == 1  # one connection for both takes

    asyncio.run(run())


def test_a_connection_without_the_secret_gets_nothing() -> None:
    async def run() -> None:
        worker = Worker()
        await worker.server.start("127.0.0.1")
        host, port = worker.server.address
        for hello in ({"secret": "0" * 32, "relay": "x"}, {"relay": "x"}, ["not", "a", "dict"]):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(framed(hello) + framed({"connections": ["c1"], "wait": 1.0}))
            await writer.drain()
            assert await reader.read() == b""  # closed, nothing answered
            writer.close()
        reader, writer = await asyncio.open_connection(host, port)
        writer.write((10**6).to_bytes(4, "big"))  # a hello too long to be one: closed unread
        await writer.drain()
        assert await reader.read() == b""
        writer.close()
        assert worker.takes == []

    asyncio.run(run())


def test_a_connection_that_never_gives_the_secret_is_closed_after_the_hello_time() -> None:
    async def run() -> None:
        worker = Worker()
        worker.server = TakeServer(worker.take, hello_seconds=0.3)
        await worker.server.start("127.0.0.1")
        host, port = worker.server.address
        silent = await asyncio.open_connection(host, port)
        half = await asyncio.open_connection(host, port)
        half[1].write((100).to_bytes(4, "big") + b"\x81")  # a hello begun, never finished
        await half[1].drain()
        for reader, writer in (silent, half):
            assert await asyncio.wait_for(reader.read(), 5) == b""  # closed by the worker
            writer.close()
        channel = TakeChannel(worker, relay="web-a")  # a web process that says it at once
        assert set(await channel.take(["c1"], 0.1)) == {"c1"}
        channel.close()

    asyncio.run(run())


def test_a_broken_stream_is_reported_then_joined_again_where_the_worker_now_is() -> None:
    async def run() -> None:
        worker = Worker()
        await worker.server.start("127.0.0.1")
        channel = TakeChannel(worker, relay="web-a")
        assert "c1" in await channel.take(["c1"], 1.0)
        worker.break_next = True
        with pytest.raises(ChannelLostError):
            await channel.take(["c1"], 1.0)
        # The worker "restarted": a new server, port and secret.
        old = worker.server
        worker.server = TakeServer(worker.take)
        await worker.server.start("127.0.0.1")
        assert worker.server.secret != old.secret
        assert "c1" in await channel.take(["c1"], 1.0)
        assert worker.asked == 2
        channel.close()

    asyncio.run(run())


def test_a_message_over_its_limit_is_refused() -> None:
    async def run() -> None:
        reader = asyncio.StreamReader()
        reader.feed_data(framed({"connections": ["c"] * 100, "wait": 1.0}))
        with pytest.raises(ValueError, match="over 64"):
            await read_message(reader, 64)

    asyncio.run(run())


def test_sockets_watching_one_frame_get_it_in_one_copy_on_the_stream() -> None:
    frame = '{"type":"frame","w":"' + "7" * 10_000 + '"}'  # one encoding, as a Frame keeps
    other = "".join(["{", '"type":"frame","mine":1', "}"])
    taken = {f"watcher-{i}": [{"type": "websocket.send", "text": frame}] for i in range(100)}
    taken["player"] = [{"type": "websocket.send", "text": other}, BINARY]
    data = pack_taken(taken)
    assert len(data) < 2 * len(frame)  # not 100 copies

    async def run() -> dict[str, Any]:
        reader = asyncio.StreamReader()
        reader.feed_data(data)
        return unpack_taken(await read_message(reader, ANSWER_LIMIT))

    assert asyncio.run(run()) == taken
