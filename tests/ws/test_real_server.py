"""With a real uvicorn: a client that never reads slows no one and grows no memory."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.client import connect

from .server import running_server, stalled_socket

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

READER_FPS = 20
WARM_UP_SECONDS = 2.0
MEASURE_SECONDS = 6.0


async def read_frames(uri: str, seconds: float) -> tuple[int, int]:
    """(frames received, steps trained) over ``seconds``, reading at READER_FPS."""
    async with connect(uri, max_size=None) as ws:
        await ws.recv()  # hello
        await ws.send(orjson.dumps({"type": "subscribe", "max_fps": READER_FPS}).decode())
        frames, first_step, last_step = 0, None, 0
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), left))
            except TimeoutError:
                break
            if message["type"] == "frame":
                frames += 1
                first_step = message["step"] if first_step is None else first_step
                last_step = message["step"]
        return frames, last_step - (first_step or 0)


def test_a_stalled_client_neither_slows_the_others_nor_grows_memory(tmp_path: Path):
    with running_server(tmp_path / "data") as server:
        created = server.create_session({"preset": "circle"})
        path = f"/ws/sessions/{created['id']}?token={created['token']}"
        stalled = []
        for _ in range(2):  # big frames (a 100 × 100 grid) at 60/s, never read
            subscribe = {"type": "subscribe", "max_fps": 60, "boundary_resolution": 100}
            stalled.append(stalled_socket(server.port, path, subscribe))

        async def scenario() -> tuple[int, int, int, int]:
            async with connect(server.ws(path)) as control:
                await control.recv()
                await control.send(orjson.dumps({"type": "play"}).decode())
                await read_frames(server.ws(path), WARM_UP_SECONDS)
                rss_before = server.rss_kib()
                frames, steps = await read_frames(server.ws(path), MEASURE_SECONDS)
                rss_after = server.rss_kib()
                return frames, steps, rss_before, rss_after

        try:
            frames, steps, rss_before, rss_after = asyncio.run(scenario())
        finally:
            for sock in stalled:
                sock.close()
    rate = frames / MEASURE_SECONDS
    growth_mib = (rss_after - rss_before) / 1024
    print(
        f"reader {rate:.1f} frames/s, {steps / MEASURE_SECONDS:.0f} steps/s, "
        f"RSS {rss_before / 1024:.0f} → {rss_after / 1024:.0f} MiB"
    )
    assert rate >= 0.85 * READER_FPS
    assert rate <= 1.1 * READER_FPS
    assert steps > 1000 * MEASURE_SECONDS  # training went on at speed
    assert growth_mib < 50
