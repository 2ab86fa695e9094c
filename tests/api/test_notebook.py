"""GET /api/sessions/{id}/notebook (issue #25): an .ipynb file, readable with either token,
written in the lessons' plain NumPy — every cell saying what it does, nothing of this package
imported — and refusals that name the field. (Running notebooks: test_notebook_runs.py and
test_notebook_exercise.py.)"""

from __future__ import annotations

import ast
import re
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.engine import ACTIVATIONS, LOSSES
from app.service import notebook_text
from app.service.notebook import array_literal

from .notebook_kernel import read, tagged

STANDARD_LIBRARY = {"copy", "json", "urllib.error", "urllib.request"}


def get_notebook(client: TestClient, created: Any, **params: Any) -> Any:
    return client.get(created.url("/notebook"), params=params, headers=created.watch)


def test_the_notebook_is_an_ipynb_file_named_after_the_run(
    client: TestClient, create_session: Any
) -> None:
    created = create_session(preset="circle")
    created.step("batch", 2)
    response = get_notebook(client, created)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ipynb+json")
    disposition = response.headers["content-disposition"]
    assert disposition == 'attachment; filename="circle-step-2.ipynb"'
    notebook = read(response.text)
    assert notebook.nbformat == 4
    assert notebook.metadata["kernelspec"]["name"] == "python3"
    about = notebook.metadata["backprop_playground"]
    assert about == {
        "session": created.id,
        "step": 2,
        "style": "lesson003",
        "exercise": False,
        "numpy": np.__version__,
    }
    assert [cell.id for cell in notebook.cells if tagged(cell, "train")] == ["train"]
    exercise = get_notebook(client, created, exercise=True)
    assert 'filename="circle-step-2-exercise.ipynb"' in exercise.headers["content-disposition"]


def test_the_notebook_needs_the_sessions_token(client: TestClient, create_session: Any) -> None:
    created = create_session(preset="circle")
    assert client.get(created.url("/notebook")).status_code == 401
    other = create_session(preset="circle")
    refused = client.get(created.url("/notebook"), headers=other.watch)
    assert refused.status_code == 403 and refused.json()["field"] == "Authorization"


def test_lesson_000s_style_refuses_another_network_naming_style(
    client: TestClient, create_session: Any
) -> None:
    created = create_session(preset="circle")
    response = get_notebook(client, created, style="lesson000")
    assert response.status_code == 422
    answer = response.json()
    assert answer["field"] == "style"
    for difference in ("2 → 4 tanh → 2 tanh → 1 tanh", "biases", "square", "batches of 10"):
        assert difference in answer["detail"]
    assert "style=lesson003" in answer["detail"]
    lesson = create_session(preset="lesson-000")
    answered = get_notebook(client, lesson, style="lesson000")
    assert answered.status_code == 200
    assert 'filename="lesson-000-step-0-lesson000.ipynb"' in answered.headers["content-disposition"]


@pytest.mark.parametrize(
    ("params", "field"), [({"style": "lesson001"}, "style"), ({"exercise": "maybe"}, "exercise")]
)
def test_a_bad_query_value_is_refused_naming_it(
    client: TestClient, create_session: Any, params: dict[str, str], field: str
) -> None:
    created = create_session(preset="circle")
    response = get_notebook(client, created, **params)
    assert response.status_code == 422
    assert [entry["loc"] for entry in response.json()["detail"]] == [["query", field]]


NOTEBOOKS = [
    ("circle", "lesson003", False),
    ("circle", "lesson003", True),
    ("iris", "lesson003", True),
    ("lesson-000", "lesson000", False),
    ("lesson-000", "lesson000", True),
]


@pytest.mark.parametrize(("preset", "style", "exercise"), NOTEBOOKS)
def test_every_cell_says_what_it_does_and_imports_only_numpy(
    client: TestClient, create_session: Any, preset: str, style: str, exercise: bool
) -> None:
    created = create_session(preset=preset)
    response = get_notebook(client, created, style=style, exercise=exercise)
    cells = read(response.text).cells
    imported: set[str] = set()
    for cell in cells:
        first = cell.source.splitlines()[0]
        if cell.cell_type == "markdown":
            assert re.match(r"#{1,2} \S", first), first  # a heading, then its sentences
            continue
        # A sentence in a comment: a capital or a name with its call, then words and a stop.
        assert re.match(r"# (?:[A-Z]|\w+\(\w*\):).*\w.*[.:]$", first), first
        for node in ast.walk(ast.parse(cell.source)):
            if isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                imported.add(node.module or "")
    assert imported <= {"numpy", *STANDARD_LIBRARY}, imported
    assert ("urllib.request" in imported) == exercise  # only the check calls the playground
    assert "app." not in response.text
    stubs = [cell.id for cell in cells if tagged(cell, "exercise")]
    if exercise:
        assert stubs and all(
            "NotImplementedError" in cell.source for cell in cells if cell.id in stubs
        )
    else:
        assert not stubs and 'NotImplementedError("write' not in response.text


def test_the_formulas_stand_beside_their_code(client: TestClient, create_session: Any) -> None:
    created = create_session(preset="iris")
    cells = read(get_notebook(client, created).text).cells
    beside = {cells[k + 1].id: cells[k].source for k in range(len(cells) - 1)}
    assert r"\frac{\partial E}{\partial W} = X^T" in beside["fc-layer"]
    assert r"\frac{\partial E}{\partial X} = f'(X) \odot" in beside["activations"]
    assert r"\frac{\partial E}{\partial z} = \frac{1}{n}(p - y)" in beside["loss"]
    assert r"v \leftarrow \mu v" in beside["update"]
    lesson = create_session(preset="lesson-000")
    cells = read(get_notebook(client, lesson, style="lesson000").text).cells
    beside = {cells[k + 1].id: cells[k].source for k in range(len(cells) - 1)}
    for step in ("the output error", "the delta output sum", "the layer1 error", "layer1 delta"):
        assert step in beside["two-layer-network"]


def test_the_notebook_has_code_for_every_activation_and_loss_of_the_engine() -> None:
    assert set(notebook_text.ACTIVATION_CODE) == set(ACTIVATIONS)
    assert set(notebook_text.ACTIVATION_FORMULAS) == set(ACTIVATIONS)
    assert set(notebook_text.LOSSES) == set(LOSSES)
    fused = {name for name, loss in LOSSES.items() if loss.fused}
    assert {name for name, entry in notebook_text.LOSSES.items() if entry[4]} == fused


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_an_array_literal_reads_back_to_the_same_bits(dtype: str) -> None:
    rng = np.random.default_rng(5)
    info = np.finfo(dtype)
    extremes = [-0.0, 0.0, 1 / 3, info.max, -info.smallest_subnormal, info.tiny]
    values = np.concatenate([rng.standard_normal(40).astype(dtype), np.array(extremes, dtype)])
    for rows in (values.reshape(2, -1), values[None, :], values[:, None]):
        literal = array_literal(rows.tolist(), "DTYPE")
        back = eval(literal, {"np": np, "DTYPE": getattr(np, dtype)})
        assert back.dtype == dtype and back.tobytes() == rows.tobytes()
