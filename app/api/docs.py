"""``/docs``: the API reference in Swagger UI, from files installed with the app.

FastAPI's own page loads Swagger UI from a CDN and starts it with an inline script, which our
Content-Security-Policy blocks. Ours is a template that loads Swagger UI 5 (the files the
fastapi-offline package carries) from ``/vendor/swagger-ui/`` and starts it from
``/static/<version>/js/docs.js``; it works offline.
"""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.templating import Jinja2Templates

from app.paths import swagger_ui_dir, templates_dir

from .assets import static_root

router = APIRouter(tags=["page"])
templates = Jinja2Templates(directory=templates_dir())
templates.env.globals["static_root"] = static_root()

SWAGGER_FILES = {
    "swagger-ui-bundle.js": "text/javascript",
    "swagger-ui.css": "text/css",
}


@router.get("/docs", response_class=HTMLResponse, include_in_schema=False)
def read_docs(request: Request) -> HTMLResponse:
    """Swagger UI on /openapi.json."""
    return templates.TemplateResponse(request, "docs.html", {"openapi_url": "/openapi.json"})


@router.get("/vendor/swagger-ui/{name}", include_in_schema=False)
def read_swagger_file(name: str) -> FileResponse:
    """Swagger UI's bundle or stylesheet (only those two names)."""
    media_type = SWAGGER_FILES.get(name)
    if media_type is None:
        raise HTTPException(404, "no such file")
    return FileResponse(
        swagger_ui_dir() / name,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=86400"},
    )
