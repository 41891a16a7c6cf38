"""Where a running process will write its exit report, as the TUI finds it from outside.

Real processes: ``zmqscope run --json`` (both spellings, with other options
around it), ``ZMQSCOPE=1`` with ``ZMQSCOPE_JSON`` (``{pid}`` replaced), and a
process that writes none. Each waits for its "stop" file and is always stopped.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.helpers.processes import clean_env, write_app
from zmqscope.remote.client import exit_report_paths

pytestmark = pytest.mark.timeout(60)

WAITING_APP = """
    import os, sys, time

    print("ready", flush=True)
    deadline = time.monotonic() + 30
    while not os.path.exists("stop") and time.monotonic() < deadline:
        time.sleep(0.05)
"""


@contextmanager
def running(
    folder: Path, command: Sequence[str], env: dict[str, str] | None = None
) -> Iterator[int]:
    """``command`` running in ``folder`` until it has said "ready": its pid."""
    child = subprocess.Popen(
        list(command),
        cwd=folder,
        env=clean_env(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()  # bounded by the test's timeout
        assert line.strip() == "ready", line
        yield child.pid
    finally:
        (folder / "stop").touch()
        try:
            child.wait(timeout=20)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path, WAITING_APP)


RUN = (sys.executable, "-m", "zmqscope", "run")


@pytest.mark.parametrize(
    ("options", "written"),
    [
        (["--json", "out.json"], "out.json"),
        (["--traffic", "--json=sub/out.json", "--grace", "2"], "sub/out.json"),
        (["--markdown", "leaks.md", "--json", "{tmp}/abs.json", "--no-serve"], "{tmp}/abs.json"),
    ],
)
def test_zmqscope_run_json_is_found_from_its_command_line(
    app: Path, tmp_path: Path, options: list[str], written: str
) -> None:
    (tmp_path / "sub").mkdir()
    options = [option.replace("{tmp}", str(tmp_path)) for option in options]
    written = written.replace("{tmp}", str(tmp_path))
    with running(tmp_path, [*RUN, *options, str(app), "--json", "not-ours.json"]) as pid:
        assert exit_report_paths(pid) == (tmp_path / written,)


def test_zmqscope_run_json_with_pid_names_the_pid(app: Path, tmp_path: Path) -> None:
    # run writes its own report there with its pid (and each child with its own).
    with running(tmp_path, [*RUN, "--json", "exit-{pid}.json", str(app)]) as pid:
        assert exit_report_paths(pid) == (tmp_path / f"exit-{pid}.json",)


def test_zmqscope_json_in_the_environment_names_the_pid(app: Path, tmp_path: Path) -> None:
    env = {"ZMQSCOPE": "1", "ZMQSCOPE_JSON": "reports/exit-{pid}.json"}
    with running(tmp_path, [sys.executable, str(app)], env) as pid:
        assert exit_report_paths(pid) == (tmp_path / "reports" / f"exit-{pid}.json",)


@pytest.mark.parametrize(
    "command_env",
    [
        ([], {}),  # plain python
        ([], {"ZMQSCOPE_JSON": "exit.json"}),  # not instrumented: writes nothing
        (list(RUN), {}),  # zmqscope run without --json
    ],
)
def test_a_process_that_writes_no_exit_report_has_none(
    app: Path, tmp_path: Path, command_env: tuple[list[str], dict[str, str]]
) -> None:
    prefix, env = command_env
    command = [*prefix, str(app)] if prefix else [sys.executable, str(app)]
    with running(tmp_path, command, env) as pid:
        assert exit_report_paths(pid) == ()


def test_a_process_that_is_gone_has_none(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"], cwd=tmp_path)
    child.wait(timeout=30)  # reaped: nothing of it is left to read
    assert exit_report_paths(child.pid) == ()
