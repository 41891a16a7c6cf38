"""Where zmqscope cannot work (Windows), every way in says so in one line.

Windows lacks what zmqscope's core is built on (``os.register_at_fork``,
``os.getuid``, ``O_NOFOLLOW``/``O_DIRECTORY``, ``resource``). This machine
is Linux, so each test takes those away from a fresh interpreter before
zmqscope is used, which is what a Windows Python looks like to zmqscope's
code (it never asks ``sys.platform`` for these), and checks the one line.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_python, write_app

pytestmark = pytest.mark.timeout(120)

# What a Windows Python does not have, taken away before zmqscope is used
# (os.fork too: the standard library's own fork hooks are guarded by it).
WITHOUT_POSIX = """
import os, sys
for name in ("fork", "register_at_fork", "getuid", "O_NOFOLLOW", "O_DIRECTORY"):
    delattr(os, name)
sys.modules["resource"] = None  # import resource: ImportError
"""
LACKING = "this Python has no os.register_at_fork, os.getuid, os.O_NOFOLLOW, os.O_DIRECTORY, the "
LACKING += "resource module"


def without_posix(code: str) -> str:
    return WITHOUT_POSIX + textwrap.dedent(code)


@pytest.mark.parametrize("command", [["ls"], ["run", "app.py"], ["report", "x.json"]])
def test_every_command_refuses_in_one_line(tmp_path: Path, command: list[str]) -> None:
    write_app(tmp_path, "import zmq\n")
    code = without_posix(f"from zmqscope.cli import main\nsys.exit(main({command!r}))\n")
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 2, describe(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("zmqscope: error: zmqscope runs on Linux and macOS, not on "), line
    assert line.endswith(LACKING), line


def test_install_raises_one_clear_error(tmp_path: Path) -> None:
    code = without_posix(
        """
        import zmqscope
        from zmqscope._platform import UnsupportedPlatform
        try:
            zmqscope.install()
        except UnsupportedPlatform as error:
            print(error)
        """
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    assert result.stdout.strip().endswith(LACKING), describe(result)
    assert result.stderr == ""


def test_zmqscope_1_leaves_the_application_alone_and_says_why(tmp_path: Path) -> None:
    code = without_posix(
        """
        import zmq
        ctx = zmq.Context()
        ctx.socket(zmq.PUSH).close()
        ctx.term()
        print("the application ran", "zmqscope.instrument.hooks" in sys.modules)
        """
    )
    result = run_python("-c", code, cwd=tmp_path, env={"ZMQSCOPE": "1"})
    assert result.returncode == 0, describe(result)
    assert result.stdout == "the application ran False\n", describe(result)
    (line,) = result.stderr.splitlines()
    assert line.startswith("zmqscope: instrumentation is off: zmqscope runs on Linux and macOS")
    assert line.endswith(LACKING), line


def test_the_pytest_plugin_is_a_usage_error(tmp_path: Path) -> None:
    write_app(tmp_path, "def test_x():\n    pass\n", "test_x.py")
    code = without_posix(
        """
        import pytest
        sys.exit(pytest.main(["-p", "no:cacheprovider", "-q", "--zmqscope", "test_x.py"]))
        """
    )
    result = run_python("-c", code, cwd=tmp_path)
    assert result.returncode == 4, describe(result)  # pytest's usage error
    assert "Traceback" not in result.stderr + result.stdout, describe(result)
    assert f"ERROR: zmqscope runs on Linux and macOS, not on linux: {LACKING}" in (result.stderr), (
        describe(result)
    )
