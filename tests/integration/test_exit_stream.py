"""Reports reach the stderr the process started with, whatever the app does to fd 2.

ipykernel points fd 2 at a pipe it forwards to the notebook (lost once the
kernel exits), replaces ``sys.stderr`` and sets ``FORCE_COLOR``. The apps
here do the same by hand.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import describe, run_python, run_zmqscope, write_app

pytestmark = pytest.mark.timeout(120)

# Runs after zmq is imported (as in a kernel): fd 2 goes to a file the user
# never sees, sys.stderr to nowhere.
CAPTURE_STDERR = """
import os, sys
captured = os.open("captured.txt", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
os.dup2(captured, 2)
sys.stderr = open(os.devnull, "w")
"""

LEAKS_THEN_CAPTURES = (
    """
import zmq
ctx = zmq.Context()
leak = ctx.socket(zmq.PUSH)
"""
    + CAPTURE_STDERR
)


def assert_plain_report(stderr: str, captured: Path) -> None:
    assert "zmqscope: 1 socket created, 1 leak: 1 open at exit" in stderr
    assert "\x1b[" not in stderr  # FORCE_COLOR, but not a terminal: no colour codes
    assert "zmqscope" not in captured.read_text(encoding="utf-8")


def test_zmqscope_1_exit_report_goes_to_the_original_stderr(tmp_path: Path) -> None:
    app = write_app(tmp_path, LEAKS_THEN_CAPTURES)
    result = run_python(str(app), cwd=tmp_path, env={"ZMQSCOPE": "1", "FORCE_COLOR": "1"})
    assert result.returncode == 0, describe(result)
    assert_plain_report(result.stderr, tmp_path / "captured.txt")


def test_run_exit_report_goes_to_the_original_stderr(tmp_path: Path) -> None:
    result = run_zmqscope(tmp_path, LEAKS_THEN_CAPTURES, env={"FORCE_COLOR": "1"})
    assert result.returncode == 0, describe(result)
    assert_plain_report(result.stderr, tmp_path / "captured.txt")


HANGS_AFTER_CAPTURING = (
    """
import zmq
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
push.connect("tcp://127.0.0.1:9")  # nobody listens
push.send(b"never delivered")
push.close()
"""
    + CAPTURE_STDERR
    + "ctx.term()\n"
)


def test_culprit_report_goes_to_the_original_stderr(tmp_path: Path) -> None:
    app = write_app(tmp_path, HANGS_AFTER_CAPTURING)
    with running(app, "--grace", "1", "--no-serve", cwd=tmp_path) as child:
        stderr = child.wait_for("may block")
    assert "term() of context c1 has been blocked for" in stderr
    assert "zmqscope" not in (tmp_path / "captured.txt").read_text(encoding="utf-8")
