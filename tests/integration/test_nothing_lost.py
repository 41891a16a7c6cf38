"""Nothing is lost: leaks past the record bound, reports after a second Ctrl-C, children's files.

Issue #14, items 14, 17 and 19: real subprocesses, each with a hard timeout.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_python, run_zmqscope, write_app, zmqscope_cli
from tests.helpers.report_files import read_report
from tests.helpers.serving import runtime_env, short_folder

pytestmark = pytest.mark.timeout(120)

DROPS_300_OF_30000 = """
import gc
import resource
import warnings

import zmq

warnings.simplefilter("ignore", ResourceWarning)
# Room for the sockets libzmq's reaper has not freed yet.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
ctx = zmq.Context()
ctx.set(zmq.MAX_SOCKETS, min(hard, 16384) - 64)
for n in range(30_000):
    sock = ctx.socket(zmq.PUSH)
    if n % 100 == 0:
        del sock  # dropped without close()
    else:
        sock.close()
gc.collect()
ctx.term()
"""


def test_300_sockets_dropped_among_30000_are_all_reported(tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, DROPS_300_OF_30000, "--no-serve", "--json", str(report))
    assert result.returncode == 0, describe(result)
    written = read_report(report)
    kinds = [leak["kind"] for leak in written["leaks"]]
    assert kinds == ["collected-unclosed"] * 300
    assert written["summary"]["sockets_total"] == 30_000
    assert written["summary"]["leaks_dropped"] == 0
    assert result.stderr.startswith(
        "zmqscope: 30,000 sockets created, 300 leaks: 300 collected without close()"
    ), describe(result)


# -- a second Ctrl-C while zmqscope run waits for a stuck thread ---------------------

STUCK_THREAD = """
import os
import signal
import sys
import threading
import time

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # leaked
main = threading.main_thread().ident


def waited_for_by(function):
    frame = sys._current_frames().get(main)
    while frame is not None:
        if frame.f_code.co_name == function:
            return True
        frame = frame.f_back
    return False


def stuck():
    if len(sys.argv) > 1:
        os.kill(os.getpid(), signal.SIGINT)  # the first Ctrl-C: stops the main thread
    # The next, once zmqscope waits for this thread to end (as Python would).
    while not waited_for_by("_wait_for_threads"):
        time.sleep(0.01)
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(600)  # stuck: only ending the process ends it


threading.Thread(target=stuck, name="stuck").start()
if len(sys.argv) > 1:
    time.sleep(600)
"""


@pytest.mark.parametrize(
    ("app_args", "status"),
    [
        pytest.param([], 0, id="ctrl-c-while-waiting"),
        pytest.param(["interrupt-main-first"], -2, id="second-ctrl-c"),
    ],
)
def test_ctrl_c_while_waiting_for_a_stuck_thread_still_reports(
    tmp_path: Path, app_args: list[str], status: int
) -> None:
    report = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, STUCK_THREAD, "--json", str(report), app_args=app_args)
    assert result.returncode == status, describe(result)
    lines = result.stderr.splitlines()
    assert (
        "zmqscope: interrupted while waiting for threads to end (stuck); reporting now" in lines
    ), describe(result)
    assert "zmqscope: 1 socket created, 1 leak: 1 open at exit" in lines, describe(result)
    # One traceback at most: the application's own, for the first Ctrl-C.
    assert result.stderr.count("Traceback") == (1 if app_args else 0), describe(result)
    assert [leak["kind"] for leak in read_report(report)["leaks"]] == ["open-at-exit"]


# -- children leave no files behind --------------------------------------------------

SERVING_PARENT = """
import multiprocessing
import os
import subprocess
import sys

import zmq

ctx = zmq.Context()  # the parent serves from here
sock = ctx.socket(zmq.PUSH)
kind = sys.argv[1]


def uses_zmq(n):
    # A pool worker that makes its own context: it serves too, then ends
    # with os._exit(), as multiprocessing's workers do.
    worker_ctx = zmq.Context()
    worker_ctx.socket(zmq.PAIR).close()
    worker_ctx.term()
    return os.getpid()


def exits_at_once():
    child_ctx = zmq.Context()  # serves: files are written
    child_ctx.socket(zmq.PAIR).close()
    os._exit(0)  # no atexit, no clean-up of its own


if kind == "preexec_fn":
    # Python code runs in the child between fork and exec.
    done = subprocess.run([sys.executable, "-c", "pass"], preexec_fn=lambda: None, check=True)
    pids = []
elif kind == "pool":
    with multiprocessing.get_context("fork").Pool(2) as pool:
        pids = sorted(set(pool.map(uses_zmq, range(8))))
        pool.close()
        pool.join()
elif kind == "process":
    child = multiprocessing.get_context("fork").Process(target=uses_zmq, args=(0,))
    child.start()
    child.join()
    pids = [child.pid]
else:  # os._exit
    pid = os.fork()
    if pid == 0:
        exits_at_once()
    os.waitpid(pid, 0)
    pids = [pid]
