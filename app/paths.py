"""Where the page's files are: inside the installed package (a wheel), or beside it (a checkout)."""

from __future__ import annotations

import re
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
    """Plotly.js's cartesian partial bundle, vendored in app/vendor (its README says why and
    how to update it): served by us, never from a CDN."""
    return PACKAGE_DIR / "vendor" / "plotly-cartesian.min.js"


def plotly_js_version() -> str:
    """The bundle's release, from its header ("plotly.js (cartesian - minified) v4.1.1")."""
    with plotly_js().open(encoding="utf-8") as bundle:
        head = bundle.read(300)
    found = re.search(r"plotly\.js \([^)]*\) v(\d+\.\d+\.\d+)", head)
    if found is None:
        raise RuntimeError(f"{plotly_js()} does not say its version in its header")
    return found.group(1)
