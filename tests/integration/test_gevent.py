"""gevent and eventlet apps under zmqscope: real monkey-patching, in subprocesses.

zmqscope's own threads (server, term() watchdog) must be real OS threads,
started only once the app makes a context: a thread that exists when gevent
patches makes it skip re-owning the import locks (the next import
deadlocks), and a greenlet server or watchdog never runs while the app's
only OS thread is busy.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import (
    describe,
    line_of,
    run_python,
    run_zmqscope,
    write_app,
    zmqscope_cli,
)
from tests.helpers.report_files import read_report
from tests.helpers.serving import read_discovery, runtime_env, short_folder
from zmqscope.remote.client import LiveClient


def installed(library: str) -> bool:
    """Whether ``library`` can be imported, without importing it here.

    Imported, eventlet would warn about every os.fork() in this test process.
    """
    return importlib.util.find_spec(library) is not None


pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(not installed("gevent"), reason="gevent is in the test extra"),
]

# A subprocess that deadlocks fails its test after this long, not the run's.
HANG = 40

# The minimal case of issue #13: a package whose __init__ patches and then
# imports a submodule, imported by a script.
PATCHING_PACKAGE = {
    "pkg/__init__.py": "from gevent import monkey; monkey.patch_all()\nfrom . import sub\n",
    "pkg/sub.py": "import json\nX = 1\n",
}
IMPORTS_PATCHING_PACKAGE = """
import pkg
import zmq

ctx = zmq.Context()
s = ctx.socket(zmq.PUSH)
s.bind("tcp://127.0.0.1:*")
print("ok")
s.close()
ctx.term()
"""


def write_package(folder: Path, files: dict[str, str]) -> None:
    for name, source in files.items():
        write_app(folder, source, name)


def assert_silent_exit(stderr: str) -> None:
    """Nothing but zmqscope's own report lines: no traceback, no 'Exception ignored'."""
    for bad in ("Traceback", "Exception ignored", "KeyError", "Error"):
        assert bad not in stderr, stderr


def test_run_an_app_that_patches_while_importing(tmp_path: Path) -> None:
    write_package(tmp_path, PATCHING_PACKAGE)
    result = run_zmqscope(tmp_path, IMPORTS_PATCHING_PACKAGE, timeout=HANG)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "ok\n"
    assert "zmqscope: 1 socket created, no leaks" in result.stderr, describe(result)
    assert_silent_exit(result.stderr)


def test_zmqscope_1_on_an_app_that_patches_while_importing(tmp_path: Path) -> None:
    write_package(tmp_path, PATCHING_PACKAGE)
    app = write_app(tmp_path, IMPORTS_PATCHING_PACKAGE)
    result = run_python(str(app), cwd=tmp_path, env={"ZMQSCOPE": "1"}, timeout=HANG)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "ok\n"
    assert "zmqscope: 1 socket created, no leaks" in result.stderr, describe(result)
    assert_silent_exit(result.stderr)


# ``zmqscope run -m gpkg``: the package patches before zmqscope runs any of
# the app, then greenlets keep working while the server answers. Each
# greenlet makes a socket; the app exits when the test creates "stop".
SERVING_PACKAGE = {
    "gpkg/__init__.py": "from gevent import monkey\nmonkey.patch_all()\n",
    "gpkg/__main__.py": """
import os, sys
import gevent
import zmq

ctx = zmq.Context()

def serve_clients():
    pull = ctx.socket(zmq.PULL)  # greenlet-made
    pull.bind("tcp://127.0.0.1:*")
    while not os.path.exists("stop"):
        gevent.sleep(0.02)  # serve-waits
    pull.close()

ticks = 0

def tick():
    global ticks
    while not os.path.exists("stop"):
        ticks += 1
        gevent.sleep(0.01)

workers = [gevent.spawn(serve_clients), gevent.spawn(tick)]
gevent.sleep(0.2)
print("ready", file=sys.stderr, flush=True)
gevent.joinall(workers, timeout=50)
print(f"ticked {ticks}", file=sys.stderr, flush=True)
ctx.term()
""",
}


def test_live_gevent_app_answers_ls_and_report_and_keeps_running(tmp_path: Path) -> None:
    write_package(tmp_path, SERVING_PACKAGE)
    app_main = tmp_path / "gpkg" / "__main__.py"
    with (
        short_folder() as base,
        running(
            # running() appends the app: ``zmqscope run -m gpkg``.
            Path("gpkg"),
            "-m",
            cwd=tmp_path,
            env=runtime_env(base),
        ) as app,
    ):
        app.wait_for("ready")
        pid = app.process.pid
        discovery = read_discovery(base / "zmqscope", pid)
        assert discovery["argv"] == ["-m", "gpkg"]

        listing = zmqscope_cli("ls", "--json", cwd=tmp_path, env=runtime_env(base), timeout=HANG)
        assert listing.returncode == 0, describe(listing)
        (row,) = json.loads(listing.stdout)
        assert (row["pid"], row["state"], row["command"]) == (pid, "running", "-m gpkg")

        shown = zmqscope_cli(
            "report", str(pid), "--format", "json", cwd=tmp_path, env=runtime_env(base)
        )
        assert shown.returncode == 0, describe(shown)
        (pull,) = json.loads(shown.stdout)["sockets"]
        assert pull["created"]["stack"][0]["line"] == line_of(app_main, "greenlet-made")
        made_by = pull["created"]["thread"]["name"]
        assert re.fullmatch(r"Greenlet-\d+ \(serve_clients\)", made_by)

        # The threads view: the greenlet that owns the socket, where it waits.
        client = LiveClient(discovery["endpoint"], timeout=10)
        try:
            threads = {t.name: t for t in client.threads()}
        finally:
            client.close()
        greenlet = threads[made_by]
        assert greenlet.sockets == (pull["id"],)
        assert (str(app_main), line_of(app_main, "serve-waits")) in [
            (f.file, f.line) for f in greenlet.stack
        ], greenlet.stack

        # The app's greenlets still run: with a greenlet server its poll
        # would hold the only OS thread and the app would never see "stop".
        ticks_before = app.stderr
        (tmp_path / "stop").touch()
        assert app.wait_exit() == 0, app.stderr
    ticked = re.search(r"ticked (\d+)", app.stderr)
    assert ticked and int(ticked.group(1)) > 0, ticks_before
    assert "zmqscope: 1 socket created, no leaks" in app.stderr
    assert_silent_exit(app.stderr)


