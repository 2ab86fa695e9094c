"""Numbers of their own (issue 23): a class's student's worksheet, hand-check batch and grader
batch come from their own seed (the session's id and their name); the teacher prints the
class's sheets and keys in one file. Each key is recomputed here in plain NumPy from the
numbers its sheet prints; each student's gradients from the batch GET …/grade gave them."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings

from . import by_hand
from .test_class_questions import (
    ONE_CLIENT_IS_A_CLASS,
    CreateSession,
    answer,
    ask,
    bearer,
    open_class,
    step_to,
)
from .test_handcheck import batch, cells
from .test_sessions import assert_field_error

CYRILLIC_ANA = "\u0410na"  # "Аna", its A the Cyrillic letter: one student with "Ana"


@pytest.fixture
def settings(data_dir: Any) -> Settings:
    return Settings(data_dir=data_dir, max_worksheets_per_file=3, **ONE_CLIENT_IS_A_CLASS)


def worksheet(client: TestClient, session: Any, **params: Any) -> str:
    response = client.get(session.url("/worksheet"), params=params, headers=session.watch)
    assert response.status_code == 200, response.text
    return response.text


def problem(client: TestClient, session: Any, **params: Any) -> dict[str, Any]:
    response = client.get(session.url("/grade"), params=params, headers=session.watch)
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def numbers(html: str) -> tuple[int, np.ndarray, dict[str, np.ndarray]]:
    """What one sheet prints: its seed, its batch (x then y columns) and its filled cells."""
    seed = re.search(r'data-seed="(\d+)"', html)
    assert seed is not None
    return int(seed.group(1)), batch(html), cells(html)


def articles(html: str) -> list[tuple[str, str, str]]:
    """The class file's sheets: (student, "no" or "yes" for an answer key, its HTML)."""
    found = re.findall(
        r'<article class="sheet" data-student="([^"]*)" data-seed="(\d+)" '
        r'data-answers="(no|yes)">(.*?)</article>',
        html,
        re.DOTALL,
    )
    return [(student, key, f'data-seed="{seed}"{body}') for student, seed, key, body in found]


def recomputed_key(shown: dict[str, np.ndarray], data: np.ndarray, config: dict[str, Any]) -> Any:
    """One step of backprop in NumPy from the printed weights and batch of a sheet."""
    model = config["model"]
    n_in = model["input_size"]
    n_layers = len(model["layers"])
    use_bias = model.get("use_bias", True)
    return by_hand.backprop(
        data[:, :n_in],
        data[:, n_in:],
        [shown[f"W{k}"] for k in range(n_layers)],
        [shown[f"b{k}"][0] if use_bias else None for k in range(n_layers)],
        [layer["activation"] for layer in model["layers"]],
        model["loss"],
    )


def assert_key_is_recomputed(sheet: str, key: str, config: dict[str, Any]) -> None:
    """The key's answers equal a fresh computation from the sheet's own printed numbers (to
    the five significant digits the key prints), and the key prints the sheet's numbers."""
    seed, data, shown = numbers(sheet)
    key_seed, key_data, answers = numbers(key)
    assert key_seed == seed
    np.testing.assert_array_equal(key_data, data)
    assert not {"z0", "delta0", "dW0"} & shown.keys()  # the sheet's cells to fill are blank
    truth = recomputed_key(shown, data, config)
    for k in range(len(config["model"]["layers"])):
        np.testing.assert_array_equal(answers[f"W{k}"], shown[f"W{k}"])
        for name in ("z", "a", "delta", "dW"):
            np.testing.assert_allclose(answers[f"{name}{k}"], truth[name][k], rtol=2e-4, atol=1e-9)
        if f"db{k}" in answers:
            np.testing.assert_allclose(answers[f"db{k}"][0], truth["db"][k], rtol=2e-4, atol=1e-9)


