"""The README's example outputs are what the commands print now.

``scripts/readme_examples.py --check`` runs each marked example's commands
(the leak report at the top, ``zmqscope ls``, a hung ``term()``'s culprits,
the pytest plugin's failure) and compares them with the README's blocks,
pids, ports, thread ids and durations aside. When this fails, run
``.venv/bin/python scripts/readme_examples.py`` and review the README's diff.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_command

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "readme_examples.py"

pytestmark = pytest.mark.timeout(180)


def check(readme: Path, cwd: Path) -> tuple[int, str]:
    result = run_command(
        [sys.executable, str(SCRIPT), "--check", "--readme", str(readme)], cwd=cwd, timeout=60
    )
    return result.returncode, describe(result)


def test_the_readmes_examples_are_what_the_commands_print(tmp_path: Path) -> None:
    status, output = check(ROOT / "README.md", tmp_path)
    assert status == 0, output


def test_a_stale_example_is_found(tmp_path: Path) -> None:
    """The check can fail: a line number changed in the README is reported."""
    readme = tmp_path / "README.md"
    shutil.copy(ROOT / "README.md", readme)
    text = readme.read_text(encoding="utf-8")
    stale = text.replace("zmqscope/examples/leaky_app.py:48 in start_heartbeat()", "leaky:45", 1)
    assert stale != text
    readme.write_text(stale, encoding="utf-8")
    status, output = check(readme, tmp_path)
    assert status == 1, output
    assert "example 'leaky-run' is out of date" in output
    assert "-│ created leaky:45" in output  # as compared: runs of spaces are one