HUNG_TERM = """
from gevent import monkey; monkey.patch_all()
import sys
import gevent
import zmq

ctx = zmq.Context()

def send_to_nobody():
    push = ctx.socket(zmq.PUSH)
    push.connect("tcp://127.0.0.1:9")  # nobody listens
    push.send(b"never delivered")
    push.close()  # closed-here

gevent.spawn(send_to_nobody).join()
print("terminating", file=sys.stderr, flush=True)
ctx.term()
"""


@pytest.mark.parametrize("serve", [False, True], ids=["no-serve", "serving"])
def test_watchdog_names_the_culprit_under_gevent(tmp_path: Path, serve: bool) -> None:
    app = write_app(tmp_path, HUNG_TERM)
    options = ["--grace", "1"] + ([] if serve else ["--no-serve"])
    with (
        short_folder() as base,
        running(app, *options, cwd=tmp_path, env=runtime_env(base)) as child,
    ):
        stderr = child.wait_for("may block")
    assert "term() of context c1 has been blocked for" in stderr, stderr
    closed_here = (
        rf"closed by Greenlet-\d+ \(send_to_nobody\) at app\.py:{line_of(app, 'closed-here')}"
    )
    assert re.search(closed_here, stderr), stderr


HELD_BY_A_GREENLET = """
import sys
from gevent import monkey; monkey.patch_all()
import gevent
import zmq

ctx = zmq.Context()

def hold():
    sock = ctx.socket(zmq.PULL)
    sock.bind("inproc://held")
    gevent.sleep(3600)  # holding

gevent.spawn(hold)
gevent.sleep(0.1)
print("terminating", file=sys.stderr, flush=True)
ctx.term()
"""


def test_a_culprit_greenlet_is_named_where_the_app_waits_and_told_to_close_it(
    tmp_path: Path,
) -> None:
    """Not at gevent's hub, not "close it before calling term()": the greenlet is another owner."""
    app = write_app(tmp_path, HELD_BY_A_GREENLET)
    with running(app, "--grace", "1", "--no-serve", cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
    # One line of the panel each (panels wrap at 80 columns: compare their words).
    words = " ".join(line.strip("│ ") for line in stderr.splitlines())
    holding = line_of(app, "holding")
    assert re.search(rf"Greenlet-\d+ \(hold\) is at app\.py:{holding} in hold\(\)", words), stderr
    assert "(hold) is at hub.py" not in words, stderr  # (the stack row may show the hub)
    assert re.search(r"close it in its own thread \(Greenlet-\d+ \(hold\)\)", words), stderr
    assert "close it before calling term()" not in words, stderr


GREEN_NAMES = """
import sys, threading
{patch}
import zmq

ctx = zmq.Context()
sockets = []

def make_pull():
    sockets.append(ctx.socket(zmq.PULL))  # green-made

def in_thread():
    sockets.append(ctx.socket(zmq.PUSH))  # thread-made

{spawn}
worker = threading.Thread(target=in_thread, name="worker-1")
worker.start()
worker.join()
print(sorted(t.name for t in threading.enumerate()))
# Left open: the exit report lists them.
"""
GEVENT = {
    "patch": "from gevent import monkey; monkey.patch_all()\nimport gevent",
    "spawn": "gevent.spawn(make_pull).join()",
}
EVENTLET = {
    "patch": "import eventlet; eventlet.monkey_patch()",
    "spawn": "eventlet.spawn(make_pull).wait()",
}


@pytest.mark.parametrize(
    ("library", "green_name"),
    [("gevent", r"Greenlet-\d+ \(make_pull\)"), ("eventlet", r"GreenThread-\d+ \(make_pull\)")],
)
def test_green_sockets_name_the_greenlet_that_made_them(
    tmp_path: Path, library: str, green_name: str
) -> None:
    if not installed(library):
        pytest.skip(f"{library} is in the test extra")
    source = GREEN_NAMES.format(**(GEVENT if library == "gevent" else EVENTLET))
    app = write_app(tmp_path, source)
    env = {"ZMQSCOPE": "1", "ZMQSCOPE_JSON": str(tmp_path / "report.json")}
    env["PYTHONWARNINGS"] = "ignore::DeprecationWarning"  # eventlet's own
    result = run_python(str(app), cwd=tmp_path, env=env, timeout=HANG)
    assert result.returncode == 0, describe(result)
    # zmqscope registered no stand-in thread (a Dummy-N) nor one of its own.
    assert result.stdout == "['MainThread']\n", describe(result)
    report = read_report(tmp_path / "report.json")
    made_by = {
        socket["created"]["stack"][0]["line"]: socket["created"]["thread"]["name"]
        for socket in report["sockets"]
    }
    assert re.fullmatch(green_name, made_by[line_of(app, "green-made")]), made_by
    assert made_by[line_of(app, "thread-made")] == "worker-1"
