"""Fuzz the HTTP API from its own OpenAPI schema (schemathesis): no 5xx, and every response
matches the schema it documents — first as a stranger (random ids, no token), then as the
owner of a real session (its id and control token), which reaches the handlers' insides."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    ignored_auth,
    missing_required_header,
    not_a_server_error,
    positive_data_acceptance,
)

from app.main import create_app
from app.settings import Settings

DATA_DIR = Path(tempfile.mkdtemp(prefix="playground-fuzz-"))
APP = create_app(
    Settings(
        data_dir=DATA_DIR,
        max_sessions=100_000,
        # The fuzzer is one client making thousands of sessions, classes and uploads: its
        # per-client and per-address quotas are the server's own (tests/harden tests them).
        max_sessions_per_client=100_000,
        max_sessions_per_address=100_000,
        max_classes=100_000,
        max_classes_per_client=100_000,
        max_classes_per_address=100_000,
        max_datasets=100_000,
        max_uploads_per_client=100_000,
        max_uploads_per_address=100_000,
        max_costly_per_client=100,
        max_costly_per_session=100,
        max_units_per_step=50,
        max_step_seconds=0.5,
        max_boundary_resolution=40,
    )
)
# The fuzzer reads the API's JSON as sent; schemathesis does not undo zstd, so the answers
# come uncompressed (compression has its own tests: tests/api/test_assets.py).
CLIENT = TestClient(APP, headers={"Accept-Encoding": "identity"})
schema = schemathesis.openapi.from_asgi("/openapi.json", APP)

FUZZ = settings(
    max_examples=25,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)

pytestmark = pytest.mark.slow

# Schema-valid data the API still refuses with a 422 naming the field: an upload id that
# doesn't exist, an export whose row order isn't a permutation, a CSV target column that
# isn't there. No JSON schema can say these; every other check stays on.
SEMANTIC_422 = [positive_data_acceptance]
# The owner's calls carry the real token in their headers; schemathesis's auth probes resend
# those headers and would count the real token as "ignored auth".
OWNER_HEADERS = [missing_required_header, ignored_auth]


def own_session() -> tuple[str, dict[str, str]]:
    created = CLIENT.post("/api/sessions", json={"preset": "circle"})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    CLIENT.post(
        f"/api/sessions/{body['id']}/step",
        json={"unit": "batch", "count": 1},
        headers={"Authorization": f"Bearer {body['token']}"},
    )
    return body["id"], {"Authorization": f"Bearer {body['token']}"}


@schema.parametrize()
@FUZZ
def test_api_as_a_stranger_never_fails_and_matches_its_schema(case: schemathesis.Case) -> None:
    case.call_and_validate(session=CLIENT, excluded_checks=SEMANTIC_422)


@schema.parametrize()
@FUZZ
def test_api_on_a_real_session_never_fails_and_matches_its_schema(
    case: schemathesis.Case,
) -> None:
    if "id" in (case.path_parameters or {}):
        session_id, headers = own_session()
        case.path_parameters = {**(case.path_parameters or {}), "id": session_id}
        case.headers = {**(case.headers or {}), **headers}
    case.call_and_validate(session=CLIENT, excluded_checks=SEMANTIC_422 + OWNER_HEADERS)


def test_the_fuzzer_reaches_a_session_handler() -> None:
    """Guard against a vacuous fuzz run: the owner's calls really get 2xx answers."""
    session_id, headers = own_session()
    response = CLIENT.get(f"/api/sessions/{session_id}", headers=headers)
    assert response.status_code == 200
    assert response.json()["layers"][0]["dW"]  # a traced batch for gradcheck/chain to read
    assert not_a_server_error in schemathesis.checks.CHECKS.get_all()
