"""Predict, then reveal in two browsers: the teacher clicks a neuron and asks the sign of its
δ; a student answers under a name (and reloads: the page claims its answer back); the teacher
sees one answer and its bar; Reveal runs the phase (both pages show it) and the student's page
marks them right or wrong — against the δ the server's session computed, read outside the
browsers."""

from __future__ import annotations

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
