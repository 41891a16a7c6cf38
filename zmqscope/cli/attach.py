"""``zmqscope attach``: open the TUI on a running process or a saved report."""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import TYPE_CHECKING, Any

from zmqscope import _bounds as bounds
from zmqscope._defaults import DEFAULT_INTERVAL
from zmqscope.cli._errors import CommandError

if TYPE_CHECKING:
    from zmqscope.remote.client import Client, Discovered, LiveClient


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "attach",
        help="open the live TUI on a running process (or a saved report)",
        description="""\
Open the TUI on TARGET, in this terminal: a live view of a running process's
sockets, threads and a blocked term(), or of a saved report (offline). It needs
a terminal; without one, use 'zmqscope report'.""",
        epilog="""\
examples:
  zmqscope attach 12345
  zmqscope attach zmqscope.json""",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="a pid, an ipc:// or tcp:// endpoint, or a report JSON file (default: the only "
        "instrumented process, or a picker when there are several or none)",
    )
    parser.add_argument(
        "--interval",
        default=f"{DEFAULT_INTERVAL:g}",
        metavar="SECONDS",
        help=f"refresh interval, {bounds.INTERVAL_MIN:g} to {bounds.INTERVAL_MAX:g}"
        f" (default {DEFAULT_INTERVAL:g})",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    try:
        args.interval = bounds.interval(args.interval, "--interval")
    except ValueError as error:
        raise CommandError(str(error)) from None
    # Loaded here, not with the command line: Ctrl-C while they load is a quiet 130 too.
    from zmqscope.remote.client import ClientError, connect, discover
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
                _need_a_terminal(args.target)
                return _pick(args.interval)
            client = _connect(running[0])  # found just now: no second discovery
    except ClientError as error:
        raise CommandError(str(error)) from None
    try:
        _need_a_terminal(args.target)
        ScopeApp(client, interval=args.interval).run()
    finally:
        client.close()
    return 0


def _need_a_terminal(target: str | None) -> None:
    """The TUI without a terminal would write escape codes into a pipe and wait for keys."""
    try:
        terminal = all(s is not None and s.isatty() for s in (sys.stdin, sys.stdout))
    except ValueError:  # a closed stream
        terminal = False
    if not terminal:
        named = shlex.quote(target) if target else "[TARGET]"
        raise CommandError(
            "attach needs a terminal (its stdin and stdout are not both one); "
            f"for the report as text: zmqscope report {named}"
        )


def _pick(interval: float) -> int:
    """The TUI's picker, for none or several instrumented processes."""
    from zmqscope.remote.client import discover
    from zmqscope.tui import ScopeApp

    # The app closes the client it makes of the process chosen (and of any
    # peer's process jumped to) as it exits.
    ScopeApp(connect=_connect, discover=discover, interval=interval).run()
    return 0


def _connect(entry: Discovered) -> LiveClient:
    from zmqscope.remote.client import client_for

    return client_for(entry)
