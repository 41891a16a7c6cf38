"""The command line as Unix tools behave: Ctrl-C, closed pipes, no terminal, help, pipes.

Real subprocesses, real signals and real pipes: Ctrl-C is SIGINT sent to the
command's process group (as a terminal sends it), a closed pipe is a pipe
whose reader has gone before the command writes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from tests.helpers.processes import (
    ZMQSCOPE_MODULE,
    Completed,
    clean_env,
    describe,
    write_app,
    zmqscope_cli,
)
from tests.helpers.serving import SERVING_APP, serving, short_folder
from zmqscope.model import ProcessInfo, Snapshot
from zmqscope.reporting import build_report

pytestmark = pytest.mark.timeout(120)

WAIT = 30.0  # for a state the test waits for; a loaded machine's worst case


@pytest.fixture
def base() -> Iterator[Path]:
    """A private runtime folder: the commands see no other test's processes."""
    with short_folder() as folder:
        yield folder


def private(base: Path) -> dict[str, str]:
    return {"XDG_RUNTIME_DIR": str(base), "TMPDIR": str(base)}


def wait_for(predicate: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise AssertionError(f"{what}: not within {WAIT} s")


def interrupted(
    args: list[str], base: Path, ready: Callable[[psutil.Process], bool], what: str
) -> Completed:
    """Start ``zmqscope ARGS`` in a process group of its own, press Ctrl-C once ``ready``."""
    command = [*ZMQSCOPE_MODULE, *args]
    process = subprocess.Popen(
        command,
        cwd=base,
        env=clean_env(private(base)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        watched = psutil.Process(process.pid)
        wait_for(lambda: process.poll() is not None or ready(watched), what)
        assert process.poll() is None, f"{command} ended before {what}"
        os.killpg(process.pid, signal.SIGINT)  # what a terminal does on Ctrl-C
        stdout, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def has_zmq_threads(process: psutil.Process) -> bool:
    """libzmq's I/O and reaper threads run: the command made its socket and waits on it."""
    try:
        return process.num_threads() >= 3
    except psutil.Error:
        return False


def has_child(process: psutil.Process) -> bool:
    try:
        return bool(process.children())
    except psutil.Error:
        return False


# -- Ctrl-C -----------------------------------------------------------------------


def test_ctrl_c_while_report_waits_for_an_answer_ends_quietly_with_130(base: Path) -> None:
    # Nothing listens on port 1: report waits (3 s) for an answer that never comes.
    result = interrupted(
        ["report", "tcp://127.0.0.1:1"], base, has_zmq_threads, "report waiting on its socket"
    )
    assert result.returncode == 130, describe(result)
    assert result.stderr == "", describe(result)
    assert result.stdout == ""


def test_ctrl_c_during_the_headless_demo_ends_quietly_with_130_and_stops_the_demo(
    base: Path,
) -> None:
    children: list[int] = []

    def demo_started(process: psutil.Process) -> bool:
        children[:] = [child.pid for child in process.children()] if has_child(process) else []
        return bool(children)

    result = interrupted(["demo", "--headless"], base, demo_started, "the demo started")
    assert result.returncode == 130, describe(result)
    assert "Traceback" not in result.stderr, describe(result)
    assert result.stderr == "", describe(result)
    for pid in children:  # the demo application does not outlive the command
        assert not psutil.pid_exists(pid) or psutil.Process(pid).status() == "zombie"


# -- a reader that goes away ------------------------------------------------------


def saved_report(folder: Path) -> Path:
    """A report file (of a process that made nothing: the text is its summary line)."""
    process = ProcessInfo(pid=1, argv=("app.py",), python="3", pyzmq="27", libzmq="4.3")
    snapshot = Snapshot(taken_at=time.time(), process=process)
    path = folder / "saved.json"
    path.write_text(build_report(snapshot).to_json(), encoding="utf-8")
    return path


def into_closed_pipe(args: list[str], base: Path) -> Completed:
    """``zmqscope ARGS`` writing into a pipe whose reader is already gone."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        process = subprocess.Popen(
            [*ZMQSCOPE_MODULE, *args],
            cwd=base,
            env=clean_env(private(base)),
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(writer)
    try:
        _, stderr = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
    return subprocess.CompletedProcess(args, process.returncode, "", stderr)


@pytest.mark.parametrize(
    "args",
    [
        pytest.param(["ls", "--json"], id="ls-json"),
        pytest.param(["report", "{saved}"], id="report-text"),
        pytest.param(["report", "{saved}", "--format", "json"], id="report-json"),
        pytest.param(["report", "{saved}", "--format", "markdown"], id="report-markdown"),
    ],
)
def test_a_closed_pipe_ends_quietly_with_141(base: Path, args: list[str]) -> None:
    saved = saved_report(base)
    result = into_closed_pipe([arg.format(saved=saved) for arg in args], base)
    assert result.returncode == 141, describe(result)
    assert result.stderr == "", describe(result)


def test_a_closed_pipe_from_a_live_report_ends_quietly(base: Path, tmp_path: Path) -> None:
    app = write_app(tmp_path, SERVING_APP)
    with serving(app, base, cwd=tmp_path) as live:
        result = into_closed_pipe(["report", str(live.pid), "--format", "json"], base)
    assert result.returncode == 141, describe(result)
    assert result.stderr == "", describe(result)


# -- attach needs a terminal ------------------------------------------------------


@pytest.mark.parametrize("stdin", ["terminal", "devnull"])
def test_attach_without_a_terminal_says_so_and_exits_2(base: Path, stdin: str) -> None:
    """``zmqscope attach report.json | cat``: one line, status 2, nothing in the pipe."""
    saved = saved_report(base)
    controller, terminal = os.openpty()
    try:
        result = subprocess.run(
            [*ZMQSCOPE_MODULE, "attach", str(saved)],
            cwd=base,
            env=clean_env(private(base)),
            stdin=terminal if stdin == "terminal" else subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=WAIT,
            check=False,
        )
    except subprocess.TimeoutExpired as expired:
        pytest.fail(f"attach into a pipe did not end: {expired.stdout!r} {expired.stderr!r}")
    finally:
        os.close(controller)
        os.close(terminal)
    assert result.returncode == 2, describe(result)
    assert result.stdout == "", describe(result)
    (line,) = result.stderr.splitlines()
    assert line == (
        "zmqscope: error: attach needs a terminal (its stdin and stdout are not both one); "
        f"for the report as text: zmqscope report {saved}"
    )


def test_demo_without_a_terminal_prints_the_report_instead(base: Path) -> None:
    result = zmqscope_cli("demo", cwd=base, env=private(base), timeout=60)
    assert result.returncode == 0, describe(result)
    assert "zmqscope: no terminal for the TUI; running the demo --headless" in result.stderr
    assert "zmqscope:" in result.stdout and "\x1b[" not in result.stdout, describe(result)


# -- help and mistyped commands ---------------------------------------------------


@pytest.mark.parametrize("command", ["run", "attach", "ls", "report", "demo"])
def test_every_command_explains_its_arguments_with_an_example(base: Path, command: str) -> None:
    result = zmqscope_cli(command, "--help", cwd=base, env=private(base))
    assert result.returncode == 0, describe(result)
    text = result.stdout
    assert f"usage: zmqscope {command}" in text
    assert "\nexample" in text, text  # "example:" or "examples:", then the command
    assert f"  zmqscope {command} " in text.split("\nexample", 1)[1], text
    if command not in ("ls", "demo"):  # theirs are flags only
        assert "(default" in text, text


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "reprot",
            "unknown command 'reprot' (did you mean 'report'? see 'zmqscope report --help')",
        ),
        ("atach", "unknown command 'atach' (did you mean 'attach'? see 'zmqscope attach --help')"),
        (
            "frobnicate",
            "unknown command 'frobnicate': the commands are run, attach, ls, report, topology, "
            "demo (see 'zmqscope --help')",
        ),
    ],
)
def test_a_mistyped_command_suggests_the_right_one(base: Path, typed: str, message: str) -> None:
    result = zmqscope_cli(typed, "12345", cwd=base, env=private(base))
    assert result.returncode == 2, describe(result)
    assert result.stderr.splitlines() == [f"zmqscope: error: {message}"]


def test_no_command_is_short_usage_and_status_2(base: Path) -> None:
    result = zmqscope_cli(cwd=base, env=private(base))
    assert result.returncode == 2, describe(result)
    assert result.stderr.splitlines() == [
        "usage: zmqscope [-h] [--version] COMMAND ...",
        "zmqscope: a COMMAND is needed (see 'zmqscope --help')",
    ]


# -- into a pipe, a row is one line ------------------------------------------------

LONG_FOLDER = "a-folder-with-a-long-name/and-another-one-below-it/and-a-third-to-be-sure"


def test_ls_into_a_pipe_prints_each_process_on_one_line(base: Path, tmp_path: Path) -> None:
    """``zmqscope ls | awk``: no endpoint or command is wrapped at 80 columns."""
    app = write_app(tmp_path, SERVING_APP, f"{LONG_FOLDER}/a_service_with_a_long_name.py")
    with serving(app, base, cwd=tmp_path) as live:
        piped = zmqscope_cli("ls", cwd=base, env=private(base))
        narrow = zmqscope_cli("ls", cwd=base, env={**private(base), "COLUMNS": "80"})
    assert piped.returncode == 0, describe(piped)
    header, row = piped.stdout.splitlines()
    assert header.split() == ["PID", "UPTIME", "SOCKETS", "STATE", "ENDPOINT", "COMMAND"]
    assert row.split()[0] == str(live.pid)
    assert row.split()[4] == live.endpoint
    assert row.split()[5] == str(app)
    # COLUMNS is still obeyed: at 80 the same row takes several lines.
    assert narrow.returncode == 0, describe(narrow)
    assert len(narrow.stdout.splitlines()) > 2, narrow.stdout
