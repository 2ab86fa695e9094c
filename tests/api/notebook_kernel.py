"""Run an exported notebook's cells in one fresh Jupyter kernel (nbclient), then more cells.

``with kernel(notebook) as run:`` starts the kernel; ``run(cell)`` executes one of the
notebook's cells or, given source text, a new cell appended to it, and answers its stdout. A
cell that raises fails the test (nbclient's CellExecutionError). One kernel per ``with``: a
fresh Python, so nothing of another notebook or of the test leaks in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import nbformat
from nbclient import NotebookClient
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell

CELL_TIMEOUT = 120  # seconds a cell may take (the exercise's central differences, a loaded CI)

Run = Callable[[NotebookNode | str], str]


def read(text: str) -> NotebookNode:
    """The notebook text an endpoint answered, validated as nbformat 4."""
    notebook: NotebookNode = nbformat.reads(text, as_version=4)
    nbformat.validate(notebook)
    return notebook


def tagged(cell: NotebookNode, tag: str) -> bool:
    return tag in cell.metadata.get("tags", [])


@contextmanager
def kernel(notebook: NotebookNode) -> Iterator[Run]:
    client = NotebookClient(notebook, timeout=CELL_TIMEOUT, kernel_name="python3")
    with client.setup_kernel():

        def run(cell: NotebookNode | str) -> str:
            if isinstance(cell, str):
                cell = new_code_cell(cell)
                notebook.cells.append(cell)
            index = next(k for k, known in enumerate(notebook.cells) if known is cell)
            client.execute_cell(cell, index)
            return "".join(
                output.get("text", "")
                for output in cell.get("outputs", [])
                if output.get("name") == "stdout"
            )

        yield run
