"""A fork never catches a thread of zmqscope's in the middle of an import (issue #14, item 18).

A thread importing a module holds that module's import lock; a fork copies
the lock, held, into a child where that thread does not exist, and the
child's own import of the module waits forever. zmqscope's threads (the
server, the term() watchdog) import what they need when they start, while
forks wait (``zmqscope._native.fork_waits``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.integration.conftest import describe, run_python, write_app
from tests.integration.serving import runtime_env, short_folder

pytestmark = pytest.mark.timeout(150)

# Every request type from a plain DEALER, then a term() blocked long enough
# for the watchdog to report it: the first work of both of zmqscope's threads.
FIRST_WORK = """
import json
import threading

import zmq
import zmqscope
from zmqscope import _api


def ask_everything(endpoint):
    # Every request type, as a client asks it (over ipc: zmqscope's stream).
    from zmqscope.client import LiveClient
    from zmqscope.protocol import RequestType

    client = LiveClient(endpoint, timeout=20)
    try:
        for kind in RequestType:
            client.request(kind)
    finally:
        client.close()


def block_a_term():
    ctx = zmq.Context()
    held = ctx.socket(zmq.PUSH)
    reported = threading.Event()
    _api.add_shutdown_listener(lambda event: reported.set())
    threading.Thread(target=lambda: (reported.wait(30), held.close())).start()
    ctx.term()  # the watchdog reports it (and prints the culprit report), then it returns
"""

IMPORTS_OF_ZMQSCOPES_THREADS = (
    """
import sys
from zmqscope import _native

unguarded = []


def note(event, args):
    if event != "import":
        return
    name = _native.own_thread_names().get(_native.get_ident())
    if name is not None and not _native.imports_under_way():
        unguarded.append([name, args[0]])


sys.addaudithook(note)
"""
    + FIRST_WORK
    + """
zmqscope.install(grace=0.2)
ask_everything(zmqscope.serve().endpoint)
block_a_term()
print(json.dumps(unguarded))
"""
)


def test_zmqscopes_threads_import_only_while_forks_wait(tmp_path: Path) -> None:
    """Every module the server and the watchdog need is imported in their guarded start."""
    app = write_app(tmp_path, IMPORTS_OF_ZMQSCOPES_THREADS)
    with short_folder() as base:
        result = run_python(str(app), cwd=tmp_path, env=runtime_env(base))
    assert result.returncode == 0, describe(result)
    assert json.loads(result.stdout.splitlines()[-1]) == [], describe(result)
    assert "1 socket keeps it waiting" in result.stderr, describe(result)


FORKS_DURING_FIRST_WORK = (
    FIRST_WORK
    + """
import io
import os
import signal
import time

MAX_CHILDREN = 60


def child():
    # What a daemonizing application's child does: its own context, its
    # own sockets, a report (whose modules the parent's threads may have
    # been importing at the fork).
    code = 1
    try:
        ctx = zmq.Context()
        ctx.socket(zmq.PAIR).close()
        ctx.term()
        from rich.console import Console
        from zmqscope.reporting import render_text

        Console(file=io.StringIO()).print(render_text(zmqscope.report()))
        code = 0
    finally:
        os._exit(code)


children = []
stop = threading.Event()


def fork_repeatedly():
    while not stop.is_set() and len(children) < MAX_CHILDREN:
        pid = os.fork()
        if pid == 0:
            child()
        children.append(pid)
        time.sleep(0.003)


zmqscope.install(grace=0.05)
forker = threading.Thread(target=fork_repeatedly)
forker.start()
ask_everything(zmqscope.serve().endpoint)  # the server's thread starts here
block_a_term()  # the watchdog's thread starts here
stop.set()
forker.join()

hung = failed = 0
deadline = time.monotonic() + 40
for pid in children:
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            failed += os.waitstatus_to_exitcode(status) != 0
            break
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            hung += 1
            break
        time.sleep(0.01)
print(json.dumps({"children": len(children), "hung": hung, "failed": failed}))
"""
)


def test_children_forked_while_zmqscopes_threads_start_all_exit(tmp_path: Path) -> None:
    """A thread forks over and over while the server and the watchdog do their first work."""
    app = write_app(tmp_path, FORKS_DURING_FIRST_WORK)
    for _ in range(3):  # a fresh process each time: first work happens once
        with short_folder() as base:
            result = run_python(str(app), cwd=tmp_path, env=runtime_env(base), timeout=60)
        assert result.returncode == 0, describe(result)
        outcome = json.loads(result.stdout.splitlines()[-1])
        assert outcome["children"] > 0, describe(result)
        assert outcome["hung"] == 0 and outcome["failed"] == 0, describe(result)
