"""The digits preset on the page, at 1280×720 and on a 390×844 phone: the current batch's first
image (its pixels un-standardized from the dataset, its digit, the network's guess), each
first-layer unit's 64 weights as an 8×8 image, and a 10×10 confusion matrix where the 2-D
boundary cannot apply — each checked against the server's own numbers."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from .conftest import ARTIFACTS, Playground
from .test_phones import fits, phone
from .test_teaching import api_get

# The canvases' pixels, read back: (rows, columns, RGB) per canvas, batch image first.
CANVAS_PIXELS = """() => [...document.querySelectorAll('#image-panel canvas')].map((canvas) => {
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  const rows = [];
  for (let r = 0; r < canvas.height; r += 1) {
    const row = [];
    for (let c = 0; c < canvas.width; c += 1) {
      const k = 4 * (r * canvas.width + c);
      row.push([data[k], data[k + 1], data[k + 2]]);
    }
    rows.push(row);
  }
  return rows;
})"""


def open_digits(playground: Playground) -> dict[str, Any]:
    page = playground.page
    first = playground.state()["sessionId"]
    page.select_option("#preset", "digits")
    playground.wait_new_session(first)
    page.select_option("#step-unit", "batch")
    playground.step(3)
    page.select_option("#step-unit", "phase")
    playground.step(1)  # into the next batch: its rows are the state's batch_indices
    page.locator("#image-panel").wait_for()
    state: dict[str, Any] = api_get(playground, "")
    return state


def check_images(playground: Playground, state: dict[str, Any]) -> None:
    page = playground.page
    data = api_get(playground, "/dataset")
    caption = page.locator("[data-testid=batch-image-caption]")
    caption.wait_for()
    page.wait_for_selector("[data-testid=batch-image-caption][data-row]")
    # The row the page shows is the current batch's first.
    row = state["batch_indices"][0]
    page.wait_for_selector(f"[data-testid=batch-image-caption][data-row='{row}']")
    digit = int(np.argmax(data["y_train"][row]))
    assert caption.get_attribute("data-target") == str(digit)
    assert f"Training row {row}: a {digit}." in caption.inner_text()
    canvases = page.evaluate(CANVAS_PIXELS)
    assert len(canvases) == 1 + state["config"]["model"]["layers"][0]["units"]  # 1 + 32
    # The batch image is the row's raw pixels (0…16), dark ink on white.
    raw = np.asarray(data["x_train"][row]) * np.asarray(data["scaling"]["std"]) + np.asarray(
        data["scaling"]["mean"]
    )
    ink = 255 * (1 - (raw - raw.min()) / (raw.max() - raw.min()))
    drawn = np.asarray(canvases[0])[:, :, 0].ravel()
    np.testing.assert_allclose(drawn, np.round(ink), atol=1)
    # Unit 0's image is W[:, 0] of layer 0: blue where positive, orange where negative.
    W = np.asarray(state["layers"][0]["W"])
    unit = np.asarray(canvases[1]).reshape(64, 3).astype(float)
    bluish = unit[:, 2] > unit[:, 0]
    strong = np.abs(W[:, 0]) > 0.25 * np.abs(W).max()
    assert strong.any()
    np.testing.assert_array_equal(bluish[strong], W[strong, 0] > 0)
    # The guess is the argmax of the network's output for that row, as the server computes it.
    predicted = playground.page.request.post(
        f"{playground.url}/api/sessions/{state['id']}/predict",
        data={"inputs": [data["x_train"][row]]},
        headers={"Authorization": f"Bearer {playground.state()['token']}"},
    ).json()
    guess = int(np.argmax(predicted["outputs"][0]))
    assert caption.get_attribute("data-guess") == str(guess)


def test_the_digits_show_the_batch_image_the_units_weights_and_a_confusion_matrix(
    playground: Playground,
) -> None:
    state = open_digits(playground)
    check_images(playground, state)
    page = playground.page
    # Where no plane applies: the 10 × 10 confusion matrix, counts summing to the split.
    matrix = page.evaluate("() => document.getElementById('output-chart').data[0].z")
    assert np.asarray(matrix).shape == (10, 10)
    assert np.asarray(matrix).sum() in (state["n_train"], state["n_test"])
    playground.screenshot("digits-1280x720.png")
    page.locator("#image-panel").scroll_into_view_if_needed()
    playground.screenshot("digits-images.png", "#image-panel")


@pytest.mark.parametrize("size", [(390, 844)])
def test_the_digits_images_fit_a_phone(playground: Playground, size: tuple[int, int]) -> None:
    open_digits(playground)
    link = playground.page.url
    with phone(playground, size, link) as small:
        page = small.page
        page.locator("#image-panel").wait_for()
        page.locator("#image-panel").scroll_into_view_if_needed()
        assert fits(page)["document"] <= size[0]
        box = page.locator("[data-testid=unit-weight-images]").bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= size[0]
        page.screenshot(path=ARTIFACTS / f"digits-phone-{size[0]}x{size[1]}.png")
