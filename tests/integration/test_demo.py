"""The bundled demo (``zmqscope demo``): every service it promises is running.

The demo runs as ``zmqscope demo`` starts it (:func:`demo_command`), in a
private runtime folder; the test reads its sockets through a real
``LiveClient`` until each service has its sockets open and messages flowing,
or fails after :data:`SERVICES_WITHIN` seconds naming what is missing. The
demo is always stopped. ``zmqscope demo`` itself runs headless, and with
its TUI in an 80x24 pseudo-terminal, quit as a user would.
"""

from __future__ import annotations

import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.processes import ZMQSCOPE_MODULE, clean_env, describe, zmqscope_cli
from tests.helpers.serving import short_folder
from zmqscope.cli.demo import demo_command
from zmqscope.model import Snapshot, SocketRecord, SocketState
from zmqscope.remote.client import ClientError, LiveClient, discover

pytestmark = pytest.mark.timeout(120)

START_WITHIN = 30.0  # seconds for the demo to start serving (a loaded machine)
SERVICES_WITHIN = 40.0  # seconds for every service to have moved messages
EXIT_WITHIN = 30.0  # seconds for the demo to finish once told to hurry


@dataclass(frozen=True)
class Expected:
    """One socket a service of the demo must have: open, and moving messages."""

    service: str
    thread: str  # the thread that uses it (the last one, for a hand-off)
    type: str
    sends: bool = False
    receives: bool = False

    def find(self, snapshot: Snapshot) -> SocketRecord | None:
        for record in snapshot.sockets:
            used = record.threads_used[-1].name if record.threads_used else None
            ours = record.type == self.type and self.thread in (used, _maker(record))
            if ours and record.state is SocketState.OPEN:
                return record
        return None

    def missing(self, snapshot: Snapshot) -> str | None:
        """What is wrong with this socket in ``snapshot``, or None."""
        record = self.find(snapshot)
        where = f"{self.service}: the {self.type} of {self.thread}"
        if record is None:
            return f"{where} is not open"
        traffic = record.traffic
        if traffic is None:
            return f"{where} has no traffic counters"
        if self.sends and traffic.msgs_out == 0:
            return f"{where} has sent nothing"
        if self.receives and traffic.msgs_in == 0:
            return f"{where} has received nothing"
        return None


def _maker(record: SocketRecord) -> str | None:
    thread = record.created.thread
    return thread.name if thread else None


EXPECTED = (
    Expected("pipeline", "ventilator", "PUSH", sends=True),
    Expected("pipeline", "worker-1", "PULL", receives=True),
    Expected("pipeline", "worker-1", "PUSH", sends=True),
    Expected("pipeline", "worker-2", "PULL", receives=True),
    Expected("pipeline", "worker-2", "PUSH", sends=True),
    Expected("pipeline", "sink", "PULL", receives=True),
    Expected("PUB/SUB", "ticker", "PUB", sends=True),
    Expected("PUB/SUB", "ticker", "SUB", receives=True),
    Expected("REQ/REP service", "service", "REP", sends=True, receives=True),
    Expected("REQ/REP service", "service", "REQ", sends=True, receives=True),
    Expected("shared socket", "reporter", "PUB", sends=True),
    Expected("leaked audit log", "MainThread", "PUSH"),
    Expected("stubborn worker", "stubborn", "DEALER"),
)


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Path]]:
    """The demo as ``zmqscope demo`` runs it, serving in a private runtime folder."""
    with short_folder() as runtime:
        log = tmp_path / "demo.log"
        with open(log, "w", encoding="utf-8") as output:
            child = subprocess.Popen(
                demo_command(shutdown_after=0, hold=100),
                cwd=tmp_path,
                env=clean_env({"XDG_RUNTIME_DIR": str(runtime)}),
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                text=True,
            )
        try:
            yield child, runtime
        finally:
            if child.poll() is None:
                child.kill()
            child.wait(timeout=10)
            print(log.read_text(encoding="utf-8"))  # shown when the test fails


def attach(
    child: subprocess.Popen[str], runtime: Path, monkeypatch: pytest.MonkeyPatch
) -> LiveClient:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(runtime))
    deadline = time.monotonic() + START_WITHIN
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the demo exited early (status {child.returncode})"
        for entry in discover():
            if entry.pid == child.pid:
                return LiveClient(entry.endpoint, timeout=10)
        time.sleep(0.1)
    raise AssertionError(f"the demo did not start serving within {START_WITHIN} s")


def poll(client: LiveClient, done: Callable[[Snapshot], bool], within: float) -> Snapshot:
    """Snapshots until ``done`` says yes (or the time is up): the last one."""
    deadline = time.monotonic() + within
    snapshot = client.snapshot().snapshot
    while not done(snapshot) and time.monotonic() < deadline:
        time.sleep(0.3)
        try:
            snapshot = client.snapshot().snapshot
        except ClientError:
            continue
    return snapshot


