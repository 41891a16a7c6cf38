"""The pytest plugin reaches pytest's private internals through one module only.

docs/pytest-plugin.md promises it: a newer pytest that changes an internal
breaks ``zmqscope/pytest_plugin/pytest_internals.py`` alone, where each
internal is listed with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import zmqscope.pytest_plugin

PACKAGE = Path(zmqscope.pytest_plugin.__file__).parent
SHIM = "pytest_internals.py"


def _pytest_imports(path: Path) -> list[str]:
    """``module:line`` of each import of ``_pytest`` (or a submodule) in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [f"{path.name}:{node.lineno}" for n in names if n.split(".")[0] == "_pytest"]
    return found


def test_only_the_shim_imports_pytest_internals() -> None:
    modules = sorted(PACKAGE.glob("*.py"))
    assert SHIM in {path.name for path in modules}
    outside = [hit for path in modules if path.name != SHIM for hit in _pytest_imports(path)]
    assert outside == []
    assert _pytest_imports(PACKAGE / SHIM), "the shim is where the imports are"
