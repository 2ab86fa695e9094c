"""A real uvicorn server in a subprocess, on loopback, for tests that need real sockets."""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

ROOT = Path(__file__).resolve().parents[2]
UVICORN = [
    sys.executable,
    "-m",
    "uvicorn",
    "--factory",
    "app.main:create_app",
    "--host",
    "127.0.0.1",
    "--log-level",
    "warning",
    "--no-proxy-headers",  # as backprop-playground runs it: X-Forwarded-For is the app's call
]


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def rss_kib(self) -> int:
        """The server's resident memory (VmRSS), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def create_session(self, body: dict[str, object]) -> dict[str, str]:
        response = httpx.post(f"{self.http}/api/sessions", json=body, timeout=10)
        response.raise_for_status()
        created: dict[str, str] = response.json()
        return created


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def running_server(data_dir: Path, **env: str) -> Iterator[Server]:
    """uvicorn serving ``create_app()`` until the block ends (then it is killed)."""
    port = free_port()
    environment = {**os.environ, "PLAYGROUND_DATA_DIR": str(data_dir), **env}
    process = subprocess.Popen(
        [*UVICORN, "--port", str(port)],
        cwd=ROOT,
        env=environment,
        stdout=subprocess.DEVNULL,
    )
    server = Server(process, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{server.http}/api/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not start")
            time.sleep(0.1)
        yield server
    finally:
        process.kill()
        process.wait(timeout=10)


def stalled_socket(port: int, path: str, first_message: dict[str, object]) -> socket.socket:
    """A websocket client that completes the handshake, sends one message, and then never
    reads again (its receive buffer is as small as the kernel allows)."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    response = b""
    while b"\r\n\r\n" not in response:
        response += sock.recv(1)  # byte by byte: leave the first frames unread
    assert response.startswith(b"HTTP/1.1 101"), response
    sock.sendall(masked_text_frame(orjson.dumps(first_message)))
    return sock


def masked_text_frame(payload: bytes) -> bytes:
    """One client → server text frame (clients must mask)."""
    mask = os.urandom(4)
    header = bytes([0x81])
    if len(payload) < 126:
        header += bytes([0x80 | len(payload)])
    else:
        header += bytes([0x80 | 126]) + struct.pack("!H", len(payload))
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked
