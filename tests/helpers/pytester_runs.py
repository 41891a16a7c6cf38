"""Run pytest with the zmqscope plugin on small suites, in a subprocess each.

A subprocess, because the plugin installs process-wide hooks and a signal
handler, and loads through its ``pytest11`` entry point as a user's run does.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import Any

import pytest

TIMEOUT = 60  # seconds, per pytest subprocess
SCHEMA = "zmqscope.report/1"


def run(pytester: pytest.Pytester, *args: str, timeout: float = TIMEOUT) -> pytest.RunResult:
    """``pytest ARGS`` in ``pytester.path``, in a fresh interpreter."""
    return pytester.runpytest_subprocess("-p", "no:cacheprovider", "-ra", *args, timeout=timeout)


def line_of(source: str, marker: str) -> int:
    """The 1-based line of the dedented ``source`` that ends with ``# marker``."""
    lines = textwrap.dedent(source).lstrip("\n").splitlines()
    found = [n for n, text in enumerate(lines, start=1) if text.rstrip().endswith(f"# {marker}")]
    assert len(found) == 1, f"marker {marker!r} on lines {found}"
    return found[0]


def write_tests(pytester: pytest.Pytester, name: str, source: str) -> Path:
    """``name.py`` holding the dedented ``source`` (line numbers as :func:`line_of` counts)."""
    return pytester.makepyfile(**{name: textwrap.dedent(source).lstrip("\n")})


def read_json(path: Path) -> dict[str, Any]:
    assert path.is_file(), f"no JSON written at {path}"
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == SCHEMA
    return document
