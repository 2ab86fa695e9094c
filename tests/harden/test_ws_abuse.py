"""Websocket abuse against a real uvicorn on loopback: malformed and huge messages, floods,
a client that never reads, and thousands of connect/disconnect cycles. The server keeps
serving others, and its memory and open-file counts come back to where they were."""

from __future__ import annotations

import asyncio
import os
import time

import orjson
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from ws.server import Server, running_server, stalled_socket

pytestmark = pytest.mark.slow


def open_files(server: Server) -> int:
    return len(os.listdir(f"/proc/{server.process.pid}/fd"))


async def next_of(socket: ClientConnection, kind: str, timeout: float = 5.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {kind!r} message within {timeout} s")
        message = orjson.loads(await asyncio.wait_for(socket.recv(), timeout=left))
        if message["type"] == kind:
            return dict(message)


async def frames_within(socket: ClientConnection, seconds: float) -> int:
    count, deadline = 0, time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        try:
            message = await asyncio.wait_for(socket.recv(), timeout=left)
        except TimeoutError:
            break
        count += orjson.loads(message)["type"] == "frame"
    return count


def url(server: Server, session: dict[str, str], token: str | None = None) -> str:
    return server.ws(f"/ws/sessions/{session['id']}?token={token or session['token']}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Server:
    with running_server(
        tmp_path_factory.mktemp("abuse"), PLAYGROUND_MAX_WS_COMMANDS_PER_SECOND="20"
    ) as running:
        yield running  # type: ignore[misc]


def test_garbage_is_answered_with_errors_and_the_connection_stays_usable(server: Server) -> None:
    session = server.create_session({"preset": "circle"})

    async def scenario() -> None:
        async with connect(url(server, session), max_size=2**24) as socket:
            await next_of(socket, "hello")
            garbage: list[str | bytes] = [
                "{not json",
                "[1, 2, 3]",
                '"a string"',
                '{"type": "teleport"}',
                '{"no_type": true}',
                '{"type": "step", "unit": "fortnight", "count": 1}',
                '{"type": "step", "unit": "batch", "count": -5}',
                '{"type": "play", "rate": "fast"}',
                b"\x00\xff\xfe binary",
                '{"type": "subscribe", "max_fps": ' + "9" * 400 + "}",
            ]
            for message in garbage:
                await socket.send(message)
                error = await next_of(socket, "error")
                assert isinstance(error["message"], str) and error["message"]
            huge = orjson.dumps({"type": "subscribe", "fields": ["x" * 200_000]})
            await socket.send(huge.decode())
            error = await next_of(socket, "error")
            assert "too large" in str(error["message"])
            # Still a working connection: a valid command is obeyed.
            await asyncio.sleep(1.1)  # let the command bucket refill after the garbage
            await socket.send(orjson.dumps({"type": "step", "unit": "batch", "count": 3}).decode())
            frame = await next_of(socket, "frame")
            while frame["step"] != 3:
                frame = await next_of(socket, "frame")

    asyncio.run(scenario())


def test_a_command_flood_is_throttled_while_another_client_keeps_its_frames(
    server: Server,
) -> None:
    flooded = server.create_session({"preset": "circle"})
    other = server.create_session({"preset": "circle"})

    async def scenario() -> None:
        async with (
            connect(url(server, flooded)) as attacker,
            connect(url(server, other)) as bystander,
        ):
            await next_of(attacker, "hello")
            await next_of(bystander, "hello")
            await bystander.send(orjson.dumps({"type": "play", "rate": 50}).decode())
            await bystander.send(orjson.dumps({"type": "subscribe", "max_fps": 20}).decode())
            flood = orjson.dumps({"type": "step", "unit": "batch", "count": 1}).decode()

            async def attack() -> None:
                for _ in range(2000):
                    await attacker.send(flood)

            attack_task = asyncio.create_task(attack())
            received = await frames_within(bystander, 3.0)
            await attack_task
            await bystander.send(orjson.dumps({"type": "pause"}).decode())
            errors = 0
            with_deadline = time.monotonic() + 3
            while time.monotonic() < with_deadline:
                try:
                    message = orjson.loads(await asyncio.wait_for(attacker.recv(), timeout=0.5))
                except TimeoutError:
                    break
                if message["type"] == "error" and "too many" in message["message"]:
                    errors += 1
            assert errors > 0, "a flood of 2000 commands must be throttled with errors"
            # Liveness, not speed: the bystander's stream (20/s cap) keeps flowing.
            assert received >= 10, f"the bystander got only {received} frames in 3 s"

    asyncio.run(scenario())


def test_a_client_that_never_reads_does_not_stop_the_others(server: Server) -> None:
    session = server.create_session({"preset": "circle"})
    stalled = stalled_socket(
        server.port,
        f"/ws/sessions/{session['id']}?token={session['token']}",
        {"type": "play", "rate": None},
    )
    try:

        async def watch() -> int:
            async with connect(url(server, session, session["watch_token"])) as watcher:
                await next_of(watcher, "hello")
                return await frames_within(watcher, 3.0)

        # Liveness, not speed: frames keep coming (≈ 30/s) while the stalled client hangs.
        assert asyncio.run(watch()) >= 10
    finally:
        stalled.close()


def test_thousands_of_connects_leave_memory_and_open_files_where_they_were(
    server: Server,
) -> None:
    session = server.create_session({"preset": "circle"})

    async def cycles(n: int) -> None:
        for k in range(n):
            token = session["token"] if k % 2 == 0 else "wrong-token"
            try:
                async with connect(url(server, session, token), open_timeout=5) as socket:
                    await asyncio.wait_for(socket.recv(), timeout=5)
            except ConnectionClosed:
                pass

    asyncio.run(cycles(200))  # warm up: imports, caches, the hub
    time.sleep(0.5)
    files_before, memory_before = open_files(server), server.rss_kib()
    asyncio.run(cycles(2000))
    deadline = time.monotonic() + 10
    while open_files(server) > files_before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)  # closing sockets finish their handshakes
    files_after, memory_after = open_files(server), server.rss_kib()
    assert files_after <= files_before + 2, (files_before, files_after)
    grown_mib = (memory_after - memory_before) / 1024
    assert grown_mib < 15, f"memory grew {grown_mib:.1f} MiB over 2000 connections"
    # And the server still serves.
    assert server.create_session({"preset": "circle"})["id"]


def test_unknown_session_and_bad_token_close_with_clear_codes(server: Server) -> None:
    session = server.create_session({"preset": "circle"})

    async def close_code(target: str) -> tuple[int, str]:
        async with connect(target) as socket:
            try:
                await asyncio.wait_for(socket.recv(), timeout=5)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None
                return closed.rcvd.code, closed.rcvd.reason
        raise AssertionError("the server should have closed the socket")

    code, reason = asyncio.run(close_code(url(server, session, "nope")))
    assert code == 4401 and "token" in reason
    code, reason = asyncio.run(close_code(server.ws("/ws/sessions/nope?token=x")))
    assert code == 4404 and "session" in reason
