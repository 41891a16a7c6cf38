"""No import loop inside a package of the views: each module can be read bottom-up.

Counted with the imports made only for type checking: a loop through them
is still a loop for a reader (and for import-linter).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import zmqscope

ROOT = Path(zmqscope.__file__).parent


def _imports(package: str) -> dict[str, set[str]]:
    """Module name -> the modules of ``package`` it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).glob("*.py")):
        name = f"zmqscope.{package}.{path.stem}"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module:
                found.add(node.module)
                found.update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found.update(alias.name for alias in node.names)
        graph[name] = found
    return {name: {m for m in found if m in graph and m != name} for name, found in graph.items()}


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    visiting: list[str] = []
    done: set[str] = set()

    def visit(name: str) -> list[str] | None:
        if name in visiting:
            return [*visiting[visiting.index(name) :], name]
        if name in done:
            return None
        visiting.append(name)
        for other in sorted(graph[name]):
            loop = visit(other)
            if loop:
                return loop
        visiting.pop()
        done.add(name)
        return None

    for name in graph:
        loop = visit(name)
        if loop:
            return loop
    return None


@pytest.mark.parametrize("package", ["model", "reporting", "tui", "cli"])
def test_no_import_loop(package: str) -> None:
    """The package's __init__ aside (it imports its modules), no module imports itself back."""
    graph = _imports(package)
    graph.pop(f"zmqscope.{package}.__init__", None)
    for found in graph.values():
        found.discard(f"zmqscope.{package}.__init__")
    assert _cycle(graph) is None
