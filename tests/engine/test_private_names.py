"""Only the engine touches the engine's private names: the rest of app/ uses its public API."""

from __future__ import annotations

import ast
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app"
ENGINE = APP / "engine"


def is_private(name: str) -> bool:
    return name.startswith("_") and not name.endswith("__")


def private_engine_names() -> set[str]:
    """Every _name app/engine defines: functions, classes, methods, module variables and the
    attributes it assigns (``self._x = …``)."""
    names: set[str] = set()
    for path in ENGINE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = node.name
            elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store):
                name = node.attr
            elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                name = node.id
            else:
                continue
            if is_private(name):
                names.add(name)
    return names


def private_uses(source: str, private: set[str]) -> list[str]:
    """Where ``source`` imports an engine's private name or reads one off an object not its
    own (``x._name``; ``self._name`` and ``cls._name`` are the module's own members)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("app.engine"):
            found += [
                f"line {node.lineno}: imports {alias.name}"
                for alias in node.names
                if is_private(alias.name) or (node.module or "").split(".")[-1].startswith("_")
            ]
        elif isinstance(node, ast.Attribute) and node.attr in private:
            owner = node.value
            if not (isinstance(owner, ast.Name) and owner.id in ("self", "cls")):
                found.append(f"line {node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_engine_touches_its_private_names() -> None:
    private = private_engine_names()
    assert {"_params", "_draw_batch", "_diverge", "_before_update"} <= private  # (it finds them)
    offenders = {}
    for path in sorted(APP.rglob("*.py")):
        if ENGINE in path.parents:
            continue
        uses = private_uses(path.read_text(), private)
        if uses:
            offenders[str(path.relative_to(APP.parent))] = uses
    assert not offenders, offenders


def test_the_check_sees_a_private_read_and_a_private_import() -> None:
    private = private_engine_names()
    source = (
        "from app.engine.model import _restore\n"
        "def f(session):\n"
        "    session.model._draw_batch()\n"
        "    return self._params, session._changed\n"
    )
    assert private_uses(source, private) == [
        "line 1: imports _restore",
        "line 3: session.model._draw_batch",
    ]
