"""Shared fixtures: settings on a temporary data directory, the app, a TestClient, sessions.

- ``create_session(...)`` posts a create request (the XOR lesson by default) and returns a
  ``CreatedSession`` that knows its URLs and both tokens' headers;
- ``open_client(settings)`` is a TestClient on a new app with other settings (limits);
- ``create_on(client, body)`` creates a session through any client;
- ``postgres`` is the tests' own PostgreSQL cluster (started once, stopped at the end),
  ``postgres_url`` a new empty database in it, and ``any_store_settings`` default settings on
  each backend in turn (SQLite, then PostgreSQL): a module whose tests must hold on both
  defines ``settings`` as it.

Tests take these as fixtures and never import this module.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

STORE_BACKENDS = ("sqlite", "postgresql")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(data_dir: Path) -> Settings:
    """Default settings, with the SQLite file in a fresh temporary directory."""
    return Settings(data_dir=data_dir)


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """The tests' own PostgreSQL (``stores.Cluster``); a test needing it fails, never skips,
    when PostgreSQL cannot be installed or started: the backend must be proven to work."""
    from stores import PostgresUnavailableError, start_cluster

    try:
        cluster = start_cluster()
    except PostgresUnavailableError as error:
        pytest.fail(f"the PostgreSQL tests need a PostgreSQL cluster: {error}", pytrace=False)
    yield cluster
    cluster.stop()


@pytest.fixture
def postgres_url(postgres: Any) -> str:
    """The URL of a new, empty database in the tests' PostgreSQL."""
    url: str = postgres.new_database()
    return url


@pytest.fixture(params=STORE_BACKENDS)
def any_store_settings(request: pytest.FixtureRequest, data_dir: Path) -> Settings:
    """Default settings on the SQLite file, then on a new PostgreSQL database."""
    if request.param == "sqlite":
        return Settings(data_dir=data_dir)
    return Settings(data_dir=data_dir, database_url=request.getfixturevalue("postgres_url"))


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    return create_app(settings)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """A TestClient with the app's lifespan running (the store is closed afterwards)."""
    with TestClient(app) as test_client:
        yield test_client


@dataclass
class CreatedSession:
    """A session created over REST, with what a client needs to call it."""

    client: TestClient
    id: str
    token: str
    watch_token: str
    state: dict[str, Any]

    @property
    def control(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def watch(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.watch_token}"}

    def url(self, suffix: str = "") -> str:
        return f"/api/sessions/{self.id}{suffix}"

    def step(self, unit: str = "batch", count: int = 1) -> dict[str, Any]:
        response = self.client.post(
            self.url("/step"), json={"unit": unit, "count": count}, headers=self.control
        )
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    def read(self, **params: Any) -> dict[str, Any]:
        response = self.client.get(self.url(), params=params, headers=self.watch)
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    def export(self) -> dict[str, Any]:
        response = self.client.get(self.url("/export"), headers=self.watch)
        assert response.status_code == 200, response.text
        exported: dict[str, Any] = response.json()
        return exported


CreateSession = Callable[..., CreatedSession]


def create_via(client: TestClient, body: dict[str, Any] | None = None) -> CreatedSession:
    """POST /api/sessions (the XOR lesson unless ``body`` says otherwise); must succeed."""
    response = client.post("/api/sessions", json=body or {"preset": "lesson-003-xor"})
    assert response.status_code == 201, response.text
    answer = response.json()
    return CreatedSession(
        client, answer["id"], answer["token"], answer["watch_token"], answer["state"]
    )


@pytest.fixture
def create_session(client: TestClient) -> CreateSession:
    """``create_session(preset="circle")`` or ``create_session(model=..., data=...)``."""

    def create(**body: Any) -> CreatedSession:
        return create_via(client, body or None)

    return create


@pytest.fixture
def create_on() -> Callable[[TestClient, dict[str, Any] | None], CreatedSession]:
    """``create_on(client, body)``: a session created through that client."""
    return create_via


@pytest.fixture
def open_client() -> Iterator[Callable[[Settings], TestClient]]:
    """``open_client(settings)``: a TestClient (lifespan running) on a new app."""
    with ExitStack() as stack:

        def open_with(settings: Settings) -> TestClient:
            return stack.enter_context(TestClient(create_app(settings)))

        yield open_with
