"""Browser tests: a real server (uvicorn in a subprocess) and Debian's headless Chromium.

- ``server_url``: the server, started once per run on a free port with a temporary data
  folder, stopped at the end;
- ``browser_type_launch_args``: Playwright drives /usr/bin/chromium and never downloads one;
- ``playground``: a page on the server, live, whose console errors, page errors and request
  URLs are recorded; at the end of the test it asserts there were no errors and no request
  to any other host (a test that leaves it playing is paused first).

Screenshots go to tests/artifacts/ (git-ignored).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import ConsoleMessage, Page, WebSocket

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = Path("/usr/bin/chromium")
SERVER_START_SECONDS = 30.0
LIVE_TIMEOUT_MS = 20_000
VIEWPORT = {"width": 1280, "height": 720}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def wait_until_healthy(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/api/health", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise RuntimeError(f"the server at {url} did not answer /api/health in time")


# Every browser context is a browser of its own (its own bp_client cookie, its per-client
# quotas), but the whole suite comes from 127.0.0.1: the address's caps are the suite's.
WHOLE_SUITE_ON_ONE_ADDRESS = {
    "PLAYGROUND_MAX_CLIENTS_PER_ADDRESS": "100000",
    "PLAYGROUND_MAX_SESSIONS_PER_ADDRESS": "100000",
    "PLAYGROUND_MAX_CLASSES_PER_ADDRESS": "100000",
    "PLAYGROUND_MAX_UPLOADS_PER_ADDRESS": "100000",
    "PLAYGROUND_MAX_SOCKETS_PER_ADDRESS": "100000",
    "PLAYGROUND_ANSWERS_PER_MINUTE_PER_ADDRESS": "1e9",
}


@contextlib.contextmanager
def running_server(factory: str, data_dir: Path) -> Iterator[str]:
    """uvicorn serving the app `factory` ("module:function") on a free port, until exit."""
    port = free_port()
    env = {
        **os.environ,
        "PLAYGROUND_DATA_DIR": str(data_dir),
        "PLAYGROUND_LOG_LEVEL": "warning",
        **WHOLE_SUITE_ON_ONE_ADDRESS,
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", factory,
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
        "--no-proxy-headers",  # as backprop-playground runs it
    ]  # fmt: skip
    with (data_dir / "server.log").open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=log)
        url = f"http://127.0.0.1:{port}"
        try:
            wait_until_healthy(url, process)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real server: uvicorn serving app.main:create_app on a free port."""
    with running_server("app.main:create_app", tmp_path_factory.mktemp("server-data")) as url:
        yield url


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """Debian's Chromium, headless; nothing that would reach out to another host."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: `make browser-deps` installs Debian's chromium")
    return {
        "executable_path": str(CHROMIUM),
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args() -> dict[str, Any]:
    return {"viewport": VIEWPORT}


@dataclass
class Playground:
    """A page on the playground, with what it logged and requested."""

    page: Page
    url: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    # ----- reading ------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        """window.playgroundState: the latest frame's summary."""
        state: dict[str, Any] = self.page.evaluate("window.playgroundState")
        return state

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self.page.evaluate(
            "({received: playgroundStats.received, applied: playgroundStats.applied,"
            " dropped: playgroundStats.dropped, deferred: playgroundStats.deferred,"
            " fps: playgroundStats.fps, lag: playgroundStats.lagPercentiles(),"
            " viewMs: playgroundStats.viewMs})"
        )
        return stats

    def plot(self, element_id: str) -> list[dict[str, Any]]:
        """The traces Plotly holds for a chart (its el.data), as JSON."""
        traces: list[dict[str, Any]] = self.page.evaluate(
            "id => JSON.parse(JSON.stringify(document.getElementById(id).data || []))", element_id
        )
        return traces

    def server_session(self, include_trace: bool = False) -> dict[str, Any]:
        """GET /api/sessions/{id}, outside the browser (so not among its requests)."""
        state = self.state()
        trace = "true" if include_trace else "false"
        request = urllib.request.Request(
            f"{self.url}/api/sessions/{state['sessionId']}?include_trace={trace}",
            headers={"Authorization": f"Bearer {state['token']}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            session: dict[str, Any] = json.loads(response.read())
            return session

    def wait_server(self, predicate: Callable[[dict[str, Any]], bool], seconds: float = 10) -> None:
        """Wait until the server's copy of the session satisfies `predicate`."""
        deadline = time.monotonic() + seconds
        while not predicate(self.server_session()):
            if time.monotonic() > deadline:
                raise AssertionError("the server's session never reached the expected state")
            time.sleep(0.1)

    # ----- waiting ------------------------------------------------------------------------

    def wait_for(self, expression: str, arg: Any = None, timeout: float = 15_000) -> Any:
        """Wait until a JS expression (of `state`, the page's playgroundState) is truthy."""
        return self.page.wait_for_function(
            f"arg => {{ const state = window.playgroundState; return {expression}; }}",
            arg=arg,
            timeout=timeout,
        ).json_value()

    def wait_live(self) -> None:
        """Connected, and showing a session."""
        self.wait_for(
            "state && state.connection === 'live' && state.sessionId", timeout=LIVE_TIMEOUT_MS
        )

    def wait_new_session(self, previous_id: str) -> None:
        self.wait_for("state.connection === 'live' && state.sessionId !== arg", previous_id)

    def wait_version_after(self, version: int) -> None:
        """The page has applied a change the server made after `version`."""
        self.wait_for("state.version > arg", version)

    # ----- acting -------------------------------------------------------------------------

    def step(self, times: int = 1) -> None:
        for _ in range(times):
            version = self.state()["version"]
            self.page.click("#step-button")
            self.wait_version_after(version)

    def play_until(self, expression: str, timeout: float = 30_000) -> None:
        self.page.click("#play-button")
        self.wait_for("state.playing", timeout=10_000)
        self.wait_for(expression, timeout=timeout)

    def pause(self) -> None:
        if self.state()["playing"]:
            self.page.click("#play-button")
            self.wait_for("!state.playing")

    def screenshot(self, name: str, selector: str | None = None) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / name
        if selector is None:
            self.page.screenshot(path=path)
        else:
            locator = self.page.locator(selector)
            locator.scroll_into_view_if_needed()
            self.page.wait_for_timeout(300)  # the scheduler draws a view once it is in sight
            locator.screenshot(path=path)
        return path

    # ----- checking -----------------------------------------------------------------------

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the server (data: and blob: URLs are the page's own)."""
        server = urlsplit(self.url).netloc
        return [
            url
            for url in self.requests
            if not url.startswith(("data:", "blob:")) and urlsplit(url).netloc != server
        ]


# A browser that has seen its first batch in slow motion (static/js/first-run.js): every
# test but test_first_use.py's is a returning visitor, so Play runs at the chosen pace.
SEEN_FIRST_BATCH = "try { localStorage.setItem('playground.firstBatchShown', '1'); } catch (e) {}"


@contextlib.contextmanager
def opened(page: Page, url: str, first_visit: bool = False) -> Iterator[Playground]:
    """The page at `url`, live on the default preset; checked for errors when done.
    `first_visit`: as a browser that never saw the playground (the first batch in slow
    motion); otherwise as a returning one."""
    driver = Playground(page, url)
    if not first_visit:
        page.add_init_script(SEEN_FIRST_BATCH)

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            driver.errors.append(f"console: {message.text}")

    def on_websocket(websocket: WebSocket) -> None:
        driver.requests.append(websocket.url)

    page.on("console", on_console)
    page.on("pageerror", lambda error: driver.errors.append(f"page error: {error}"))
    page.on("request", lambda request: driver.requests.append(request.url))
    page.on("websocket", on_websocket)
    page.goto(url)
    driver.wait_live()
    yield driver
    # Never leave a session training on the shared server (one that ended on a closed
    # session has nothing to pause).
    with contextlib.suppress(Exception):
        driver.pause()
    assert driver.errors == [], "the page logged errors"
    assert driver.foreign_requests() == [], "the page requested another host"


@pytest.fixture
def playground(page: Page, server_url: str) -> Iterator[Playground]:
    """The page on the session's server, live; no console errors, no other host."""
    with opened(page, server_url) as driver:
        yield driver
