"""The page's static files at an address of their release, so a browser may keep them a year.

The templates ask for ``/static/<version>/css/playground.css``, where ``<version>`` is a hash
of every file under ``static/``: a release that changes any file is a new address, so the
files are sent ``immutable`` for a year and a new release is still picked up with the page
(which is never cached that way). ES modules import each other by relative address, so a
module's imports stay under its version. The plain ``/static/...`` still answers (old links,
a module imported by hand) but has the browser check again each time.
"""

from __future__ import annotations

import hashlib
import os
from functools import lru_cache
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response
from starlette.types import Scope

from app.paths import static_dir

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"  # stored, but asked again (a 304 when unchanged) before each use


def static_version(directory: Path) -> str:
    """12 hex digits of a hash over every file's path and bytes under `directory`."""
    digest = hashlib.sha256()
    if directory.is_dir():
        for path in sorted(p for p in directory.rglob("*") if p.is_file()):
            digest.update(path.relative_to(directory).as_posix().encode() + b"\0")
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


@lru_cache
def static_root() -> str:
    """Where this release's static files are: ``/static/<version>`` (no trailing slash)."""
    return f"/static/{static_version(static_dir())}"


class CachedStaticFiles(StaticFiles):
    """StaticFiles with one Cache-Control on every file; a 404, not a 500, while the static
    folder does not exist."""

    def __init__(self, directory: Path, cache_control: str) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.cache_control = cache_control

    async def check_config(self) -> None:
        if self.directory is not None and Path(self.directory).is_dir():
            await super().check_config()

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self.cache_control
        return response


def mount_static(app: FastAPI) -> None:
    """This release's files under ``static_root()`` (immutable), all under ``/static``."""
    directory = static_dir()
    app.mount(static_root(), CachedStaticFiles(directory, IMMUTABLE), "static-release")
    app.mount("/static", CachedStaticFiles(directory, REVALIDATE), "static")
