"""Fixtures for the live socket: an app on a temporary data folder, sessions, helpers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.testclient import TestClient, WebSocketTestSession

from app.main import create_app
from app.service.manager import SessionManager
from app.service.session import Session
from app.settings import Settings

Message = dict[str, Any]


def live_settings(data_dir: Path, **overrides: Any) -> Settings:
    return Settings(data_dir=data_dir, **overrides)


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., FastAPI]:
    """An app built by ``create_app`` with these settings overrides."""

    def make(**overrides: Any) -> FastAPI:
        return create_app(live_settings(tmp_path / "data", **overrides))

    return make


@pytest.fixture
def live_app(make_app: Callable[..., FastAPI]) -> FastAPI:
    return make_app()


@pytest.fixture
def live_client(live_app: FastAPI) -> Iterator[TestClient]:
    with TestClient(live_app) as client:
        yield client


def manager_of(app: FastAPI) -> SessionManager:
    manager: SessionManager = app.state.manager
    return manager


@pytest.fixture
def session(live_app: FastAPI) -> Session:
    """The circle preset: TF Playground's default network (2 → 4 → 2 → 1, tanh)."""
    return manager_of(live_app).create({"preset": "circle"})


def url(session: Session, token: str | None = None) -> str:
    return f"/ws/sessions/{session.id}?token={session.token if token is None else token}"


def watch_url(session: Session) -> str:
    return url(session, session.watch_token)


def receive_until(
    ws: WebSocketTestSession, accept: Callable[[Message], bool], limit: int = 2000
) -> Message:
    """The first message ``accept`` takes, reading at most ``limit`` messages."""
    for _ in range(limit):
        message: Message = ws.receive_json()
        if accept(message):
            return message
    raise AssertionError(f"no accepted message in {limit}")


def is_type(kind: str) -> Callable[[Message], bool]:
    return lambda message: message["type"] == kind


def is_event(event: str) -> Callable[[Message], bool]:
    return lambda message: message["type"] == "event" and message["event"] == event


def is_error(message: Message) -> bool:
    return message["type"] == "error"
