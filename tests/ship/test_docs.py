"""The README keeps its promises: the two commands first, every setting documented, and
its Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text()


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.DOTALL)


def test_readme_opens_with_the_two_commands() -> None:
    first = code_blocks(README, "sh")[0]
    commands = [line.split("#")[0].strip() for line in first.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_ci_runs_the_readmes_test_command() -> None:
    assert "make test" in (ROOT / ".ci/run").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readmes_table(name: str) -> None:
    field = Settings.model_fields[name]
    assert f"`PLAYGROUND_{name.upper()}`" in README
    assert field.description and field.description in README


def examples(text: str) -> list[tuple[str, str | None]]:
    """Each ```python block with the ```text block that follows it (what it prints), if any."""
    found = re.findall(r"```python\n(.*?)```\n(?:\n```text\n(.*?)```)?", text, flags=re.DOTALL)
    return [(code, output or None) for code, output in found]


def matches(printed: str, promised: str) -> bool:
    """Line by line; a line ``…`` in the promise stands for any number of printed lines."""
    pattern = "".join(
        r"(?:[^\n]*\n)*" if line == "…" else re.escape(line) + r"\n"
        for line in promised.splitlines()
    )
    return re.fullmatch(pattern, printed) is not None


README_EXAMPLES = examples(README)


def test_every_readme_example_says_what_it_prints() -> None:
    assert len(README_EXAMPLES) == len(code_blocks(README, "python")) >= 4
    for code, output in README_EXAMPLES:
        assert output, f"no ```text block of what this prints after:\n{code}"


def test_the_promise_matcher_is_strict() -> None:
    assert matches("a\nb\nc\n", "a\n…\nc\n") and matches("a\nc\n", "a\n…\nc\n")
    assert not matches("a\nb\n", "a\n") and not matches("a\nb\n", "a\nc\n")
    assert not matches("[0.02, 0.97]\n", "[0.02, 0.98]\n")


@pytest.mark.parametrize(
    ("code", "output"),
    [example for example in README_EXAMPLES if "httpx" not in example[0]],
    ids=lambda value: value.splitlines()[1][:40] if value else "",
)
def test_readme_engine_example_prints_what_the_readme_says(code: str, output: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert matches(result.stdout, output), f"printed:\n{result.stdout[-2000:]}"


@pytest.mark.parametrize(
    ("code", "output"),
    [example for example in README_EXAMPLES if "httpx" in example[0]],
    ids=lambda value: value.splitlines()[-1][:40] if value else "",
)
def test_readme_rest_example_prints_what_the_readme_says(
    code: str,
    output: str,
    app: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Run against the app through a TestClient (same client family, same base URL)."""

    def test_client(base_url: str, **options: Any) -> TestClient:
        return TestClient(app, base_url=base_url, **options)

    monkeypatch.setattr(httpx, "Client", test_client)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme_rest_example"})
    printed = capsys.readouterr().out
    assert output and matches(printed, output), printed


@pytest.mark.parametrize("example", ["rest-example.md", "grade-example.md"])
def test_readme_rest_examples_are_the_tested_ones(example: str) -> None:
    """docs/rest-example.md's and docs/grade-example.md's snippets run in tests/api; the
    README shows the same code."""
    readme = [block for block in code_blocks(README, "python") if "httpx" in block]
    (tested,) = code_blocks((ROOT / "docs" / example).read_text(), "python")

    def code(block: str) -> list[str]:
        return [line.split("  # ")[0].rstrip() for line in block.strip().splitlines()]

    assert code(tested) in [code(block) for block in readme]
    # … and promises the same output.
    promised = [output for block, output in README_EXAMPLES if code(block) == code(tested)]
    (tested_output,) = code_blocks((ROOT / "docs" / example).read_text(), "text")
    assert promised == [tested_output]
