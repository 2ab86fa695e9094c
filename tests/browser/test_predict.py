"""Predict, then reveal in two browsers: the teacher clicks a neuron and asks the sign of its
δ; a student answers under a name (and reloads: the page claims its answer back); the teacher
sees one answer and its bar; Reveal runs the phase (both pages show it) and the student's page
marks them right or wrong — against the δ the server's session computed, read outside the
browsers."""

from __future__ import annotations

from typing import Any

import numpy as np

from .conftest import Playground
from .test_classroom import FOLLOW_MS, student_on
from .test_teaching import api_get, click_in_diagram


def test_the_teacher_asks_a_student_answers_and_the_reveal_marks_them(
    playground: Playground,
) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    teacher.locator("#predict-teacher").wait_for()

    # Paused before the output layer's backward phase (the circle preset: 3 layers).
    teacher.select_option("#step-unit", "phase")
    output = len(playground.state()["layers"]) - 1
    while playground.state()["nextPhase"] != {"kind": "backward", "layer": output}:
        playground.step()
    with student_on(playground, link) as student:
        teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
        click_in_diagram(playground, output, None, 0)
        assert f"δ of neuron 0 in layer {output}" in teacher.inner_text("#predict-pick")
        teacher.click("#predict-ask")
        teacher.wait_for_selector("#predict-question:has-text('sign of δ of unit 0')")
        # Folded, the card is its title row alone (a projector's teaching panel stays in
        # view); unfolded, all of it again.
        card = teacher.locator("#predict-teacher")
        tall = card.bounding_box()
        teacher.click("#predict-teacher-fold")
        assert teacher.get_attribute("#predict-teacher-fold", "aria-expanded") == "false"
        assert not teacher.is_visible("#predict-reveal")
        folded = card.bounding_box()
        assert tall is not None and folded is not None and folded["height"] < tall["height"] / 2
        teacher.click("#predict-teacher-fold")
        assert teacher.is_visible("#predict-reveal")

        page = student.page
        page.locator("#predict-student").wait_for(timeout=FOLLOW_MS)
        assert "sign of δ" in page.inner_text("#predict-student-question")
        page.fill("#predict-name", "Ana")
        page.click("#predict-sign-plus")
        page.click("#predict-send")
        page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)

        teacher.wait_for_selector("#predict-count[data-count='1']", timeout=FOLLOW_MS)
        teacher.wait_for_selector("#predict-histogram .predict-bar[data-label='+'][data-count='1']")
        assert teacher.locator(".predict-bar[data-label='-']").get_attribute("data-count") == "0"
        playground.screenshot("predict-teacher-answers.png", "#predict-teacher")

        # The student reloads before the reveal: the page claims its answer back by the
        # receipt it kept (no second answer), and the mark below still comes to it.
        page.reload()
        page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
        assert "as Ana" in page.inner_text("#predict-result")
        assert page.inner_text("#predict-send") == "Change answer"  # the latest counts

        version = playground.state()["version"]
        teacher.click("#predict-reveal")
        playground.wait_version_after(version)  # the phase ran: the teacher's page shows it
        shown = "state.nextPhase?.kind === 'backward' && state.nextPhase.layer === arg"
        student.wait_for(shown, output - 1, timeout=FOLLOW_MS)  # the student's page shows it too
        delta = api_get(playground, "")["layers"][output]["delta"][0][0]
        right = delta > 0
        page.wait_for_selector("#predict-result[data-mark]", timeout=FOLLOW_MS)
        assert page.get_attribute("#predict-result", "data-mark") == ("right" if right else "wrong")
        assert ("You were right" if right else "You were wrong") in page.inner_text(
            "#predict-result"
        )
        # The truth is highlighted on the student's diagram (they never clicked it).
        page.wait_for_function(
            "() => (document.getElementById('network-diagram').layout.shapes || [])"
            ".some((shape) => shape.name === 'selected')"
        )
        teacher.wait_for_selector("#predict-truth[data-right]")
        assert f"{int(right)} of 1 right" in teacher.inner_text("#predict-truth")
        student.screenshot("predict-student-mark.png", "#predict-student")
        playground.screenshot("predict-teacher-page.png")


def open_class_link(playground: Playground) -> str:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    teacher.locator("#predict-teacher").wait_for()
    teacher.select_option("#step-unit", "phase")
    return link


def step_until(playground: Playground, phase: dict[str, Any]) -> None:
    while playground.state()["nextPhase"] != phase:
        playground.step()


