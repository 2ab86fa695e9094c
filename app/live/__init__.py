"""Live sessions over a websocket. Data flows one way, each file one concern:

- ``training.py``: one slice of play (``service/play.py``'s visit, then its frame);
- ``frames.py``: building a frame from the session and encoding it once per view;
- ``host.py``: the session's host, the hub's only way to a session (``LocalHost``: here);
- ``player.py``: the play task, one slice per frame interval at the teacher's rate;
- ``client.py``: one socket, its subscription and its "latest wins" sender;
- ``commands.py``: the client's messages, validated; ``server_messages.py``: the server's
  (``hello``, ``frame``, ``event``); ``close_codes.py``: every close code and its meaning;
  ``protocol.py``: both sockets' JSON schema, made from the models; ``pacing.py``: rate tools;
- ``hub.py``: the hub of one session (clients, commands, events, frames);
- ``connection.py``: one socket's life on a hub; ``registry.py``: every hub of the app;
- the classroom: ``classes.py`` (every class, its predict-then-reveal), ``classroom.py`` (who
  listens to each class), ``class_messages.py`` (the class socket's messages) and
  ``class_socket.py`` (one class socket's life).

A lower file never imports a higher one: it is handed a callback or a Protocol instead.
"""

from app.service.access import Role

from .client import Client
from .connection import serve_socket
from .hub import Hub
from .registry import LiveRegistry
from .server_messages import PROTOCOL_VERSION

__all__ = ["PROTOCOL_VERSION", "Client", "Hub", "LiveRegistry", "Role", "serve_socket"]