def test_every_service_of_the_demo_runs(
    demo: tuple[subprocess.Popen[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    child, runtime = demo
    client = attach(child, runtime, monkeypatch)
    try:

        def problems(snapshot: Snapshot) -> list[str]:
            wrong = [text for item in EXPECTED if (text := item.missing(snapshot))]
            if not any(w.socket for w in snapshot.warnings):
                wrong.append("no thread-sharing warning for the shared PUB yet")
            return wrong

        snapshot = poll(client, lambda s: not problems(s), SERVICES_WITHIN)
        assert problems(snapshot) == []
        shared = Expected("", "reporter", "PUB").find(snapshot)
        assert shared is not None
        assert [w.socket for w in snapshot.warnings] == [shared.id]
        # No service died: a thread that raised closes its sockets on the way out.
        assert not [s for s in snapshot.sockets if s.state is SocketState.COLLECTED]
    finally:
        client.close()


def test_the_demo_finishes_at_once_when_told_to_hurry(
    demo: tuple[subprocess.Popen[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM (what quitting ``zmqscope demo`` sends) ends even the stubborn worker's wait."""
    child, runtime = demo
    attach(child, runtime, monkeypatch).close()
    os.kill(child.pid, signal.SIGTERM)
    try:
        status = child.wait(timeout=EXIT_WITHIN)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the demo did not finish within {EXIT_WITHIN} s of SIGTERM (hold is 100 s)")
    assert status == 0


# -- zmqscope demo, the command -------------------------------------------------------


def test_headless_prints_the_report_and_leaves_no_files(tmp_path: Path) -> None:
    """The demo's log and exit report live in a folder of their own, removed at the end."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    with short_folder() as runtime:
        result = zmqscope_cli(
            "demo",
            "--headless",
            cwd=tmp_path,
            env={"TMPDIR": str(scratch), "XDG_RUNTIME_DIR": str(runtime)},
        )
    assert result.returncode == 0, describe(result)
    assert "term() blocked" in result.stdout  # the report, with the culprits
    assert "Traceback" not in result.stdout + result.stderr
    assert not list(scratch.glob("zmqscope-demo-*")), list(scratch.iterdir())


def run_demo_in_a_terminal(tmp_path: Path, quit_key: bytes) -> tuple[int, str, Path]:
    """``zmqscope demo`` in an 80x24 pseudo-terminal, quit with ``quit_key`` once it shows
    the demo: (status, everything it wrote, its TMPDIR)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    with short_folder() as runtime:
        env = {"TMPDIR": str(scratch), "XDG_RUNTIME_DIR": str(runtime), "TERM": "xterm-256color"}
        child = subprocess.Popen(
            [*ZMQSCOPE_MODULE, "demo"],
            cwd=tmp_path,
            env=clean_env(env),
            stdin=secondary,
            stdout=secondary,
            stderr=secondary,
            start_new_session=True,
        )
        os.close(secondary)
        output = bytearray()
        try:
            _read_until(primary, output, b"demo_app.py", START_WITHIN)
            _read_until(primary, output, b"s13", START_WITHIN)  # the table is drawn
            os.write(primary, quit_key)
            _read_until(primary, output, None, EXIT_WITHIN)  # to the end
            status = child.wait(timeout=EXIT_WITHIN)
        finally:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGKILL)
                child.wait(timeout=10)
            os.close(primary)
    return status, output.decode("utf-8", "replace"), scratch


def _read_until(fd: int, output: bytearray, marker: bytes | None, within: float) -> None:
    """Read ``fd`` into ``output`` until ``marker`` is in it (None: until it closes)."""
    deadline = time.monotonic() + within
    while marker is None or marker not in output:
        left = deadline - time.monotonic()
        if left <= 0:
            tail = output[-2000:].decode("utf-8", "replace")
            raise AssertionError(f"no {marker!r} within {within} s; the end so far:\n{tail}")
        ready, _, _ = select.select([fd], [], [], min(left, 0.5))
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # EIO: every end of the terminal is closed
            chunk = b""
        if not chunk:
            if marker is None:
                return
            raise AssertionError(f"the terminal closed before {marker!r}")
        output += chunk


@pytest.mark.parametrize("quit_key", [b"q", b"\x03"], ids=["q", "ctrl-c"])
def test_quitting_the_tui_prints_the_demos_exit_report(tmp_path: Path, quit_key: bytes) -> None:
    status, output, scratch = run_demo_in_a_terminal(tmp_path, quit_key)
    after = output[output.rfind("\x1b[?1049l") :]  # what follows the TUI's screen
    assert status == 0, after
    assert "zmqscope: the demo's exit report:" in after
    assert "13 sockets created" in after
    assert "open-at-exit" in after  # the audit log the demo leaks
    assert "Do you want to quit?" not in output
    assert not list(scratch.glob("zmqscope-demo-*")), list(scratch.iterdir())
