"""The page's forward pass (static/js/forward.js) equals the engine's, for every activation
the engine has (issue #14) and every input feature it computes for the boundary (issue #22).

Driven by the engine's own lists, ``ACTIVATIONS`` and ``FEATURES``: an activation or a feature
added to the engine and not to the page fails here. The JS runs in the browser the page runs in
(Debian's chromium), imported from the server exactly as the page imports it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page

from app.engine import ACTIVATIONS, LayerConfig, Model, ModelConfig
from app.engine.datasets import FEATURES

RTOL = 1e-12  # libm's exp / tanh and V8's may round the last bit differently
ATOL = 1e-15

FEATURE_JS = """async ([id, points]) => {
    const { FEATURE_COLUMNS } = await import('/static/js/forward.js');
    const column = FEATURE_COLUMNS[id];
    if (!column) throw new Error(`the page has no column for feature ${id}`);
    return points.map(column);
}"""
FORWARD_JS = """async ([layers, rows]) => {
    const { forward } = await import('/static/js/forward.js');
    return forward(layers, rows);
}"""


def network_for(activation: str) -> Model:
    """3 → 5 → 4 with ``activation`` on both layers (softmax only on the output)."""
    hidden = "tanh" if activation == "softmax" else activation
    model = Model(
        ModelConfig(
            input_size=3,
            layers=(LayerConfig(5, hidden), LayerConfig(4, activation)),
            initializer="he",
            seed=11,
        )
    )
    rng = np.random.default_rng(3)
    for layer in model.layers:  # the initializer's zero biases would leave + b untested
        assert layer.b is not None
        layer.b = rng.normal(size=layer.b.shape)
    return model


def as_page_layers(model: Model) -> list[dict[str, Any]]:
    """The layers as a frame carries them: W (inputs × units), b (units), activation."""
    return [
        {
            "W": layer.W.tolist(),
            "b": None if layer.b is None else layer.b[0].tolist(),
            "activation": layer.activation.name,
        }
        for layer in model.layers
    ]


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_page_forward_equals_the_engine(page: Page, server_url: str, activation: str) -> None:
    page.goto(f"{server_url}/api/health")  # same origin as the modules, no page scripts
    model = network_for(activation)
    rng = np.random.default_rng(7)
    rows = np.vstack([rng.normal(scale=3.0, size=(40, 3)), [[0.0, 0.0, 0.0], [25.0, -30.0, 40.0]]])
    expected = model.predict(rows)
    shown = np.array(page.evaluate(FORWARD_JS, [as_page_layers(model), rows.tolist()]))
    assert shown.shape == expected.shape
    np.testing.assert_allclose(shown, expected, rtol=RTOL, atol=ATOL)


def test_page_forward_refuses_an_activation_it_does_not_know(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/api/health")
    layers = [{"W": [[1.0]], "b": [0.0], "activation": "swish"}]
    with pytest.raises(Exception, match="no forward pass for activation swish"):
        page.evaluate(FORWARD_JS, [layers, [[1.0]]])


@pytest.mark.parametrize("feature", list(FEATURES))
def test_page_feature_columns_equal_the_engines(page: Page, server_url: str, feature: str) -> None:
    page.goto(f"{server_url}/api/health")
    rng = np.random.default_rng(5)
    points = np.vstack([rng.normal(scale=4.0, size=(60, 2)), [[0.0, 0.0], [-1e3, 7e2]]])
    expected = FEATURES[feature].column(points)
    shown = np.array(page.evaluate(FEATURE_JS, [feature, points.tolist()]))
    np.testing.assert_allclose(shown, expected, rtol=RTOL, atol=ATOL)


def test_the_page_computes_no_feature_the_engine_lacks(page: Page, server_url: str) -> None:
    page.goto(f"{server_url}/api/health")
    ids = page.evaluate(
        "import('/static/js/forward.js').then((m) => Object.keys(m.FEATURE_COLUMNS))"
    )
    assert ids == list(FEATURES)
