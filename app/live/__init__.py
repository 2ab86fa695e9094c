"""Live sessions over a websocket: per-session hubs, the play task, frames encoded once.

- ``registry.py``: every hub of the app, by session id, and their worker threads.
- ``hub.py``: the Hub of one session (clients, frames, events, commands).
- ``player.py``: the play task, training in short chunks on a worker thread.
- ``client.py``: one socket, its subscription and its "latest wins" sender.
- ``frames.py``: building a frame from the session and encoding it once per view.
- ``commands.py``: the client's messages, validated; ``pacing.py``: rate tools.
"""

from .client import Client, Role
from .connection import serve_socket
from .frames import PROTOCOL_VERSION
from .hub import Hub
from .registry import LiveRegistry

__all__ = ["PROTOCOL_VERSION", "Client", "Hub", "LiveRegistry", "Role", "serve_socket"]
