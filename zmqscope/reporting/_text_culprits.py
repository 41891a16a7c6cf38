"""Why ``term()`` hangs, as rich renderables: culprit panels and the blocked notice.

While a ``term()`` waits, each culprit says where its owner is ``now``; once
it has ended (the exit report keeps its culprits), what blocked it and for
how long, in the past tense (:mod:`zmqscope.model.held_terms`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model import Culprit
from zmqscope.model.held_terms import (
    NO_KNOWN_CULPRIT,
    HeldTerm,
    culprit_context,
    culprit_count_sentence,
    held_terms,
    term_sentence,
    where_then,
)
from zmqscope.model.wording import call_text, linger_text, owner_label, thread_text, tool_name
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
    f"{NO_KNOWN_CULPRIT[0].upper()}{NO_KNOWN_CULPRIT[1:]}. Sockets made before zmqscope was"
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
    snapshot = report.snapshot
    term = next(
        (t for t in held_terms(snapshot, report.culprits) if t.context_id == context_id),
        HeldTerm(context_id, snapshot.context(context_id), (), None, None),
    )
    heading = term_heading(term, since, snapshot.taken_at)
    header = shown(f"{tool_name(snapshot.process)}: {heading}", style="bold red")
    if term.culprits:
        return Group(header, *(Unfolded(culprit_panel(report, c, term)) for c in term.culprits))
    remedy = grid()
    remedy.add_row("remedy", _GENERIC_REMEDY)
    return Group(header, Text(_NO_KNOWN_CULPRIT), remedy)


def render_culprits(report: Report) -> list[RenderableType]:
    """Each ``term()`` with culprits: a heading (still waiting, or over), then their panels."""
    parts: list[RenderableType] = []
    for term in held_terms(report.snapshot, report.culprits):
        style = "bold red" if term.ended is None else "bold"
        parts.append(shown(term_heading(term), style=style))
        parts.extend(Unfolded(culprit_panel(report, c, term)) for c in term.culprits)
    return parts


def term_heading(term: HeldTerm, since: float | None = None, now: float | None = None) -> str:
    """``term() of context c1 has been blocked for 5.1 s (called at ...); 2 sockets keep it
    waiting:``; once it has ended, ``... was blocked for 12.3 s until it returned (called at
    ...); 1 socket kept it waiting:``."""
    head = term_sentence(term, since, now)
    called = term.context.term_called if term.context else None
    if called is not None:
        parts = []
        where = call_text(called)
        if where is not None:
            parts.append(f"at {where}")
        if called.thread is not None:
            parts.append(f"by {called.thread.name}")
        if parts:
            head += f" (called {' '.join(parts)})"
    if not term.culprits:
        return head + "."
    return f"{head}; {culprit_count_sentence(term)}:"


def culprit_panel(report: Report, culprit: Culprit, term: HeldTerm | None = None) -> Panel:
    """Where the owner of a blocking socket is now, what the socket is, and the fix.

    Once its ``term()`` has ended (``term``), the ``then`` row says where the
    owner was when the watchdog looked, in the past tense.
    """
    record = report.snapshot.socket(culprit.socket)
    title = f"{culprit.socket} · {record.type}" if record else culprit.socket
    context = culprit_context(report.snapshot, culprit)
    if context is not None:
        title += f" · context {context}"
    if not culprit.certain:
        title += " · may block"
    table = grid()
    if culprit.where:
        if term is not None and term.ended is not None:
            table.add_row("then", shown(where_then(culprit), style="bold"))
        else:
            table.add_row("now", shown(culprit.where, style="bold"))
    table.add_row("owner", shown(owner_label(culprit)))
    if record is not None:
        # Where it was made, as a leak panel says it: the application's line,
        # the library's it went through, and who called it.
        add_creation(table, record)
        add_callers(table, record.created)
        created_by = record.created.thread
        if created_by is not None and created_by.started is not None:
            table.add_row("thread", shown(thread_text(created_by)))
        table.add_row("endpoints", endpoints(record))
        table.add_row("linger", shown(linger_text(record)))
        add_traffic(table, record)
    table.add_row("why", shown(culprit.reason))
    if culprit.remedy:
        table.add_row("remedy", shown(culprit.remedy, style="green"))
    if culprit.owner_stack:
        table.add_row("stack", frames(culprit.owner_stack, _OWNER_FRAMES_SHOWN))
    border = "red" if culprit.certain else "yellow"
    return Panel(table, title=shown(title), title_align="left", border_style=border)
