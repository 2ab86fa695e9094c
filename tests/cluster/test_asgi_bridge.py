"""A worker's side, without Ray: requests and sockets run against the app in-process, the
socket bridge stays bounded, and a session is found by any app on the same store."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
from fastapi import FastAPI

from app.cluster.asgi import OUTGOING_LIMIT, Request, SocketBridge, call_http
from app.main import create_app
from app.settings import Settings


def request(method: str, path: str, body: Any = None, token: str | None = None) -> Request:
    headers = [(b"host", b"127.0.0.1"), (b"content-type", b"application/json")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    return Request(
        method, path, b"", headers, b"" if body is None else orjson.dumps(body), ("127.0.0.1", 5)
    )


async def create(app: FastAPI, preset: str = "circle") -> dict[str, Any]:
    response = await call_http(app, request("POST", "/api/sessions", {"preset": preset}))
    assert response.status == 201, response.body
    created: dict[str, Any] = orjson.loads(response.body)
    return created


def test_a_request_runs_through_the_app_in_process(tmp_path: Path) -> None:
    async def run() -> None:
        app = create_app(Settings(data_dir=tmp_path))
        async with app.router.lifespan_context(app):
            session = await create(app)
            url = f"/api/sessions/{session['id']}"
            step = request("POST", f"{url}/step", {"unit": "batch", "count": 3}, session["token"])
            stepped = await call_http(app, step)
            assert stepped.status == 200
            read = await call_http(app, request("GET", url, token=session["watch_token"]))
            assert orjson.loads(read.body)["step"] == 3
            denied = await call_http(app, request("GET", url))
            assert denied.status == 401
            assert (b"content-type", b"application/json") in denied.headers

    asyncio.run(run())


def test_a_session_is_found_by_another_app_on_the_store_and_forgotten_by_its_maker(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        maker = create_app(Settings(data_dir=tmp_path))
        host = create_app(Settings(data_dir=tmp_path))
        session = await create(maker)
        url = f"/api/sessions/{session['id']}"
        step = request("POST", f"{url}/step", {"unit": "batch", "count": 5}, session["token"])
        assert (await call_http(maker, step)).status == 200
        maker.state.manager.forget(session["id"])
        assert maker.state.manager.loaded() == []
        read = await call_http(host, request("GET", url, token=session["token"]))
        assert read.status == 200
        state = orjson.loads(read.body)
        assert state["step"] == 5  # the answered step was stored before it was answered
        [loaded] = host.state.manager.loaded()
        assert loaded.id == session["id"]

    asyncio.run(run())


async def take(bridge: SocketBridge, ready: asyncio.Event) -> list[dict[str, Any]]:
    """What the bridge holds once it has said it has something (as a worker's take does)."""
    await asyncio.wait_for(ready.wait(), 10)
    ready.clear()
    return bridge.drain()


async def take_until(bridge: SocketBridge, ready: asyncio.Event, want: str) -> list[dict[str, Any]]:
    """The app's messages up to the first ``websocket.send`` whose JSON type is ``want``."""
    seen: list[dict[str, Any]] = []
    for _ in range(200):
        for message in await take(bridge, ready):
            seen.append(message)
            sent = message["type"] == "websocket.send"
            if sent and orjson.loads(message["text"])["type"] == want:
                return seen
    raise AssertionError(f"no {want!r} in {[m['type'] for m in seen]}")


def test_a_socket_bridge_plays_stays_bounded_and_skips_frames_for_a_slow_taker(
    tmp_path: Path,
) -> None:
    async def run() -> None:
        app = create_app(Settings(data_dir=tmp_path))
        async with app.router.lifespan_context(app):
            session = await create(app)
            ws = request("GET", f"/ws/sessions/{session['id']}", token=None)
            ws.query = f"token={session['token']}".encode()
            ready = asyncio.Event()
            bridge = SocketBridge(app, ws, ready.set)
            opened = await take_until(bridge, ready, "hello")
            assert opened[0]["type"] == "websocket.accept"
            play = {"type": "play", "unit": "batch", "rate": None}
            await bridge.push({"type": "websocket.receive", "text": orjson.dumps(play).decode()})
            await take_until(bridge, ready, "frame")
            await asyncio.sleep(1.0)  # nobody takes: the app must wait, not queue
            assert bridge.outgoing.qsize() <= OUTGOING_LIMIT
            seqs = []
            for _ in range(6):
                for message in await take(bridge, ready):
                    if message["type"] == "websocket.send":
                        parsed = orjson.loads(message["text"])
                        if parsed["type"] == "frame":
                            seqs.append(parsed["seq"])
            assert seqs == sorted(seqs)
            # A second of play at 30 frames/s made ~30 frames; the slow taker got a handful,
            # the newest: latest wins.
            assert seqs[-1] - seqs[0] > len(seqs)
            await bridge.push({"type": "websocket.disconnect", "code": 1000})
            ends = [m["type"] for m in await take(bridge, ready)]
            while "bridge.end" not in ends:
                ends += [m["type"] for m in await take(bridge, ready)]
            assert bridge.closed

    asyncio.run(run())
