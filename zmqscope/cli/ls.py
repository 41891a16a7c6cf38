"""``zmqscope ls``: the instrumented processes of this user on this host."""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from typing import TYPE_CHECKING, Any

from zmqscope.cli._output import stdout_console

if TYPE_CHECKING:
    from zmqscope.remote.client import Discovered

_HELLO_TIMEOUT = 1.0  # per process: ls must stay quick with a hung app around
_UNBOUNDED = 1 << 16  # columns: wider than any row


def add_parser(commands: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = commands.add_parser(
        "ls",
        help="list instrumented processes",
        description="""\
List the processes of this user that zmqscope instruments (started with
'zmqscope run' or ZMQSCOPE=1) and serve, once they have made a ZeroMQ context:
pid, uptime, open sockets, state, endpoint and command. Files of processes
that are gone are removed.""",
        epilog="""\
example:
  zmqscope ls | grep worker.py     (a process is one line, into a pipe too)""",
    )
    parser.add_argument(
        "--json", action="store_true", help="print a JSON list instead of a table (default: table)"
    )
    return parser


def main(args: argparse.Namespace) -> int:
    from zmqscope.remote.client import discover

    rows = process_tree([_describe(entry) for entry in discover(_say_refused)])
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(
            "no instrumented processes: start one with 'zmqscope run app.py' "
            "or ZMQSCOPE=1 python app.py",
            file=sys.stderr,
        )
        return 0
    _print_table(rows)
    return 0


def _say_refused(reason: str) -> None:
    print(f"zmqscope: {reason}; nothing in it is listed", file=sys.stderr)


def _describe(entry: Discovered) -> dict[str, Any]:
    row: dict[str, Any] = {
        "pid": entry.pid,
        "command": shlex.join(entry.argv),
        "uptime": round(time.time() - entry.started, 1),
        "endpoint": entry.endpoint,
        "open_sockets": None,
        "state": "unreachable",
        "limits": [],
    }
    from zmqscope.remote.client import ClientError, ServerBusy, client_for

    try:
        client = client_for(entry, timeout=_HELLO_TIMEOUT)
    except ClientError:
        return row
    try:
        # ls shows no connections: the server need not read the host's tcp table.
        hello = client.hello(peers=False)
    except ServerBusy:
        row["state"] = "busy"  # over its budget, or full: it lives, ask again later
        return row
    except ClientError:
        return row
    finally:
        client.close()
    row["open_sockets"] = hello.open_sockets
    row["state"] = "term blocked" if hello.term_blocked else "running"
    row["limits"] = [warning.to_dict() for warning in hello.limits]
    return row


def process_tree(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """``rows`` with ``ppid`` and ``parent`` (the nearest listed ancestor), in tree order.

    A child comes right after its parent (children by pid), with ``depth``
    one more: a multiprocessing worker under the application that started
    it, through a forkserver or a shell that is not listed itself.
    """
    listed = {row["pid"] for row in rows}
    for row in rows:
        row["ppid"], row["parent"] = _ancestry(row["pid"], listed)
    children: dict[int | None, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda row: row["pid"]):
        children.setdefault(row["parent"], []).append(row)
    ordered: list[dict[str, Any]] = []
    pending = [(row, 0) for row in reversed(children.get(None, []))]
    while pending:
        row, depth = pending.pop()
        row["depth"] = depth
        ordered.append(row)
        pending.extend((child, depth + 1) for child in reversed(children.get(row["pid"], [])))
    # Parents read at different moments (a pid reused meanwhile) could make a
    # loop that no root reaches: such rows are still listed, at the top.
    reached = {id(row) for row in ordered}
    for row in rows:
        if id(row) not in reached:
            row["depth"] = 0
            ordered.append(row)
    return ordered


def _ancestry(pid: int, listed: set[int]) -> tuple[int | None, int | None]:
    """(the OS parent's pid, the nearest ancestor in ``listed``); None where unknown."""
    import psutil

    try:
        process = psutil.Process(pid)
        ppid = process.ppid()
        for ancestor in process.parents():
            if ancestor.pid in listed and ancestor.pid != pid:
                return ppid, ancestor.pid
    except psutil.Error:
        return None, None
    return ppid, None


def _print_table(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    from zmqscope._shown import shown
    from zmqscope.model.wording import age

    table = Table(box=None, pad_edge=False)
    # On a narrow terminal the endpoint and the command wrap onto more
    # lines; nothing is cut (the endpoint is what `zmqscope attach` takes)
    # and no column is dropped. Into a pipe (awk, grep, a CI log) a row is
    # one line, however long, unless COLUMNS asks for a width.
    for column in ("PID", "UPTIME", "SOCKETS", "STATE"):
        table.add_column(column, no_wrap=True)
    for column in ("ENDPOINT", "COMMAND"):
        table.add_column(column, overflow="fold")
    notes: list[Text] = []
    for row in rows:
        sockets = "?" if row["open_sockets"] is None else str(row["open_sockets"])
        state = row["state"]
        style = "bold red" if state == "term blocked" else ("dim" if state != "running" else "")
        limits = row["limits"]
        if limits:
            reached = any(w["reached"] for w in limits)
            state += ", limit reached" if reached else ", near a limit"
            style = style or ("bold red" if reached else "bold yellow")
            notes.extend(shown(f"{row['pid']}: {w['message']}", style=style) for w in limits)
        table.add_row(
            Text("  " * row.get("depth", 0) + str(row["pid"])),
            Text(age(row["uptime"])),
            Text(sockets),
            Text(state, style=style),
            # What the discovery file and the process say: shown, never read as markup.
            shown(row["endpoint"]),
            shown(row["command"]),
        )
    console = stdout_console(width=_pipe_width())
    console.print(table)
    for note in notes:  # one line each, whole: what to grep for
        console.print(note, soft_wrap=True)


def _pipe_width() -> int | None:
    """No width for a terminal or with COLUMNS set (rich's own); into a pipe, no limit."""
    if os.environ.get("COLUMNS") or sys.stdout.isatty():
        return None
    return _UNBOUNDED
