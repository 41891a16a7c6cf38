"""``zmqscope attach``: open the TUI on a running process or a saved report."""

from __future__ import annotations

import argparse
from typing import Any

from zmqscope import _bounds as bounds
from zmqscope.cli._errors import CommandError
from zmqscope.client import (
    Client,
    ClientError,
    Discovered,
    LiveClient,
    client_for,
    connect,
    discover,
)


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "attach",
        help="open the live TUI on a running process (or a saved report)",
        description="Open the TUI on TARGET: a pid, an ipc:// or tcp:// endpoint, or a "
        "report JSON file (offline). With no TARGET: the only instrumented process, "
        "or a picker when there are several (or none yet).",
    )
    parser.add_argument("target", nargs="?", metavar="TARGET", help="PID, ENDPOINT or REPORT.json")
    parser.add_argument(
        "--interval", default="1", metavar="SECONDS", help="refresh interval (default 1)"
    )
    return parser


def main(args: argparse.Namespace) -> int:
    try:
        args.interval = bounds.interval(args.interval, "--interval")
    except ValueError as error:
        raise CommandError(str(error)) from None
    from zmqscope.tui import ScopeApp

    try:
        if args.target is not None:
            client: Client = connect(args.target)
        else:
            refused: list[str] = []
            running = discover(refused.append)
            if refused:  # a picker would wait for processes it is not allowed to see
                raise CommandError(refused[0])
            if len(running) != 1:
                return _pick(args.interval)
            client = _connect(running[0])  # found just now: no second discovery
    except ClientError as error:
        raise CommandError(str(error)) from None
    try:
        ScopeApp(client, interval=args.interval).run()
    finally:
        client.close()
    return 0


def _pick(interval: float) -> int:
    """The TUI's picker, for none or several instrumented processes."""
    from zmqscope.tui import ScopeApp

    app = ScopeApp(connect=_connect, discover=discover, interval=interval)
    try:
        app.run()
    finally:
        if app.client is not None:  # the one chosen in the picker
            app.client.close()
    return 0


def _connect(entry: Discovered) -> LiveClient:
    return client_for(entry)
