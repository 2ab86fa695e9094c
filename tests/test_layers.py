"""The shape of app/: its layers import one way, and only the service holds a session.

Layers, lowest first: engine ← service ← live ← api ← main ← cluster ← cli. A module may
import any layer below its own, never one above; the engine imports nothing of app. The
shared leaves (settings, logs, paths, lan) import nothing of app, and any layer but the
engine may use them. No import cycle runs at import time (imports inside functions and
under ``TYPE_CHECKING`` run later, or never).

One door to a session: only ``app/service`` takes a session's lock or writes a session's
attributes; the REST handlers and the live layer call the service's verbs.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "app"
LAYERS = ("engine", "service", "live", "api", "main", "cluster", "cli")
LEAVES = frozenset({"settings", "logs", "paths", "lan"})
LAYER_OF_TOP = {"__main__": "cli"}  # ``python -m app`` runs the CLI


@dataclass(frozen=True)
class Import:
    module: str  # the importing module, e.g. app.live.host
    imported: str  # an app module it imports, e.g. app.service.session
    where: str  # file:line
    at_import_time: bool  # module level, not under TYPE_CHECKING


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def app_modules() -> dict[str, Path]:
    return {module_name(path): path for path in sorted(APP.rglob("*.py"))}


def layer_of(module: str) -> str:
    """app.live.host → live; app.main → main; app.settings → settings; app → app."""
    parts = module.split(".")
    if len(parts) == 1:
        return "app"
    return LAYER_OF_TOP.get(parts[1], parts[1])


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports_in(
    node: ast.AST, at_import_time: bool
) -> Iterator[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import under ``node``, and whether it runs when its module is imported."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.Import | ast.ImportFrom):
            yield child, at_import_time
        elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            yield from _imports_in(child, False)
        elif isinstance(child, ast.If) and _is_type_checking(child.test):
            for statement in child.body:
                yield from _imports_in(ast.Module(body=[statement], type_ignores=[]), False)
            for statement in child.orelse:
                yield from _imports_in(ast.Module(body=[statement], type_ignores=[]), True)
        else:
            yield from _imports_in(child, at_import_time)


def imports_of(module: str, path: Path, known: dict[str, Path]) -> list[Import]:
    """The app modules ``module`` imports (relative imports resolved; ``from pkg import m``
    counts as importing ``pkg.m`` when m is a module)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: list[Import] = []
    for node, at_import_time in _imports_in(ast.parse(path.read_text()), True):
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base]
            names += [
                f"{base}.{alias.name}" for alias in node.names if f"{base}.{alias.name}" in known
            ]
        for name in names:
            if name == "app" or name.startswith("app."):
                found.append(Import(module, name, where, at_import_time))
    return found


def app_imports() -> list[Import]:
    known = app_modules()
    return [found for module, path in known.items() for found in imports_of(module, path, known)]


def layering_fault(edge: Import) -> str | None:
    """Why this import breaks the layers, or None."""
    source, target = layer_of(edge.module), layer_of(edge.imported)
    if source == target or target == "app":
        return None
    if source in LEAVES or source == "engine":
        return f"{source} imports nothing of app"
    if target in LEAVES:
        return None
    if source not in LAYERS or target not in LAYERS:
        return f"{source} or {target} is in no layer: add it to LAYERS or LEAVES"
    if LAYERS.index(target) > LAYERS.index(source):
        return f"{target} is above {source}"
    return None


def test_the_layers_import_one_way() -> None:
    edges = app_imports()
    pairs = {(layer_of(edge.module), layer_of(edge.imported)) for edge in edges}
    # (the reader sees the real graph: every layer leans on the one below)
    assert {("service", "engine"), ("live", "service"), ("api", "live"), ("main", "api")} <= pairs
    assert {("cluster", "main"), ("cli", "cluster")} <= pairs
    faults = [
        f"{edge.where}: {edge.module} imports {edge.imported} ({fault})"
        for edge in edges
        if (fault := layering_fault(edge)) is not None
    ]
    assert not faults, "\n".join(faults)


