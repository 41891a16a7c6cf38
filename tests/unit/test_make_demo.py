"""``make demo`` installs zmqscope alone, not the test tools (pytest, mypy, gevent, ...)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_installs_only_what_the_demo_needs(tmp_path: Path) -> None:
    # -n: print the commands a fresh checkout would run, run none of them.
    planned = subprocess.run(
        ["make", "--no-print-directory", "-n", "demo", f"VENV={tmp_path / 'venv'}"],
        cwd=ROOT,
        # Not as a sub-make of `make test`: its flags would change what is printed.
        env={k: v for k, v in os.environ.items() if not k.startswith("MAKE")},
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    ).stdout.splitlines()
    installs = [line for line in planned if "pip install" in line and "--upgrade pip" not in line]
    assert installs == [f"{tmp_path / 'venv'}/bin/python -m pip install --quiet -e ."]
    assert planned[-1] == f"{tmp_path / 'venv'}/bin/zmqscope demo"
