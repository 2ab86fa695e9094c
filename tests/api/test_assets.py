"""Compressed assets and their caching: every text file compressed as the browser accepts,
this release's static files cached for a year at an address of their own, the page and the
API never cached that way."""

from __future__ import annotations

import gzip
import re
from collections.abc import Callable
from pathlib import Path

import brotli
import pytest
import zstandard
from fastapi.testclient import TestClient

from app.api.assets import static_version
from app.paths import plotly_js, static_dir

IMMUTABLE = "public, max-age=31536000, immutable"
DECODERS: dict[str, Callable[[bytes], bytes]] = {
    "gzip": gzip.decompress,
    "br": brotli.decompress,
    "zstd": lambda data: zstandard.ZstdDecompressor().decompressobj().decompress(data),
}
TEXT_SUFFIXES = {".js", ".css", ".html", ".svg", ".json"}


def raw_get(client: TestClient, path: str, encoding: str) -> tuple[dict[str, str], bytes]:
    """The response's headers and its body as sent (not decoded by the client)."""
    with client.stream("GET", path, headers={"Accept-Encoding": encoding}) as response:
        assert response.status_code == 200, path
        return dict(response.headers), b"".join(response.iter_raw())


def page_assets(client: TestClient) -> list[str]:
    """The static addresses the page's <link> and <script> tags name."""
    html = client.get("/").text
    return re.findall(r'(?:href|src)="(/(?:static|vendor)/[^"]+)"', html)


def text_files() -> list[Path]:
    return sorted(p for p in static_dir().rglob("*") if p.suffix in TEXT_SUFFIXES)


def test_the_page_names_its_static_files_under_this_releases_version(
    client: TestClient,
) -> None:
    version = static_version(static_dir())
    assets = page_assets(client)
    local = [a for a in assets if a.startswith("/static/")]
    assert local and all(a.startswith(f"/static/{version}/") for a in local), assets
    for address in local:
        response = client.get(address)
        assert response.status_code == 200
        assert response.headers["cache-control"] == IMMUTABLE
        relative = address.removeprefix(f"/static/{version}/")
        assert response.content == (static_dir() / relative).read_bytes()


@pytest.mark.parametrize("encoding", sorted(DECODERS))
def test_every_static_text_file_is_sent_compressed(client: TestClient, encoding: str) -> None:
    version = static_version(static_dir())
    files = text_files()
    assert len(files) > 10
    for path in files:
        relative = path.relative_to(static_dir()).as_posix()
        headers, body = raw_get(client, f"/static/{version}/{relative}", encoding)
        original = path.read_bytes()
        if len(original) < 500:  # a file this small is not worth a compressor's frame
            continue
        assert headers["content-encoding"] == encoding, relative
        assert "accept-encoding" in headers["vary"].lower()
        assert DECODERS[encoding](body) == original, relative
        assert headers["cache-control"] == IMMUTABLE


@pytest.mark.parametrize("encoding", sorted(DECODERS))
def test_plotly_is_sent_compressed_to_a_third(client: TestClient, encoding: str) -> None:
    plotly = next(a for a in page_assets(client) if a.startswith("/vendor/plotly.min.js"))
    headers, body = raw_get(client, plotly, encoding)
    original = plotly_js().read_bytes()
    assert headers["content-encoding"] == encoding
    assert DECODERS[encoding](body) == original
    assert len(body) < len(original) / 3, f"{len(body)} bytes of {len(original)}"
    assert headers["cache-control"] == IMMUTABLE
    again_headers, again = raw_get(client, plotly, encoding)  # compressed once, kept
    assert again == body and again_headers["content-encoding"] == encoding


def test_plotly_goes_plain_to_a_client_that_refuses_every_encoding(client: TestClient) -> None:
    plotly = next(a for a in page_assets(client) if a.startswith("/vendor/plotly.min.js"))
    headers, body = raw_get(client, plotly, "gzip;q=0, br;q=0, zstd;q=0")
    assert "content-encoding" not in headers
    assert body == plotly_js().read_bytes()


def test_the_page_and_the_api_are_compressed_but_not_kept(client: TestClient) -> None:
    headers, body = raw_get(client, "/", "gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == client.get("/").content
    assert headers["cache-control"] == "no-cache"
    assert "script-src 'self'" in headers["content-security-policy"]  # security headers kept
    headers, body = raw_get(client, "/openapi.json", "gzip")
    assert headers["content-encoding"] == "gzip"
    assert gzip.decompress(body) == client.get("/openapi.json").content
    for path in ("/api/presets", "/api/health", "/openapi.json"):
        cache_control = client.get(path).headers.get("cache-control", "")
        assert "immutable" not in cache_control and "max-age" not in cache_control, path


def test_a_client_that_accepts_no_encoding_gets_the_plain_file(client: TestClient) -> None:
    headers, body = raw_get(client, "/static/js/app.js", "identity")
    assert "content-encoding" not in headers
    assert body == (static_dir() / "js" / "app.js").read_bytes()
    assert headers["cache-control"] == "no-cache"  # unversioned: asked again before each use


def test_a_changed_file_is_a_new_version(tmp_path: Path) -> None:
    (tmp_path / "js").mkdir()
    (tmp_path / "js" / "a.js").write_text("export const a = 1;\n")
    before = static_version(tmp_path)
    assert static_version(tmp_path) == before
    (tmp_path / "js" / "a.js").write_text("export const a = 2;\n")
    changed = static_version(tmp_path)
    (tmp_path / "js" / "b.js").write_text("")
    added = static_version(tmp_path)
    assert len({before, changed, added}) == 3
    assert re.fullmatch(r"[0-9a-f]{12}", before)


def registered_traces(bundle: Path) -> set[str]:
    """The trace types a Plotly bundle registers (each is a module {moduleType: "trace"})."""
    text = bundle.read_text(encoding="utf-8")
    return set(re.findall(r'moduleType:"trace",name:"([a-z0-9]+)"', text))


def test_the_vendored_partial_plotly_draws_every_trace_type_the_page_uses() -> None:
    """The page is served Plotly's cartesian bundle, a third of the full one: every trace type
    the page's scripts name (`type: "…"` that is a Plotly trace type at all, by the full
    bundle the plotly package ships) must be registered in it, or that chart would not draw."""
    import plotly

    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    every_trace = registered_traces(full)
    assert {"scatter", "heatmap", "scattergl", "sankey"} <= every_trace  # the pattern works
    named = set()
    for script in static_dir().rglob("*.js"):
        named |= set(re.findall(r'\btype: "([a-z0-9]+)"', script.read_text(encoding="utf-8")))
    used = named & every_trace
    assert {"scatter", "heatmap", "box"} <= used
    missing = used - registered_traces(plotly_js())
    assert missing == set(), f"the vendored Plotly bundle lacks {sorted(missing)}"
    assert plotly_js().stat().st_size < full.stat().st_size / 3
