"""``zmqscope topology``: who talks to whom among this user's instrumented processes."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from zmqscope import _bounds as bounds
from zmqscope._defaults import DEFAULT_GRACE
from zmqscope.cli._errors import EXIT_DIAGNOSES, CommandError
from zmqscope.cli._output import stdout_console

_FORMATS = ("text", "json", "mermaid", "dot")
_DEFAULT_TIMEOUT = 2.0  # remote.client.topology.DEFAULT_PROCESS_TIMEOUT, not imported to start fast


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "topology",
        help="show which sockets of which processes talk to each other",
        description="""\
Show the ZeroMQ wiring of this user's instrumented processes on this host:
each process and its open sockets (type, endpoints, owner thread, creation
line), each connect matched to the bind it reaches (processes that are not
instrumented appear from the OS's connection table), and what is wrong: a
connect to nothing, a bind nothing connects to, socket types that cannot
talk, two binds of one endpoint, a SUB without a subscription, a REQ
waiting for its reply longer than the grace (traffic mode).
With FILEs, the processes of saved reports instead (no OS table).""",
        epilog="""\
examples:
  zmqscope topology
  zmqscope topology --format mermaid > wiring.mmd
  zmqscope topology --format dot | dot -Tsvg > wiring.svg
  zmqscope topology --fail-on-diagnosis parent.json child.json""",
    )
    parser.add_argument(
        "files",
        nargs="*",
        metavar="FILE",
        help="report JSON files to read instead of the running processes",
    )
    parser.add_argument(
        "--format", choices=_FORMATS, default="text", help="output format (default: text)"
    )
    parser.add_argument(
        "--timeout",
        metavar="SECONDS",
        default=f"{_DEFAULT_TIMEOUT:g}",
        help="how long each process may take to answer, "
        f"{bounds.ANSWER_TIMEOUT_MIN:g} to {bounds.ANSWER_TIMEOUT_MAX:g} "
        f"(default {_DEFAULT_TIMEOUT:g}); one that does not is listed as such",
    )
    parser.add_argument(
        "--grace",
        metavar="SECONDS",
        default=f"{DEFAULT_GRACE:g}",
        help="name a REQ that has waited longer than this for its reply, "
        f"0 to {bounds.GRACE_MAX:g} (default {DEFAULT_GRACE:g})",
    )
    parser.add_argument(
        "--fail-on-diagnosis",
        action="store_true",
        help=f"exit with status {EXIT_DIAGNOSES} when there is a diagnosis",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    from zmqscope.remote.client import ClientError
    from zmqscope.remote.client.topology import gather_topology, topology_from_reports

    try:
        timeout = bounds.answer_timeout(args.timeout, "--timeout")
        grace = bounds.grace(args.grace, "--grace")
    except ValueError as error:
        raise CommandError(str(error)) from None
    if args.files:
        try:
            topology = topology_from_reports([Path(f) for f in args.files], grace=grace)
        except ClientError as error:
            raise CommandError(str(error)) from None
    else:
        topology = gather_topology(timeout=timeout, grace=grace, on_refused=_say_refused)
    _print(topology, args.format)
    if args.fail_on_diagnosis and topology.diagnoses:
        return EXIT_DIAGNOSES
    return 0


def _print(topology: Any, form: str) -> None:
    from zmqscope.remote.wire import paused_gc

    # Rendering makes objects by the hundred thousand, none of them garbage
    # (a third of the JSON's time went to collections).
    with paused_gc():
        _render(topology, form)


def _render(topology: Any, form: str) -> None:
    from zmqscope.reporting.topology import (
        render_dot,
        render_mermaid,
        render_topology_json,
        render_topology_plain,
        render_topology_text,
    )

    if form == "json":
        # One line: a topology of thousands of sockets is for jq, not for reading.
        print(render_topology_json(topology, indent=None))
    elif form == "mermaid":
        print(render_mermaid(topology), end="")
    elif form == "dot":
        print(render_dot(topology), end="")
    elif sys.stdout.isatty():
        stdout_console().print(render_topology_text(topology), crop=False, end="")
    else:
        # Into a pipe: no style to write, and a line per item however long (what
        # grep wants), without rich wrapping 20,000 sockets' lines (a second).
        sys.stdout.write(render_topology_plain(topology))


def _say_refused(reason: str) -> None:
    print(f"zmqscope: {reason}; nothing in it is shown", file=sys.stderr)
