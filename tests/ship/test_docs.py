"""The README keeps its promises: the two commands first, every setting documented, and
its Python examples run as written."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

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


ENGINE_EXAMPLES = [block for block in code_blocks(README, "python") if "httpx" not in block]


@pytest.mark.parametrize("block", ENGINE_EXAMPLES, ids=lambda b: b.splitlines()[1][:40])
def test_readme_engine_examples_run(block: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("example", ["rest-example.md", "grade-example.md"])
def test_readme_rest_examples_are_the_tested_ones(example: str) -> None:
    """docs/rest-example.md's and docs/grade-example.md's snippets run in tests/api; the
    README shows the same code."""
    readme = [block for block in code_blocks(README, "python") if "httpx" in block]
    (tested,) = code_blocks((ROOT / "docs" / example).read_text(), "python")

    def code(block: str) -> list[str]:
        return [line.split("  # ")[0].rstrip() for line in block.strip().splitlines()]

    assert code(tested) in [code(block) for block in readme]