@pytest.mark.parametrize("preset", ["circle", "lesson-000"])
def test_a_students_sheet_is_their_own_and_stays_theirs(
    client: TestClient, create_session: CreateSession, settings: Settings, preset: str
) -> None:
    session = create_session(preset=preset)
    config = session.state["config"]
    ana = worksheet(client, session, student="Ana", rows=3)
    assert worksheet(client, session, student="Ana", rows=3) == ana  # a reload: the same sheet
    session.step("epoch", 2)  # training the session changes nothing on a sheet
    assert worksheet(client, session, student="Ana", rows=3) == ana
    # "ana" and "Аna" (a Cyrillic А) are Ana: her numbers, under the name as given.
    for spelling in ("ana", CYRILLIC_ANA, " Ana "):
        again = worksheet(client, session, student=spelling, rows=3)
        assert numbers(again)[0] == numbers(ana)[0]
        assert cells(again).keys() == cells(ana).keys()
        for name, matrix in cells(ana).items():
            np.testing.assert_array_equal(cells(again)[name], matrix)
    ben = worksheet(client, session, student="Ben", rows=3)
    assert numbers(ben)[0] != numbers(ana)[0]
    assert not np.array_equal(cells(ben)["W0"], cells(ana)["W0"])  # other weights
    assert 'data-student="Ana"' in ana and "Ana's own numbers: seed" in ana
    # An explicit seed wins, and prints the numbers that seed prints.
    seeded = numbers(worksheet(client, session, seed=numbers(ana)[0], rows=3))
    assert seeded[0] == numbers(ana)[0]
    np.testing.assert_array_equal(seeded[1], numbers(ana)[1])
    np.testing.assert_array_equal(seeded[2]["W0"], cells(ana)["W0"])
    # The keys follow the seed: each a fresh computation from its own sheet's numbers.
    for student, sheet in (("Ana", ana), ("Ben", ben)):
        key = worksheet(client, session, student=student, rows=3, answers=True)
        assert_key_is_recomputed(sheet, key, config)
    # A restart: session ids survive, so every seed and every sheet does.
    with TestClient(create_app(settings)) as again:
        response = again.get(
            session.url("/worksheet"), params={"student": "Ana", "rows": 3}, headers=session.watch
        )
        assert response.status_code == 200 and response.text == ana


def test_the_teachers_file_holds_every_students_sheet_and_key(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")
    config = session.state["config"]
    teacher, code = (open_class(client, session)[k] for k in ("teacher_token", "code"))
    url = "/api/classes/current/worksheets"
    nobody = client.get(url, headers=bearer(teacher))
    assert "no student has answered" in assert_field_error(nobody, 422, "name")
    # Who answered in the lesson: a sheet each (Ana once, however she spells it).
    step_to(session, "backward", len(config["model"]["layers"]) - 1)
    question = ask(client, teacher, kind="delta_sign", layer=2, j=0)["id"]
    for name in ("Ana", "Ben", "ana"):
        answer(client, code, question, name, "+")
    response = client.get(url, params={"rows": 4}, headers=bearer(teacher))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    found = articles(response.text)
    assert [(student, key) for student, key, _ in found] == [
        ("Ana", "no"), ("Ben", "no"), ("Ana", "yes"), ("Ben", "yes")
    ]  # fmt: skip
    for n, student in enumerate(("Ana", "Ben")):
        sheet, key = found[n][2], found[n + 2][2]
        # The student's own sheet, as they download it themselves.
        own = worksheet(client, session, student=student, rows=4)
        assert numbers(sheet)[0] == numbers(own)[0]
        np.testing.assert_array_equal(numbers(sheet)[1], numbers(own)[1])
        assert_key_is_recomputed(sheet, key, config)
    assert numbers(found[0][2])[0] != numbers(found[1][2])[0]
    # Named students (any the teacher lists), without the keys.
    named = client.get(
        url, params={"name": ["Cy", "Dee"], "keys": "false"}, headers=bearer(teacher)
    )
    assert named.status_code == 200
    assert [(s, k) for s, k, _ in articles(named.text)] == [("Cy", "no"), ("Dee", "no")]

    # Refusals, each naming its field: the teacher's token only, a name too long or empty,
    # more sheets than max_worksheets_per_file (3 here), too many rows.
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(code)).status_code == 404
    for params, field in (
        ({"name": "x" * 41}, "name"),
        ({"name": " "}, "name"),
        ({"name": ["A", "B", "C", "D"]}, "name"),
        ({"name": "Ana", "rows": 9}, "rows"),
    ):
        assert_field_error(client.get(url, params=params, headers=bearer(teacher)), 422, field)


