"""GET /api/health, on both stores (the SQLite file and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.fixture
def settings(any_store_settings: Settings) -> Settings:
    return any_store_settings


def test_health_answers_ok_with_counts(client: TestClient, create_session: Any) -> None:
    create_session()
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "damaged_sessions": [],
        "sessions_loaded": 1,
        "sessions_stored": 1,
        "max_sessions": 500,
        "costly_calls": 0,
    }


def test_health_answers_503_when_the_store_is_closed(app: Any) -> None:
    client = TestClient(app)  # no lifespan: the store is closed by hand
    app.state.store.close()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert "store" in response.json()["detail"]


def test_health_answers_503_when_postgresql_went_away(
    postgres: Any, postgres_url: str, data_dir: Any
) -> None:
    """The database is gone (dropped, its connections ended): 503 naming the store, never a
    500, never the password."""
    with TestClient(create_app(Settings(data_dir=data_dir, database_url=postgres_url))) as client:
        assert client.get("/api/health").status_code == 200
        with psycopg.connect(postgres.url(), autocommit=True) as admin:
            admin.execute(f"DROP DATABASE {postgres_url.rsplit('/', 1)[1]} WITH (FORCE)")
        response = client.get("/api/health")
        assert response.status_code == 503, response.text
        detail = response.json()["detail"]
        assert "store does not answer" in detail and "does not exist" in detail
        assert postgres.password not in detail
