"""The page draws its decision boundary over the same plane as ``/boundary`` (issue #21, 11):
with input features x1², x2², both grid the plane (x1, x2) with the server's margin, so the
output chart's axes are /boundary's ``x`` and ``y`` ends."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

import numpy as np

from .conftest import Playground

PAGE_GRID = 40  # static/js/views/output.js GRID: the page's boundary grid side


def boundary_of(playground: Playground, resolution: int) -> dict[str, Any]:
    state = playground.state()
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{state['sessionId']}/boundary?resolution={resolution}",
        headers={"Authorization": f"Bearer {state['token']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
        return answer


def test_the_page_and_boundary_draw_the_same_plane_with_squared_inputs(
    playground: Playground,
) -> None:
    page = playground.page
    for feature in ("x1_squared", "x2_squared"):
        previous = playground.state()["sessionId"]
        page.click(f"[data-testid=feature-{feature}]")
        playground.wait_new_session(previous)
    for feature in ("x1", "x2"):  # only the squares are left as inputs
        previous = playground.state()["sessionId"]
        page.click(f"[data-testid=feature-{feature}]")
        playground.wait_new_session(previous)
    playground.step(3)
    page.wait_for_function(
        "() => (document.getElementById('output-chart').layout?.images || []).length === 1"
    )
    shown = page.evaluate(
        """() => {
            const layout = document.getElementById('output-chart').layout;
            return {x: layout.xaxis.range, y: layout.yaxis.range,
                    titles: [layout.xaxis.title.text, layout.yaxis.title.text]};
        }"""
    )
    grid = boundary_of(playground, PAGE_GRID)
    assert grid["inputs"] == ["x1²", "x2²"]
    assert shown["titles"] == grid["axes"] == ["x1", "x2"]
    np.testing.assert_allclose(shown["x"], [grid["x"][0], grid["x"][-1]], rtol=0, atol=1e-12)
    np.testing.assert_allclose(shown["y"], [grid["y"][0], grid["y"][-1]], rtol=0, atol=1e-12)
    assert grid["x"][0] < 0 and grid["y"][0] < 0  # the plane's, never the squares' (≥ 0)
    playground.screenshot("boundary-squared-inputs.png", "#output-chart")
