"""A socket a library made is named by the application's line that called the library.

The "library" is a small stand-in package installed in a real ``site-packages``
folder of the test's own (found through PYTHONPATH), as pip would install one:
one function of it makes a socket two calls deep, another starts a thread
that makes one, another recurses deeper than the recorded stack.
"""

from __future__ import annotations

import re
from pathlib import Path

from tests.helpers.hanging import running
from tests.helpers.processes import Completed, describe, line_of, write_app, zmqscope_cli
from tests.helpers.report_files import leaked_sockets, read_report

STANDIN = """
import threading

import zmq


def _create(ctx, kind):
    return ctx.socket(kind)  # lib-socket


def make_client(ctx):
    sock = _create(ctx, zmq.DEALER)  # lib-call
    sock.connect("inproc://nowhere")
    return sock


def deep(ctx, levels):
    if levels:
        return deep(ctx, levels - 1)  # lib-deep
    return ctx.socket(zmq.PAIR)


class Heartbeat(threading.Thread):
    def __init__(self, ctx):
        super().__init__(name="heartbeat", daemon=True)
        self.ctx = ctx
        self.made = threading.Event()
        self.sock = None

    def run(self):
        self.sock = self.ctx.socket(zmq.REQ)  # lib-thread-socket
        self.made.set()


def start_heartbeat(ctx):
    beat = Heartbeat(ctx)
    beat.start()  # lib-start
    beat.made.wait(30)
    return beat
"""

APP = """
import os

import zmq

import standin

ctx = zmq.Context()
os.makedirs("elsewhere", exist_ok=True)
os.chdir("elsewhere")  # paths stay relative to where the app started


def main():
    client = standin.make_client(ctx)  # app-call
    beat = standin.start_heartbeat(ctx)  # app-start
    return client, beat


kept = main()  # app-main
"""


def install_standin(tmp_path: Path, source: str = STANDIN, name: str = "standin") -> Path:
    """The stand-in library's ``__init__.py``, in a site-packages folder of its own."""
    return write_app(tmp_path / "lib" / "site-packages" / name, source, "__init__.py")


def run_app(tmp_path: Path, app: Path, *options: str, columns: int = 200) -> Completed:
    """``zmqscope run OPTIONS app`` in the app's folder, the stand-in library importable.

    The report is as wide as ``columns`` (wide by default: the checks read
    whole sentences).
    """
    env = {"PYTHONPATH": str(tmp_path / "lib" / "site-packages"), "COLUMNS": str(columns)}
    return zmqscope_cli("run", *options, str(app), cwd=app.parent, env=env)


def test_a_library_made_socket_is_named_by_the_applications_line(tmp_path: Path) -> None:
    """Headline, JSON and Markdown name app.py's line, via the library's line."""
    lib = install_standin(tmp_path)
    app = write_app(tmp_path / "project", APP)
    report_path, markdown_path = tmp_path / "report.json", tmp_path / "report.md"
    result = run_app(tmp_path, app, "--json", str(report_path), "--markdown", str(markdown_path))
    assert result.returncode == 0, describe(result)
    app_line, lib_line = line_of(app, "app-call"), line_of(lib, "lib-socket")

    headline = f"app.py:{app_line} in main(), via standin/__init__.py:{lib_line}"
    assert f"DEALER socket created at {headline} by MainThread was never closed" in (
        result.stderr
    ), describe(result)
    assert re.search(rf"created +{re.escape(headline)} +│", result.stderr), describe(result)
    assert f"standin/__init__.py:{line_of(lib, 'lib-call')} in make_client()" in result.stderr
    assert f"called from app.py:{line_of(app, 'app-main')} in <module>" in result.stderr

    report = read_report(report_path)
    dealer = next(s for s in leaked_sockets(report) if s["type"] == "DEALER")
    created = dealer["created"]
    stack = created["stack"]
    assert stack[0]["origin"] == "library"
    assert stack[0]["display"] == "standin/__init__.py"
    assert stack[0]["line"] == lib_line
    user = stack[created["user_frame"]]
    assert (user["file"], user["line"], user["origin"]) == (str(app), app_line, "user")
    assert user["display"] == "app.py"  # not ../app.py: the app moved, the root did not
    assert all(frame["origin"] == "library" for frame in stack[: created["user_frame"]])
    assert created["truncated"] is False
    assert report["process"]["root"] == str(app.parent)

    markdown = markdown_path.read_text(encoding="utf-8")
    assert f"`app.py:{app_line}` via `standin/__init__.py:{lib_line}`" in markdown


