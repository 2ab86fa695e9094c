"""Error answers: always JSON, always naming the problem; NaN never reaches JSON."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from app.api.responses import OrjsonResponse
from app.engine import ConfigError


def test_an_unknown_route_answers_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not Found"}


def test_a_wrong_method_answers_json_405(client: TestClient) -> None:
    response = client.put("/api/presets")
    assert response.status_code == 405
    assert response.json()["detail"]


def test_a_non_json_body_answers_422(client: TestClient) -> None:
    response = client.post(
        "/api/sessions", content=b"preset=circle", headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][0] == "body"


def test_validation_errors_never_echo_the_input(client: TestClient) -> None:
    secret = "s3cr3t-" * 20
    response = client.post("/api/sessions", json={"preset": "circle", "model": {"loss": [secret]}})
    assert response.status_code == 422
    assert secret not in response.text
    for problem in response.json()["detail"]:
        assert set(problem) == {"loc", "msg", "type"}


def test_deeply_nested_json_answers_4xx(client: TestClient) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.post(
        "/api/sessions", content=body, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500


def test_a_config_error_answers_422_with_its_field(app: Any) -> None:
    @app.get("/test-config-error")
    def raise_config_error() -> None:
        raise ConfigError("model.learning_rate", "must be > 0")

    with TestClient(app) as client:
        response = client.get("/test-config-error")
    assert response.status_code == 422
    assert response.json() == {"detail": "must be > 0", "field": "model.learning_rate"}


def test_an_unexpected_error_answers_500_without_details(app: Any) -> None:
    @app.get("/test-bug")
    def raise_bug() -> None:
        raise RuntimeError("internal detail")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/test-bug")
    assert response.status_code == 500
    assert "internal detail" not in response.text
    assert response.json()["detail"].startswith("internal error")


def test_the_default_response_writes_nan_and_infinity_as_null(app: Any) -> None:
    @app.get("/test-nan")
    def answer_nan() -> dict[str, Any]:
        return {"loss": float("nan"), "big": float("inf"), "rows": [[float("-inf"), 1.0]]}

    with TestClient(app) as client:
        response = client.get("/test-nan")
    assert response.status_code == 200
    assert response.json() == {"loss": None, "big": None, "rows": [[None, 1.0]]}
    assert OrjsonResponse({"x": float("nan")}).body == b'{"x":null}'


def test_an_unknown_query_parameter_answers_422(client: TestClient, create_session: Any) -> None:
    session = create_session(preset="circle")
    response = client.get(
        session.url("/boundary"), params={"resolutoin": 20}, headers=session.watch
    )
    assert response.status_code == 422
    assert response.json()["field"] == "resolutoin"
    assert "resolution" in response.json()["detail"]  # says what the call takes
    assert client.get("/api/presets", params={"x": 1}).status_code == 422
