"""``zmqscope report TARGET``: the current report of a process, or a saved one."""

from __future__ import annotations

import argparse
from typing import Any

from zmqscope.cli._errors import CommandError
from zmqscope.cli._output import stdout_console


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "report",
        help="print the report of a running process or a saved report",
        description="""\
Print the report of TARGET: the sockets a running process has open (by
creation site) and what leaked, or a saved report (from 'run --json',
ZMQSCOPE_JSON, the TUI's export, or pytest's --zmqscope-json, shown by test).""",
        epilog="""\
examples:
  zmqscope report 12345
  zmqscope report zmqscope.json --format markdown >> summary.md""",
    )
    parser.add_argument(
        "target",
        nargs="?",
        metavar="TARGET",
        help="a pid, an ipc:// or tcp:// endpoint, or a report JSON file "
        "(default: the only instrumented process)",
    )
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (default: text)",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    from zmqscope.client import ClientError, connect

    try:
        client = connect(args.target)
        try:
            report = client.report()
        finally:
            client.close()
    except ClientError as error:
        raise CommandError(str(error)) from None
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown(), end="")
    else:
        from zmqscope.reporting import render_text

        stdout_console().print(render_text(report), crop=False)
    return 0
