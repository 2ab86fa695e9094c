"""Lesson 000's exercise as a notebook (issue #25): ``backward()`` left for the student, and a
check that grades it here (central differences) and through the playground's grader.

A real server on loopback (the notebook's check calls it over HTTP, as a student's would);
one kernel runs the notebook, then the student's edits: a right ``backward()``, one with the
sign of the output error flipped, and the check once more with the playground out of reach.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from ws.server import Server, free_port, running_server

from .notebook_kernel import kernel, read, tagged

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

RIGHT = "self.output_error = self.y - self.output"
SIGN_FLIPPED = "self.output_error = self.output - self.y"
# Lesson 003's ActivationLayer handing ∂E/∂Y back as it came: f′(X) left out.
WITH_DERIVATIVE = "return self.activation_prime(self.input) * output_error"
WITHOUT_DERIVATIVE = "return output_error"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with running_server(tmp_path_factory.mktemp("exercise") / "data") as running:
        yield running


def exercise_and_answer(
    server: Server, body: dict[str, Any], style: str, batches: int
) -> tuple[Any, Any]:
    """A session stepped ``batches`` batches; its exercise notebook (asked with the control
    token) and the same notebook solved (the watch token), both checked for their tokens."""
    api = httpx.Client(base_url=f"{server.http}/api", timeout=30)
    created = api.post("/sessions", json=body).json()
    control = {"Authorization": f"Bearer {created['token']}"}
    watch = {"Authorization": f"Bearer {created['watch_token']}"}
    step = {"unit": "batch", "count": batches}
    assert api.post(f"/sessions/{created['id']}/step", json=step, headers=control).is_success
    url = f"/sessions/{created['id']}/notebook"
    exercise = api.get(url, params={"style": style, "exercise": True}, headers=control)
    solved = api.get(url, params={"style": style}, headers=watch)
    assert exercise.status_code == solved.status_code == 200, exercise.text
    # Asked with the control token, the check still carries the watch token only.
    assert created["watch_token"] in exercise.text
    assert created["token"] not in exercise.text
    assert created["watch_token"] not in solved.text  # no check, no token
    notebook = read(exercise.text)
    check = next(cell for cell in notebook.cells if cell.id == "check")
    assert f"PLAYGROUND = {server.http!r}" in check.source
    notebook.cells = [cell for cell in notebook.cells if not tagged(cell, "train")]
    return notebook, read(solved.text)


def test_the_exercise_grades_a_right_backward_and_names_a_flipped_sign(server: Server) -> None:
    notebook, solved = exercise_and_answer(server, {"preset": "lesson-000"}, "lesson000", 2)
    answer = next(cell for cell in solved.cells if cell.id == "two-layer-network")
    assert RIGHT in answer.source
    stub = next(cell for cell in notebook.cells if cell.id == "two-layer-network")
    assert tagged(stub, "exercise") and "NotImplementedError" in stub.source
    check = next(cell for cell in notebook.cells if cell.id == "check")
    stub.source = answer.source  # the student writes backward() right

    with kernel(notebook) as run:
        printed = "".join(run(cell) for cell in list(notebook.cells))
        assert "✓ Here: every gradient matches central differences" in printed, printed
        assert (
            "✓ The grader, on the playground's batch at step 2: Every layer matches "
            "the engine." in printed
        ), printed

        run(answer.source.replace(RIGHT, SIGN_FLIPPED))  # the student's slip, run again
        printed = run(check.source)
        assert "✗ Here: layer 1's ∂L/∂weights2 is off from central differences" in printed
        assert "✗ The grader: the first wrong layer is 1 (cause: sign)." in printed, printed
        assert "Layer 1: the sign is flipped" in printed, printed

        offline = f"http://127.0.0.1:{free_port()}"  # nothing listens there
        printed = run(check.source.replace(server.http, offline))
        assert "✗ Here: layer 1's" in printed
        assert f"The playground at {offline} cannot be reached" in printed, printed
        assert "the check above stands alone" in printed


def test_the_lesson_003_exercise_grades_its_layers_with_biases_and_l2(server: Server) -> None:
    body = {"preset": "circle", "model": {"l2": 0.01, "penalty_rule": "gradient"}}
    notebook, solved = exercise_and_answer(server, body, "lesson003", 3)
    for name in ("fc-layer", "activations"):
        stub = next(cell for cell in notebook.cells if cell.id == name)
        assert tagged(stub, "exercise") and "NotImplementedError" in stub.source
        stub.source = next(cell for cell in solved.cells if cell.id == name).source
    activations = next(cell for cell in notebook.cells if cell.id == "activations")
    check = next(cell for cell in notebook.cells if cell.id == "check")
    assert WITH_DERIVATIVE in activations.source

    with kernel(notebook) as run:
        printed = "".join(run(cell) for cell in list(notebook.cells))
        assert "✓ Here: every gradient matches central differences" in printed, printed
        assert "Every layer matches the engine." in printed, printed

        run(activations.source.replace(WITH_DERIVATIVE, WITHOUT_DERIVATIVE))
        printed = run(check.source)
        assert "✗ Here: layer 2's ∂E/∂W is off from central differences" in printed, printed
        assert "✗ The grader: the first wrong layer is 2 (cause: upstream_for_delta)." in printed
        assert "∂L/∂a is passed back as δ in every layer" in printed, printed
