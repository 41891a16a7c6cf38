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

from tests.helpers.processes import describe, run_python, write_app
from tests.helpers.serving import runtime_env, short_folder

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
    # Every request type over ipc (zmqscope's stream: a 4-byte big-endian
    # length, then the JSON), with nothing of zmqscope's imported here: the
    # imports under test are those of zmqscope's own threads.
    import socket
    import struct

    client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    client.settimeout(20)
    client.connect(endpoint[len("ipc://"):])
    for number, kind in enumerate(("hello", "snapshot", "report", "threads", "events"), 1):
        payload = json.dumps({"v": 1, "type": kind, "id": number}).encode()
        client.sendall(struct.pack("!I", len(payload)) + payload)
        header = b""
        while len(header) < 4:
            header += client.recv(4 - len(header))
        (length,) = struct.unpack("!I", header)
        body = b""
        while len(body) < length:
            body += client.recv(length - len(body))
        assert json.loads(body)["id"] == number
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


def importer():
    # The frame that asked for the import (past importlib's), or None.
    frame = sys._getframe(2)
    while frame is not None and "importlib" in frame.f_code.co_filename:
        frame = frame.f_back
    return frame


def note(event, args):
    if event != "import" or _native.imports_under_way():
        return
    name = _native.own_thread_names().get(_native.get_ident())
    if name is not None:
        unguarded.append([name, args[0]])
        return
    # On the application's threads: zmqscope's late imports (inside its
    # functions, not a module's own imports as the app imports zmqscope).
    # Except the platform check of the app's first call to zmqscope's API:
    # it says "not on Windows" before the guard (POSIX-only) can load.
    frame = importer()
    if (
        frame is not None
        and frame.f_code.co_name != "<module>"
        and "/zmqscope/" in frame.f_code.co_filename
        and args[0] != "zmqscope._platform"
        and not frame.f_code.co_filename.endswith("/zmqscope/_platform.py")
    ):
        where = f"{frame.f_code.co_filename.rsplit('/zmqscope/', 1)[1]} in {frame.f_code.co_name}"
        unguarded.append(["app thread", args[0], where])


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


def test_zmqscope_imports_only_while_forks_wait(tmp_path: Path) -> None:
    """Every module zmqscope imports late, on its threads or the app's, is imported as forks wait.

    (The app's thread: a fork while the first context's server start was
    importing sysconfig, unguarded, hung the child's first report.)
    """
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
