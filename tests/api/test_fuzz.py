"""No input yields a 500: requests generated from the OpenAPI schema, for every operation.

Schemathesis turns each operation's documented parameters and body into a Hypothesis
strategy (valid and invalid values alike); every request goes to one session through a
TestClient with its control token. Derandomized, so a run is repeatable.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core import NotSet

from app.main import create_app
from app.settings import Settings

EXAMPLES_PER_OPERATION = 25


def operations() -> list[Any]:
    """Every operation of the app's OpenAPI schema but DELETE (the others need the session)."""
    with tempfile.TemporaryDirectory() as directory:
        app = create_app(Settings(data_dir=Path(directory)))
        schema = schemathesis.openapi.from_dict(app.openapi())
        app.state.store.close()
    every = [result.ok() for result in schema.get_all_operations()]
    return [operation for operation in every if operation.method.upper() != "DELETE"]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, dict[str, Any]]]:
    """A client on an app with a short step budget, and a session that has a trace."""
    settings_ = Settings(data_dir=tmp_path_factory.mktemp("fuzz"), max_step_seconds=0.05)
    with TestClient(create_app(settings_)) as client:
        created = client.post("/api/sessions", json={"preset": "circle"}).json()
        yield client, created


def request_of(case: Any, created: dict[str, Any]) -> dict[str, Any]:
    """The case as TestClient.request arguments, aimed at our session with its token."""
    path = case.path
    for name, value in (case.path_parameters or {}).items():
        path = path.replace("{" + name + "}", created["id"] if name == "id" else str(value))
    headers = {key: str(value) for key, value in (case.headers or {}).items()}
    if "{id}" in case.path:
        headers["Authorization"] = f"Bearer {created['token']}"
    arguments: dict[str, Any] = {"method": case.method, "url": path, "headers": headers}
    if not isinstance(case.query, NotSet):
        arguments["params"] = case.query
    if case.media_type == "multipart/form-data" and isinstance(case.body, dict):
        form = dict(case.body)
        file = form.pop("file", b"")
        content = file if isinstance(file, bytes) else str(file).encode()
        arguments["files"] = {"file": ("fuzz.csv", content)}
        arguments["data"] = {key: str(value) for key, value in form.items()}
    elif not isinstance(case.body, NotSet):
        arguments["json"] = case.body
    return arguments


# Operations whose answer is a printable page, a CSV file or a notebook; their errors are
# JSON like every other.
DOCUMENT_OPERATIONS: dict[str, str | tuple[str, ...]] = {
    "GET /api/sessions/{id}/worksheet": "text/html",
    "GET /api/sessions/{id}/notebook": "application/x-ipynb+json",
    "GET /api/sessions/{id}/answers": "text/csv",
    "GET /api/classes/current/answers": "text/csv",
    # JSON, or with format=csv a CSV
    "GET /api/sessions/{id}/record": ("application/json", "text/csv"),
    "GET /api/classes/current/record": ("application/json", "text/csv"),
}


@pytest.mark.parametrize("operation", operations(), ids=lambda operation: operation.label)
def test_no_generated_request_answers_500(
    fuzzed: tuple[TestClient, dict[str, Any]], operation: Any
) -> None:
    client, created = fuzzed

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        arguments = request_of(case, created)
        response = client.request(**arguments)
        assert response.status_code < 500, (arguments, response.text[:500])
        content_type = response.headers["content-type"]
        document = DOCUMENT_OPERATIONS.get(operation.label) if response.status_code == 200 else None
        assert content_type.startswith(document or "application/json") or (
            response.status_code == 204
        )

    check()
