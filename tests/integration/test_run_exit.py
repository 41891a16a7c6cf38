"""How ``zmqscope run`` ends: the app's status, its errors, bad input, and clean-up."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import (
    describe,
    line_of,
    run_python,
    run_zmqscope,
    write_app,
    zmqscope_cli,
)
from tests.helpers.report_files import assert_application_stack, leaked_sockets, read_report

LEAK = """
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PAIR)  # leaked
"""

NO_LEAK = """
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PAIR)
sock.close()
ctx.term()
"""


@pytest.mark.parametrize(
    ("source", "status", "stderr_line"),
    [
        pytest.param(NO_LEAK, 0, None, id="clean"),
        pytest.param(NO_LEAK + "import sys\nsys.exit(7)\n", 7, None, id="sys.exit(7)"),
        pytest.param(
            NO_LEAK + "import sys\nsys.exit('stopping: no config')\n",
            1,
            "stopping: no config",
            id="sys.exit(message)",
        ),
        pytest.param(LEAK + "import sys\nsys.exit(7)\n", 7, None, id="leak-and-sys.exit(7)"),
        pytest.param(LEAK + "raise SystemExit\n", 0, None, id="SystemExit-no-code"),
    ],
)
def test_app_exit_status_is_kept(
    tmp_path: Path, source: str, status: int, stderr_line: str | None
) -> None:
    """zmqscope exits with the application's own status (leaks alone change nothing)."""
    result = run_zmqscope(tmp_path, source)
    assert result.returncode == status, describe(result)
    assert "zmqscope: " in result.stderr
    if stderr_line is not None:
        assert stderr_line in result.stderr.splitlines(), describe(result)


def test_os_exit_status_is_kept(tmp_path: Path) -> None:
    """``os._exit(5)`` ends the process at once, with status 5."""
    source = LEAK + "import os\nprint('before', flush=True)\nos._exit(5)\nprint('after')\n"
    result = run_zmqscope(tmp_path, source)
    assert result.returncode == 5, describe(result)
    assert result.stdout == "before\n"


@pytest.mark.parametrize(
    ("source", "status"),
    [
        pytest.param(LEAK, 3, id="leak"),
        pytest.param(LEAK + "import sys\nsys.exit(7)\n", 3, id="leak-and-sys.exit(7)"),
        pytest.param(NO_LEAK, 0, id="no-leak"),
        pytest.param(NO_LEAK + "import sys\nsys.exit(7)\n", 7, id="no-leak-sys.exit(7)"),
    ],
)
def test_fail_on_leak(tmp_path: Path, source: str, status: int) -> None:
    """``--fail-on-leak``: status 3 when sockets leaked, else the application's status."""
    result = run_zmqscope(tmp_path, source, "--fail-on-leak")
    assert result.returncode == status, describe(result)


CRASH = """
import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # leaked


def load_config(path):
    raise FileNotFoundError(path)  # raises


def main():
    load_config("settings.toml")  # calls


main()  # entry
"""


def test_uncaught_exception_prints_app_traceback_and_still_reports(tmp_path: Path) -> None:
    """An app's crash: its own traceback (no zmqscope frames), status 1, report written."""
    report_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, CRASH, "--json", str(report_path))
    assert result.returncode == 1, describe(result)
    app = tmp_path / "app.py"

    # Exactly the traceback plain python prints for the same app.
    plain = run_python(str(app), cwd=tmp_path)
    assert plain.returncode == 1, describe(plain)
    traceback = plain.stderr
    assert traceback.startswith("Traceback (most recent call last):\n")
    assert result.stderr.startswith(traceback), describe(result)

    lines = traceback.splitlines()
    assert lines[1] == f'  File "{app}", line {line_of(app, "entry")}, in <module>'
    file_lines = [line for line in lines if line.lstrip().startswith("File ")]
    assert all(str(app) in line for line in file_lines), traceback
    assert "zmqscope" not in traceback
    assert lines[-1] == "FileNotFoundError: settings.toml"

    # The report comes after the traceback, on stderr and in the file.
    assert "zmqscope: 1 socket created" in result.stderr[len(traceback) :]
    (sock,) = leaked_sockets(read_report(report_path))
    assert sock["created"]["stack"][0]["line"] == line_of(app, "leaked")


