"""What the numbers mean, said where they are shown (issue #14): each loss's scale convention
beside the loss picker and in the API's description of it; the loss as data loss everywhere;
the signs of the trace against lesson 000's names."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from app.engine import LOSSES


def test_each_loss_option_carries_its_convention_and_the_page_shows_it(
    client: TestClient,
) -> None:
    page = client.get("/").text
    found = re.findall(
        r'<option value="([a-z_]+)" data-convention="([^"]*)" data-plain="([^"]*)">',
        page,
        flags=re.S,
    )
    options = {name: (convention, plain) for name, convention, plain in found}
    assert set(options) == set(LOSSES)
    for name, loss in LOSSES.items():
        assert html.unescape(options[name][0]) == loss.convention
        # First the plain words (#20: plain words on the first screen), the convention behind.
        assert html.unescape(options[name][1]) == loss.plain
        assert loss.plain and "Σ" not in loss.plain and "lesson" not in loss.plain
    assert 'id="loss-convention"' in page and 'aria-describedby="loss-convention"' in page
    assert 'id="loss-plain"' in page
    # The divisors the issue names, in each loss's own words.
    assert "batch rows × outputs" in LOSSES["mse"].convention
    assert "no division" in LOSSES["sse"].convention
    for name in ("binary_cross_entropy", "softmax_cross_entropy"):
        assert "mean over batch rows" in LOSSES[name].convention
    assert "Train data loss" in page and "Test data loss" in page


def test_the_api_describes_each_losss_convention_and_the_data_loss(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    schemas = spec["components"]["schemas"]
    descriptions = [
        prop.get("description", "")
        for schema in schemas.values()
        for name, prop in schema.get("properties", {}).items()
        if name == "loss"
    ]
    described = [text for text in descriptions if "divides by" in text]
    assert described, "no schema describes its loss field's conventions"
    for loss in LOSSES.values():
        assert all(loss.convention in text for text in described)
    state = schemas["SessionState"]["properties"]
    for field in ("loss", "test_loss", "batch_loss"):
        assert "data loss" in state[field]["description"].lower()
        assert "penalty" in state[field]["description"]


def test_the_trace_fields_say_their_sign_against_lesson_000(client: TestClient) -> None:
    layer = client.get("/openapi.json").json()["components"]["schemas"]["LayerState"]
    props = layer["properties"]
    assert "layer1 error" in props["upstream"]["description"]
    assert "delta output sum" in props["delta"]["description"]
    assert "adjustment" in props["dW"]["description"]
    for field in ("upstream", "delta", "dW"):
        assert "Sign" in props[field]["description"]


def test_the_page_says_the_signs_where_it_shows_the_gradients(client: TestClient) -> None:
    page = client.get("/").text
    signs = page[page.index('data-testid="layers-signs"') :]
    signs = signs[: signs.index("</p>")]
    for name in ("delta output sum", "layer1 error", "weight adjustment", "negatives"):
        assert name in signs
