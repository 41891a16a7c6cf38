"""``os.fork()``: the parent's and the child's exit reports say which process each is."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_python, run_zmqscope, write_app

pytestmark = pytest.mark.timeout(90)

FORKING_APP = """
import os, sys
import zmq

ctx = zmq.Context()
kept = ctx.socket(zmq.PUSH)  # the parent's, left open
child = os.fork()
if child == 0:
    child_ctx = zmq.Context()
    child_kept = child_ctx.socket(zmq.PULL)  # the child's, left open
    print(f"child pid {os.getpid()}", file=sys.stderr, flush=True)
    sys.exit(0)
os.waitpid(child, 0)
print(f"parent pid {os.getpid()}", file=sys.stderr, flush=True)
"""

NOT_FORKING_APP = """
import zmq

ctx = zmq.Context()
kept = ctx.socket(zmq.PUSH)
"""


def _pids(stderr: str) -> tuple[int, int]:
    parent = re.search(r"parent pid (\d+)", stderr)
    child = re.search(r"child pid (\d+)", stderr)
    assert parent and child, stderr
    return int(parent.group(1)), int(child.group(1))


@pytest.mark.parametrize("how", ["run", "ZMQSCOPE=1"])
def test_forked_processes_name_their_pid_in_the_summary(tmp_path: Path, how: str) -> None:
    json_path = tmp_path / "report-{pid}.json"
    if how == "run":
        # Without following children: then each process prints its own report.
        result = run_zmqscope(tmp_path, FORKING_APP, "--no-serve", "--no-children")
    else:
        app = write_app(tmp_path, FORKING_APP)
        env = {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0", "ZMQSCOPE_JSON": str(json_path)}
        result = run_python(str(app), cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    parent, child = _pids(result.stderr)
    summaries = [line for line in result.stderr.splitlines() if line.startswith("zmqscope")]
    assert f"zmqscope (pid {child}): 1 socket created, 1 leak: 1 open at exit" in summaries
    assert f"zmqscope (pid {parent}): 1 socket created, 1 leak: 1 open at exit" in summaries
    assert not [line for line in summaries if line.startswith("zmqscope:")], describe(result)
    if how == "ZMQSCOPE=1":
        parent_doc = json.loads(Path(str(json_path).format(pid=parent)).read_text())
        child_doc = json.loads(Path(str(json_path).format(pid=child)).read_text())
        assert parent_doc["process"]["forks"] == 1
        assert "forked_from" not in parent_doc["process"]
        assert child_doc["process"]["forked_from"] == parent
        assert "forks" not in child_doc["process"]


def test_a_process_that_never_forked_keeps_the_plain_summary(tmp_path: Path) -> None:
    result = run_zmqscope(tmp_path, NOT_FORKING_APP, "--no-serve")
    assert "zmqscope: 1 socket created, 1 leak: 1 open at exit" in result.stderr, describe(result)
    assert "(pid " not in result.stderr


def test_a_forked_childs_report_is_in_its_run_parents_report(tmp_path: Path) -> None:
    json_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, FORKING_APP, "--no-serve", "--json", str(json_path))
    assert result.returncode == 0, describe(result)
    parent, child = _pids(result.stderr)
    summaries = [line for line in result.stderr.splitlines() if line.startswith("zmqscope")]
    assert summaries == [
        f"zmqscope (pid {parent}): 1 socket created, 1 leak: 1 open at exit;"
        " 1 child process: 1 leak"
    ], describe(result)
    document = json.loads(json_path.read_text())
    assert [leak["socket"] for leak in document["leaks"]] == ["s1"]
    assert document["sockets"][0]["type"] == "PUSH"  # the parent's report is the parent's
    [forked] = document["processes"]
    assert forked["pid"] == child and forked["process"]["forked_from"] == parent
    assert [s["type"] for s in forked["sockets"]] == ["PULL"]  # and the child's, the child's
