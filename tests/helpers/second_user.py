"""Another local user, for tests of what someone else on the machine can and cannot do.

Where the tests run as root (CI does) a throwaway user is made with
``useradd`` for the session and removed afterwards; elsewhere the tests that
need one are skipped (making a user needs root).

That user cannot start this test run's Python (here it lives under a 0700
``/root``), so their steps run in a forked child of the test process that
drops to their uid and gid: the child has every module it needs loaded
already, and does only file and socket operations (plus, at most, a
zmqscope CLI call whose modules are imported beforehand).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import pkgutil
import pwd
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

_WAIT = 30.0  # seconds a step may take before it is killed


@dataclass(frozen=True)
class OtherUser:
    """A user that is not the one running the tests."""

    name: str
    uid: int
    gid: int

    def run(self, step: Callable[[], int | None]) -> tuple[int, str]:
        """Run ``step`` as this user in a forked child; its exit status and output.

        The status is what ``step`` returns (None: 0), 1 with the traceback
        in the output if it raised, -signal if it was killed after
        :data:`_WAIT` seconds.
        """
        _import_the_cli()
        with tempfile.TemporaryFile() as output:
            pid = os.fork()
            if pid == 0:  # the child: never returns into pytest
                _child(self, step, output.fileno())
            status = _wait(pid)
            output.seek(0)
            return status, output.read().decode("utf-8", "replace")


def _import_the_cli() -> None:
    """Every module of zmqscope's command line, so that the child imports none.

    (A step that ran first in its worker found ``pkgutil`` unreadable.)
    """
    import zmqscope.cli

    for module in pkgutil.walk_packages(zmqscope.cli.__path__, "zmqscope.cli."):
        importlib.import_module(module.name)


def _child(user: OtherUser, step: Callable[[], int | None], output: int) -> None:
    code = 1
    try:
        os.dup2(output, 1)
        os.dup2(output, 2)
        sys.stdout = io.TextIOWrapper(os.fdopen(1, "wb", closefd=False), write_through=True)
        sys.stderr = io.TextIOWrapper(os.fdopen(2, "wb", closefd=False), write_through=True)
        os.setgroups([])
        os.setgid(user.gid)
        os.setuid(user.uid)
        code = step() or 0
    except BaseException:
        with contextlib.suppress(BaseException):
            traceback.print_exc()
    finally:
        with contextlib.suppress(BaseException):
            sys.stdout.flush()
            sys.stderr.flush()
        os._exit(code)


def _wait(pid: int) -> int:
    deadline = time.monotonic() + _WAIT
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


@contextlib.contextmanager
def throwaway_user() -> Iterator[OtherUser]:
    """A new system user with no home and no login, removed afterwards (or a skip)."""
    if os.geteuid() != 0:
        pytest.skip("needs root: only root can create a second user to act as the attacker")
    useradd, userdel = shutil.which("useradd"), shutil.which("userdel")
    if useradd is None or userdel is None:
        pytest.skip("needs useradd and userdel to create a second user")
    name = f"zst{secrets.token_hex(6)}"
    command = [useradd, "--system", "--no-create-home", "--user-group"]
    command += ["--shell", "/usr/sbin/nologin", name]
    # Parallel workers may hold the password file's lock for a moment.
    for _ in range(50):
        made = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
        if made.returncode == 0:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"useradd {name} failed: {made.stderr.strip()}")
    entry = pwd.getpwnam(name)
    try:
        yield OtherUser(name, entry.pw_uid, entry.pw_gid)
    finally:
        for _ in range(50):
            gone = subprocess.run([userdel, name], capture_output=True, timeout=30, check=False)
            if gone.returncode in (0, 6):  # 6: no such user
                break
            time.sleep(0.2)
