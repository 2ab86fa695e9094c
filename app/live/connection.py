"""One socket's life on a hub: hello, then a reader and a sender until either ends."""

from __future__ import annotations

import asyncio
import contextlib

from starlette.websockets import WebSocket, WebSocketDisconnect

from app.service.access import Role

from .client import Client
from .hub import Hub


async def serve_socket(hub: Hub, websocket: WebSocket, role: Role) -> None:
    """Greet the client, then read its commands and send it frames until it goes."""
    client = Client(hub, websocket, role, hub.settings)
    tasks: list[asyncio.Task[None]] = []
    try:
        await websocket.send_text(await hub.hello(client))
        hub.add(client)
        tasks = [asyncio.create_task(_read(hub, client)), asyncio.create_task(client.run_sender())]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        hub.remove(client)  # (and the hub goes too if it was the last and nothing plays)


async def _read(hub: Hub, client: Client) -> None:
    """Each message in turn; a command runs to its end before the next is read."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            message = await client.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            data = message.get("text")
            if data is None:
                data = message.get("bytes") or b""
            await hub.handle(client, data)
