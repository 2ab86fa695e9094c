"""Numbers of their own on the page: a class's student gets their own batch in the grader's and
the hand check's cards, their own worksheet, and is marked against them; the teacher's
Worksheets downloads every student's sheet and key in one printable file, a sheet a page.
The student's seed is worked out here from the session's id and the name (sha256), the
gradients in NumPy from the batch the page showed."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from tests.api import by_hand

from .conftest import ARTIFACTS, Playground, opened
from .test_classroom import FOLLOW_MS

NAME_KEY = "playground.answer-name"  # where the page keeps the name its student answers under


def own_seed(session_id: str, folded_name: str) -> int:
    return int.from_bytes(
        hashlib.sha256(f"{session_id}:{folded_name}".encode()).digest()[:4], "big"
    )


def test_a_student_works_on_their_own_numbers_and_the_teacher_prints_everyones(
    playground: Playground,
) -> None:
    teacher = playground.page
    teacher.click("#share-button")
    teacher.click("#open-class-button")
    teacher.locator("#class-code").wait_for()
    link = teacher.input_value("#class-link")
    teacher.click("#share-close-button")
    session_id = playground.state()["sessionId"]
    seed = own_seed(session_id, "ana")  # "Ana", case folded
    browser = teacher.context.browser
    assert browser is not None
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    try:
        with opened(context.new_page(), link) as student:
            page = student.page
            page.evaluate(f"localStorage.setItem({json.dumps(NAME_KEY)}, 'Ana')")
            # The grader's batch: Ana's own, drawn by her seed.
            page.click("#grader-batch")
            page.wait_for_selector("#grader-problem:not([hidden])", timeout=FOLLOW_MS)
            problem = json.loads(page.text_content("#grader-problem") or "")
            assert problem["seed"] == seed
            # The hand check's batch is the same, and marks Ana's own ∂L/∂W[0][0, 1].
            page.click("#handcheck-batch")
            page.wait_for_selector("#handcheck-problem:not([hidden])")
            shown = page.text_content("#handcheck-problem") or ""
            rows = ", ".join(str(i) for i in problem["batch_indices"])
            assert shown.startswith(f"your own batch, seed {seed}: training rows {rows}\n")
            assert shown.count("\nrow ") == problem["batch_rows"]
            mine = by_hand.of_problem(problem)
            page.fill("#handcheck-layer", "0")
            page.fill("#handcheck-i", "0")
            page.fill("#handcheck-j", "1")
            page.fill("#handcheck-value", repr(float(mine["dW"][0][0, 1])))
            page.click("#handcheck-submit")
            page.wait_for_selector("#handcheck-verdict[data-correct='true']", timeout=FOLLOW_MS)
            assert f"own batch (seed {seed})" in (page.text_content("#handcheck-verdict") or "")
            # Her NumPy gradients pass on her batch.
            page.fill("#grader-input", json.dumps({"gradients": by_hand.gradients(problem)}))
            page.click("#grader-submit")
            page.wait_for_function(
                "() => document.getElementById('grader-diagnosis').textContent.startsWith('✓')"
            )
            # Her worksheet is her own: her name, her seed.
            with page.expect_download() as download:
                page.click("#worksheet-button")
            assert download.value.suggested_filename == "worksheet-Ana.html"
            sheet = Path(download.value.path()).read_text()
            assert 'data-student="Ana"' in sheet and f'data-seed="{seed}"' in sheet
            student.screenshot("student-own-batch.png", "#handcheck-panel")

        # The teacher's file: Ana (who checked and graded) on a page, then her key.
        with teacher.expect_download() as download:
            teacher.click("#predict-worksheets")
        assert download.value.suggested_filename == "class-worksheets.html"
        printed = Path(download.value.path()).read_text()
        found = re.findall(
            r'data-student="([^"]*)" data-seed="(\d+)" data-answers="(\w+)"', printed
        )
        assert found == [("Ana", str(seed), "no"), ("Ana", str(seed), "yes")]
        view = context.new_page()
        view.set_content(printed)
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        view.screenshot(path=ARTIFACTS / "class-worksheets.png")
        view.locator(".keys h1").first.scroll_into_view_if_needed()
        view.screenshot(path=ARTIFACTS / "class-worksheets-key.png")
        # Printed, the keys start a page of their own (and so does each sheet after the first).
        view.emulate_media(media="print")
        breaks = view.evaluate("getComputedStyle(document.querySelector('.keys')).breakBefore")
        assert breaks == "page"
    finally:
        context.close()
