"""``ZMQSCOPE=1`` costs nothing where ZeroMQ is not used, and zmqscope starts only what is needed.

The variable is inherited by every Python child: a process that never
imports zmq loads almost nothing of zmqscope's and starts no thread; one
that imports zmq gets the hooks at once, and a server (thread and files)
only with its first context.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import describe, line_of, run_python, write_app, zmqscope_cli
from tests.helpers.report_files import read_report
from tests.helpers.serving import read_discovery, runtime_env, short_folder

pytestmark = pytest.mark.timeout(120)

# What the process loaded and which threads run (every OS thread, threading's or not).
STATE = (
    "import json, os, sys; print(json.dumps({"
    "'modules': sorted(sys.modules), 'threads': len(os.listdir('/proc/self/task'))}))"
)


def state_of(stdout: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(stdout.splitlines()[-1])
    return document


def test_a_process_that_never_imports_zmq_loads_almost_nothing(tmp_path: Path) -> None:
    plain = run_python("-c", STATE, cwd=tmp_path)
    with short_folder() as base:
        scoped = run_python("-c", STATE, cwd=tmp_path, env=runtime_env(base, {"ZMQSCOPE": "1"}))
        files = list(base.rglob("*"))
    assert plain.returncode == scoped.returncode == 0, describe(scoped)
    assert scoped.stderr == "", describe(scoped)
    before, after = state_of(plain.stdout), state_of(scoped.stdout)
    assert after["threads"] == before["threads"] == 1
    added = set(after["modules"]) - set(before["modules"])
    assert added <= {"zmqscope", "zmqscope._autoinstall", "zmqscope._version", "atexit"}, added
    assert files == []


def test_importing_zmq_arms_the_hooks_but_starts_nothing(tmp_path: Path) -> None:
    code = "import zmq\n" + STATE
    with short_folder() as base:
        result = run_python("-c", code, cwd=tmp_path, env=runtime_env(base, {"ZMQSCOPE": "1"}))
        files = list(base.rglob("*"))
    assert result.returncode == 0, describe(result)
    state = state_of(result.stdout)
    assert "zmqscope.instrument.hooks" in state["modules"]
    # No server, no thread, no files, and no report for a process that made no context.
    assert state["threads"] == 1
    assert files == []
    assert result.stderr == "", describe(result)


@pytest.mark.parametrize(
    "make_context",
    [
        "import zmq.asyncio\nctx = zmq.asyncio.Context()",
        "import zmq.green\nctx = zmq.green.Context()",
        "from zmq import Context\nctx = Context()",
    ],
    ids=["zmq.asyncio", "zmq.green", "from-zmq-import"],
)
def test_hooks_go_on_when_zmq_is_imported_however_it_is(tmp_path: Path, make_context: str) -> None:
    if "green" in make_context and importlib.util.find_spec("gevent") is None:
        pytest.skip("zmq.green needs gevent (in the test extra)")
    source = f"""
import sys
print("zmqscope.instrument.hooks" in sys.modules)
{make_context}
leak = ctx.socket(1)  # made
"""
    app = write_app(tmp_path, source)
    env = {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0", "ZMQSCOPE_JSON": str(tmp_path / "r.json")}
    result = run_python(str(app), cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "False\n"  # nothing of the hooks before zmq
    (sock,) = read_report(tmp_path / "r.json")["sockets"]
    assert sock["created"]["stack"][0]["line"] == line_of(app, "made")


WAITS_TO_MAKE_A_CONTEXT = """
import os, sys, time
import zmq
print("imported", file=sys.stderr, flush=True)
while not os.path.exists("make"):
    time.sleep(0.02)
ctx = zmq.Context()
print("ready", file=sys.stderr, flush=True)
while not os.path.exists("stop"):
    time.sleep(0.02)
