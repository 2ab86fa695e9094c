"""The page on a server with its sessions on a Ray worker (``--workers 1``): when the worker
process is killed, Ray restarts it, the page says so (the ``recovered`` event), shows the
session as stored, and plays on."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page

from .conftest import ROOT, Playground, free_port, opened, wait_until_healthy

pytest.importorskip("ray")


def session_workers() -> list[int]:
    """The processes of our Ray session workers (their process title says so)."""
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if (proc / "cmdline").read_bytes().startswith(b"ray::SessionWorker"):
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data_dir = tmp_path_factory.mktemp("cluster-data")
    env = {
        **os.environ,
        "PLAYGROUND_LOG_LEVEL": "warning",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
    }
    command = [sys.executable, "-m", "app", "--port", str(port), "--data-dir", str(data_dir)]
    with (data_dir / "server.log").open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", "1"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            start_new_session=True,  # Ray's processes go with it at the end
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url
        finally:
            process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def test_a_killed_worker_is_told_and_the_page_plays_on(page: Page, cluster_url: str) -> None:
    with opened(page, cluster_url) as playground:
        run(playground)


def run(playground: Playground) -> None:
    playground.play_until("state.step >= 100")
    playground.pause()
    [worker] = session_workers()
    os.kill(worker, signal.SIGKILL)
    notice = playground.page.get_by_test_id("notice")
    notice.wait_for(state="visible", timeout=60_000)
    assert "worker restarted" in notice.inner_text()
    playground.wait_for("state.connection === 'live'")
    deadline = time.monotonic() + 60
    while session_workers() == [worker] and time.monotonic() < deadline:
        time.sleep(0.2)
    assert session_workers() and session_workers() != [worker]
    stored = playground.state()["step"]
    assert stored >= 100  # paused (so stored) at 100 or more: nothing answered is lost
    playground.play_until(f"state.step > {stored + 100}")
