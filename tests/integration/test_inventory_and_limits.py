"""Real processes: a live report is an inventory, many leaks from one line are one panel,
and a process near libzmq's MAX_SOCKETS or its file-descriptor limit is told so."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import (
    Completed,
    describe,
    line_of,
    run_zmqscope,
    write_app,
    zmqscope_cli,
)
from tests.helpers.serving import SERVING_APP, ServingApp, runtime_env, serving, short_folder

pytestmark = pytest.mark.timeout(120)

# The app of the limit tests: a context limited to 20 sockets, 18 of them made
# by one line, and a stop file to exit by (its exit report then has them all).
NEAR_MAX_SOCKETS_APP = """
import os, signal, sys, time
import zmq

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ctx = zmq.Context()
ctx.set(zmq.MAX_SOCKETS, 20)

def connect_one():
    return ctx.socket(zmq.DEALER)  # dealer-made

dealers = [connect_one() for _ in range(18)]
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
"""


@pytest.fixture
def base() -> Iterator[Path]:
    with short_folder() as folder:
        yield folder


def cli(base: Path, *args: str) -> Completed:
    return zmqscope_cli(*args, cwd=base, env=runtime_env(base), timeout=20)


def ok(result: Completed) -> str:
    assert result.returncode == 0, describe(result)
    return result.stdout


def flat(text: str) -> str:
    """The words of ``text`` on one line, panel borders left out."""
    return " ".join(text.replace("│", " ").split())


def panel_titles(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("╭")]


# -- a live process is an inventory -------------------------------------------------------


@pytest.fixture
def live(tmp_path: Path, base: Path) -> Iterator[tuple[ServingApp, Path]]:
    app = write_app(tmp_path, SERVING_APP)
    with serving(app, base, cwd=tmp_path) as running:
        yield running, app


def test_report_of_a_live_process_is_an_inventory_with_no_leaks(
    live: tuple[ServingApp, Path], base: Path
) -> None:
    app_process, app = live
    text = ok(cli(base, "report", str(app_process.pid)))
    assert text.splitlines()[0] == "zmqscope: 2 sockets created, 2 open, no leaks"
    assert panel_titles(text) == []
    assert "Open sockets: 2 in use, by creation site (not leaks):" in text
    pull_row = next(line for line in text.splitlines() if " s1 " in line)
    assert f"app.py:{line_of(app, 'pull-made')} in <module>" in pull_row
    assert "PULL" in pull_row and "bind tcp://127.0.0.1:" in pull_row and "MainThread" in pull_row

    report = json.loads(ok(cli(base, "report", str(app_process.pid), "--format", "json")))
    assert report["at_exit"] is False
    assert report["leaks"] == []
    assert report["summary"]["open"] == 2 and report["summary"]["inventory"] == 2
    assert [group["sockets"] for group in report["inventory"]] == [["s1"], ["s2"]]

    markdown = ok(cli(base, "report", str(app_process.pid), "--format", "markdown"))
    assert "**zmqscope: 2 sockets created, 2 open, no leaks**" in markdown
    assert "### Open sockets (2, not leaks)" in markdown


# -- many leaks from one line ------------------------------------------------------------

THOUSAND_LEAKS_APP = """
import resource
import zmq

