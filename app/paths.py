"""Where the page's files are: inside the installed package (a wheel), or beside it (a checkout)."""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent


def _bundled(name: str) -> Path:
    # A wheel carries them as app/static and app/templates; a source checkout keeps them at
    # the top level, next to app/.
    inside = PACKAGE_DIR / name
    return inside if inside.is_dir() else PACKAGE_DIR.parent / name


def static_dir() -> Path:
    return _bundled("static")


def templates_dir() -> Path:
    return _bundled("templates")


def swagger_ui_dir() -> Path:
    """Swagger UI 5's bundle and stylesheet, as the fastapi-offline package ships them."""
    import importlib.util

    spec = importlib.util.find_spec("fastapi_offline")
    if spec is None or spec.origin is None:
        raise RuntimeError("the fastapi-offline package (Swagger UI's files) is not installed")
    return Path(spec.origin).parent / "static"


def plotly_js() -> Path:
    """plotly.min.js from the installed plotly package: served by us, never from a CDN."""
    import importlib.util

    spec = importlib.util.find_spec("plotly")
    if spec is None or spec.origin is None:
        raise RuntimeError("the plotly package is not installed")
    return Path(spec.origin).parent / "package_data" / "plotly.min.js"
