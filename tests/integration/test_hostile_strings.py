"""A real app with hostile names under ``run``, ``ls`` and ``report``; hostile saved reports.

The issue's cases (#14, items 10, 11 and 13), end to end: a thread named with
rich markup and a terminal title sequence, argv with ``--route=[/api]`` and an
escape sequence, an endpoint with both. ``run`` writes its files and keeps the
app's exit status, and nothing it prints is read as markup or obeyed by the
terminal; ``ls`` and ``report PID`` likewise. Saved reports holding NaN,
Infinity, 1e308 or the year 9999 are refused with one line and exit status 2
by ``report`` and ``attach``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.hanging import RunningApp
from tests.helpers.hostile import NOW, controls, foreign_html, hostile_snapshot, structure
from tests.helpers.processes import clean_env, describe, write_app, zmqscope_cli
from tests.helpers.serving import read_discovery, runtime_env, short_folder
from zmqscope.model.wording import visible
from zmqscope.reporting import build_report

pytestmark = pytest.mark.timeout(120)

NAME = (
    "worker[/x]\x1b]0;pwned\x07`\n# HEAD <script>alert(1)</script> [link=https://e.example]x[/link]"
)
ARGS = ("--route=[/api]", "\x1b]0;pwned\x07")
APP = f"""
import os, sys, threading, time
import zmq

ctx = zmq.Context()
made = []

def work():
    sock = ctx.socket(zmq.PUSH)
    sock.bind("inproc://a[/b]\\x1b[2J")
    made.append(sock)

thread = threading.Thread(target=work, name={NAME!r})
thread.start()
thread.join()
print("ready", file=sys.stderr, flush=True)
if "--wait" in sys.argv:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not os.path.exists("stop"):
        time.sleep(0.05)
sys.exit(5)
"""
WIDE = {"COLUMNS": "1000"}  # no line of the report is folded: names are matched whole


@pytest.fixture
def base() -> Iterator[Path]:
    with short_folder() as folder:
        yield folder


def test_run_writes_every_file_keeps_the_status_and_shows_names_literally(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path, APP)
    result = zmqscope_cli(
        "run", "--json", "out.json", "--markdown", "out.md", str(app), *ARGS,
        cwd=tmp_path, env=WIDE,
    )  # fmt: skip
    assert result.returncode == 5, describe(result)
    assert controls(result.stderr) == [], result.stderr
    assert visible(f"{NAME} (id ") in result.stderr
    assert visible("bind inproc://a[/b]\x1b[2J") in result.stderr
    document = json.loads((tmp_path / "out.json").read_text(encoding="utf-8"))
    (socket,) = document["sockets"]
    assert socket["created"]["thread"]["name"] == NAME  # the JSON keeps the data as it was
    assert document["process"]["argv"][1:] == list(ARGS)
    markdown = (tmp_path / "out.md").read_text(encoding="utf-8")
    assert controls(markdown) == []
    assert foreign_html(markdown) == []
    assert [line for line in markdown.splitlines() if line.startswith("#")] == [
        "## zmqscope report",
    ]
    counts = structure(markdown)
    assert (counts["tr_open"], counts["td_open"]) == (2, 6)  # the header row and one leak


def start(app: Path, base: Path, cwd: Path) -> RunningApp:
    process = subprocess.Popen(
        [sys.executable, "-m", "zmqscope", "run", str(app), *ARGS, "--wait"],
        cwd=cwd,
        env=clean_env(runtime_env(base)),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return RunningApp(process)


def test_ls_and_report_of_a_running_app_show_names_and_argv_literally(
    tmp_path: Path, base: Path
) -> None:
    app = write_app(tmp_path, APP)
    child = start(app, base, tmp_path)
    try:
        child.wait_for("ready")
        pid = child.process.pid
        read_discovery(base / "zmqscope", pid)
        env = {**runtime_env(base), **WIDE}
        listed = zmqscope_cli("ls", cwd=base, env=env)
        report = zmqscope_cli("report", str(pid), cwd=base, env=env)
        markdown = zmqscope_cli("report", str(pid), "--format", "markdown", cwd=base, env=env)
    finally:
        (tmp_path / "stop").touch()
        assert child.wait_exit() == 5, child.stderr
    assert listed.returncode == 0, describe(listed)
    assert controls(listed.stdout) == [], listed.stdout
    assert "'--route=[/api]'" in listed.stdout
    assert visible("'\x1b]0;pwned\x07'") in listed.stdout
    assert report.returncode == 0, describe(report)
    assert controls(report.stdout) == [], report.stdout
    assert visible(NAME) in report.stdout  # the open socket's owner
    assert markdown.returncode == 0, describe(markdown)
    assert controls(markdown.stdout) == []
    assert foreign_html(markdown.stdout) == []
    assert not [line for line in markdown.stdout.splitlines() if line.startswith("# ")]


# -- hostile saved reports ------------------------------------------------------------

# Each: (what the report holds, how it is written into the JSON text).
BAD_NUMBERS = {
    "NaN time": ('"time": 1764323990.0', '"time": NaN'),
    "Infinity time": ('"time": 1764323990.0', '"time": Infinity'),
    "1e308 time": ('"time": 1764323990.0', '"time": 1e308'),
    "year 9999": (
        '"generated_at": "2025-11-28T10:00:00Z"',
        '"generated_at": "9999-12-31T23:59:59Z"',
    ),
    "huge count": ('"linger": -1', '"linger": 1' + "0" * 40),
}


def bad_report(folder: Path, kind: str) -> Path:
    text = build_report(hostile_snapshot("name"), generated_at=NOW).to_json()
    before, after = BAD_NUMBERS[kind]
    assert before in text
    path = folder / "bad.json"
    path.write_text(text.replace(before, after), encoding="utf-8")
    return path


@pytest.mark.parametrize("kind", list(BAD_NUMBERS))
@pytest.mark.parametrize(
    "command",
    [("report",), ("report", "--format", "json"), ("attach",)],
    ids=["report", "report-json", "attach"],
)
def test_a_report_with_bad_numbers_is_one_line_and_exit_2(
    tmp_path: Path, kind: str, command: tuple[str, ...]
) -> None:
    path = bad_report(tmp_path, kind)
    result = zmqscope_cli(*command[:1], str(path), *command[1:], cwd=tmp_path, timeout=30)
    assert result.returncode == 2, describe(result)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"zmqscope: error: {path}: "), line
    assert "report" in line, line