# 1,000 sockets hold ~1,010 file descriptors: more than a 1024 soft limit leaves.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard == resource.RLIM_INFINITY or hard >= 4096:
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 4096), hard))
ctx = zmq.Context()
kept = [ctx.socket(zmq.PUSH) for _ in range(1000)]  # leaked-here
"""


def test_a_thousand_leaks_from_one_line_print_one_panel(tmp_path: Path) -> None:
    result = run_zmqscope(
        tmp_path, THOUSAND_LEAKS_APP, "--no-serve", "--json", "leaks.json", env={"COLUMNS": "100"}
    )
    assert result.returncode == 0, describe(result)
    stderr = result.stderr
    leak_panels = [t for t in panel_titles(stderr) if "open-at-exit" in t]
    assert len(leak_panels) == 1, stderr
    assert "1,000 sockets · PUSH · open-at-exit · s1 …" in leak_panels[0]
    line = line_of(tmp_path / "app.py", "leaked-here")
    assert "1,000 PUSH sockets made at the same line by the same thread" in flat(stderr)
    assert f"PUSH socket created at app.py:{line} in <listcomp> by MainThread" in flat(stderr) or (
        f"PUSH socket created at app.py:{line} in <module> by MainThread" in flat(stderr)
    )
    assert len(stderr.splitlines()) < 60  # was ~9,000
    report = json.loads((tmp_path / "leaks.json").read_text("utf-8"))
    assert len(report["leaks"]) == 1000
    assert {leak["kind"] for leak in report["leaks"]} == {"open-at-exit"}
    # 1000 of libzmq's default 1023: the exit report says so, naming the line.
    (warning,) = report["limits"]["warnings"]
    assert (warning["kind"], warning["used"], warning["limit"]) == ("max-sockets", 1000, 1023)
    assert warning["sites"][0]["count"] == 1000
    assert warning["sites"][0]["site"]["line"] == line


# -- limits -------------------------------------------------------------------------------


@pytest.fixture
def near_limit(tmp_path: Path, base: Path) -> Iterator[tuple[ServingApp, Path]]:
    app = write_app(tmp_path, NEAR_MAX_SOCKETS_APP)
    with serving(app, base, cwd=tmp_path) as running:
        yield running, app


def test_a_process_near_max_sockets_is_warned_about_live_and_at_exit(
    near_limit: tuple[ServingApp, Path], base: Path, tmp_path: Path
) -> None:
    app_process, app = near_limit
    site = f"app.py:{line_of(app, 'dealer-made')} in connect_one() (18)"

    text = ok(cli(base, "report", str(app_process.pid)))
    assert text.splitlines()[0] == (
        "zmqscope: 18 sockets created, 18 open, no leaks; 1 limit warning"
    )
    (title,) = panel_titles(text)
    assert "limit near · MAX_SOCKETS · context c1" in title
    assert "context c1 holds 18 of its 20 sockets (libzmq's MAX_SOCKETS)" in flat(text)
    # (paths show relative to where `zmqscope report` runs: the app's are elsewhere)
    assert re.search(rf"top sites \S*{re.escape(site)}", flat(text))

    report = json.loads(ok(cli(base, "report", str(app_process.pid), "--format", "json")))
    (warning,) = report["limits"]["warnings"]
    assert (warning["kind"], warning["used"], warning["limit"]) == ("max-sockets", 18, 20)
    assert report["contexts"][0]["max_sockets"] == 20

    listing = ok(cli(base, "ls"))
    assert "running, near a limit" in listing
    assert f"{app_process.pid}: context c1 holds 18 of its 20 sockets" in listing
    (row,) = json.loads(ok(cli(base, "ls", "--json")))
    assert row["state"] == "running"
    assert [w["kind"] for w in row["limits"]] == ["max-sockets"]

    (tmp_path / "stop").touch()
    assert app_process.child.wait_exit() == 0
    at_exit = app_process.child.stderr
    assert "zmqscope: 18 sockets created, 18 leaks: 18 open at exit; 1 limit warning" in at_exit
    assert "limit near · MAX_SOCKETS · context c1" in at_exit
    assert f"top sites {site}" in flat(at_exit)


REFUSED_APP = """
import zmq

ctx = zmq.Context()
ctx.max_sockets = 20
kept = []

def grow():
    while True:
        kept.append(ctx.socket(zmq.PUSH))  # made-here

grow()
"""


def test_an_app_that_dies_at_max_sockets_is_told_which_limit_and_which_line(
    tmp_path: Path,
) -> None:
    result = run_zmqscope(tmp_path, REFUSED_APP, "--no-serve", "--json", "r.json")
    assert result.returncode == 1, describe(result)  # the application's own error
    assert "zmq.error.ZMQError: Too many open files" in result.stderr
    line = line_of(tmp_path / "app.py", "made-here")
    text = flat(result.stderr)
    assert "limit reached · MAX_SOCKETS · context c1" in result.stderr
    assert "context c1 holds 20 of its 20 sockets (libzmq's MAX_SOCKETS)" in text
    assert "socket() was refused once with 'Too many open files'" in text
    assert f"top sites app.py:{line} in grow() (20)" in text
    assert f"refused app.py:{line} in grow() by MainThread: Too many open files (errno 24)" in text
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    (failure,) = report["contexts"][0]["socket_failures"]
    assert failure["stack"][0]["line"] == line and failure["open_sockets"] == 20


FD_LIMIT_APP = """
import resource
import zmq

resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
ctx = zmq.Context()
kept = []

def grow():
    while True:
        kept.append(ctx.socket(zmq.PUSH))  # made-here

grow()
"""


def test_an_app_out_of_file_descriptors_still_gets_its_exit_report(tmp_path: Path) -> None:
    """The report's own imports need a descriptor: zmqscope makes room rather than crash."""
    result = run_zmqscope(tmp_path, FD_LIMIT_APP, "--json", "r.json")
    assert result.returncode == 1, describe(result)
    line = line_of(tmp_path / "app.py", "made-here")
    text = flat(result.stderr)
    assert "limit reached · file descriptors" in result.stderr
    assert "of 64 file descriptors open (the soft limit, ulimit -n)" in text
    assert f"top sites app.py:{line} in grow()" in text
    assert f"refused app.py:{line} in grow() by MainThread" in text
    assert "zmqscope/cli" not in result.stderr  # no traceback of zmqscope's own
    report = json.loads((tmp_path / "r.json").read_text("utf-8"))
    assert report["limits"]["fd_limit"] == 64
    assert [w["kind"] for w in report["limits"]["warnings"]] == ["fds"]
