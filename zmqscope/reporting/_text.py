"""The report as rich renderables: what ``zmqscope run`` prints at exit."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model import LeakKind, SocketRecord, SocketState
from zmqscope.model.wording import (
    call_text,
    creation_text,
    linger_text,
    plural,
    site_text,
    thread_label,
    thread_text,
)
from zmqscope.reporting._format import SEND_RECV_UNCHECKED, send_recv_unchecked
from zmqscope.reporting._groups import group_leaks
from zmqscope.reporting._inventory import inventory_text
from zmqscope.reporting._limits import limits_text
from zmqscope.reporting._text_culprits import render_culprits
from zmqscope.reporting._text_groups import group_panel
from zmqscope.reporting._text_parts import (
    Unfolded,
    add_callers,
    add_creation,
    add_traffic,
    endpoints,
    grid,
)

if TYPE_CHECKING:
    from zmqscope.model import Leak, UsageWarning
    from zmqscope.reporting._report import Report

_KIND_STYLE = {
    LeakKind.OPEN_AT_EXIT: "red",
    LeakKind.COLLECTED_UNCLOSED: "yellow",
    LeakKind.BLOCKS_TERM: "magenta",
}


def render_text(report: Report) -> Group:
    """Summary, limit warnings, open sockets (a running process), a panel per leak (or
    per group of leaks from one line), thread-sharing warnings, a hung ``term()``'s culprits."""
    style = "bold" if _needs_attention(report) else "bold green"
    parts: list[RenderableType] = [_summary(report, style)]
    parts.extend(_body(report))
    parts.extend(_tree(report))
    return Group(*parts)


def _body(report: Report) -> list[RenderableType]:
    """Everything of one process's report below its summary line."""
    parts: list[RenderableType] = []
    if report.snapshot.leaks_dropped:
        lost = plural(report.snapshot.leaks_dropped, "more socket")
        parts.append(
            Text(
                f"({lost} collected without close() not listed: past the number of such "
                "leaks zmqscope keeps, the oldest are counted, not kept)",
                style="yellow",
            )
        )
    if report.snapshot.dropped:
        forgotten = plural(report.snapshot.dropped, "closed socket")
        parts.append(Text(f"({forgotten} forgotten to keep the registry bounded)", style="dim"))
    parts.extend(limits_text(report))
    inventory = inventory_text(report)
    if inventory is not None:
        parts.append(inventory)
    parts.extend(Unfolded(panel) for panel in _leak_panels(report))
    if report.warnings:
        parts.append(Text("Thread-sharing warnings:", style="bold yellow"))
        parts.extend(Unfolded(_warning_panel(report, warning)) for warning in report.warnings)
    if send_recv_unchecked(report.snapshot.sockets):
        parts.append(Text(SEND_RECV_UNCHECKED, style="dim"))
    parts.extend(render_culprits(report))
    return parts


def _tree(report: Report) -> list[RenderableType]:
    """The children of a ``zmqscope run`` tree: a line each, their report below it."""
    parts: list[RenderableType] = []
    for child in report.processes:
        attention = _needs_attention(child)
        parts.append(
            shown(
                f"process {child.snapshot.process.pid} ({_command(child.snapshot.process.argv)}):"
                f" {child.counts_line()}",
                style="bold" if attention else "green",
            )
        )
        if attention:
            parts.append(Padding(Group(*_body(child)), (0, 0, 0, 2)))
    for process in report.unreported:
        parts.append(
            shown(
                f"process {process.pid} ({_command(process.argv)}): {process.reason}",
                style="bold yellow",
            )
        )
    return parts


def _command(argv: tuple[str, ...]) -> str:
    return " ".join(argv) or "?"


def render_exit(report: Report) -> RenderableType:
    """What a process prints at exit: the full report if anything is wrong, else one line
    (and a line per child process of a ``zmqscope run`` tree)."""
    if _needs_attention(report):
        return render_text(report)
    if report.processes or report.unreported:
        return Group(_summary(report, "bold green"), *_tree(report))
    return _summary(report, "bold green")


def _summary(report: Report, style: str) -> Text:
    # One line even in an 80-column CI log: tools grep for it.
    return Text(report.summary_line(), style=style, no_wrap=True, overflow="ignore")


def _needs_attention(report: Report) -> bool:
    own = report.leaks or report.warnings or report.culprits or report.limit_warnings
    return bool(own or report.unreported or any(map(_needs_attention, report.processes)))


def _leak_panels(report: Report) -> list[Panel]:
    """A panel per leak; one per group of leaks from one line (see ``_groups``)."""
    panels = []
    for group in group_leaks(report.leaks, report.snapshot):
        if len(group) == 1:
            panels.append(_leak_panel(report, group.first))
            continue
        details = _socket_details(report, group.record) if group.record else None
        panels.append(group_panel(group, details, _KIND_STYLE.get(group.kind, "red")))
    return panels


def _leak_panel(report: Report, leak: Leak) -> Panel:
    record = report.snapshot.socket(leak.socket)
    type_name = record.type if record else "unknown type"
    body: list[RenderableType] = [shown(leak.message)]
    if record is not None:
        body.append(_socket_details(report, record))
    return Panel(
        Group(*body),
        title=shown(f"{leak.socket} · {type_name} · {leak.kind.value}"),
        title_align="left",
        border_style=_KIND_STYLE.get(leak.kind, "red"),
    )


def _socket_details(report: Report, record: SocketRecord) -> Table:
    table = grid()
    add_creation(table, record)
    table.add_row("thread", shown(thread_text(record.created.thread)))
    if record.state is SocketState.COLLECTED:
        table.add_row("closed", "never: pyzmq closed it when it was garbage-collected")
    elif record.closed is not None:
        closed_at = call_text(record.closed) or "unknown"
        table.add_row("closed", shown(f"{closed_at} by {thread_label(record.closed.thread)}"))
    table.add_row("endpoints", endpoints(record))
    table.add_row("linger", shown(linger_text(record)))
    add_traffic(table, record)
    context = report.snapshot.context(record.context)
    if context is not None:
        table.add_row("context", shown(f"{context.id} ({context.state.value})"))
    add_callers(table, record.created)
    return table


def _warning_panel(report: Report, warning: UsageWarning) -> Panel:
    """The two threads that shared a socket, each with where it used it."""
    record = report.snapshot.socket(warning.socket)
    title = f"{warning.socket} · {record.type}" if record else warning.socket
    table = grid()
    first = f"{thread_label(warning.first)} at {site_text(warning.first_site)}"
    table.add_row("first", shown(first))
    table.add_row(
        "then", shown(f"{thread_label(warning.second)} at {site_text(warning.second_site)}")
    )
    if record is not None:
        table.add_row("created", shown(creation_text(record)))
    return Panel(
        Group(shown(warning.message), table),
        title=shown(f"{title} · {warning.kind}"),
        title_align="left",
        border_style="yellow",
    )
