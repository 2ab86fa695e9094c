"""First use shows backprop (issue #20, item 7): a first visitor's Play runs the first batch
one phase at a time, so the backward pass is on the diagram within seconds, then play goes on
at the chosen pace; the loss phase shows the output's error on the diagram; the loss is named
in plain words with its convention one click away."""

from __future__ import annotations

from playwright.sync_api import Browser

from tests.browser.conftest import Playground, opened

FIRST_SCREEN = {"width": 1280, "height": 720}


def annotations(playground: Playground) -> list[str]:
    texts: list[str] = playground.page.evaluate(
        "() => (document.getElementById('network-diagram').layout.annotations || [])"
        ".map((note) => note.text)"
    )
    return texts


def test_a_first_visitors_play_shows_every_phase_then_plays_at_the_chosen_pace(
    browser: Browser, server_url: str
) -> None:
    context = browser.new_context(viewport=FIRST_SCREEN)
    try:
        with opened(context.new_page(), server_url, first_visit=True) as playground:
            page = playground.page
            hint = page.get_by_test_id("first-run-hint")
            assert hint.is_visible(), "a first visitor is told what Play will show"
            box = hint.bounding_box()
            assert box is not None and box["y"] + box["height"] <= FIRST_SCREEN["height"]
            playground.screenshot("first-use-1280x720.png")
            # Every phase the diagram shows, with the batch step it was shown at.
            page.evaluate(
                """() => {
                  const diagram = document.getElementById('network-diagram');
                  window.shownPhases = [];
                  new MutationObserver(() => window.shownPhases.push(
                    [diagram.dataset.activePhase, window.playgroundState.step]
                  )).observe(diagram, {attributes: true, attributeFilter: ['data-active-phase']});
                }"""
            )
            page.click("#play-button")
            # Slow motion: the phase just run is on the diagram, the backward pass among them.
            for kind in ("forward", "loss", "backward", "update"):
                page.wait_for_function(
                    "kind => document.getElementById('network-diagram').dataset.activePhase"
                    " === kind || (kind === 'update' && window.playgroundState.step >= 1)",
                    arg=kind,
                    timeout=15_000,
                )
            shown = page.evaluate("window.shownPhases")
            first_batch = [phase for phase, step in shown if step == 0]
            walked = [phase for phase in first_batch if phase in ("forward", "loss", "backward")]
            assert walked[:1] == ["forward"] and "loss" in walked and "backward" in walked, shown
            assert walked.index("loss") < walked.index("backward"), (
                "the first batch's phases in order"
            )
            # Then the chosen pace (a batch per unit, 300 a second): many batches soon.
            playground.wait_for("state.step >= 60", timeout=20_000)
            assert hint.is_hidden()
            playground.pause()
        # Remembered by this browser: a new page is a returning visitor.
        with opened(context.new_page(), server_url, first_visit=True) as again:
            assert again.page.get_by_test_id("first-run-hint").is_hidden()
    finally:
        context.close()


def test_skip_plays_at_the_chosen_pace_from_the_start(browser: Browser, server_url: str) -> None:
    context = browser.new_context(viewport=FIRST_SCREEN)
    try:
        with opened(context.new_page(), server_url, first_visit=True) as playground:
            playground.page.click("[data-testid=first-run-skip]")
            assert playground.page.get_by_test_id("first-run-hint").is_hidden()
            playground.play_until("state.step >= 60", timeout=20_000)
    finally:
        context.close()


def test_the_loss_phase_shows_the_batch_loss_and_the_outputs_error_on_the_diagram(
    playground: Playground,
) -> None:
    page = playground.page
    page.select_option("#step-unit", "phase")
    layers = len(playground.server_session()["config"]["model"]["layers"])
    playground.step(layers)  # the forward pass
    assert not any("∂L/∂ŷ" in text for text in annotations(playground))
    playground.step()  # the loss
    page.wait_for_function(
        "() => document.getElementById('network-diagram').dataset.activePhase === 'loss'"
    )
    page.wait_for_function(
        "() => (document.getElementById('network-diagram').layout.annotations || [])"
        ".some((note) => note.text.startsWith('∂L/∂ŷ'))"
    )
    session = playground.server_session(include_trace=True)
    upstream = session["layers"][-1]["upstream"]
    means = [sum(row[j] for row in upstream) / len(upstream) for j in range(len(upstream[0]))]
    texts = annotations(playground)
    assert f"loss {session['batch_loss']:.4f}" in texts
    assert [t for t in texts if t.startswith("∂L/∂ŷ")] == [f"∂L/∂ŷ {m:.4f}" for m in means]
    playground.screenshot("loss-phase-1280x720.png", "#network-panel")
    playground.step()  # the backward pass starts: the loss notes go
    page.wait_for_function(
        "() => document.getElementById('network-diagram').dataset.activePhase === 'backward'"
    )
    assert not any(t.startswith("∂L/∂ŷ") for t in annotations(playground))


def test_the_loss_is_named_in_plain_words_and_its_convention_is_one_click_away(
    playground: Playground,
) -> None:
    page = playground.page
    plain = page.get_by_test_id("loss-plain")
    convention = page.get_by_test_id("loss-convention")
    assert plain.inner_text().strip() == "half the mean squared error"  # the circle preset
    assert convention.is_hidden()
    plain.click()
    assert convention.is_visible() and "÷ (2·n·k)" in convention.inner_text()