ctx.term()
"""


def test_the_server_starts_with_the_first_context(tmp_path: Path) -> None:
    app = write_app(tmp_path, WAITS_TO_MAKE_A_CONTEXT)
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        runtime = base / "zmqscope"
        with running(app, cwd=tmp_path, command=[sys.executable], env=env) as child:
            child.wait_for("imported")
            pid = child.process.pid
            assert not (runtime / f"{pid}.json").exists()  # zmq imported, no context yet
            early = zmqscope_cli("report", str(pid), cwd=tmp_path, env=env)
            assert early.returncode == 2, describe(early)
            assert "has made no ZeroMQ context yet" in early.stderr, describe(early)
            (tmp_path / "make").touch()
            child.wait_for("ready")
            assert read_discovery(runtime, pid)["argv"] == [str(app)]
            (tmp_path / "stop").touch()
            assert child.wait_exit() == 0, child.stderr
        assert sorted(runtime.iterdir()) == []


def test_a_module_run_is_listed_as_the_module(tmp_path: Path) -> None:
    """``python -m MODULE`` reads ``-m MODULE ARGS`` in ``zmqscope ls`` (ipykernel's launcher)."""
    write_app(tmp_path, WAITS_TO_MAKE_A_CONTEXT, "waiter.py")
    (tmp_path / "make").touch()
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        # running() appends the app: ``python -m waiter -f conn.json``.
        with running(
            Path("conn.json"), cwd=tmp_path, command=[sys.executable, "-m", "waiter", "-f"], env=env
        ) as child:
            child.wait_for("ready")
            document = read_discovery(base / "zmqscope", child.process.pid)
            listing = zmqscope_cli("ls", "--json", cwd=tmp_path, env=env)
            (tmp_path / "stop").touch()
            assert child.wait_exit() == 0, child.stderr
    assert document["argv"] == ["-m", "waiter", "-f", "conn.json"]
    assert listing.returncode == 0, describe(listing)
    (row,) = json.loads(listing.stdout)
    assert row["command"] == "-m waiter -f conn.json"


FORKS_A_CHILD_THAT_EXITS = """
import os, sys
import zmq
ctx = zmq.Context()  # the parent serves from here
child = os.fork()
if child == 0:
    os._exit(0)  # no context of its own: it never needed a server
os.waitpid(child, 0)
print(child)
ctx.term()
"""


def test_a_forked_child_without_a_context_leaves_no_files(tmp_path: Path) -> None:
    app = write_app(tmp_path, FORKS_A_CHILD_THAT_EXITS)
    with short_folder() as base:
        result = run_python(str(app), cwd=tmp_path, env=runtime_env(base, {"ZMQSCOPE": "1"}))
        left = sorted(p.name for p in (base / "zmqscope").iterdir())
    assert result.returncode == 0, describe(result)
    child = int(result.stdout)
    assert f"{child}.json" not in left and f"{child}.ipc" not in left, left
    assert left == []  # the parent's, removed at its exit


def test_a_bad_setting_is_one_line_and_nothing_is_loaded(tmp_path: Path) -> None:
    code = "import sys\nprint('zmq' in sys.modules)"
    for setting, message in (
        ({"ZMQSCOPE_GRACE": "-1"}, "ZMQSCOPE_GRACE must be from 0 to 86,400 seconds, not -1"),
        ({"ZMQSCOPE_GRACE": "soon"}, "ZMQSCOPE_GRACE must be a number of seconds, not 'soon'"),
        (
            {"ZMQSCOPE_STACK_DEPTH": "0"},
            "ZMQSCOPE_STACK_DEPTH must be from 1 to 1,000 frames, not 0",
        ),
    ):
        result = run_python("-c", code, cwd=tmp_path, env={"ZMQSCOPE": "1", **setting})
        assert result.returncode == 0, describe(result)
        assert result.stderr == f"zmqscope: instrumentation is off: {message}\n", describe(result)
        assert result.stdout == "False\n", describe(result)


def test_zmq_imported_after_a_bad_setting_is_not_instrumented(tmp_path: Path) -> None:
    code = (
        "import sys, zmq\nzmq.Context().term()\nprint('zmqscope.instrument.hooks' in sys.modules)"
    )
    result = run_python("-c", code, cwd=tmp_path, env={"ZMQSCOPE": "1", "ZMQSCOPE_GRACE": "x"})
    assert result.returncode == 0, describe(result)
    assert result.stdout == "False\n"
    assert result.stderr.splitlines() == [
        "zmqscope: instrumentation is off: ZMQSCOPE_GRACE must be a number of seconds, not 'x'"
    ]
