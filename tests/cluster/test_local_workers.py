"""``--workers 2`` on this machine: REST and sockets through the web process to the session's
worker (Ray actors in processes of their own), the sessions in the SQLite file of the data
folder."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

pytest.importorskip("ray")

from ws.server import Server

from .servers import running

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running(tmp_path_factory.mktemp("workers"), "--workers", "2") as started:
        yield started


def worker_processes(server: Server) -> list[int]:
    """The Ray actor processes hosting this server's workers (their process title says so;
    they run in the server's session, which ``running`` started)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                command = (proc / "cmdline").read_bytes()
                session = os.getsid(int(proc.name))
            except OSError:
                continue
            if command.startswith(b"ray::SessionWorker") and session == server.process.pid:
                found.append(int(proc.name))
    return found


def test_rest_create_step_and_read_go_through_the_workers(server: Server) -> None:
    api = httpx.Client(base_url=f"{server.http}/api", timeout=30)
    assert len(worker_processes(server)) == 2
    sessions = [api.post("/sessions", json={"preset": "xor"}).json() for _ in range(4)]
    for n, session in enumerate(sessions, start=1):
        headers = {"Authorization": f"Bearer {session['token']}"}
        url = f"/sessions/{session['id']}"
        stepped = api.post(f"{url}/step", json={"unit": "batch", "count": n}, headers=headers)
        assert stepped.status_code == 200, stepped.text
        assert stepped.json()["done"] == n
    for n, session in enumerate(sessions, start=1):
        read = api.get(f"/sessions/{session['id']}", headers={"Authorization": "Bearer x"})
        assert read.status_code == 403  # the worker's app checks tokens, as ever
        read = api.get(
            f"/sessions/{session['id']}",
            headers={"Authorization": f"Bearer {session['watch_token']}"},
        )
        assert read.json()["step"] == n
    assert api.get("/sessions/nope", headers={"Authorization": "Bearer x"}).status_code == 404
    bad = api.post("/sessions", json={"preset": "nope"})
    assert bad.status_code == 422 and bad.json()["field"]


def test_an_upload_and_a_session_on_it_go_through(server: Server) -> None:
    api = httpx.Client(base_url=f"{server.http}/api", timeout=30)
    rows = "x1,x2,y\n" + "".join(f"{i % 3},{i % 5},{i % 2}\n" for i in range(20))
    uploaded = api.post("/datasets", files={"file": ("t.csv", rows.encode(), "text/csv")})
    assert uploaded.status_code == 201, uploaded.text
    upload = uploaded.json()
    created = api.post(
        "/sessions",
        json={"preset": "xor", "data": {"upload": upload["id"]}},
        headers={"Authorization": f"Bearer {upload['token']}"},
    )
    assert created.status_code == 201, created.text
    assert created.json()["state"]["n_train"] + created.json()["state"]["n_test"] == 20


async def frames(url: str, count: int, commands: list[dict[str, Any]]) -> dict[int, str]:
    """The first ``count`` frames a client gets (by seq, as sent), after sending commands."""
    got: dict[int, str] = {}
    async with websockets.connect(url) as ws:
        hello = orjson.loads(await ws.recv())
        assert hello["type"] == "hello"
        for command in commands:
            await ws.send(orjson.dumps(command).decode())
        while len(got) < count:
            text = await asyncio.wait_for(ws.recv(), 30)
            message = orjson.loads(text)
            if message["type"] == "frame":
                got[message["seq"]] = str(text)
    return got


def test_two_clients_through_the_worker_see_identical_frames(server: Server) -> None:
    session = httpx.post(f"{server.http}/api/sessions", json={"preset": "circle"}).json()
    base = server.ws(f"/ws/sessions/{session['id']}")
    subscribe = {"type": "subscribe", "max_fps": 30}

    async def both() -> tuple[dict[int, str], dict[int, str]]:
        watcher = asyncio.create_task(
            frames(f"{base}?token={session['watch_token']}", 40, [subscribe])
        )
        await asyncio.sleep(0.5)
        play = {"type": "play", "unit": "batch", "rate": 200}
        player = await frames(f"{base}?token={session['token']}", 40, [subscribe, play])
        return player, await watcher

    player, watcher = asyncio.run(both())
    common = sorted(set(player) & set(watcher))
    assert len(common) >= 10
    for seq in common:
        assert player[seq] == watcher[seq]  # the same frame, encoded once on the worker
    assert orjson.loads(player[common[-1]])["step"] > orjson.loads(player[common[0]])["step"]