def test_a_socket_made_in_a_thread_a_library_started_names_where_it_was_started(
    tmp_path: Path,
) -> None:
    """The thread is shown with the app's line that (through the library) started it."""
    lib = install_standin(tmp_path)
    app = write_app(tmp_path / "project", APP)
    report_path = tmp_path / "report.json"
    result = run_app(tmp_path, app, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    start_line, lib_start = line_of(app, "app-start"), line_of(lib, "lib-start")

    started = f"started at app.py:{start_line} in main(), via standin/__init__.py:{lib_start}"
    made = f"standin/__init__.py:{line_of(lib, 'lib-thread-socket')} in run()"
    assert f"REQ socket created at {made} by heartbeat, {started}, was never closed" in (
        result.stderr
    ), describe(result)
    assert re.search(
        rf"thread +heartbeat \(id \d+\), {re.escape(started)} by MainThread", (result.stderr)
    ), describe(result)

    report = read_report(report_path)
    req = next(s for s in leaked_sockets(report) if s["type"] == "REQ")
    assert req["created"]["user_frame"] is None  # nothing of the app's in that thread
    thread = req["created"]["thread"]
    assert thread["name"] == "heartbeat"
    start = thread["started"]
    assert start["thread"] == {"id": start["thread"]["id"], "name": "MainThread"}
    assert start["time"] <= req["created"]["time"]
    assert start["stack"][0]["display"] == "standin/__init__.py"
    user = start["stack"][start["user_frame"]]
    assert (user["file"], user["line"]) == (str(app), start_line)


DEEP_APP = """
import zmq

import standin

ctx = zmq.Context()
kept = standin.deep(ctx, 10)  # app-deep
"""


def test_a_stack_cut_before_the_applications_frame_says_to_raise_the_depth(
    tmp_path: Path,
) -> None:
    install_standin(tmp_path)
    app = write_app(tmp_path / "project", DEEP_APP)
    report_path = tmp_path / "report.json"
    result = run_app(tmp_path, app, "--stack-depth", "4", "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    assert "no frame of your code in the 4 recorded: raise --stack-depth" in result.stderr, (
        describe(result)
    )
    (sock,) = leaked_sockets(read_report(report_path))
    assert sock["created"]["truncated"] is True
    assert sock["created"]["user_frame"] is None

    # Deep enough, the application's line is found again.
    result = run_app(tmp_path, app, "--stack-depth", "16")
    assert f"created at app.py:{line_of(app, 'app-deep')} in <module>, via" in result.stderr


def test_a_saved_report_reads_as_the_exit_report_did(tmp_path: Path) -> None:
    """``zmqscope report file.json``, from another folder, shows the same sites."""
    install_standin(tmp_path)
    app = write_app(tmp_path / "project", APP)
    report_path = tmp_path / "report.json"
    result = run_app(tmp_path, app, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    elsewhere = tmp_path / "lib"
    offline = zmqscope_cli("report", str(report_path), cwd=elsewhere, env={"COLUMNS": "200"})
    assert offline.returncode == 0, describe(offline)

    def sites(text: str) -> list[str]:
        return [line for line in text.splitlines() if "created" in line or "started" in line]

    assert sites(result.stderr), describe(result)
    assert sites(offline.stdout) == sites(result.stderr)


LONG_PACKAGE = "standin_" + "with_a_package_name_longer_than_any_ci_log_is_wide_" * 2


def test_a_long_path_stays_whole_on_one_line(tmp_path: Path) -> None:
    """In an 80-column log a path longer than the panel is never cut mid-name."""
    install_standin(tmp_path, name=LONG_PACKAGE)
    app = write_app(
        tmp_path / "project",
        f"""
        import zmq

        import {LONG_PACKAGE} as standin

        ctx = zmq.Context()
        kept = standin.make_client(ctx)
        """,
    )
    result = run_app(tmp_path, app, columns=80)
    assert result.returncode == 0, describe(result)
    assert len(f"{LONG_PACKAGE}/__init__.py") > 80
    # The message, the created row and two frames of the via row: each path whole.
    assert result.stderr.count(f"{LONG_PACKAGE}/__init__.py:") == 4, describe(result)
    assert re.search(rf"via +{LONG_PACKAGE}/__init__.py:\d+", result.stderr), describe(result)


HUNG_APP = """
import zmq

import standin

ctx = zmq.Context()


def main():
    return standin.make_client(ctx)  # app-call


client = main()  # app-main
ctx.term()
"""


def test_a_culprit_panel_names_the_applications_line_and_its_chain(tmp_path: Path) -> None:
    lib = install_standin(tmp_path)
    app = write_app(tmp_path / "project", HUNG_APP)
    env = {"PYTHONPATH": str(tmp_path / "lib" / "site-packages")}
    with running(app, "--grace", "1", cwd=app.parent, env=env) as child:
        stderr = child.wait_for("remedy")
    headline = (
        f"app.py:{line_of(app, 'app-call')} in main(), via"
        f" standin/__init__.py:{line_of(lib, 'lib-socket')}"
    )
    assert re.search(rf"created +{re.escape(headline)}", stderr), stderr
    assert re.search(
        rf"via +standin/__init__.py:{line_of(lib, 'lib-socket')} in _create\(\)", (stderr)
    ), stderr
    assert f"called from app.py:{line_of(app, 'app-main')} in <module>" in stderr


UNITTEST_SUITE = """
import unittest

import zmq

ctx = zmq.Context()
kept = []


class LeakTest(unittest.TestCase):
    def test_leaks(self):
        kept.append(ctx.socket(zmq.PUSH))  # test-socket
"""


def test_unittest_runner_frames_are_left_out_of_the_chain(tmp_path: Path) -> None:
    """``zmqscope run -m unittest``: the chain stops at the test, not in unittest/case.py."""
    suite = write_app(tmp_path, UNITTEST_SUITE, "test_leaky.py")
    report_path = tmp_path / "report.json"
    result = zmqscope_cli(
        "run", "--json", str(report_path), "-m", "unittest", "test_leaky", cwd=tmp_path
    )
    assert result.returncode == 0, describe(result)
    assert f"created   test_leaky.py:{line_of(suite, 'test-socket')} in test_leaks()" in (
        result.stderr
    ), describe(result)
    assert "case.py" not in result.stderr, describe(result)
    assert "unittest/" not in result.stderr, describe(result)
    # The JSON keeps every frame, each saying whose it is.
    (sock,) = leaked_sockets(read_report(report_path))
    outer = sock["created"]["stack"][1:]
    assert outer and all(frame["origin"] == "stdlib" for frame in outer), outer
    assert any(frame["display"] == "unittest/case.py" for frame in outer), outer


DEVICE_APP = """
import zmq
from zmq.devices import ThreadDevice


def main():
    device = ThreadDevice(zmq.QUEUE, zmq.ROUTER, zmq.DEALER)
    device.bind_in("inproc://requests")
    device.bind_out("inproc://workers")
    device.start()  # app-start
    return device


device = main()
device.join(0.5)  # its sockets exist once it runs
"""


def test_a_socket_of_pyzmqs_device_thread_names_where_the_app_started_it(
    tmp_path: Path,
) -> None:
    """pyzmq's ThreadDevice makes its sockets in its own thread, from pyzmq's code only."""
    app = write_app(tmp_path / "project", DEVICE_APP)
    report_path = tmp_path / "report.json"
    result = run_app(tmp_path, app, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    started = f"started at app.py:{line_of(app, 'app-start')} in main()"
    assert re.search(
        rf"ROUTER socket created by [^,]+, {re.escape(started)}, was never closed", (result.stderr)
    ), describe(result)
    router = next(s for s in leaked_sockets(read_report(report_path)) if s["type"] == "ROUTER")
    start = router["created"]["thread"]["started"]
    user = start["stack"][start["user_frame"]]
    assert (user["file"], user["line"]) == (str(app), line_of(app, "app-start"))
