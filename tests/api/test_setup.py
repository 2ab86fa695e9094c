"""configure_app: state, OpenAPI with examples, static files, lifespan, idle-session expiry."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.paths import static_dir
from app.service.manager import SessionManager
from app.service.store import Store
from app.settings import Settings

OpenClient = Any  # fixtures from tests/conftest.py
CreateSession = Any


def test_configure_app_puts_store_manager_and_settings_on_the_state(
    app: Any, settings: Settings
) -> None:
    assert app.state.settings is settings
    assert isinstance(app.state.store, Store) and isinstance(app.state.manager, SessionManager)
    assert app.state.manager.store is app.state.store
    assert app.state.store.path.parent == settings.data_dir


def test_openapi_documents_every_endpoint_of_the_issue(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    expected = {
        "/api/sessions": {"post"},
        "/api/sessions/import": {"post"},
        "/api/sessions/{id}": {"get", "patch", "delete"},
        "/api/sessions/{id}/step": {"post"},
        "/api/sessions/{id}/reset": {"post"},
        "/api/sessions/{id}/predict": {"post"},
        "/api/sessions/{id}/boundary": {"get"},
        "/api/sessions/{id}/gradcheck": {"get"},
        "/api/sessions/{id}/chain": {"get"},
        "/api/sessions/{id}/export": {"get"},
        "/api/sessions/{id}/dataset": {"get"},
        "/api/presets": {"get"},
        "/api/datasets": {"get", "post"},
        "/api/health": {"get"},
    }
    for path, methods in expected.items():
        assert methods <= set(paths[path]), path


def test_openapi_gives_an_example_for_every_request_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    bodies = 0
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "requestBody" not in operation:
                continue
            bodies += 1
            for media in operation["requestBody"]["content"].values():
                has_example = "example" in media or "examples" in media
                assert has_example, f"{method.upper()} {path} has no example"
    assert bodies >= 7


def test_openapi_lists_the_errors_and_the_bearer_scheme(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    step = spec["paths"]["/api/sessions/{id}/step"]["post"]
    assert {"401", "403", "404", "422"} <= set(step["responses"])
    assert spec["components"]["securitySchemes"]["session token"]["scheme"] == "bearer"


def test_docs_page_is_served(client: TestClient) -> None:
    response = client.get("/docs")
    assert response.status_code == 200 and "swagger" in response.text.lower()


def test_static_files_are_served_and_a_missing_one_is_json_404(client: TestClient) -> None:
    present = [path for path in static_dir().rglob("*") if path.is_file()]
    if present:
        relative = present[0].relative_to(static_dir()).as_posix()
        assert client.get(f"/static/{relative}").status_code == 200
    response = client.get("/static/no-such-file.js")
    assert response.status_code == 404 and response.json()["detail"]


def test_lifespan_closes_the_store(app: Any) -> None:
    with TestClient(app) as client:
        assert client.get("/api/health").status_code == 200
    with pytest.raises(sqlite3.ProgrammingError):
        app.state.store.count_sessions()


def test_an_app_started_again_reopens_its_store(app: Any) -> None:
    with TestClient(app) as client:
        created = client.post("/api/sessions", json={"preset": "circle"}).json()
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {created['token']}"}
        response = client.post(f"/api/sessions/{created['id']}/step", headers=headers)
        assert response.status_code == 200
    assert app.state.store_closed


def test_a_request_after_shutdown_reopens_the_store(app: Any) -> None:
    with TestClient(app):
        pass
    client = TestClient(app)  # no lifespan, as some test tools call an app
    assert client.post("/api/sessions", json={"preset": "circle"}).status_code == 201
    assert client.get("/api/datasets").status_code == 200
    app.state.store.close()


def test_idle_sessions_expire_in_the_background(
    open_client: OpenClient, create_on: Any, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, session_ttl_seconds=0.3))
    session = create_on(client, None)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if client.app.state.store.count_sessions() == 0:  # type: ignore[attr-defined]
            break
        time.sleep(0.05)
    assert client.get(session.url(), headers=session.control).status_code == 404


def test_idle_sessions_expire_when_another_is_created(data_dir: Any) -> None:
    app = create_app(Settings(data_dir=data_dir, session_ttl_seconds=0.2))
    client = TestClient(app)  # no lifespan: no background sweep, only the one on create
    first = client.post("/api/sessions", json={"preset": "circle"}).json()
    time.sleep(0.3)
    assert client.post("/api/sessions", json={"preset": "circle"}).status_code == 201
    gone = client.get(f"/api/sessions/{first['id']}", headers={"Authorization": "Bearer x"})
    assert gone.status_code == 404


def test_a_session_in_use_stays_stored_past_the_ttl(data_dir: Any) -> None:
    app = create_app(Settings(data_dir=data_dir, session_ttl_seconds=0.4))
    client = TestClient(app)
    created = client.post("/api/sessions", json={"preset": "circle"}).json()
    headers = {"Authorization": f"Bearer {created['watch_token']}"}
    for _ in range(8):  # reads keep it alive while its stored copy grows old
        time.sleep(0.1)
        assert client.get(f"/api/sessions/{created['id']}", headers=headers).status_code == 200
    app.state.manager.expire_idle()
    assert app.state.store.load_session(created["id"]) is not None
