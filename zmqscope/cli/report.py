"""``zmqscope report TARGET``: the current report of a process, or a saved one."""

from __future__ import annotations

import argparse
from typing import Any

from zmqscope.cli._errors import CommandError
from zmqscope.client import ClientError, connect


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "report",
        help="print the report of a running process or a saved report",
        description="Print the leak report of TARGET: a pid, an ipc:// or tcp:// endpoint, "
        "or a report JSON file. With no TARGET: the only instrumented process.",
    )
    parser.add_argument("target", nargs="?", metavar="TARGET", help="PID, ENDPOINT or REPORT.json")
    parser.add_argument(
        "--format",
        choices=("text", "json", "markdown"),
        default="text",
        help="output format (default: text)",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    try:
        client = connect(args.target)
        try:
            # Made here from a snapshot (the same report, measured): the
            # application only encodes its records, the analysis is ours.
            report = client.snapshot().report
        finally:
            client.close()
    except ClientError as error:
        raise CommandError(str(error)) from None
    if args.format == "json":
        print(report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown(), end="")
    else:
        from rich.console import Console

        from zmqscope.reporting import render_text

        Console(highlight=False).print(render_text(report), crop=False)
    return 0
