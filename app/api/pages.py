"""The page: ``/`` rendered from templates/index.html, and Plotly.js from the plotly package.

The page is plain ES modules under ``/static`` (mounted by the app setup); it takes its
start-up values and the facts it shares with the server from ``page_config``, rendered as
JSON in ``<body data-config>``, so it needs no inline script.
"""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import brotli
import zstandard
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from app.engine import ModelConfig
from app.engine.activations import ACTIVATIONS
from app.engine.datasets import FEATURES, GRID_LEAST_MARGIN, GRID_MARGIN
from app.engine.initializers import INITIALIZERS
from app.engine.losses import LOSSES
from app.live.close_codes import close_code_table
from app.live.frames import MAX_DELTA_ROWS
from app.paths import plotly_js, plotly_js_version, templates_dir
from app.service.lessons import DEFAULT_LESSON, LESSONS, NetworkNeeds
from app.settings import Settings, get_settings

from .assets import REVALIDATE, static_root

router = APIRouter(tags=["page"])
templates = Jinja2Templates(directory=templates_dir())
templates.env.globals["static_root"] = static_root()

DEFAULT_PRESET = "circle"
# The page asks for /vendor/plotly.min.js?v=<the bundle's version>, so a new one is a new URL
# and the file itself may be cached for a year.
PLOTLY_CACHE_CONTROL = "public, max-age=31536000, immutable"
# Plotly is 1.5 MB: compressed once per process and encoding, not for every first load as the
# compression middleware would (0.2 s of CPU a student with gzip), and a little smaller. In
# the server's order of preference; plain HTTP on a LAN gets gzip from Chromium.
PLOTLY_ENCODERS: dict[str, Callable[[bytes], bytes]] = {
    "zstd": lambda raw: zstandard.ZstdCompressor(level=12).compress(raw),
    "br": lambda raw: brotli.compress(raw, quality=6),
    "gzip": lambda raw: gzip.compress(raw, compresslevel=9, mtime=0),
}
_plotly_lock = threading.Lock()  # a class's first loads at once compress Plotly once


@lru_cache
def plotly_version() -> str:
    return plotly_js_version()


def _settings_of(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else get_settings()


def page_config(settings: Settings) -> dict[str, Any]:
    """What the page's scripts need before their first request, and the facts it shares with
    the server, never copied into its scripts: rendered as the JSON of ``<body data-config>``
    (static/js/config.js reads it; its shape is ``PageConfig`` in static/js/protocol.d.ts)."""
    return {
        "default_preset": DEFAULT_PRESET,
        "frame_rate": settings.default_frame_rate,
        "max_layers": settings.max_layers,
        "max_units": settings.max_units,
        "delta_rows": MAX_DELTA_ROWS,
        # The boundary's grid: /boundary's own margin, so the page draws the same plane.
        "grid_margin": {"fraction": GRID_MARGIN, "least": GRID_LEAST_MARGIN},
        "question_max_rounds": settings.question_max_rounds,
        **shared_facts(),
    }


def shared_facts() -> dict[str, Any]:
    """The engine's and the protocol's facts the page acts on: the input features it computes
    for its boundary (tests/browser/test_forward_js.py holds its formulas to the engine's),
    the activations and which only an output layer takes, the output activations a loss
    needs, the loss a network has unless chosen, the lessons, and the sockets' close codes."""
    return {
        "features": [
            {"id": name, "label": feature.label, "formula": feature.formula}
            for name, feature in FEATURES.items()
        ],
        "activations": list(ACTIVATIONS),
        "output_only_activations": [name for name, a in ACTIVATIONS.items() if a.output_only],
        "loss_outputs": {
            name: None if loss.output_activations is None else sorted(loss.output_activations)
            for name, loss in LOSSES.items()
        },
        "default_loss": ModelConfig.loss,
        "lessons": [
            {
                "id": name,
                "title": lesson.title,
                "preset": lesson.preset,
                "load": lesson.load,
                "introduction": lesson.introduction,
                "network": None if lesson.network is None else network_needs(lesson.network),
                "refusal": lesson.refusal(name),
            }
            for name, lesson in LESSONS.items()
        ],
        "default_lesson": DEFAULT_LESSON,
        "close_codes": close_code_table(),
    }


def network_needs(needs: NetworkNeeds) -> dict[str, Any]:
    return {
        "layers": [
            {"units": units, "activation": activation} for units, activation in needs.layers
        ],
        "loss": needs.loss,
        "use_bias": needs.use_bias,
    }


def engine_names() -> dict[str, Any]:
    """The engine's names for the template's pickers, so the page's choices are the engine's
    and never a copy; each loss with its scale convention (what it divides by), shown beside
    the picker."""
    return {
        "losses": list(LOSSES),
        "loss_conventions": {name: loss.convention for name, loss in LOSSES.items()},
        "loss_words": {name: loss.plain for name, loss in LOSSES.items()},
        "initializers": list(INITIALIZERS),
    }


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def read_page(request: Request) -> HTMLResponse:
    """The playground page (never kept without asking: it names this release's files)."""
    response = templates.TemplateResponse(
        request,
        "index.html",
        {
            "config": page_config(_settings_of(request)),
            "names": engine_names(),
            "plotly_version": plotly_version(),
        },
    )
    response.headers["Cache-Control"] = REVALIDATE
    return response


@lru_cache(maxsize=len(PLOTLY_ENCODERS))
def _compressed_plotly(encoding: str) -> bytes:
    return PLOTLY_ENCODERS[encoding](plotly_js().read_bytes())


def compressed_plotly(encoding: str) -> bytes:
    with _plotly_lock:
        return _compressed_plotly(encoding)


def accepted_encodings(header: str) -> set[str]:
    """The codings an Accept-Encoding header allows (q > 0)."""
    accepted = set()
    for item in header.split(","):
        coding, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            allowed = float(quality) > 0
        except ValueError:
            allowed = False
        if coding.strip() and allowed:
            accepted.add(coding.strip().lower())
    return accepted


@router.get("/vendor/plotly.min.js", include_in_schema=False)
async def read_plotly(request: Request) -> Response:
    """Plotly's vendored bundle (never a CDN), compressed once."""
    headers = {"Cache-Control": PLOTLY_CACHE_CONTROL, "Vary": "Accept-Encoding"}
    accepted = accepted_encodings(request.headers.get("accept-encoding", ""))
    for encoding in PLOTLY_ENCODERS:
        if encoding in accepted:
            body = await asyncio.to_thread(compressed_plotly, encoding)
            headers["Content-Encoding"] = encoding
            return Response(body, media_type="text/javascript", headers=headers)
    return FileResponse(plotly_js(), media_type="text/javascript", headers=headers)
