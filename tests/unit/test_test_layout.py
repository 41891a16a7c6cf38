"""The suite's own layout: shared helpers live in tests/helpers, fixtures in conftest files.

A test module that imports from a conftest file or from another ``test_*``
module ties tests together in ways pytest does not see (a conftest imported
as a module is loaded twice, a test module's tests are collected again where
it is star-imported), and hides where a helper lives.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

TESTS = Path(__file__).resolve().parent.parent


def _imported_modules(path: Path, root: Path) -> Iterator[tuple[int, str]]:
    """(line, dotted module) for every module ``path`` imports, relative imports resolved."""
    package = path.relative_to(root.parent).with_suffix("").parts[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else ()
            module = ".".join([*base, *([node.module] if node.module else [])])
            yield node.lineno, module
            # "from tests.unit import test_report" imports a module by its name.
            for alias in node.names:
                yield node.lineno, f"{module}.{alias.name}"


def _is_conftest_or_test_module(dotted: str) -> bool:
    parts = dotted.split(".")
    if parts[0] != "tests":
        return False
    return any(part == "conftest" or part.startswith("test_") for part in parts[1:])


def offending_imports(root: Path) -> list[str]:
    """``file:line imports module`` for each import of a conftest or a test module under root."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        reported: list[tuple[int, str]] = []
        for line, module in _imported_modules(path, root):
            # "from tests.conftest import here" is one offence, not also tests.conftest.here.
            seen = any(at == line and module.startswith(f"{done}.") for at, done in reported)
            if _is_conftest_or_test_module(module) and not seen:
                reported.append((line, module))
                found.append(f"{path.relative_to(root.parent)}:{line} imports {module}")
    return found


def test_no_module_imports_a_conftest_or_a_test_module() -> None:
    assert offending_imports(TESTS) == []


def test_the_check_finds_each_kind_of_import(tmp_path: Path) -> None:
    tests = tmp_path / "tests"
    (tests / "unit").mkdir(parents=True)
    (tests / "unit" / "test_a.py").write_text(
        "from tests.conftest import here\n"
        "from tests.unit.test_b import sock\n"
        "from tests.unit import test_b\n"
        "from . import conftest\n"
        "import tests.integration.conftest\n"
        "from tests.helpers.records import sock\n",
        encoding="utf-8",
    )
    assert offending_imports(tests) == [
        "tests/unit/test_a.py:1 imports tests.conftest",
        "tests/unit/test_a.py:2 imports tests.unit.test_b",
        "tests/unit/test_a.py:3 imports tests.unit.test_b",
        "tests/unit/test_a.py:4 imports tests.unit.conftest",
        "tests/unit/test_a.py:5 imports tests.integration.conftest",
    ]
