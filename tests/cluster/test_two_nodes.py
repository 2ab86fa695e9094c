"""The whole deployment on this machine, loopback only: a Ray head and a second Ray node,
PostgreSQL, and two web processes joined with ``--ray-address``.

A session created through web process A is stepped through B and watched live from both with
identical frames; it keeps serving when A is killed (A's watcher reconnects to B and carries
on); when the worker hosting it is killed, Ray restarts it, the session comes back from the
store with every answered change, and B's client is told (``recovered``) and streams again.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
import websockets

ray = pytest.importorskip("ray")

from ray.cluster_utils import Cluster  # noqa: E402
from ws.server import Server  # noqa: E402

from app.cluster.owner import NAMESPACE, owner_of, worker_name  # noqa: E402

from .servers import NODE_OBJECT_STORE_BYTES, ray_head, start_server, stop_server  # noqa: E402

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]
WORKERS = 2


@pytest.fixture
def ray_cluster() -> Iterator[Cluster]:
    """A head and a second node, one CPU each: one session worker lands on each."""
    cluster = ray_head()
    try:
        cluster.add_node(num_cpus=1, object_store_memory=NODE_OBJECT_STORE_BYTES)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, namespace=NAMESPACE, log_to_driver=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()


class Live:
    """A websocket client that keeps every message it gets, in a task of its own."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.messages: list[dict[str, Any]] = []
        self.texts: dict[int, str] = {}  # frames by seq, as sent
        self.closed = asyncio.Event()
        self.ws: Any = None
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Live:
        self.ws = await websockets.connect(self.url)
        self.task = asyncio.create_task(self._read())
        await self.wait_for(lambda m: m["type"] == "hello")
        return self

    async def __aexit__(self, *exc: object) -> None:
        with contextlib.suppress(Exception):
            await self.ws.close()
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self.task

    async def _read(self) -> None:
        try:
            async for text in self.ws:
                message = orjson.loads(text)
                self.messages.append(message)
                if message["type"] == "frame":
                    self.texts[message["seq"]] = str(text)
        finally:
            self.closed.set()

    async def send(self, command: dict[str, Any]) -> None:
        await self.ws.send(orjson.dumps(command).decode())

    async def wait_for(self, test: Any, after: int = 0, seconds: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for message in self.messages[after:]:
                if test(message):
                    return message
            if self.closed.is_set():
                break
            await asyncio.sleep(0.05)
        raise AssertionError(f"not seen; last: {[m['type'] for m in self.messages[-5:]]}")

    def frame_count(self) -> int:
        return len(self.texts)


def worker_info(session_id: str) -> dict[str, Any]:
    worker = ray.get_actor(worker_name(owner_of(session_id, WORKERS)))
    info: dict[str, Any] = ray.get(worker.info.remote(), timeout=60)
    return info


async def scenario(a: Server, b: Server) -> None:
    async with httpx.AsyncClient(timeout=60) as http:
        created = (await http.post(f"{a.http}/api/sessions", json={"preset": "circle"})).json()
        sid, token, watch = created["id"], created["token"], created["watch_token"]
        control = {"Authorization": f"Bearer {token}"}
        # Stepped through B.
        stepped = await http.post(
            f"{b.http}/api/sessions/{sid}/step", json={"unit": "batch", "count": 3}, headers=control
        )
        assert stepped.status_code == 200, stepped.text
        assert (await http.get(f"{a.http}/api/sessions/{sid}", headers=control)).json()["step"] == 3
        host = worker_info(sid)
        assert host["sessions"] == [sid]  # in memory on its worker only
        other = ray.get(ray.get_actor(worker_name(1 - host["index"])).info.remote())
        assert sid not in other["sessions"]
        assert host["node_id"] != other["node_id"]  # one worker on each Ray node

        # Watched live from both web processes: the same frames.
        async with (
            Live(a.ws(f"/ws/sessions/{sid}?token={watch}")) as on_a,
            Live(b.ws(f"/ws/sessions/{sid}?token={token}")) as on_b,
        ):
            await on_b.send({"type": "play", "unit": "batch", "rate": 100})
            await on_a.wait_for(lambda m: m["type"] == "frame" and m["step"] > 10)
            while len(set(on_a.texts) & set(on_b.texts)) < 10:
                await asyncio.sleep(0.1)
            common = set(on_a.texts) & set(on_b.texts)
            assert all(on_a.texts[seq] == on_b.texts[seq] for seq in common)

            # A dies: B keeps serving; A's watcher reconnects to B and carries on.
            stop_server(a, signal.SIGKILL)
            await asyncio.wait_for(on_a.closed.wait(), 30)
            seen = on_b.frame_count()
            await on_b.wait_for(lambda m: m["type"] == "frame", after=len(on_b.messages))
            assert on_b.frame_count() > seen
            read = await http.get(f"{b.http}/api/sessions/{sid}", headers=control)
            assert read.status_code == 200
            async with Live(b.ws(f"/ws/sessions/{sid}?token={watch}")) as again:
                await again.wait_for(lambda m: m["type"] == "frame")

            # Answered changes, then the worker hosting the session dies.
            await on_b.send({"type": "pause"})
            await on_b.wait_for(lambda m: m.get("event") == "paused")
            stepped = await http.post(
                f"{b.http}/api/sessions/{sid}/step",
                json={"unit": "batch", "count": 7},
                headers=control,
            )
            answered_step = stepped.json()["state"]["step"]
            patched = await http.patch(
                f"{b.http}/api/sessions/{sid}", json={"learning_rate": 0.123}, headers=control
            )
            assert patched.status_code == 200, patched.text
            mark = len(on_b.messages)
            os.kill(host["pid"], signal.SIGKILL)

            recovered = await on_b.wait_for(lambda m: m.get("event") == "recovered", after=mark)
            assert "store" in recovered["message"]
            hello = await on_b.wait_for(lambda m: m["type"] == "hello", after=mark)
            assert hello["state"]["step"] == answered_step
            read = await http.get(f"{b.http}/api/sessions/{sid}", headers=control)
            state = read.json()
            assert state["step"] == answered_step
            assert state["config"]["model"]["learning_rate"] == 0.123
            back = worker_info(sid)
            assert back["restarted"] and back["pid"] != host["pid"]
            # The client carries on through the restarted worker.
            mark = len(on_b.messages)
            await on_b.send({"type": "step", "unit": "batch", "count": 2})
            frame = await on_b.wait_for(lambda m: m["type"] == "frame", after=mark)
            assert frame["step"] >= answered_step


def test_two_web_processes_two_ray_nodes_postgresql_and_faults(
    ray_cluster: Cluster, postgres_url: str, tmp_path: Path
) -> None:
    options = ("--ray-address", ray_cluster.address, "--workers", str(WORKERS))
    env = {"PLAYGROUND_DATABASE_URL": postgres_url}
    a = start_server(tmp_path / "a", *options, **env)
    try:
        b = start_server(tmp_path / "b", *options, **env)
        try:
            asyncio.run(scenario(a, b))
        finally:
            stop_server(b)
    finally:
        stop_server(a)
