"""The app with the security headers of app/api/security.py, strict CSP included: the page
must run under them (test_page.py serves it for that test)."""

from __future__ import annotations

from fastapi import FastAPI

from app.api.security import SecurityHeadersMiddleware
from app.main import create_app as create_plain_app


def create_app() -> FastAPI:
    app = create_plain_app()
    app.add_middleware(SecurityHeadersMiddleware)
    return app
