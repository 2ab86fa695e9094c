"""The red team's smaller findings (issue 21, item 5), each fixed: the class socket refuses a
foreign Origin; look-alike names are one student; sockets aborted right after the upgrade
log nothing; concurrent creates never overshoot ``max_sessions``."""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from ws.server import UVICORN, free_port

from app.main import create_app
from app.service.questions import name_key
from app.settings import Settings

from .test_quotas import class_question

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("origin", ["http://evil.example", "null"])
def test_the_class_socket_refuses_a_foreign_origin(tmp_path: Path, origin: str) -> None:
    client = TestClient(create_app(Settings(data_dir=tmp_path)))
    code, _ = class_question(client)
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        client.websocket_connect(f"/ws/classes?token={code}", headers={"Origin": origin}) as ws,
    ):
        ws.receive_json()
    assert refused.value.code == 4403
    with client.websocket_connect(
        f"/ws/classes?token={code}", headers={"Origin": "http://testserver"}
    ) as own:
        assert own.receive_json()["type"] == "class"


@pytest.mark.parametrize(
    "look_alike",
    ["\u0410na", "An\u0430", "\uff21na", "ANA", "\u0391na"],  # Cyrillic А/а, full-width, Greek Α
)
def test_a_look_alike_name_is_the_same_student(tmp_path: Path, look_alike: str) -> None:
    app = create_app(Settings(data_dir=tmp_path, max_answers_per_client=10))
    client = TestClient(app)
    code, question = class_question(client)

    def answer(name: str) -> int:
        return client.post(
            "/api/classes/answers",
            json={"code": code, "question": question, "name": name, "answer": "+"},
        ).status_code

    assert answer("Ana") == 201
    assert answer(look_alike) == 409
    assert answer("Anna") == 201  # a different name is still a different student


def test_name_key_keeps_different_names_apart() -> None:
    assert name_key("José") != name_key("Jose")  # an accent is a different name
    assert name_key("Ｍａｒｉｅ") == name_key("marie")
    assert len({name_key(n) for n in ["Ana", "Ann", "Anja", "Ada"]}) == 4


def aborted_upgrade(port: int, path: str) -> None:
    """A client that sends the upgrade and resets the connection at once."""
    sock = socket.socket()
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
    sock.close()


def test_sockets_aborted_after_the_upgrade_write_nothing_to_the_log(tmp_path: Path) -> None:
    port = free_port()
    log_file = tmp_path / "server.log"
    with log_file.open("wb") as out:
        server = subprocess.Popen(
            [*UVICORN, "--port", str(port)],
            cwd=ROOT,
            env={**os.environ, "PLAYGROUND_DATA_DIR": str(tmp_path)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        created = httpx.post(f"http://127.0.0.1:{port}/api/sessions", json={"preset": "circle"})
        session = created.json()
        paths = [
            f"/ws/sessions/{session['id']}?token=bad",
            f"/ws/sessions/{session['id']}?token={session['token']}",
            "/ws/sessions/nope?token=x",
            "/ws/classes?token=nope",
        ]
        for _ in range(10):
            for path in paths:
                aborted_upgrade(port, path)
        time.sleep(1.0)
        assert httpx.get(f"http://127.0.0.1:{port}/api/health").status_code == 200
    finally:
        server.terminate()
        server.wait(timeout=20)
    logged = log_file.read_text()
    assert "Traceback" not in logged, logged[:2000]
    assert len(logged) < 2000, logged[:2000]  # 40 aborted sockets: at most a few lines


def test_concurrent_creates_never_overshoot_max_sessions(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, max_sessions=40, max_sessions_per_client=1000))
    statuses: list[int] = []
    start = threading.Barrier(16)

    def create_many() -> None:
        client = TestClient(app)
        start.wait()
        for _ in range(5):
            statuses.append(client.post("/api/sessions", json={"preset": "xor"}).status_code)

    threads = [threading.Thread(target=create_many) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert (statuses.count(201), statuses.count(429)) == (40, 40), statuses
    assert app.state.manager.store.count_sessions() == 40


def test_the_command_believes_no_x_forwarded_for_by_default(tmp_path: Path) -> None:
    """``backprop-playground`` on loopback: a forged X-Forwarded-For is not a new address
    (uvicorn's own proxy headers, which trust 127.0.0.1, are off)."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "app", "--port", str(port), "--data-dir", str(tmp_path)],
        cwd=ROOT,
        env={**os.environ, "PLAYGROUND_MAX_SESSIONS_PER_ADDRESS": "2"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/api/health", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.1)
        statuses = [
            httpx.post(
                f"{base}/api/sessions",
                json={"preset": "xor"},
                headers={"X-Forwarded-For": f"10.0.0.{k}"},
            ).status_code
            for k in range(3)
        ]
    finally:
        server.terminate()
        server.wait(timeout=20)
    assert statuses == [201, 201, 429]
