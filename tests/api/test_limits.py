"""The request-size limit: 413 JSON from the Content-Length, or as a chunked body streams in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from app.settings import Settings

OpenClient = Any  # fixture from tests/conftest.py


def padded_create(size: int) -> bytes:
    """A valid create request of about ``size`` bytes (spaces pad it)."""
    body = b'{"preset": "circle"}'
    return body[:-1] + b" " * max(0, size - len(body)) + b"}"


def test_a_body_over_the_limit_answers_413_before_it_is_read(
    open_client: OpenClient, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_request_bytes=1000))
    response = client.post(
        "/api/sessions", content=padded_create(1001), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert response.json() == {
        "detail": "the request body is larger than the limit of 1000 bytes",
        "field": "body",
    }


def test_a_body_at_the_limit_is_read(open_client: OpenClient, data_dir: Any) -> None:
    client = open_client(Settings(data_dir=data_dir, max_request_bytes=1000))
    response = client.post(
        "/api/sessions", content=padded_create(1000), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 201, response.text


def test_a_chunked_body_is_cut_off_at_the_limit(open_client: OpenClient, data_dir: Any) -> None:
    client = open_client(Settings(data_dir=data_dir, max_request_bytes=1000))

    def chunks() -> Iterator[bytes]:
        body = padded_create(3000)
        for start in range(0, len(body), 100):
            yield body[start : start + 100]

    response = client.post(
        "/api/sessions", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert response.json()["field"] == "body"


def test_an_upload_over_the_request_limit_answers_413(
    open_client: OpenClient, data_dir: Any
) -> None:
    client = open_client(Settings(data_dir=data_dir, max_request_bytes=1000))
    csv = b"a,b\n" + b"1,2\n" * 400
    response = client.post("/api/datasets", files={"file": ("big.csv", csv, "text/csv")})
    assert response.status_code == 413 and response.json()["field"] == "body"
