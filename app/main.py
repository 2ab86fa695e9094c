"""Builds the FastAPI app: REST routers, the websocket, the page, static files.

``make run`` serves ``create_app()`` with uvicorn; ``app.main:app`` is built on first use.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from app.settings import Settings, get_settings

app: FastAPI  # built on first access by __getattr__ below


def create_app(settings: Settings | None = None) -> FastAPI:
    """A new app with its own session manager and store, configured by ``settings``."""
    from app.api.setup import configure_app

    return configure_app(settings or get_settings())


def __getattr__(name: str) -> Any:
    # ``uvicorn app.main:app`` works, yet importing this module creates no data directory.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
