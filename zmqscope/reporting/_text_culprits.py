"""Why ``term()`` hangs, as rich renderables: culprit panels and the blocked notice."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from zmqscope.model import Culprit
from zmqscope.model._text import tool_name
from zmqscope.reporting._format import (
    call_text,
    linger_text,
    owner_label,
    plural,
    thread_text,
)
from zmqscope.reporting._text_parts import (
    Unfolded,
    add_callers,
    add_creation,
    add_traffic,
    endpoints,
    frames,
    grid,
)

if TYPE_CHECKING:
    from zmqscope.reporting._report import Report

# Innermost frames are where the owner is stuck; the outer ones rarely help.
_OWNER_FRAMES_SHOWN = 5

_NO_KNOWN_CULPRIT = (
    "No socket zmqscope knows of keeps it waiting. Sockets made before zmqscope was"
    " installed, or made by C extensions, are invisible to it: one of those may be what"
    " it waits for."
)
_GENERIC_REMEDY = (
    "close every socket of the context before term(), or end with"
    " ctx.destroy(linger=0) (it closes the sockets made by ctx.socket())"
)


def render_blocked(report: Report, context_id: str, since: float) -> RenderableType:
    """What zmqscope prints to stderr when a ``term()`` is still blocked after the grace period.

    ``since`` is when ``term()`` was called (seconds since the epoch); the
    wait is counted up to the snapshot's time. Only the culprits of
    ``context_id`` are shown.
    """
    culprits = [c for c in report.culprits if culprit_context(report, c) == context_id]
    certain = sum(1 for c in culprits if c.certain)
    header = Text(
        _blocked_header(report, context_id, since, certain, len(culprits) - certain),
        style="bold red",
    )
    if culprits:
        return Group(header, *(Unfolded(culprit_panel(report, c)) for c in culprits))
    remedy = grid()
    remedy.add_row("remedy", _GENERIC_REMEDY)
    return Group(header, Text(_NO_KNOWN_CULPRIT), remedy)


def culprit_context(report: Report, culprit: Culprit) -> str | None:
    """The context a culprit holds up; older reports only say it through the socket."""
    if culprit.context is not None:
        return culprit.context
    record = report.snapshot.socket(culprit.socket)
    return record.context if record else None


def culprit_panel(report: Report, culprit: Culprit) -> Panel:
    """Where the owner of a blocking socket is now, what the socket is, and the fix."""
    record = report.snapshot.socket(culprit.socket)
    title = f"{culprit.socket} · {record.type}" if record else culprit.socket
    context = culprit_context(report, culprit)
    if context is not None:
        title += f" · context {context}"
    table = grid()
    if culprit.where:
        table.add_row("now", Text(culprit.where, style="bold"))
    table.add_row("owner", Text(owner_label(culprit)))
    if record is not None:
        # Where it was made, as a leak panel says it: the application's line,
        # the library's it went through, and who called it.
        add_creation(table, record)
        add_callers(table, record.created)
        created_by = record.created.thread
        if created_by is not None and created_by.started is not None:
            table.add_row("thread", Text(thread_text(created_by)))
        table.add_row("endpoints", endpoints(record))
        table.add_row("linger", linger_text(record))
        add_traffic(table, record)
    table.add_row("why", Text(culprit.reason))
    if culprit.remedy:
        table.add_row("remedy", Text(culprit.remedy, style="green"))
    if culprit.owner_stack:
        table.add_row("stack", frames(culprit.owner_stack, _OWNER_FRAMES_SHOWN))
    return Panel(table, title=Text(title), title_align="left", border_style="red")


def _blocked_header(
    report: Report, context_id: str, since: float, count: int, maybe: int = 0
) -> str:
    """``zmqscope: term() of context c1 has been blocked for 5.1 s (...); 2 sockets ...``."""
    waited = max(0.0, report.snapshot.taken_at - since)
    head = f"{tool_name(report.snapshot.process)}: term() of context {context_id}"
    head += f" has been blocked for {waited:.1f} s"
    context = report.snapshot.context(context_id)
    called = context.term_called if context else None
    if called is not None:
        parts = []
        where = call_text(called)
        if where is not None:
            parts.append(f"at {where}")
        if called.thread is not None:
            parts.append(f"by {called.thread.name}")
        if parts:
            head += f" (called {' '.join(parts)})"
    if not count and not maybe:
        return head + "."
    parts = []
    if count:
        parts.append(f"{plural(count, 'socket')} {'keeps' if count == 1 else 'keep'} it waiting")
    if maybe:
        parts.append(f"{plural(maybe, 'closed socket')} may")
    return f"{head}; {', '.join(parts)}:"
