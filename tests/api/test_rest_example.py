"""docs/rest-example.md: its Python snippet runs as written and learns XOR.

The snippet talks to ``http://127.0.0.1:8000/api`` through ``httpx.Client``; here that
client is a TestClient on the test app (same class family, same base URL), so the code
that runs is exactly the snippet's text.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "rest-example.md"


def snippet() -> str:
    """The first ```python block of docs/rest-example.md."""
    match = re.search(r"```python\n(.*?)```", EXAMPLE.read_text(encoding="utf-8"), re.DOTALL)
    assert match, "docs/rest-example.md has no python block"
    return match.group(1)


def test_the_snippet_is_about_ten_lines() -> None:
    code_lines = [line for line in snippet().splitlines() if line.strip()]
    assert len(code_lines) <= 12


def test_the_snippet_trains_xor(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def test_client(base_url: str, **options: Any) -> TestClient:
        return TestClient(app, base_url=base_url, **options)

    monkeypatch.setattr(httpx, "Client", test_client)
    exec(compile(snippet(), str(EXAMPLE), "exec"), {"__name__": "rest_example"})

    printed = capsys.readouterr().out.splitlines()
    loss_line, xor_line = printed
    assert loss_line.startswith("loss after 1000 epochs: ")
    assert float(loss_line.split(": ")[1]) < 0.01
    outputs = ast.literal_eval(xor_line.removeprefix("XOR: "))
    assert [round(y) for y in outputs] == [0, 1, 1, 0]
