"""A weight TF Playground's L1 rule froze says so on the diagram: its tooltip shows W = 0, its
gradient, and that no update moves it; a live weight's tooltip does not."""

from __future__ import annotations

import base64
import json
import urllib.request
from typing import Any

from playwright.sync_api import Page

from .conftest import Playground, opened

# The Gaussians preset (penalty_rule tfp) at L1 0.03: its first weight dies in batch 18.
SETUP = {"preset": "gaussians", "model": {"l1": 0.03, "seed": 5, "shuffle": False}}


def setup_link(server_url: str) -> str:
    encoded = base64.urlsafe_b64encode(json.dumps(SETUP).encode()).decode().rstrip("=")
    return f"{server_url}/#setup={encoded}"


def step_batches(playground: Playground, count: int) -> None:
    """Batch steps over REST with the page's control token; the page follows live."""
    state = playground.state()
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{state['sessionId']}/step",
        data=json.dumps({"unit": "batch", "count": count}).encode(),
        headers={"Authorization": f"Bearer {state['token']}", "Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.status == 200


def tooltip_of(page: Page, link: int) -> tuple[str, Any]:
    """Hover the diagram's link ``link`` (its trace point); the tooltip's text."""
    point: dict[str, Any] = page.evaluate(
        """(n) => {
            const el = document.getElementById('network-diagram');
            const trace = el._fullData[0], xa = el._fullLayout.xaxis, ya = el._fullLayout.yaxis;
            const box = el.getBoundingClientRect();
            return {x: box.left + xa._offset + xa.l2p(trace.x[n]),
                    y: box.top + ya._offset + ya.l2p(trace.y[n]), data: trace.customdata[n]};
        }""",
        link,
    )
    page.mouse.move(0, 0)
    page.mouse.move(point["x"], point["y"])
    tooltip = page.locator("#network-panel [data-testid=diagram-tooltip]")
    tooltip.wait_for(state="visible")
    return str(tooltip.inner_text()), point["data"]


def test_a_dead_weight_says_so_on_hover(page: Page, server_url: str) -> None:
    with opened(page, setup_link(server_url)) as playground:
        playground.url = server_url  # the server, for the REST helpers (the link has a #…)
        step_batches(playground, 30)
        playground.wait_for("state.step >= 30")
        session = playground.server_session(include_trace=True)
        dead = [
            (k, i, j)
            for k, layer in enumerate(session["layers"])
            if layer["dead"]
            for i, row in enumerate(layer["dead"])
            for j, value in enumerate(row)
            if value
        ]
        assert dead, "a weight died by batch 30"
        links = page.evaluate(
            "() => document.getElementById('network-diagram')._fullData[0].customdata"
        )
        seen = {tuple(link): n for n, link in enumerate(links) if link}
        k, i, j = dead[0]
        text, data = tooltip_of(page, seen[(k, i, j)])
        assert data == [k, i, j]
        assert "W = 0" in text and "dead" in text and "∂L/∂W" in text
        playground.screenshot("dead-weight-tooltip.png", "#network-panel")
        live = next(key for key in seen if key not in set(dead) and len(key) == 3)
        text, _ = tooltip_of(page, seen[live])
        assert "dead" not in text
