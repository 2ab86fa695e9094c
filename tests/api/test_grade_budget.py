"""POST …/grade apart from the session, on a pool of its own, within ``max_grade_seconds``.

Each common mistake the grader tries is a backward pass of the batch: the grade runs on a
copy taken with the session held, so training goes on meanwhile, and its search for the
mistake stops at its time budget with every layer's verdict complete.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.service import grader
from app.settings import Settings

CreateSession = Any  # fixtures from tests/conftest.py


def gradients_of(state: dict[str, Any], sign: float = 1.0) -> dict[str, Any]:
    """The engine's own ∂L/∂W, ∂L/∂b of the last batch (times ``sign``), as a submission."""
    return {
        "gradients": [
            {
                "dW": [[sign * v for v in row] for row in layer["dW"]],
                "db": None if layer.get("db") is None else [sign * v for v in layer["db"]],
            }
            for layer in state["layers"]
        ]
    }


def ones_like(state: dict[str, Any]) -> dict[str, Any]:
    """A submission of the right shapes that no common mistake gives: every entry 1."""
    return {
        "gradients": [
            {
                "dW": [[1.0] * len(row) for row in layer["W"]],
                "db": None if layer["b"] is None else [1.0] * len(layer["b"]),
            }
            for layer in state["layers"]
        ]
    }


@dataclass
class HeldGrades:
    """Grades pause before their first mistake tried, until ``release`` is set."""

    grading: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    released: list[bool] = field(default_factory=list)  # per grade: was it let go in time
    threads: list[str] = field(default_factory=list)  # the thread each grade ran on


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldGrades:
    hold = HeldGrades()
    real = grader.candidates

    def paused(ref: grader.Reference, first: int | None) -> Iterator[Any]:
        hold.threads.append(threading.current_thread().name)
        hold.grading.set()
        hold.released.append(hold.release.wait(timeout=5))
        yield from real(ref, first)

    monkeypatch.setattr(grader, "candidates", paused)
    return hold


def test_a_step_runs_while_a_grade_is_grading(
    client: TestClient, create_session: CreateSession, held: HeldGrades
) -> None:
    session = create_session()
    before = session.step()["state"]
    answers: list[Any] = []
    grading = threading.Thread(
        target=lambda: answers.append(
            client.post(session.url("/grade"), json=ones_like(before), headers=session.watch)
        )
    )
    grading.start()
    try:
        assert held.grading.wait(timeout=10), "the grade never started its search"
        stepped = session.step()  # waits for the session's lock: a grade holding it blocks this
    finally:
        held.release.set()
        grading.join()
    assert held.released == [True]  # the step answered while the grade was still grading
    assert stepped["state"]["step"] == before["step"] + 1
    answer = answers[0]
    assert answer.status_code == 200, answer.text
    graded = answer.json()
    assert graded["step"] == before["step"]  # the batch as it was when the grade was asked
    assert graded["passed"] is False and graded["complete"] is True and graded["note"] is None
    assert held.threads and all(name.startswith("grade") for name in held.threads)


def test_a_second_grade_of_a_session_past_its_cap_answers_429(
    tmp_path: Path, create_on: Any, held: HeldGrades
) -> None:
    settings = Settings(data_dir=tmp_path, max_grade_per_session=1)
    with TestClient(create_app(settings)) as client:
        session = create_on(client, None)
        state = session.step()["state"]
        first: list[Any] = []
        grading = threading.Thread(
            target=lambda: first.append(
                client.post(session.url("/grade"), json=ones_like(state), headers=session.watch)
            )
        )
        grading.start()
        try:
            assert held.grading.wait(timeout=10)
            second = client.post(
                session.url("/grade"), json=ones_like(state), headers=session.control
            )
        finally:
            held.release.set()
            grading.join()
    assert second.status_code == 429, second.text
    assert second.json()["field"] == "session"
    assert "max_grade_per_session" in second.json()["detail"]
    assert second.headers["Retry-After"].isdigit()
    assert first[0].status_code == 200, first[0].text


@pytest.fixture
def hurried(tmp_path: Path) -> Iterator[TestClient]:
    """A server whose grades have a microsecond: every search stops after its first try."""
    with TestClient(create_app(Settings(data_dir=tmp_path, max_grade_seconds=1e-6))) as client:
        yield client


def test_a_grade_past_its_budget_answers_every_verdict_and_the_causes_found(
    hurried: TestClient, create_on: Any
) -> None:
    session = create_on(hurried, None)
    state = session.step()["state"]
    flipped = hurried.post(
        session.url("/grade"), json=gradients_of(state, -1.0), headers=session.watch
    )
    assert flipped.status_code == 200, flipped.text
    answer = flipped.json()
    assert answer["complete"] is False
    assert "max_grade_seconds" in answer["note"] and "after 1 common mistake" in answer["note"]
    assert answer["passed"] is False
    # The sign is the first mistake tried: found before the budget stopped the search.
    assert [layer["passed"] for layer in answer["layers"]] == [False] * len(state["layers"])
    assert answer["layers"][answer["first_wrong_layer"]]["cause"] == "sign"

    unmatched = hurried.post(session.url("/grade"), json=ones_like(state), headers=session.watch)
    last = unmatched.json()["layers"][-1]
    assert unmatched.json()["complete"] is False and last["cause"] is None
    assert "before the search stopped" in last["explanation"]
    assert "max_grade_seconds" in last["explanation"]


def test_a_right_grade_needs_no_search_and_is_complete_within_any_budget(
    hurried: TestClient, create_on: Any
) -> None:
    session = create_on(hurried, None)
    state = session.step()["state"]
    right = hurried.post(session.url("/grade"), json=gradients_of(state), headers=session.watch)
    assert right.status_code == 200, right.text
    assert right.json()["passed"] is True
    assert right.json()["complete"] is True and right.json()["note"] is None
