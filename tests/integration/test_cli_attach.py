"""``zmqscope ls`` and ``zmqscope report TARGET`` against real processes and files.

A target that cannot be read is one line on stderr and exit status 2, within
a few seconds, whatever is wrong with it.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import Completed, describe, line_of, write_app, zmqscope_cli
from tests.helpers.serving import SERVING_APP, ServingApp, runtime_env, serving, short_folder

pytestmark = pytest.mark.timeout(90)

# The client's own patience (client.DEFAULT_TIMEOUT) plus start-up, on a busy machine.
ERROR_WITHIN = 20.0


@pytest.fixture
def base() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR for the apps and commands of one test."""
    with short_folder() as folder:
        yield folder


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path, SERVING_APP)


@pytest.fixture
def live(app: Path, base: Path, tmp_path: Path) -> Iterator[ServingApp]:
    with serving(app, base, cwd=tmp_path) as running:
        yield running


def cli(base: Path, *args: str, env: dict[str, str] | None = None) -> Completed:
    return zmqscope_cli(*args, cwd=base, env=runtime_env(base, env), timeout=ERROR_WITHIN)


def ok(result: Completed) -> str:
    assert result.returncode == 0, describe(result)
    return result.stdout


# -- ls ---------------------------------------------------------------------------------


def test_ls_lists_a_running_app(live: ServingApp, base: Path, app: Path) -> None:
    lines = ok(cli(base, "ls")).splitlines()
    assert lines[0].split() == ["PID", "UPTIME", "SOCKETS", "STATE", "ENDPOINT", "COMMAND"]
    (row,) = lines[1:]
    pid, _uptime, sockets, state, endpoint, command = row.split()
    assert (int(pid), sockets, state, endpoint) == (live.pid, "2", "running", live.endpoint)
    assert command == str(app)


def test_ls_json_describes_each_process(live: ServingApp, base: Path, app: Path) -> None:
    (row,) = json.loads(ok(cli(base, "ls", "--json")))
    assert row["pid"] == live.pid
    assert row["command"] == shlex.join([str(app)])
    assert row["endpoint"] == live.endpoint
    assert row["open_sockets"] == 2
    assert row["state"] == "running"
    assert 0 <= row["uptime"] < 120


def test_ls_with_nothing_running(base: Path) -> None:
    assert json.loads(ok(cli(base, "ls", "--json"))) == []
    result = cli(base, "ls")
    assert ok(result) == ""
    assert "no instrumented processes" in result.stderr


def test_ls_in_an_instrumented_shell_lists_neither_itself_nor_its_client(
    live: ServingApp, base: Path
) -> None:
    """ZMQSCOPE=1 exported: ls serves too, but it is not one of the user's apps."""
    result = cli(base, "ls", "--json", env={"ZMQSCOPE": "1"})
    assert [row["pid"] for row in json.loads(ok(result))] == [live.pid]
    assert result.stderr == ""  # no exit report about ls's own socket


# -- report ------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["pid", "endpoint"])
def test_report_of_a_live_app_as_json(live: ServingApp, base: Path, app: Path, how: str) -> None:
    target = str(live.pid) if how == "pid" else live.endpoint
    report = json.loads(ok(cli(base, "report", target, "--format", "json")))
    assert report["schema"] == "zmqscope.report/1"
    assert report["process"]["pid"] == live.pid
    made = {s["type"]: s["created"]["stack"][0]["line"] for s in report["sockets"]}
    assert made == {"PULL": line_of(app, "pull-made"), "PUSH": line_of(app, "push-made")}


def test_report_of_a_live_app_as_text_and_markdown(live: ServingApp, base: Path) -> None:
    text = ok(cli(base, "report", str(live.pid)))
    assert re.search(r"app\.py:\d+ in <module>\s+s1\s+PULL\s+bind tcp://127\.0\.0\.1:", text)
    # The process runs on: its open sockets are in use, not leaked.
    assert "2 open, no leaks" in text and "open at exit" not in text
    markdown = ok(cli(base, "report", str(live.pid), "--format", "markdown"))
    assert markdown.startswith("## zmqscope report")
    assert "| `s1` | PULL |" in markdown


def test_report_of_a_saved_file_in_every_format(live: ServingApp, base: Path) -> None:
    saved = base / "saved.json"
    saved.write_text(ok(cli(base, "report", str(live.pid), "--format", "json")), "utf-8")
    again = json.loads(ok(cli(base, "report", str(saved), "--format", "json")))
    assert again == json.loads(saved.read_text("utf-8"))
    assert "| `s2` | PUSH |" in ok(cli(base, "report", str(saved), "--format", "markdown"))
    text = ok(cli(base, "report", str(saved)))
    assert re.search(r"app\.py:\d+ in <module>\s+s2\s+PUSH\s+connect tcp://", text)
    assert "2 open, no leaks" in text


def test_report_with_no_target_reads_the_only_app(live: ServingApp, base: Path) -> None:
    report = json.loads(ok(cli(base, "report", "--format", "json")))
    assert report["process"]["pid"] == live.pid


# -- what cannot be read: one line, exit 2 -------------------------------------------------


def dead_pid() -> int:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait(30)
    return process.pid


def free_tcp_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def make_target(kind: str, base: Path) -> str:
    if kind == "pid not instrumented":
        return str(os.getpid())
    if kind == "dead pid":
        return str(dead_pid())
    if kind == "ipc path that does not exist":
        return f"ipc://{base}/nobody.ipc"
    if kind == "tcp port with nothing listening":
        return f"tcp://127.0.0.1:{free_tcp_port()}"
    if kind == "malformed endpoint":
        return "tcp://no-port-here"
    if kind == "corrupt JSON file":
        path = base / "corrupt.json"
        path.write_text('{"schema": "zmqscope.report/1", "sockets": [', "utf-8")
        return str(path)
    if kind == "JSON of another schema":
        path = base / "other.json"
        path.write_text('{"schema": "someone-else/3", "items": []}', "utf-8")
        return str(path)
    if kind == "a directory":
        return str(base)
    if kind == "nothing at all":
        return str(base / "missing.json")
    raise AssertionError(kind)


ERRORS = {
    "pid not instrumented": "is not instrumented by zmqscope",
    "dead pid": "no process with pid",
    "ipc path that does not exist": "no zmqscope server at ipc://",
    "tcp port with nothing listening": "no answer from tcp://127.0.0.1:",
    "malformed endpoint": "cannot connect to tcp://no-port-here",
    "corrupt JSON file": "invalid JSON",
    "JSON of another schema": "unsupported report schema 'someone-else/3'",
    "a directory": "is not a file",
    "nothing at all": "missing.json: no such file (TARGET is a pid, an ipc:// or tcp://",
}


@pytest.mark.parametrize("kind", list(ERRORS))
def test_report_of_an_unreadable_target_is_one_line_and_exit_2(base: Path, kind: str) -> None:
    result = cli(base, "report", make_target(kind, base))
    assert result.returncode == 2, describe(result)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("zmqscope: error: "), line
    assert ERRORS[kind] in line, line


def test_report_with_no_target_and_nothing_running(base: Path) -> None:
    result = cli(base, "report")
    assert result.returncode == 2, describe(result)
    assert result.stderr.startswith("zmqscope: error: no instrumented process found")
