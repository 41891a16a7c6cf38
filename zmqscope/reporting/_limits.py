"""Limit warnings in the text and Markdown reports, and the process's fd count.

What a warning says is worked out in :mod:`zmqscope.model._limits`; this
module shows it: which limit, how full, the lines holding the most open
sockets, where ``socket()`` was refused, and how to get out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text

from zmqscope._shown import shown, shown_lines
from zmqscope.model import FDS, LimitWarning
from zmqscope.model.wording import call_text, visible
from zmqscope.reporting._text_parts import grid
from zmqscope.reporting.markup import md_code, md_text

if TYPE_CHECKING:
    from zmqscope.reporting._report import Report

_REMEDY_MAX_SOCKETS = (
    "close the sockets these lines leave open; if the application needs more,"
    " raise the limit before the context's first socket: ctx.set(zmq.MAX_SOCKETS, n)"
    " or ctx.max_sockets = n"
)
_REMEDY_FDS = (
    "close the sockets these lines leave open (each holds a file descriptor, plus one"
    " per tcp/ipc bind and connection); if the application needs more, raise the soft"
    " limit (ulimit -n, or resource.setrlimit(RLIMIT_NOFILE) at start-up)"
)


def fd_usage() -> tuple[int | None, int | None]:
    """This process's open file descriptors and their soft limit (None: not known)."""
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
        limit = None if soft == resource.RLIM_INFINITY else int(soft)
    except (ImportError, ValueError, OSError):  # (no resource module on Windows)
        limit = None
    try:
        import psutil

        count: int | None = psutil.Process().num_fds()
    except Exception:  # psutil has no num_fds on Windows; /proc may be unreadable
        count = None
    return count, limit


def limits_text(report: Report) -> list[RenderableType]:
    """One panel per limit warning (nothing when all is well)."""
    return [_panel(warning) for warning in report.limit_warnings]


def _panel(warning: LimitWarning) -> Panel:
    table = grid()
    if warning.sites:
        sites = shown_lines(site.text() for site in warning.sites)
        table.add_row(Text("top sites"), sites)
    refused = warning.refused
    if refused is not None:
        site = refused.site
        where = call_text(site) or "an unknown site"
        who = f" by {site.thread.name}" if site.thread else ""
        times = "" if warning.refused_total == 1 else f" ({warning.refused_total} times)"
        text = f"{where}{who}: {refused.error} (errno {refused.errno}){times}"
        table.add_row(Text("refused"), shown(text))
    remedy = _REMEDY_FDS if warning.kind == FDS else _REMEDY_MAX_SOCKETS
    table.add_row(Text("remedy"), Text(remedy, style="green"))
    limit = (
        "file descriptors" if warning.kind == FDS else f"MAX_SOCKETS · context {warning.context}"
    )
    state = "reached" if warning.reached else "near"
    return Panel(
        Group(shown(warning.headline()), table),
        title=shown(f"limit {state} · {limit}"),
        title_align="left",
        border_style="red" if warning.reached else "yellow",
    )


def limits_markdown(report: Report) -> list[str]:
    """A "Limits" section: one item per warning, with its top sites."""
    warnings = report.limit_warnings
    if not warnings:
        return []
    lines = ["### Limits", ""]
    for warning in warnings:
        lines.append(f"- **{md_text(warning.headline())}**")
        if warning.sites:
            sites = ", ".join(md_code(site.text()) for site in warning.sites)
            lines.append(f"  most open sockets made at: {sites}")
        refused = warning.refused
        where = call_text(refused.site) if refused is not None else None
        if where is not None:
            lines.append(f"  first refused at {md_code(visible(where))}")
    return [*lines, ""]