def test_fail_on_leak_wins_over_a_crash(tmp_path: Path) -> None:
    """A crashing app that also leaked exits 3 under ``--fail-on-leak``."""
    result = run_zmqscope(tmp_path, CRASH, "--fail-on-leak")
    assert result.returncode == 3, describe(result)
    assert "FileNotFoundError: settings.toml" in result.stderr


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(["run", "missing.py"], id="missing-script"),
        pytest.param(["run", "a_folder"], id="directory"),
        pytest.param(["run", "-m", "no_such_module_for_zmqscope"], id="missing-module"),
        pytest.param(["run", "-m", "no_such_package.module"], id="missing-package"),
        pytest.param(["run", "-m"], id="m-without-module"),
        pytest.param(["run", "--no-such-option", "app.py"], id="unknown-option"),
        pytest.param(["run", "--json", "missing_folder/report.json", "app.py"], id="json-folder"),
        pytest.param(["run", "--markdown", "missing_folder/r.md", "app.py"], id="md-folder"),
        pytest.param(["run", "--stack-depth", "0", "app.py"], id="stack-depth-0"),
        pytest.param(["run", "--stack-depth", "many", "app.py"], id="stack-depth-text"),
        pytest.param(["run"], id="nothing-to-run"),
        pytest.param(["no-such-command"], id="unknown-command"),
    ],
)
def test_bad_input_is_one_error_line_and_status_2(tmp_path: Path, arguments: list[str]) -> None:
    """A usage mistake: one ``zmqscope: error:`` line, status 2, no traceback, app not run."""
    write_app(tmp_path, "print('the app ran')\n")
    (tmp_path / "a_folder").mkdir()
    result = zmqscope_cli(*arguments, cwd=tmp_path)
    assert result.returncode == 2, describe(result)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, describe(result)
    assert lines[0].startswith("zmqscope: error: "), describe(result)
    assert "Traceback" not in result.stderr
    assert "the app ran" not in result.stdout


LATE_CLOSERS = """
import atexit
import threading
import time

import zmq

ctx = zmq.Context()
main_script_ended = threading.Event()


def slow_worker():
    sock = ctx.socket(zmq.PAIR)
    sock.bind("inproc://slow")
    main_script_ended.wait()
    time.sleep(0.2)  # outlive the main script
    sock.close()  # closed-by-thread
    print("worker closed its socket", flush=True)


def close_at_exit():
    publisher.close()  # closed-at-exit


threading.Thread(target=slow_worker, name="slow-worker").start()
publisher = ctx.socket(zmq.PUB)
publisher.bind("tcp://127.0.0.1:*")
subscriber = ctx.socket(zmq.SUB)
atexit.register(close_at_exit)
atexit.register(subscriber.close)
print("main script done", flush=True)
main_script_ended.set()
"""


def test_sockets_closed_by_late_threads_and_atexit_are_not_leaks(tmp_path: Path) -> None:
    """Non-daemon threads and atexit handlers run before the report, as in Python."""
    report_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, LATE_CLOSERS, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    # The worker really did close its socket after the main script ended.
    assert result.stdout.splitlines() == ["main script done", "worker closed its socket"]
    app = tmp_path / "app.py"

    report = read_report(report_path)
    assert report["leaks"] == []
    assert sorted(s["type"] for s in report["sockets"]) == ["PAIR", "PUB", "SUB"]
    assert {s["state"] for s in report["sockets"]} == {"closed"}
    closers = {
        s["type"]: (s["closed"]["thread"]["name"], s["closed"]["stack"][0]["line"])
        for s in report["sockets"]
        if s["type"] != "SUB"  # closed by a bound method atexit calls: no app frame
    }
    assert closers == {
        "PAIR": ("slow-worker", line_of(app, "closed-by-thread")),
        "PUB": ("MainThread", line_of(app, "closed-at-exit")),
    }
    for sock in report["sockets"]:
        assert_application_stack(sock["created"]["stack"], app)
    assert "zmqscope: 3 sockets created, no leaks" in result.stderr.splitlines()


THREAD_POOL = """
from concurrent.futures import ThreadPoolExecutor

import zmq

ctx = zmq.Context()


def job():
    sock = ctx.socket(zmq.REQ)
    sock.connect("inproc://nobody-binds-this")
    sock.close(linger=0)  # closed-by-pool
    return "job done"


# Never shut down: at exit the interpreter tells idle pool workers to stop.
pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pool")
print(pool.submit(job).result(), flush=True)
"""


def test_thread_pool_left_running_does_not_hang_the_exit(tmp_path: Path) -> None:
    """An executor the app never shut down ends as under python, instead of hanging."""
    report_path = tmp_path / "report.json"
    plain = run_python(str(write_app(tmp_path, THREAD_POOL)), cwd=tmp_path, timeout=20)
    assert plain.returncode == 0, describe(plain)
    result = run_zmqscope(tmp_path, THREAD_POOL, "--json", str(report_path), timeout=20)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "job done\n"
    app = tmp_path / "app.py"
    (sock,) = read_report(report_path)["sockets"]
    assert sock["state"] == "closed"
    assert sock["closed"]["thread"]["name"] == "pool_0"
    assert sock["closed"]["stack"][0]["line"] == line_of(app, "closed-by-pool")


def test_report_paths_are_relative_to_where_zmqscope_started(tmp_path: Path) -> None:
    """Relative ``--json``/``--markdown`` paths do not follow an app's ``os.chdir``."""
    (tmp_path / "elsewhere").mkdir()
    source = LEAK + "import os\nos.chdir('elsewhere')\n"
    result = run_zmqscope(tmp_path, source, "--json", "report.json", "--markdown", "report.md")
    assert result.returncode == 0, describe(result)
    assert read_report(tmp_path / "report.json")["leaks"]
    assert (tmp_path / "report.md").read_text(encoding="utf-8").startswith("## zmqscope report")
    assert list((tmp_path / "elsewhere").iterdir()) == []
