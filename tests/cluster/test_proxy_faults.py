"""The web process's proxy when a worker fails, with stand-in workers (no Ray processes): a
read waits for a restarting worker, a change in flight answers 503, the page and health stay
with the web process."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

pytest.importorskip("ray")

from app.cluster import proxy as proxy_module
from app.cluster.asgi import Request, Response
from app.cluster.proxy import ClusterProxy


class RestartingError(Exception):
    """Stands for Ray's RayActorError / ActorUnavailableError."""


class Call:
    def __init__(self, answer: Any) -> None:
        self.answer = answer

    def remote(self, request: Request) -> Any:
        return self.answer(request)


class FlakyWorker:
    """Fails its first ``failures`` calls as a restarting worker does, then answers 200."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls: list[str] = []
        self.http = Call(self.answer)

    async def answer(self, request: Request) -> Response:
        self.calls.append(f"{request.method} {request.path}")
        if self.failures:
            self.failures -= 1
            raise RestartingError
        return Response(200, [(b"content-type", b"application/json")], b'{"ok":true}')


async def local_app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served by the web process"})


async def call(proxy: ClusterProxy, method: str, path: str) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"{}", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {"type": "http", "method": method, "path": path, "headers": [], "query_string": b""}
    await proxy(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


def make_proxy(worker: FlakyWorker, monkeypatch: pytest.MonkeyPatch) -> ClusterProxy:
    monkeypatch.setattr(proxy_module, "worker_errors", lambda: (RestartingError,))
    return ClusterProxy(local_app, [worker], max_request_bytes=1000)


def test_a_read_waits_for_a_restarting_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = FlakyWorker(failures=3)
    status, body = asyncio.run(call(make_proxy(worker, monkeypatch), "GET", "/api/sessions/x"))
    assert status == 200 and orjson.loads(body) == {"ok": True}
    assert worker.calls == ["GET /api/sessions/x"] * 4


def test_a_change_in_flight_answers_503_and_is_not_sent_twice(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    worker = FlakyWorker(failures=1)
    status, body = asyncio.run(
        call(make_proxy(worker, monkeypatch), "POST", "/api/sessions/x/step")
    )
    assert status == 503
    assert "may or may not have been made" in orjson.loads(body)["detail"]
    assert worker.calls == ["POST /api/sessions/x/step"]


def test_health_and_the_page_stay_with_the_web_process(monkeypatch: pytest.MonkeyPatch) -> None:
    worker = FlakyWorker(failures=0)
    proxy = make_proxy(worker, monkeypatch)
    for path in ("/api/health", "/", "/static/js/app.js", "/docs"):
        assert asyncio.run(call(proxy, "GET", path)) == (200, b"served by the web process")
    assert worker.calls == []
