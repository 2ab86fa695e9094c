"""The page acts on the facts the server sends it, never on copies of its own (issue #22, 4);
where it decides by itself from them (does a network fit a lesson's guide?), it decides as the
server does.

The server here has some of them changed (tests/browser/changed_facts_app.py): an input
feature's label and formula, an activation only an output layer takes, the output a loss
needs, a lesson's title and button. The page shows and uses the changed ones — a page with
its own copy of them would offer the old label, and then draw no boundary: the renamed
column would be one it does not know.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from .changed_facts_app import LESSON, OUTPUT_ONLY, RENAMED, SIGMOID_LOSS
from .conftest import Playground, opened, running_server

OUTPUT_FOR_JS = """async ([activation, loss]) => {
    const { outputFor } = await import('/static/js/controls.js');
    const model = { layers: [{ units: 4, activation: 'tanh' }, { units: 1, activation }], loss };
    return outputFor('binary', 1, model).loss;
}"""


def dataset_of(playground: Playground) -> dict[str, Any]:
    """GET /api/sessions/{id}/dataset, outside the browser."""
    state = playground.state()
    request = urllib.request.Request(
        f"{playground.url}/api/sessions/{state['sessionId']}/dataset",
        headers={"Authorization": f"Bearer {state['token']}"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        dataset: dict[str, Any] = json.loads(response.read())
        return dataset


def test_the_page_uses_the_servers_facts(page: Page, tmp_path: Path) -> None:
    with (
        running_server("tests.browser.changed_facts_app:create_app", tmp_path) as url,
        opened(page, url) as playground,
    ):
        # The input feature, by the server's label and formula, drawn over the plane.
        toggle = page.locator(f"[data-testid=feature-{RENAMED['id']}]")
        assert toggle.inner_text() == RENAMED["label"]
        assert RENAMED["formula"] in (toggle.get_attribute("title") or "")
        first = playground.state()["sessionId"]
        toggle.click()
        playground.wait_new_session(first)
        assert RENAMED["label"] in dataset_of(playground)["feature_names"]
        playground.step(2)
        page.wait_for_function(
            "() => (document.getElementById('output-chart').layout?.images || []).length === 1"
        )

        # Only the output layer offers an output-only activation.
        hidden = page.locator("[data-testid=layer-activation-0] option").all_inner_texts()
        output = page.locator("[data-testid=layer-activation-2] option").all_inner_texts()
        shown = OUTPUT_ONLY.replace("_", " ")
        assert shown not in hidden and shown in output

        # A loss that needs another output activation gives way to the default loss.
        assert page.evaluate(OUTPUT_FOR_JS, ["sigmoid", SIGMOID_LOSS]) == SIGMOID_LOSS
        default = page.evaluate(
            "import('/static/js/config.js').then((m) => m.pageConfig().default_loss)"
        )
        assert default != SIGMOID_LOSS
        assert page.evaluate(OUTPUT_FOR_JS, ["tanh", SIGMOID_LOSS]) == default

        # The lesson, by the server's title and button.
        page.click("#tab-guide")
        option = page.locator(f"#guide-lesson option[value={LESSON['id']}]")
        assert option.inner_text() == LESSON["title"]
        page.select_option("#guide-lesson", LESSON["id"])
        load = page.locator("#guide-load-lesson")
        load.wait_for(state="visible")
        assert load.inner_text() == LESSON["load"]


FITS_JS = """async (models) => {
    const { fitsLesson } = await import('/static/js/guide.js');
    const { pageConfig } = await import('/static/js/config.js');
    const fits = (lesson) => models.map((model) => fitsLesson(model, lesson));
    return pageConfig().lessons.map((lesson) => [lesson.id, fits(lesson)]);
}"""


def api(url: str, path: str, body: Any = None, token: str | None = None) -> tuple[int, Any]:
    """A request outside the browser: (status, JSON body)."""
    request = urllib.request.Request(
        f"{url}{path}",
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"}
        | ({"Authorization": f"Bearer {token}"} if token else {}),
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_the_page_fits_a_network_to_a_lesson_as_the_server_does(
    playground: Playground,
) -> None:
    """Every preset's network against every lesson: the page's check before it asks for a
    guide says yes exactly when the server walks it."""
    url = playground.url
    _, presets = api(url, "/api/presets")
    sessions = [api(url, "/api/sessions", {"preset": preset["id"]})[1] for preset in presets]
    models = [session["state"]["config"]["model"] for session in sessions]
    verdicts = dict(playground.page.evaluate(FITS_JS, models))
    assert len(verdicts) > 1
    for lesson, fits in verdicts.items():
        served = [
            api(url, f"/api/sessions/{s['id']}/lesson?name={lesson}", token=s["token"])[0]
            for s in sessions
        ]
        assert [200 if fit else 422 for fit in fits] == served, lesson
    assert not all(all(fits) for fits in verdicts.values()), "some network is refused"