def reveal_and_wait(playground: Playground, student: Playground) -> str:
    """Reveal; the student's mark once it comes ("right" or "wrong")."""
    version = playground.state()["version"]
    playground.page.click("#predict-reveal")
    playground.wait_version_after(version)
    student.page.wait_for_selector("#predict-result[data-mark]", timeout=FOLLOW_MS)
    return str(student.page.get_attribute("#predict-result", "data-mark"))


def test_the_largest_delta_the_loss_and_a_weight_after_the_update_on_the_page(
    playground: Playground,
) -> None:
    """A student taps the unit on their own diagram, taps ↓ or ↑ for the loss, types a weight's
    value; each mark is the one an independent computation from the session's state gives."""
    teacher = playground.page
    link = open_class_link(playground)
    step_until(playground, {"kind": "backward", "layer": 0})
    with student_on(playground, link) as student:
        page = student.page
        teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
        teacher.select_option("#predict-kind", "largest_delta")
        click_in_diagram(playground, 0, None, 1)
        assert "the units of layer 0" in teacher.inner_text("#predict-pick")
        teacher.click("#predict-ask")
        page.locator("#predict-student").wait_for(timeout=FOLLOW_MS)
        page.wait_for_selector("#predict-student-question:has-text('largest δ')")
        assert page.is_visible("#predict-unit") and page.is_hidden("#predict-sign-plus")
        page.fill("#predict-name", "Ana")
        click_in_diagram(student, 0, None, 2)  # the student taps unit 2 of layer 0
        assert page.input_value("#predict-unit") == "2"
        page.click("#predict-send")
        page.wait_for_selector("#predict-result:has-text('Sent: unit 2')", timeout=FOLLOW_MS)
        teacher.wait_for_selector("#predict-histogram .predict-bar[data-label='unit 2']")
        mark = reveal_and_wait(playground, student)
        mean_abs = np.abs(np.asarray(api_get(playground, "")["layers"][0]["delta"])).mean(axis=0)
        assert mark == ("right" if mean_abs[2] == mean_abs.max() else "wrong")
        # The unit of largest |δ| is marked on the student's diagram.
        page.wait_for_function(
            "() => (document.getElementById('network-diagram').layout.shapes || [])"
            ".some((shape) => shape.name === 'selected')"
        )

        # The update is next: will the loss go down? No pick needed on the diagram.
        before = api_get(playground, "")
        assert before["phase"] == {"kind": "update", "layer": None}
        teacher.select_option("#predict-kind", "loss_change")
        teacher.click("#predict-ask")
        page.wait_for_selector("#predict-student-question:has-text('go down or up')")
        page.click("#predict-loss-down")
        assert page.get_attribute("#predict-loss-down", "aria-pressed") == "true"
        page.click("#predict-send")
        page.wait_for_selector("#predict-result:has-text('↓ down')", timeout=FOLLOW_MS)
        mark = reveal_and_wait(playground, student)
        after = api_get(playground, "")
        y = np.asarray(api_get(playground, "/dataset")["y_train"])[before["batch_indices"]]
        a = np.asarray(after["layers"][0]["input"])  # the batch, at the weights the update made
        for layer in after["layers"]:
            a = np.tanh(a @ np.asarray(layer["W"]) + np.asarray(layer["b"]))
        loss_after = 0.5 * np.mean((a - y) ** 2)
        assert mark == ("right" if loss_after < before["batch_loss"] else "wrong")
        assert "the loss goes" in teacher.inner_text("#predict-truth")

        # A weight after the next batch's update: the student types its value as it is now.
        step_until(playground, {"kind": "update", "layer": None})
        click_in_diagram(playground, 1, 0, 1)
        teacher.select_option("#predict-kind", "weight_after")
        assert "W[1][0, 1] after the update" in teacher.inner_text("#predict-pick")
        teacher.fill("#predict-tolerance", "10")
        teacher.click("#predict-ask")
        page.wait_for_selector("#predict-student-question:has-text('W[1][0, 1]')")
        now = api_get(playground, "")["layers"][1]["W"][0][1]
        assert page.is_visible("#predict-value") and page.is_hidden("#predict-loss-up")
        page.fill("#predict-value", str(now))
        page.click("#predict-send")
        page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
        mark = reveal_and_wait(playground, student)
        updated = api_get(playground, "")["layers"][1]["W"][0][1]
        assert mark == ("right" if updated == now else "wrong")  # "it stays" only if it did
        student.screenshot("predict-student-weight-after.png", "#predict-student")