print(" ".join(str(p) for p in pids))
sock.close()
ctx.term()
"""


@pytest.mark.parametrize("kind", ["preexec_fn", "pool", "process"])
def test_children_that_exec_or_end_in_a_pool_leave_no_files(tmp_path: Path, kind: str) -> None:
    app = write_app(tmp_path, SERVING_PARENT)
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        result = run_python(str(app), kind, cwd=tmp_path, env=env)
        left = sorted(p.name for p in (base / "zmqscope").iterdir())
    assert result.returncode == 0, describe(result)
    assert left == [], f"{left} left by {kind} children\n{describe(result)}"


def test_files_of_a_child_that_ended_with_os_exit_are_not_listed_and_go(tmp_path: Path) -> None:
    """Nothing runs at os._exit(): ``ls`` removes what the child left, and lists nothing of it."""
    app = write_app(tmp_path, SERVING_PARENT)
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        result = run_python(str(app), "os._exit", cwd=tmp_path, env=env)
        assert result.returncode == 0, describe(result)
        child = int(result.stdout)
        runtime = base / "zmqscope"
        assert sorted(p.name for p in runtime.iterdir()) == [f"{child}.ipc", f"{child}.json"]
        listed = zmqscope_cli("ls", "--json", cwd=tmp_path, env=runtime_env(base))
        assert listed.returncode == 0, describe(listed)
        assert listed.stdout.strip() == "[]", describe(listed)
        assert list(runtime.iterdir()) == []


# -- bad numbers: one line each --------------------------------------------------------

BAD_NUMBERS = [
    (["run", "--grace", "inf", "app.py"], "--grace must be a number of seconds, not inf"),
    (["run", "--grace", "nan", "app.py"], "--grace must be a number of seconds, not nan"),
    (["run", "--grace", "1e400", "app.py"], "--grace must be a number of seconds, not 1e400"),
    (["run", "--grace", "-1", "app.py"], "--grace must be from 0 to 86,400 seconds, not -1"),
    (["run", "--grace", "90000", "app.py"], "--grace must be from 0 to 86,400 seconds, not 90000"),
    (
        ["run", "--stack-depth", "100000000000000000000", "app.py"],
        "--stack-depth must be from 1 to 1,000 frames, not 100000000000000000000",
    ),
    (
        ["run", "--stack-depth", "0", "app.py"],
        "--stack-depth must be from 1 to 1,000 frames, not 0",
    ),
    (
        ["run", "--stack-depth", "2.5", "app.py"],
        "--stack-depth must be a whole number of frames, not '2.5'",
    ),
    (["attach", "--interval", "0"], "--interval must be from 0.1 to 3,600 seconds, not 0"),
    (["attach", "--interval", "nan"], "--interval must be a number of seconds, not nan"),
    (["attach", "--interval", "inf"], "--interval must be a number of seconds, not inf"),
    (["report", "99999999999999999999"], "no process with pid 99999999999999999999"),
]


@pytest.mark.parametrize(
    ("arguments", "message"), BAD_NUMBERS, ids=[" ".join(a) for a, _ in BAD_NUMBERS]
)
def test_a_bad_number_is_one_line_and_status_2(
    tmp_path: Path, arguments: list[str], message: str
) -> None:
    write_app(tmp_path, "print('the app ran')\n")
    with short_folder() as base:
        result = zmqscope_cli(*arguments, cwd=tmp_path, env=runtime_env(base), timeout=30)
    assert result.returncode == 2, describe(result)
    assert result.stderr.splitlines() == [f"zmqscope: error: {message}"], describe(result)
    assert "the app ran" not in result.stdout


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"ZMQSCOPE_GRACE": "1e400"}, "ZMQSCOPE_GRACE must be a number of seconds, not 1e400"),
        ({"ZMQSCOPE_GRACE": "nan"}, "ZMQSCOPE_GRACE must be a number of seconds, not nan"),
        ({"ZMQSCOPE_GRACE": "inf"}, "ZMQSCOPE_GRACE must be a number of seconds, not inf"),
        (
            {"ZMQSCOPE_STACK_DEPTH": "abc"},
            "ZMQSCOPE_STACK_DEPTH must be a whole number of frames, not 'abc'",
        ),
        (
            {"ZMQSCOPE_STACK_DEPTH": "-1"},
            "ZMQSCOPE_STACK_DEPTH must be from 1 to 1,000 frames, not -1",
        ),
    ],
)
def test_a_bad_number_in_the_environment_is_one_line(
    tmp_path: Path, setting: dict[str, str], message: str
) -> None:
    code = "import zmq\nzmq.Context().term()\nprint('ran')"
    result = run_python("-c", code, cwd=tmp_path, env={"ZMQSCOPE": "1", **setting})
    assert result.returncode == 0, describe(result)
    assert result.stdout == "ran\n"
    assert result.stderr.splitlines() == [f"zmqscope: instrumentation is off: {message}"]


def test_install_refuses_a_grace_that_is_not_a_number_of_seconds() -> None:
    import zmqscope

    for grace in (float("nan"), float("inf"), -1.0, 1e9):
        with pytest.raises(ValueError, match="grace must be"):
            zmqscope.install(grace=grace)
