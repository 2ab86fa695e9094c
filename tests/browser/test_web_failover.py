"""The page behind a proxy in front of two web processes joined to one Ray cluster
(``--ray-address``): when the web process serving it dies, the proxy sends the page's next
connection to the other, and the page reconnects by itself and plays on — the same session,
its training never stopped (it lives on a worker, not in the web process)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")  # Ray on 127.0.0.1 only

pytest.importorskip("ray")

from cluster.servers import ray_head, start_server, stop_server
from ray.cluster_utils import Cluster

from .conftest import free_port, opened

pytestmark = pytest.mark.timeout(600)


class Proxy:
    """A TCP proxy on loopback, as a load balancer in front of the web processes: each new
    connection goes to the current target; ``switch`` moves new connections elsewhere."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.port = free_port()
        self.loop = asyncio.new_event_loop()
        self.started = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        assert self.started.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        server = self.loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", self.port)
        )
        self.started.set()
        self.loop.run_forever()
        server.close()
        pending = asyncio.all_tasks(self.loop)
        for task in pending:
            task.cancel()
        self.loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        self.loop.close()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target)
        except OSError:
            writer.close()
            return

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError):
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            sink.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))

    def switch(self, target: int) -> None:
        self.target = target

    def stop(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def head() -> Iterator[Cluster]:
    cluster = ray_head()
    try:
        yield cluster
    finally:
        cluster.shutdown()


def test_the_page_reconnects_through_the_proxy_when_its_web_process_dies(
    page: Page, head: Cluster, tmp_path: Path
) -> None:
    options = ("--ray-address", head.address, "--workers", "1")
    a = start_server(tmp_path, *options)  # starts the worker; B finds it
    try:
        b = start_server(tmp_path, *options)
        proxy = Proxy(a.port)
        try:
            with opened(page, f"http://127.0.0.1:{proxy.port}") as playground:
                sockets = len([u for u in playground.requests if "/ws/" in u])
                playground.play_until("state.step >= 100")
                session = playground.state()["sessionId"]
                proxy.switch(b.port)  # the balancer's next choice: B
                stop_server(a, signal.SIGKILL)  # A dies mid-play, its sockets with it
                playground.wait_for(
                    f"state.connection === 'live' && state.step > {playground.state()['step']}",
                    timeout=30_000,
                )
                reopened = [u for u in playground.requests if "/ws/" in u][sockets:]
                assert reopened, "the page did not open a new socket"
                state = playground.state()
                assert state["sessionId"] == session and state["playing"]
                playground.wait_for(f"state.step > {state['step'] + 300}", timeout=30_000)
        finally:
            proxy.stop()
            stop_server(b)
    finally:
        stop_server(a)
