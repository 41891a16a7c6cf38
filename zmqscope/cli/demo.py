"""``zmqscope demo``: the bundled demo application, instrumented, with the TUI on it.

The demo's own output (its prints, tracebacks, and the culprit report its
blocked ``term()`` prints) goes to a log in a private temporary folder,
with the exit report it writes as JSON. When the TUI quits, the demo is
told to finish at once (SIGTERM: its stubborn worker lets go), and its exit
report is printed here. The folder is removed at the end, unless the demo
failed or printed a traceback: then the log is kept, and its path said.
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from zmqscope.cli._errors import CommandError
from zmqscope.cli._output import stdout_console

if TYPE_CHECKING:
    from zmqscope.remote.client import LiveClient

_START_TIMEOUT = 15.0  # seconds for the demo to start serving
_BLOCK_TIMEOUT = 30.0  # seconds, headless, for its term() to be reported blocked
_FINISH_TIMEOUT = 15.0  # seconds for the demo to finish once told to hurry


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "demo",
        help="run the bundled demo application with the TUI attached",
        description="""\
Start a small ZeroMQ application with typical bugs (a leaked socket, a socket
shared by two threads, a worker that blocks shutdown) under zmqscope, and
attach the TUI. Press x to shut the demo down and watch its term() block.
Without a terminal it runs --headless.""",
        epilog="""\
example:
  zmqscope demo --headless""",
    )
    parser.add_argument(
        "--headless",
        action="store_true",
        help="no TUI: shut the demo down, print the report with its culprits, and exit",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    if not args.headless and not (sys.stdin.isatty() and sys.stdout.isatty()):
        print("zmqscope: no terminal for the TUI; running the demo --headless", file=sys.stderr)
        args.headless = True
    folder = Path(tempfile.mkdtemp(prefix="zmqscope-demo-"))
    log, exit_json = folder / "demo.log", folder / "exit.json"
    shutdown_after = 2.0 if args.headless else 90.0
    child = _start(log, exit_json, shutdown_after)
    keep = True  # the log, unless all went well
    try:
        client = _attach(child)
        try:
            if args.headless:
                status = _headless(client, child)
            else:
                status = _interactive(client, child, exit_json)
        finally:
            client.close()
        _finish(child)
        if not args.headless:
            _print_exit_report(exit_json, child.pid)
        keep = _troubled(log, child)
        return status
    except KeyboardInterrupt:
        keep = False  # stopped by the user: nothing went wrong to look into
        raise
    finally:
        _stop(child)
        if keep and log.is_file():
            print(f"zmqscope: the demo's own output is in {log}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def demo_command(shutdown_after: float, hold: float = 20.0, json: Path | None = None) -> list[str]:
    """The demo app under ``zmqscope run``, as ``zmqscope demo`` and the screenshots start it.

    ``json``: where it writes its exit report (``zmqscope run --json``).
    """
    report = ["--json", str(json)] if json is not None else []
    return [
        sys.executable,
        "-m",
        "zmqscope",
        "run",
        "--traffic",
        "--grace",
        "2",
        *report,
        "-m",
        "zmqscope.examples.demo_app",
        "--shutdown-after",
        f"{shutdown_after:g}",
        "--hold",
        f"{hold:g}",
    ]


def _start(log: Path, exit_json: Path, shutdown_after: float) -> subprocess.Popen[bytes]:
    command = demo_command(shutdown_after, json=exit_json)
    with open(log, "wb") as output:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )


def _attach(child: subprocess.Popen[bytes]) -> LiveClient:
    from zmqscope.remote.client import ClientError, LiveClient, discover

    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise CommandError(f"the demo exited early (status {child.returncode})")
        for entry in discover():
            if entry.pid == child.pid:
                try:
                    return LiveClient(entry.endpoint)
                except ClientError:
                    break
        time.sleep(0.1)
    raise CommandError(f"the demo did not start serving within {_START_TIMEOUT:g} s")


def _interactive(client: LiveClient, child: subprocess.Popen[bytes], exit_json: Path) -> int:
    from zmqscope.tui.demo import DemoApp

    def shutdown() -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGUSR1)

    # When the demo exits while the TUI is open, its exit report is shown.
    DemoApp(client, shutdown=shutdown, exit_reports=lambda pid: (exit_json,)).run()
    return 0


def _finish(child: subprocess.Popen[bytes]) -> None:
    """Let the demo finish at once (SIGTERM: the stubborn worker lets go), exit report and all."""
    if child.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=_FINISH_TIMEOUT)


def _print_exit_report(exit_json: Path, pid: int) -> None:
    """The report the demo printed as it exited (into its log), printed here."""
    from rich.console import Console

    from zmqscope.remote.client import read_exit_report
    from zmqscope.reporting import render_exit

    report = read_exit_report(exit_json, pid, since=0)
    if report is None:
        print("zmqscope: the demo ended without an exit report", file=sys.stderr)
        return
    print("zmqscope: the demo's exit report:")
    Console(highlight=False).print(render_exit(report), crop=False)


def _troubled(log: Path, child: subprocess.Popen[bytes]) -> bool:
    """True when the demo failed, hung or printed a traceback: its log is worth keeping."""
    if child.returncode != 0:
        return True
    try:
        with open(log, "rb") as output:
            return b"Traceback (most recent call last)" in output.read()
    except OSError:
        return False


def _headless(client: LiveClient, child: subprocess.Popen[bytes]) -> int:
    from zmqscope.remote.client import ClientError
    from zmqscope.reporting import render_text

    deadline = time.monotonic() + _BLOCK_TIMEOUT
    while time.monotonic() < deadline:
        try:
            if client.hello().term_blocked:
                break
        except ClientError:
            pass
        if child.poll() is not None:
            break
        time.sleep(0.2)
    try:
        report = client.report()
    except ClientError as error:
        raise CommandError(f"could not read the demo's report: {error}") from None
    stdout_console().print(render_text(report), crop=False)
    return 0


def _stop(child: subprocess.Popen[bytes]) -> None:
    if child.poll() is None:
        child.terminate()
        try:
            child.wait(timeout=3)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(timeout=5)
    from zmqscope.remote.client import discover

    discover()  # removes the discovery files of a demo that had to be killed
