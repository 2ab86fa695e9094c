"""docs/grade-example.md: its snippet runs as written and prints the sign-flip diagnosis.

As in test_rest_example: ``httpx.Client`` is a TestClient on the test app, so the code that
runs is exactly the snippet's text.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "grade-example.md"


def snippet() -> str:
    match = re.search(r"```python\n(.*?)```", EXAMPLE.read_text(encoding="utf-8"), re.DOTALL)
    assert match, "docs/grade-example.md has no python block"
    return match.group(1)


def test_the_snippet_prints_the_diagnosis(
    app: FastAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def test_client(base_url: str, **options: Any) -> TestClient:
        return TestClient(app, base_url=base_url, **options)

    monkeypatch.setattr(httpx, "Client", test_client)
    exec(compile(snippet(), str(EXAMPLE), "exec"), {"__name__": "grade_example"})

    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("1 Layer 1: the sign is flipped: these are −∂L/∂W, lesson 000's")
