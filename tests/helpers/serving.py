"""Helpers for the introspection server's tests: private runtime folders, serving apps.

Every app here runs with its own ``XDG_RUNTIME_DIR``, so tests running in
parallel never see each other's processes, and every wait is bounded.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers.hanging import WAIT, RunningApp, running
from zmqscope.remote.client import LiveClient

# A client's patience in these tests: far above a loaded machine's round trip,
# far below the per-test timeout.
CLIENT_TIMEOUT = 10.0

# The app most tests attach to: two sockets on loopback tcp, a SIGTERM
# handler that exits like Python would (atexit runs), and a normal exit once
# the test creates the file "stop" in its working folder.
SERVING_APP = """
import os, signal, sys, time
import zmq

signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)  # pull-made
pull.bind("tcp://127.0.0.1:*")
push = ctx.socket(zmq.PUSH)  # push-made
push.connect(pull.last_endpoint)
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
push.close(linger=0)
pull.close()
ctx.term()
print("done", file=sys.stderr, flush=True)
"""


@contextmanager
def short_folder() -> Iterator[Path]:
    """A fresh folder with a short path: an ipc socket path must fit in 107 bytes."""
    folder = Path(tempfile.mkdtemp(prefix="zs-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def runtime_env(base: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that puts zmqscope's runtime folder at ``base/zmqscope``."""
    return {"XDG_RUNTIME_DIR": str(base), "COLUMNS": "300", **(extra or {})}


def wait_until(predicate: Callable[[], bool], what: str, timeout: float = WAIT) -> None:
    """Poll ``predicate`` until true; AssertionError naming ``what`` if it never is."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {timeout} s")


def read_discovery(runtime: Path, pid: int) -> dict[str, Any]:
    """The discovery file of ``pid`` once it exists."""
    path = runtime / f"{pid}.json"
    wait_until(path.is_file, f"discovery file {path}")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


@dataclass
class ServingApp:
    """A running app that serves introspection, and where to find it."""

    child: RunningApp
    runtime: Path
    discovery: dict[str, Any]

    @property
    def pid(self) -> int:
        return self.child.process.pid

    @property
    def endpoint(self) -> str:
        return str(self.discovery["endpoint"])

    def client(self, timeout: float = CLIENT_TIMEOUT) -> LiveClient:
        return LiveClient(self.endpoint, timeout=timeout)

    def files(self) -> list[Path]:
        """This process's files in the runtime folder."""
        return sorted(self.runtime.glob(f"{self.pid}.*"))


@contextmanager
def serving(
    app: Path,
    base: Path,
    *options: str,
    cwd: Path,
    python_env: Mapping[str, str] | None = None,
) -> Iterator[ServingApp]:
    """``zmqscope run OPTIONS app`` (or ``python app`` with ``python_env``), once it serves.

    Waits for the app to print "ready" on stderr and for its discovery file;
    the app is killed on the way out if it is still running.
    """
    command: Sequence[str] | None = [sys.executable] if python_env is not None else None
    env = runtime_env(base, python_env)
    with running(app, *options, cwd=cwd, command=command, env=env) as child:
        child.wait_for("ready")
        discovery = read_discovery(base / "zmqscope", child.process.pid)
        yield ServingApp(child, base / "zmqscope", discovery)
