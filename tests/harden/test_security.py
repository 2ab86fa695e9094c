"""Security headers, CORS closed by default, user text escaped, uploads never executed."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings


@pytest.mark.parametrize("path", ["/", "/api/health", "/api/presets", "/static/js/main.js"])
def test_every_response_carries_the_security_headers(client: TestClient, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["script-src"] == "'self'"  # no inline script, no eval, no other host
    assert directives["default-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"


def test_error_responses_carry_the_headers_too(client: TestClient) -> None:
    response = client.get("/api/sessions/does-not-exist", headers={"Authorization": "Bearer x"})
    assert response.status_code == 404
    assert "script-src 'self'" in response.headers["content-security-policy"]


def test_page_has_no_inline_script(client: TestClient) -> None:
    page = client.get("/").text
    assert "<script>" not in page and "onclick=" not in page.lower()
    assert 'type="module"' in page


def test_cors_is_closed_by_default(client: TestClient) -> None:
    origin = {"Origin": "https://elsewhere.example"}
    assert "access-control-allow-origin" not in client.get("/api/presets", headers=origin).headers
    preflight = client.options(
        "/api/sessions",
        headers={**origin, "Access-Control-Request-Method": "POST"},
    )
    assert "access-control-allow-origin" not in preflight.headers


def test_cors_opens_to_configured_origins_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, cors_origins=["https://school.example"])
    with TestClient(create_app(settings)) as client:
        allowed = client.get("/api/presets", headers={"Origin": "https://school.example"})
        other = client.get("/api/presets", headers={"Origin": "https://elsewhere.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://school.example"
    assert "access-control-allow-origin" not in other.headers


HOSTILE = '<script>alert("x")</script>'


def test_uploaded_names_and_headers_come_back_as_inert_json(client: TestClient) -> None:
    csv = f"{HOSTILE},x2,label\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n".encode()
    response = client.post(
        "/api/datasets",
        files={"file": ("data.csv", csv, "text/csv")},
        data={"name": HOSTILE},
    )
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/json")
    listing = client.get("/api/datasets")
    assert listing.headers["content-type"].startswith("application/json")
    # The page never renders server text as HTML (textContent only): no innerHTML anywhere.
    static = Path(__file__).resolve().parents[2] / "static"
    for script in static.rglob("*.js"):
        source = script.read_text()
        for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
            assert sink not in source, f"{script.name} uses {sink}"


def test_templates_escape_what_they_render() -> None:
    """Every value a template prints is escaped: autoescape is on for the page's templates."""
    from app.api.pages import templates

    rendered = templates.env.from_string("<p>{{ name }}</p>").render(name=HOSTILE)
    assert HOSTILE not in rendered and "&lt;script&gt;" in rendered
    page = templates.env.get_template("index.html")
    assert page.environment.autoescape is True or page.environment.autoescape("index.html")


def test_a_pickle_upload_is_refused_as_data_never_loaded(client: TestClient) -> None:
    class Boom:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("unpickled!",))

    payload = pickle.dumps(Boom())
    response = client.post(
        "/api/datasets", files={"file": ("data.pkl", payload, "application/octet-stream")}
    )
    assert response.status_code == 422
    assert "unpickled" not in response.text
