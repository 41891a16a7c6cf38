"""Run ``zmqscope`` (and plain ``python``) on small apps in real subprocesses.

Every helper waits at most :data:`TIMEOUT` seconds: a hung exit path fails the
test with the output so far instead of hanging the run.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

TIMEOUT = 60  # seconds, per subprocess
PYTHON = sys.executable
ZMQSCOPE_MODULE = (PYTHON, "-m", "zmqscope")
# The console script pip put next to this interpreter.
ZMQSCOPE_SCRIPT = Path(PYTHON).parent / "zmqscope"

# Settings that would change what the subprocesses print or how Python sets
# up sys.path. PYTHONPATH stays: it may be how this run finds zmqscope.
_SCRUBBED = frozenset(
    {
        "COLUMNS",
        "LINES",
        "FORCE_COLOR",
        "TTY_COMPATIBLE",
        "TTY_INTERACTIVE",
        "PYTHONSAFEPATH",
        "PYTHONWARNINGS",
        "PYTHONDEVMODE",
        "PYTHONINSPECT",
        "PYTHONSTARTUP",
        "PYTHONASYNCIODEBUG",
    }
)

Completed = subprocess.CompletedProcess[str]


def clean_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """This environment without zmqscope's or Python's switches, plus ``extra``."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in _SCRUBBED and not name.startswith("ZMQSCOPE")
    }
    env.update(extra or {})
    return env


def write_app(folder: Path, source: str, name: str = "app.py") -> Path:
    """Write ``source`` (dedented) to ``folder/name``, making parent folders."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source).lstrip("\n"), encoding="utf-8")
    return path


def line_of(path: Path, marker: str) -> int:
    """The 1-based number of the only line of ``path`` holding ``# marker``."""
    lines = [
        number
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if text.rstrip().endswith(f"# {marker}")
    ]
    assert len(lines) == 1, f"marker {marker!r} found on lines {lines} of {path}"
    return lines[0]


def run_command(
    command: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    timeout: float = TIMEOUT,
) -> Completed:
    """Run ``command`` with a clean environment; fail the test if it hangs."""
    assert timeout <= TIMEOUT, f"a subprocess may take at most {TIMEOUT} s"
    try:
        return subprocess.run(
            list(command),
            cwd=cwd,
            env=clean_env(env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(
            f"{' '.join(command)} did not finish within {timeout} s\n"
            f"stdout: {_text(expired.stdout)}\nstderr: {_text(expired.stderr)}"
        )


def _text(output: str | bytes | None) -> str:
    if isinstance(output, bytes):
        return output.decode("utf-8", "replace")
    return output or ""


def run_python(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = TIMEOUT
) -> Completed:
    """Plain ``python ARGS`` with this test run's interpreter (the venv's)."""
    return run_command([PYTHON, *args], cwd=cwd, env=env, timeout=timeout)


def zmqscope_cli(
    *args: str,
    cwd: Path,
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] = ZMQSCOPE_MODULE,
    timeout: float = TIMEOUT,
) -> Completed:
    """``python -m zmqscope ARGS`` (or another launcher) in ``cwd``."""
    return run_command([*launcher, *args], cwd=cwd, env=env, timeout=timeout)


def run_zmqscope(
    tmp_path: Path,
    app_source: str,
    *options: str,
    app_args: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
    launcher: Sequence[str] = ZMQSCOPE_MODULE,
    timeout: float = TIMEOUT,
) -> Completed:
    """Write ``app_source`` to ``tmp_path/app.py`` and run ``zmqscope run OPTIONS app.py ARGS``.

    The working directory is ``tmp_path``; the script is named by its absolute path.
    """
    app = write_app(tmp_path, app_source)
    return zmqscope_cli(
        "run",
        *options,
        str(app),
        *app_args,
        cwd=tmp_path,
        env=env,
        launcher=launcher,
        timeout=timeout,
    )


def describe(result: Completed) -> str:
    """Everything a failing assertion should show about a subprocess."""
    return (
        f"command: {result.args}\nexit status: {result.returncode}\n"
        f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
    )
