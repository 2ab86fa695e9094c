"""The web process's app when sessions live on workers: ``uvicorn --factory
app.cluster.web:create_web_app`` (``backprop-playground --workers`` serves it).

It is the ordinary app (the page, static files, ``/docs``, ``/api/health`` on the shared
store) wrapped in ``ClusterProxy``, which forwards the API and the sockets to the workers.
"""

from __future__ import annotations

from app.main import create_app
from app.settings import get_settings

from .asgi import ASGIApp
from .proxy import ClusterProxy
from .start import connect, find_workers, start_workers


def create_web_app() -> ASGIApp:
    """Join (or start) Ray, find (or start) the workers, wrap the app in the proxy."""
    settings = get_settings()
    connect(settings)
    workers = find_workers() or start_workers(settings)
    app = create_app(settings)
    app.state.manager.hosts = lambda session_id: False  # the workers expire their sessions
    return ClusterProxy(app, workers, settings.max_request_bytes)
