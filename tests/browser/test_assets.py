"""A first load in the browser: every text asset arrives compressed, the whole page weighs
under 2 MB as transferred (Plotly is 4.8 MB raw), nothing comes from another host, and a
second visit takes this release's files from the cache."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Response

from .conftest import opened

pytestmark = pytest.mark.browser
FIRST_LOAD_LIMIT = 2_000_000  # bytes transferred, headers included


def test_a_first_load_transfers_under_2_mb_all_text_compressed(
    browser: Browser, server_url: str
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 720})
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        transferred: dict[str, float] = {}
        cdp.on(
            "Network.loadingFinished",
            lambda event: transferred.__setitem__(event["requestId"], event["encodedDataLength"]),
        )
        responses: list[Response] = []
        page.on("response", lambda response: responses.append(response))
        with opened(page, server_url) as playground:  # also: no request to another host
            page.wait_for_load_state("networkidle")
            total = sum(transferred.values())
            assert total < FIRST_LOAD_LIMIT, f"{total / 1e6:.2f} MB on a first load"
            plotly = next(r for r in responses if "/vendor/plotly.min.js" in r.url)
            assert plotly.header_value("content-encoding") in ("gzip", "br", "zstd")
            texts = [
                r
                for r in responses
                if r.request.resource_type in ("document", "script", "stylesheet", "fetch")
                and r.status == 200
                and int(r.header_value("content-length") or 1000) >= 500
            ]
            assert len(texts) > 20
            plain = [r.url for r in texts if not r.header_value("content-encoding")]
            assert plain == [], "sent uncompressed"
            assert playground.foreign_requests() == []

        # A second visit: this release's files come from the cache, never asked again.
        asked: dict[str, str] = {}
        from_cache: set[str] = set()
        cdp.on(
            "Network.requestWillBeSent",
            lambda event: asked.__setitem__(event["requestId"], event["request"]["url"]),
        )
        cdp.on("Network.requestServedFromCache", lambda event: from_cache.add(event["requestId"]))

        def cached_response(event: dict[str, Any]) -> None:
            response = event["response"]
            if response.get("fromDiskCache") or response.get("fromMemoryCache"):
                from_cache.add(event["requestId"])

        cdp.on("Network.responseReceived", cached_response)
        page.reload()
        page.wait_for_function("() => window.playgroundState?.connection === 'live'")
        page.wait_for_load_state("networkidle")
        release = [i for i, url in asked.items() if "/static/" in url or "/vendor/" in url]
        assert len(release) > 20
        refetched = [asked[i] for i in release if i not in from_cache]
        assert refetched == [], "asked the server again"
    finally:
        context.close()