def test_a_students_own_batch_grades_theirs_and_not_anothers(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="circle")  # batch 10 of 250 training rows
    session.step("batch", 3)
    current = problem(client, session)
    assert current["seed"] is None  # no student: the session's current batch, as before
    ana, ben = problem(client, session, student="Ana"), problem(client, session, student="Ben")
    assert problem(client, session, student="Ana") == ana  # a reload: the same numbers
    assert problem(client, session, student=CYRILLIC_ANA) == ana
    assert problem(client, session, seed=ana["seed"]) == ana  # the seed answered is the one
    assert ana["seed"] != ben["seed"] and ana["batch_indices"] != ben["batch_indices"]
    assert ana["batch_rows"] == len(ana["batch_indices"]) == 10
    now = [
        {"activation": la["activation"], "W": la["W"], "b": la["b"]}
        for la in session.read()["layers"]
    ]
    assert ana["layers"] == now == ben["layers"]  # the session's weights now
    dataset = client.get(session.url("/dataset"), headers=session.watch).json()
    for xy in ("x", "y"):  # rows of the training data, as they are named
        np.testing.assert_array_equal(
            np.array(ana[xy], dtype=np.float32),
            np.array(dataset[f"{xy}_train"], dtype=np.float32)[ana["batch_indices"]],
        )

    def grade(body: dict[str, Any]) -> dict[str, Any]:
        response = client.post(session.url("/grade"), json=body, headers=session.watch)
        assert response.status_code == 200, response.text
        graded: dict[str, Any] = response.json()
        return graded

    mine = by_hand.gradients(ana)
    passed = grade({"gradients": mine, "student": "Ana"})
    assert passed["passed"] and passed["seed"] == ana["seed"] and passed["recorded"] is True
    assert not grade({"gradients": mine, "student": "Ben"})["passed"]  # Ben's batch is not hers
    assert not grade({"gradients": mine})["passed"]  # nor is the session's
    assert grade({"gradients": mine, "seed": ana["seed"]})["passed"]
    assert grade({"gradients": by_hand.gradients(ben), "student": "Ben"})["passed"]

    # The hand check marks against the student's own batch too.
    theirs = {
        name: by_hand.of_problem(p)["dW"][0][0, 1] for name, p in (("Ana", ana), ("Ben", ben))
    }
    assert abs(theirs["Ana"] - theirs["Ben"]) > 0.01 * abs(theirs["Ana"])  # they differ
    body = {"quantity": "W", "layer": 0, "i": 0, "j": 1, "value": float(theirs["Ana"])}
    seeds = {"Ana": ana["seed"], "ana": ana["seed"], "Ben": ben["seed"]}
    for student, right in (("Ana", True), ("ana", True), ("Ben", False)):
        response = client.post(
            session.url("/check"), json={**body, "student": student}, headers=session.watch
        )
        assert response.status_code == 200, response.text
        assert (response.json()["correct"], response.json()["seed"]) == (right, seeds[student])

    # Bad input names its field.
    for params, field in (({"student": ""}, "student"), ({"student": "x" * 41}, "student"),
                          ({"seed": -1}, "seed"), ({"seed": 2**32}, "seed")):  # fmt: skip
        refused = client.get(session.url("/grade"), params=params, headers=session.watch)
        assert_field_error(refused, 422, field)
    refused = client.post(
        session.url("/grade"), json={"gradients": mine, "student": "\u0007"}, headers=session.watch
    )
    assert_field_error(refused, 422, "student")
    refused = client.get(session.url("/worksheet"), params={"student": ""}, headers=session.watch)
    assert_field_error(refused, 422, "student")
    with_seed = {"student": "x" * 41, "seed": 3}  # an explicit seed does not hide a bad name
    refused = client.get(session.url("/grade"), params=with_seed, headers=session.watch)
    assert_field_error(refused, 422, "student")


def test_a_full_batch_gives_each_student_all_rows_but_one(
    client: TestClient, create_session: CreateSession
) -> None:
    session = create_session(preset="lesson-000")  # the lesson's 4 rows, full batch
    session.step("batch", 2)
    current = problem(client, session)
    assert current["batch_rows"] == 4
    ana = problem(client, session, student="Ana")
    assert ana["batch_rows"] == 3 and len(set(ana["batch_indices"])) == 3
    assert ana["batch_indices"] == sorted(ana["batch_indices"])
    graded = client.post(
        session.url("/grade"),
        json={"gradients": by_hand.gradients(ana), "student": "Ana"},
        headers=session.watch,
    )
    assert graded.status_code == 200 and graded.json()["passed"], graded.text