def test_every_module_of_app_is_in_a_layer() -> None:
    homeless = [m for m in app_modules() if layer_of(m) not in {*LAYERS, *LEAVES, "app"}]
    assert not homeless, f"add to LAYERS or LEAVES in {Path(__file__).name}: {homeless}"


def test_the_layer_rule_catches_an_upward_import() -> None:
    """The checker itself: a service importing live, the engine importing settings, a leaf
    importing the service are faults; the way down is not."""

    def edge(source: str, target: str) -> Import:
        return Import(source, target, "x.py:1", True)

    assert layering_fault(edge("app.service.session", "app.live.frames")) is not None
    assert layering_fault(edge("app.engine.model", "app.settings")) is not None
    assert layering_fault(edge("app.settings", "app.service.store")) is not None
    assert layering_fault(edge("app.cli", "app.cluster.start")) is None
    assert layering_fault(edge("app.api.sessions", "app.engine")) is None


def test_no_import_cycle_runs_at_import_time() -> None:
    graph: dict[str, set[str]] = {}
    for edge in app_imports():
        if edge.at_import_time and edge.imported != edge.module:
            graph.setdefault(edge.module, set()).add(edge.imported)
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        assert module not in path, " → ".join((*path[path.index(module) :], module))
        if module in done:
            return
        for imported in sorted(graph.get(module, ())):
            if imported.startswith(f"{module}."):  # a package's __init__ importing its own
                continue
            visit(imported, (*path, module))
        done.add(module)

    for module in sorted(graph):
        visit(module, ())


# ----- one door to a session ---------------------------------------------------------------


def session_faults(source: str, where: str) -> list[str]:
    """Where ``source`` takes a lock (any ``.lock``, ``getattr(…, "lock")``, a session's
    ``….acquire()``) or writes an attribute of a session (``session.x = …``,
    ``self.session.x = …``)."""
    faults: list[str] = []
    for node in ast.walk(ast.parse(source)):
        line = getattr(node, "lineno", 0)
        if isinstance(node, ast.Attribute) and (
            node.attr == "lock"
            or (node.attr in {"acquire", "release"} and _mentions_session(node.value))
        ):
            faults.append(f"{where}:{line}: .{node.attr} — call the Session's verb instead")
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "getattr"
            and any(isinstance(a, ast.Constant) and a.value == "lock" for a in node.args)
        ):
            faults.append(f"{where}:{line}: getattr(…, 'lock') — call the Session's verb instead")
        elif isinstance(node, ast.Assign | ast.AugAssign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Attribute) and _is_session(target.value):
                    faults.append(
                        f"{where}:{line}: writes session.{target.attr} — a Session verb changes it"
                    )
    return faults


def _is_session(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "session") or (
        isinstance(node, ast.Attribute) and node.attr == "session"
    )


def _mentions_session(node: ast.expr) -> bool:
    return any(_is_session(part) for part in ast.walk(node) if isinstance(part, ast.expr))


def test_only_the_service_holds_a_session() -> None:
    faults: list[str] = []
    for module, path in app_modules().items():
        if layer_of(module) != "service":
            faults += session_faults(path.read_text(), str(path.relative_to(ROOT)))
    assert not faults, "\n".join(faults)


@pytest.mark.parametrize(
    "source",
    [
        "with session.lock:\n    pass",
        "if not part.session.lock.acquire(blocking=False):\n    pass",
        "session.held.acquire()",
        "lock = getattr(session, 'lock')",
        "self.session.playing = True",
        "session.last_used = 0.0",
        "session.edits += 1",
    ],
)
def test_the_door_rule_catches_a_lock_or_a_write(source: str) -> None:
    faults = session_faults(source, "x.py")
    assert faults and all(fault.startswith(("x.py:1:", "x.py:2:")) for fault in faults), faults


def test_the_door_rule_lets_a_verb_pass() -> None:
    verbs = "state = session.state()\nsession.set_playing(True)\nstack.release()\nx.y = 1"
    assert session_faults(verbs, "x.py") == []
