"""Logs: a line per request and per session event, and never a token — checked on the real
`python -m app` command, whose uvicorn also logs websocket paths with their query string."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from ws.server import free_port

from app.logs import mask_tokens

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


# Every spelling the server reads as ``token`` (the query is percent-decoded), and more.
SPELLINGS = ["token", "?token", "tok%65n", "%74oken", "%74%6F%6B%65%6E", "TOKEN", "x=1&token"]


def test_mask_tokens_drops_every_query_string() -> None:
    assert mask_tokens("/ws/sessions/abc?token=SECRET&x=1") == "/ws/sessions/abc?***"
    assert mask_tokens('"WebSocket /ws/s/a?tok%65n=SECRET" [accepted]') == (
        '"WebSocket /ws/s/a?***" [accepted]'
    )
    for spelling in SPELLINGS:
        assert "SECRET" not in mask_tokens(f'x - "WebSocket /ws/s/a?{spelling}=SECRET" 403')
    assert mask_tokens("is it there? yes") == "is it there? yes"  # prose keeps its '?'


def test_the_command_logs_requests_and_events_but_no_token(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "server.log"
    with log_file.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "app", "--port", str(port), "--data-dir", str(tmp_path)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(base + "/api/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        created = httpx.post(base + "/api/sessions", json={"preset": "circle"}).json()
        token, watch = created["token"], created["watch_token"]
        path = f"/api/sessions/{created['id']}"
        httpx.post(
            base + path + "/step",
            json={"unit": "batch", "count": 1},
            headers={"Authorization": f"Bearer {token}"},
        )

        secrets = [
            *(
                (f"{spelling}={secret}", secret)
                for spelling in SPELLINGS
                for secret in (token, watch)
            ),
            ("token=not-a-token", "not-a-token"),
            ('a="b&token=' + watch, watch),
        ]

        async def sockets() -> None:
            for query, _ in secrets:
                url = f"ws://127.0.0.1:{port}/ws/sessions/{created['id']}?{query}"
                try:
                    async with connect(url) as socket:
                        await asyncio.wait_for(socket.recv(), timeout=5)
                except Exception:  # the bad token is refused: only its log line matters
                    pass

        asyncio.run(sockets())
        time.sleep(0.5)
    finally:
        server.terminate()
        server.wait(timeout=10)
    log = log_file.read_text()
    assert f"POST {path}/step 200" in log  # one line per request
    assert "session created" in log  # and per session event
    assert f"/ws/sessions/{created['id']}?***" in log  # websocket paths were logged, masked
    for query, secret in secrets:
        assert secret not in log, query
