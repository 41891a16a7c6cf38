"""``os.fork()`` in a serving app: the child is a process of its own, the parent unharmed.

The child gets a fresh registry (the parent's sockets are not the child's),
its own server and discovery file; the parent keeps answering with the same
records as before the fork.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
from pathlib import Path

import pytest

from tests.helpers.processes import describe, line_of, write_app, zmqscope_cli
from tests.helpers.serving import read_discovery, runtime_env, serving, short_folder
from zmqscope.remote.client import LiveClient

pytestmark = pytest.mark.timeout(90)

FORKING_APP = """
import os, sys, time
import zmq

ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)  # parent-made
push.bind("inproc://parent")
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while not os.path.exists("fork") and time.monotonic() < deadline:
    time.sleep(0.05)
parent = os.getpid()
if os.fork() == 0:
    child_ctx = zmq.Context()
    pull = child_ctx.socket(zmq.PULL)  # child-made
    pull.bind("inproc://child")
    print(f"child {os.getpid()} serving", file=sys.stderr, flush=True)
    # Until the test kills it, or its parent is gone.
    while os.getppid() == parent and time.monotonic() < deadline:
        time.sleep(0.05)
    os._exit(0)
time.sleep(60)
"""


def test_forked_child_serves_its_own_sockets_and_the_parent_is_unaffected(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path, FORKING_APP)
    child_pid = None
    with short_folder() as base, serving(app, base, cwd=tmp_path) as parent:
        try:
            before = parent.client()
            try:
                parent_before = before.snapshot().report.snapshot
                events_before = before.events(0)
            finally:
                before.close()

            (tmp_path / "fork").touch()
            found = re.search(r"child (\d+) serving", parent.child.wait_for("serving"))
            assert found, parent.child.stderr
            child_pid = int(found.group(1))

            # The child: its own server, discovery file and records.
            document = read_discovery(parent.runtime, child_pid)
            assert document["pid"] == child_pid
            assert document["endpoint"] == f"ipc://{parent.runtime}/{child_pid}.ipc"
            assert document["endpoint"] != parent.endpoint
            child = LiveClient(document["endpoint"], timeout=10)
            try:
                assert child.hello().process.pid == child_pid
                child_sockets = child.snapshot().report.snapshot.sockets
                child_events = child.events(0)
            finally:
                child.close()
            (pull,) = child_sockets  # not the parent's PUSH
            assert pull.type == "PULL"
            assert pull.created.stack[0].line == line_of(app, "child-made")
            assert [e.kind for e in child_events.events] == ["created", "bound"]
            assert child_events.events[0].seq == 1

            # The parent: still answering, with the records it had.
            after = parent.client()
            try:
                assert after.hello().process.pid == parent.pid
                parent_after = after.snapshot().report.snapshot
                events_after = after.events(0)
            finally:
                after.close()
            assert parent_after.sockets == parent_before.sockets
            assert parent_after.contexts == parent_before.contexts
            (push,) = parent_after.sockets
            assert (push.type, push.created.stack[0].line) == ("PUSH", line_of(app, "parent-made"))
            assert events_after == events_before

            # Both are listed, each once.
            listing = zmqscope_cli("ls", "--json", cwd=tmp_path, env=runtime_env(base))
            assert listing.returncode == 0, describe(listing)
            pids = sorted(row["pid"] for row in json.loads(listing.stdout))
            assert pids == sorted([parent.pid, child_pid])
        finally:
            if child_pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(child_pid, signal.SIGKILL)
