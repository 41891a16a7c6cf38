"""``zmqscope report PID`` finds a process's server in whichever runtime folder it chose.

A server picks its folder from its own environment (``XDG_RUNTIME_DIR``, else
the temp folder), which need not be the shell's where ``zmqscope report``
runs. A pid is looked up in every folder a server of the user may use and in
the one the process itself chose; each is checked as trusted before it is
read. When there is no server, the one line says why: not instrumented (and
where it looked), or instrumented but not serving yet (lazy start), or told
not to serve.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

from tests.helpers.hanging import running
from tests.helpers.processes import Completed, describe, write_app, zmqscope_cli
from tests.helpers.serving import read_discovery, short_folder

pytestmark = pytest.mark.timeout(120)

# Says "ready" once it has made its context (APP_MODE "context" or "tcp") or
# before any (no APP_MODE), then waits for the file "stop" (at most a minute).
WAITING_APP = """
import os, sys, time

mode = os.environ.get("APP_MODE", "")
if mode:
    import zmq

    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    sock.bind("tcp://127.0.0.1:*")
    if mode == "tcp":
        import zmqscope

        zmqscope.serve("tcp://127.0.0.1:0")
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
"""


@pytest.fixture
def base() -> Iterator[Path]:
    with short_folder() as folder:
        (folder / "app").mkdir(mode=0o700)
        (folder / "shell").mkdir(mode=0o700)
        (folder / "tmp").mkdir(mode=0o700)
        yield folder


def report(base: Path, pid: int, xdg: str | None = "shell") -> Completed:
    """``zmqscope report PID`` from a shell whose XDG_RUNTIME_DIR is ``base/xdg``."""
    env = {"TMPDIR": str(base / "tmp"), "COLUMNS": "200"}
    if xdg is not None:
        env["XDG_RUNTIME_DIR"] = str(base / xdg)
    return zmqscope_cli("report", str(pid), cwd=base, env=env, timeout=30)


def app_env(base: Path, xdg: str | None) -> dict[str, str]:
    env = {"TMPDIR": str(base / "tmp")}
    if xdg is not None:
        env["XDG_RUNTIME_DIR"] = str(base / xdg)
    return env


@pytest.mark.parametrize(
    ("app_xdg", "shell_xdg", "folder"),
    [
        pytest.param("app", "shell", "app/zmqscope", id="another-xdg-folder"),
        pytest.param(None, "shell", "tmp/zmqscope-{uid}", id="app-without-xdg"),
        pytest.param("app", None, "app/zmqscope", id="shell-without-xdg"),
    ],
)
def test_report_finds_a_server_in_another_runtime_folder(
    tmp_path: Path, base: Path, app_xdg: str | None, shell_xdg: str | None, folder: str
) -> None:
    app = write_app(tmp_path, WAITING_APP)
    env = {**app_env(base, app_xdg), "APP_MODE": "context"}
    with running(app, cwd=tmp_path, env=env) as child:  # zmqscope run app.py
        child.wait_for("ready")
        runtime = base / folder.format(uid=os.getuid())
        read_discovery(runtime, child.process.pid)
        result = report(base, child.process.pid, shell_xdg)
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("zmqscope: 1 socket created, 1 open, no leaks"), describe(
        result
    )


@pytest.mark.skipif(not zmq.has("curve"), reason="this libzmq was built without CURVE")
def test_a_tcp_server_elsewhere_is_asked_with_the_keys_of_its_own_folder(
    tmp_path: Path, base: Path
) -> None:
    app = write_app(tmp_path, WAITING_APP)
    env = {**app_env(base, "app"), "ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0", "APP_MODE": "tcp"}
    with running(app, command=[sys.executable], cwd=tmp_path, env=env) as child:
        child.wait_for("ready")
        discovery = read_discovery(base / "app" / "zmqscope", child.process.pid)
        assert discovery["endpoint"].startswith("tcp://") and discovery["curve"] is True
        result = report(base, child.process.pid)
    assert result.returncode == 0, describe(result)
    assert result.stdout.startswith("zmqscope: 1 socket created, 1 open"), describe(result)


def test_instrumented_but_no_context_yet_says_so(tmp_path: Path, base: Path) -> None:
    """Lazy start: ``ZMQSCOPE=1`` and no context yet means no server yet, said plainly."""
    app = write_app(tmp_path, WAITING_APP)
    env = {**app_env(base, "app"), "ZMQSCOPE": "1"}
    with running(app, command=[sys.executable], cwd=tmp_path, env=env) as child:
        child.wait_for("ready")
        result = report(base, child.process.pid)
    assert result.returncode == 2, describe(result)
    (line,) = result.stderr.splitlines()
    pid = child.process.pid
    assert line.startswith(
        f"zmqscope: error: process {pid} is instrumented (ZMQSCOPE=1) but has made no "
        "ZeroMQ context yet: its server starts with the first one (no server of it in "
    ), line
    assert str(base / "app" / "zmqscope") in line, line


def test_run_without_a_server_says_so(tmp_path: Path, base: Path) -> None:
    app = write_app(tmp_path, WAITING_APP)
    with running(
        app,
        "--json",
        str(tmp_path / "r.json"),
        "--no-serve",
        cwd=tmp_path,
        env=app_env(base, "app"),
    ) as child:
        child.wait_for("ready")
        result = report(base, child.process.pid)
    assert result.returncode == 2, describe(result)
    assert result.stderr == (
        f"zmqscope: error: process {child.process.pid} is instrumented (zmqscope run) but was "
        "told not to serve (--no-serve or ZMQSCOPE_SERVE=0): it has no server\n"
    )


def test_a_process_not_instrumented_is_named_with_where_zmqscope_looked(
    tmp_path: Path, base: Path
) -> None:
    app = write_app(tmp_path, WAITING_APP)
    with running(app, command=[sys.executable], cwd=tmp_path, env=app_env(base, None)) as child:
        child.wait_for("ready")
        result = report(base, child.process.pid)
    assert result.returncode == 2, describe(result)
    (line,) = result.stderr.splitlines()
    shell_folder = base / "shell" / "zmqscope"
    temp_folder = base / "tmp" / f"zmqscope-{os.getuid()}"
    assert line == (
        f"zmqscope: error: process {child.process.pid} is not instrumented by zmqscope (start it "
        f"with 'zmqscope run' or ZMQSCOPE=1); no server of it in {shell_folder} (does not "
        f"exist); {temp_folder} (does not exist)"
    )
