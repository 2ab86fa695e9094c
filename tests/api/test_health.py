"""GET /api/health."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient


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
    }


def test_health_answers_503_when_the_store_is_closed(app: Any) -> None:
    client = TestClient(app)  # no lifespan: the store is closed by hand
    app.state.store.close()
    response = client.get("/api/health")
    assert response.status_code == 503
    assert "store" in response.json()["detail"]
