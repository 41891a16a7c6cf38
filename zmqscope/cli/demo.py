"""``zmqscope demo``: the bundled demo application, instrumented, with the TUI on it."""

from __future__ import annotations

import argparse
import contextlib
import os
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
    from zmqscope.client import LiveClient

_START_TIMEOUT = 15.0  # seconds for the demo to start serving
_BLOCK_TIMEOUT = 30.0  # seconds, headless, for its term() to be reported blocked


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
    log = Path(tempfile.gettempdir()) / f"zmqscope-demo-{os.getpid()}.log"
    shutdown_after = 2.0 if args.headless else 90.0
    child = _start(log, shutdown_after)
    try:
        client = _attach(child, log)
        try:
            return _headless(client, child) if args.headless else _interactive(client, child)
        finally:
            client.close()
    finally:
        _stop(child)


def demo_command(shutdown_after: float, hold: float = 20.0) -> list[str]:
    """The demo app under ``zmqscope run``, as ``zmqscope demo`` and the screenshots start it."""
    return [
        sys.executable,
        "-m",
        "zmqscope",
        "run",
        "--traffic",
        "--grace",
        "2",
        "-m",
        "zmqscope.examples.demo_app",
        "--shutdown-after",
        f"{shutdown_after:g}",
        "--hold",
        f"{hold:g}",
    ]


def _start(log: Path, shutdown_after: float) -> subprocess.Popen[bytes]:
    command = demo_command(shutdown_after)
    with open(log, "wb") as output:
        return subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT
        )


def _attach(child: subprocess.Popen[bytes], log: Path) -> LiveClient:
    from zmqscope.client import ClientError, LiveClient, discover

    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise CommandError(f"the demo exited early (status {child.returncode}); see {log}")
        for entry in discover():
            if entry.pid == child.pid:
                try:
                    return LiveClient(entry.endpoint)
                except ClientError:
                    break
        time.sleep(0.1)
    raise CommandError(f"the demo did not start serving within {_START_TIMEOUT:g} s; see {log}")


def _interactive(client: LiveClient, child: subprocess.Popen[bytes]) -> int:
    from zmqscope.tui.demo import DemoApp

    def shutdown() -> None:
        with contextlib.suppress(ProcessLookupError):
            child.send_signal(signal.SIGUSR1)

    DemoApp(client, shutdown=shutdown).run()
    return 0


def _headless(client: LiveClient, child: subprocess.Popen[bytes]) -> int:
    from zmqscope.client import ClientError
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
    from zmqscope.client import discover

    discover()  # removes the discovery files of a demo that had to be killed
