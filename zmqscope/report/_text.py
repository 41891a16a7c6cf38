"""The report as rich renderables: what ``zmqscope run`` prints at exit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zmqscope.model import Culprit, Frame, LeakKind, SocketRecord, SocketState
from zmqscope.report._format import (
    creation_text,
    endpoint_text,
    frame_text,
    linger_text,
    plural,
    thread_label,
)

if TYPE_CHECKING:
    from zmqscope.model import Leak
    from zmqscope.report._report import Report

_KIND_STYLE = {
    LeakKind.OPEN_AT_EXIT: "red",
    LeakKind.COLLECTED_UNCLOSED: "yellow",
    LeakKind.BLOCKS_TERM: "magenta",
}


def render_text(report: Report) -> Group:
    """Summary, one panel per leak, then the culprits of a hung ``term()`` if any."""
    style = "bold" if report.has_leaks else "bold green"
    parts: list[RenderableType] = [Text(report.summary_line(), style=style)]
    if report.snapshot.dropped:
        forgotten = plural(report.snapshot.dropped, "closed socket")
        parts.append(Text(f"({forgotten} forgotten to keep the registry bounded)", style="dim"))
    parts.extend(_leak_panel(report, leak) for leak in report.leaks)
    if report.culprits:
        parts.append(Text("term() is waiting for these sockets:", style="bold red"))
        parts.extend(_culprit_panel(report, culprit) for culprit in report.culprits)
    return Group(*parts)


def render_exit(report: Report) -> RenderableType:
    """What a process prints at exit: the full report if sockets leaked, else one line."""
    if report.has_leaks or report.culprits:
        return render_text(report)
    return Text(report.summary_line(), style="bold green")


def _leak_panel(report: Report, leak: Leak) -> Panel:
    record = report.snapshot.socket(leak.socket)
    type_name = record.type if record else "unknown type"
    body: list[RenderableType] = [Text(leak.message)]
    if record is not None:
        body.append(_socket_details(report, record))
    return Panel(
        Group(*body),
        title=f"{leak.socket} · {type_name} · {leak.kind.value}",
        title_align="left",
        border_style=_KIND_STYLE.get(leak.kind, "red"),
    )


def _socket_details(report: Report, record: SocketRecord) -> Table:
    grid = _grid()
    grid.add_row("created", creation_text(record))
    grid.add_row("thread", thread_label(record.created.thread))
    if record.state is SocketState.COLLECTED:
        grid.add_row("closed", "never: pyzmq closed it when it was garbage-collected")
    elif record.closed is not None:
        closed_at = frame_text(record.closed.site) if record.closed.site else "unknown"
        grid.add_row("closed", f"{closed_at} by {thread_label(record.closed.thread)}")
    grid.add_row("endpoints", _endpoints(record))
    grid.add_row("linger", linger_text(record))
    context = report.snapshot.context(record.context)
    if context is not None:
        grid.add_row("context", f"{context.id} ({context.state.value})")
    if len(record.created.stack) > 1:
        grid.add_row("called from", _frames(record.created.stack[1:]))
    return grid


def _culprit_panel(report: Report, culprit: Culprit) -> Panel:
    record = report.snapshot.socket(culprit.socket)
    title = f"{culprit.socket} · {record.type}" if record else culprit.socket
    grid = _grid()
    owner = thread_label(culprit.owner)
    if culprit.owner_alive is False:
        owner += ", exited"
    grid.add_row("owner", owner)
    if culprit.owner_stack:
        grid.add_row("stuck at", _frames(culprit.owner_stack))
    if culprit.remedy:
        grid.add_row("remedy", culprit.remedy)
    body = Group(Text(culprit.reason), grid)
    return Panel(body, title=title, title_align="left", border_style="red")


def _grid() -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="dim", no_wrap=True)
    # Paths have no spaces to wrap at; folding keeps them whole on 80 columns.
    grid.add_column(overflow="fold")
    return grid


def _endpoints(record: SocketRecord) -> Text:
    if not record.endpoints:
        return Text("none")
    lines = [Text(endpoint_text(e), style="" if e.active else "dim") for e in record.endpoints]
    return Text("\n").join(lines)


def _frames(frames: Sequence[Frame]) -> Text:
    return Text("\n".join(frame_text(frame) for frame in frames))
