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
    from zmqscope.model import SchemaError
    from zmqscope.remote.client import ClientError, ReportClient, connect
    from zmqscope.reporting import render_text
    from zmqscope.reporting.by_test import (
        TestRun,
        passed_through,
        render_test_markdown,
        render_test_text,
    )

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
    run = None
    document = client.text if isinstance(client, ReportClient) else None
    if document is not None:
        try:
            # A pytest plugin's file: shown test by test.
            run = TestRun.from_json(document, report)
        except SchemaError as error:
            raise CommandError(f"{client.description}: {error}") from None
    if args.format == "json":
        # A plugin's file keeps its keys (test, verdict, ...); a report is written anew.
        print(passed_through(document) if run is not None and document else report.to_json())
    elif args.format == "markdown":
        print(report.to_markdown() if run is None else render_test_markdown(run), end="")
    else:
        text = render_text(report) if run is None else render_test_text(run)
        stdout_console().print(text, crop=False)
    return 0
