"""Peer instruction in two browsers, the student on a phone: the teacher asks the sign of a
neuron's δ; the student answers (sure); the teacher opens round 2 ("discuss, then vote
again"); the student answers the other way; the teacher sees both rounds' histograms side by
side; Reveal marks round 2 on the student's phone and shows the teacher how many moved — all
against the δ the server computed, read outside the browsers. The student then checks a hand
calculation, and the teacher's lesson record counts it under the student's name."""

from __future__ import annotations

from .conftest import ARTIFACTS, Playground
from .test_classroom import FOLLOW_MS
from .test_phones import fits, phone
from .test_teaching import api_get, click_in_diagram

PHONE = (390, 844)


def bar(round_selector: str, label: str) -> str:
    return f"{round_selector} .predict-bar[data-label='{label}']"


def test_vote_discuss_vote_again_then_reveal_marks_round_two_and_counts_who_moved(
    playground: Playground,
) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    teacher.select_option("#step-unit", "phase")
    output = len(playground.state()["layers"]) - 1
    while playground.state()["nextPhase"] != {"kind": "backward", "layer": output}:
        playground.step()
    width, height = PHONE
    with phone(playground, PHONE, link) as student:
        teacher.wait_for_selector("#class-students[data-count='1']", state="attached")
        click_in_diagram(playground, output, None, 0)
        teacher.click("#predict-ask")
        page = student.page
        page.locator("#predict-student").wait_for(timeout=FOLLOW_MS)
        assert page.is_hidden("#predict-student-round")  # one round so far: nothing said

        # Round 1: "+", sure.
        page.fill("#predict-name", "Ana")
        page.tap("#predict-sign-plus")
        page.tap("#predict-sure")
        assert page.get_attribute("#predict-sure", "aria-pressed") == "true"
        page.tap("#predict-send")
        page.wait_for_selector("#predict-result:has-text('Sent')", timeout=FOLLOW_MS)
        assert "sure" in page.inner_text("#predict-result")
        teacher.wait_for_selector(
            "#predict-histogram .predict-bar[data-label='+'][data-count='1']", timeout=FOLLOW_MS
        )
        teacher.click("#predict-round")

        # Round 2: the phone says so, the answer is asked again; the student now says "−".
        page.wait_for_selector("#predict-student-round:has-text('Round 2')", timeout=FOLLOW_MS)
        assert "discuss with your neighbour" in page.inner_text("#predict-student-round")
        assert "round 1 answer" in page.inner_text("#predict-result")
        assert fits(page)["document"] <= width
        for selector in ("#predict-sign-minus", "#predict-send", "#predict-unsure"):
            box = page.locator(selector).bounding_box()
            assert box is not None and box["height"] >= 44, selector
            assert box["y"] >= 0 and box["y"] + box["height"] <= height, (selector, box)
        page.screenshot(path=ARTIFACTS / "peer-round-2-phone.png")
        page.tap("#predict-sign-minus")
        page.tap("#predict-send")
        page.wait_for_selector("#predict-result:has-text('in round 2')", timeout=FOLLOW_MS)

        # The teacher: round 1 (one "+") beside round 2 (one "−").
        teacher.wait_for_selector("#predict-count[data-round='2'][data-count='1']")
        assert teacher.get_attribute(bar("#predict-histogram", "-"), "data-count") == "1"
        assert teacher.get_attribute(bar("#predict-histogram", "+"), "data-count") == "0"
        earlier = "#predict-earlier .predict-round[data-round='1']"
        assert teacher.get_attribute(bar(earlier, "+"), "data-count") == "1"
        assert teacher.get_attribute(bar(earlier, "-"), "data-count") == "0"
        sure = teacher.locator(f"{bar(earlier, '+')} .predict-bar-sure").bounding_box()
        assert sure is not None and sure["width"] > 0  # round 1's "+" was said to be sure
        # A third round is allowed (question_max_rounds = 3 by default), no more.
        assert teacher.inner_text("#predict-round") == "Vote again (round 3)"
        assert teacher.is_enabled("#predict-round")
        playground.screenshot("peer-rounds-teacher.png", "#predict-teacher")

        version = playground.state()["version"]
        teacher.click("#predict-reveal")
        playground.wait_version_after(version)
        delta = api_get(playground, "")["layers"][output]["delta"][0][0]
        first, second = delta > 0, delta < 0  # "+" then "−"
        page.wait_for_selector("#predict-result[data-mark]", timeout=FOLLOW_MS)
        assert page.get_attribute("#predict-result", "data-mark") == (
            "right" if second else "wrong"
        )
        told = page.inner_text("#predict-result")
        assert f"Round 1: + positive {'right' if first else 'wrong'}" in told
        assert f"Round 2: − negative {'right' if second else 'wrong'}" in told
        page.screenshot(path=ARTIFACTS / "peer-reveal-phone.png")

        moved = teacher.locator("#predict-moved")
        moved.wait_for()
        assert moved.get_attribute("data-wrong-to-right") == str(int(not first and second))
        assert moved.get_attribute("data-right-to-wrong") == str(int(first and not second))
        # Anonymous on the projector until the teacher turns names on.
        assert teacher.is_hidden("#predict-students")
        teacher.check("#predict-names")
        assert "Ana" in teacher.inner_text("#predict-students")
        playground.screenshot("peer-reveal-teacher.png", "#predict-teacher")

        # A hand check on the phone counts in the lesson's record under the name Ana answers
        # (the revealed question's sheet folded away first, as a student would).
        page.tap("#predict-student-fold")
        page.fill("#handcheck-value", "12345")
        page.tap("#handcheck-submit")
        page.wait_for_selector("#handcheck-verdict[data-correct='false']", timeout=FOLLOW_MS)
        teacher.click("#predict-record-button")
        row = teacher.locator("#predict-record tbody tr", has_text="Ana")
        row.wait_for()
        cells = row.locator("td").all_inner_texts()
        assert cells == [
            "Ana",
            f"{int(first)} / 1",
            f"{int(second)} / 1",
            "0 / 1",  # the hand check: done, wrong
            "0 / 0",
        ]
        teacher.locator("#predict-record-csv").scroll_into_view_if_needed()
        playground.screenshot("peer-record-teacher.png", "#predict-teacher")
