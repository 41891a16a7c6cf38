"""A running process's open sockets: what it is using, by creation site.

A healthy process has open sockets; calling them leaks (17 panels for a
Jupyter kernel) buries what is wrong. Its report lists them in one compact
table instead, grouped by the line that made them, with at most
:data:`ROWS_PER_SITE` rows per line (the JSON has every socket).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model import SocketRecord
from zmqscope.model.wording import creation_unknown, plural, site_headline, visible
from zmqscope.reporting._groups import SiteGroup, group_by_site
from zmqscope.reporting._text_parts import Unfolded
from zmqscope.reporting.markup import md_code, md_row, md_text

if TYPE_CHECKING:
    from zmqscope.reporting._report import Report

ROWS_PER_SITE = 5
ENDPOINTS_PER_ROW = 2
COLUMNS = ("CREATED AT", "ID", "TYPE", "ENDPOINTS", "OWNER")


def inventory_text(report: Report) -> RenderableType | None:
    """A heading and the table of open sockets that are not leaks, or None."""
    inventory = report.inventory
    if not inventory:
        return None
    groups = group_by_site(inventory)
    rows: list[tuple[str, ...] | None] = []  # None: a line between two sites
    for number, group in enumerate(groups):
        for row in _rows(group):
            endpoints = "\n".join(row.endpoints) or ("" if row.more else "-")
            rows.append((row.site, row.socket, row.type, endpoints, row.owner))
        if number < len(groups) - 1:
            rows.append(None)
    table = Table(box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, header_style="dim")
    for column, name in enumerate(COLUMNS):
        # Wrapped at spaces only: a path or an endpoint stays whole on its line.
        longest = max((_longest_word(row[column]) for row in rows if row), default=0)
        table.add_column(name, min_width=max(longest, len(name)), overflow="fold")
    for cells in rows:
        if cells is None:
            table.add_section()
        else:
            table.add_row(*(shown(cell) for cell in cells))
    heading = f"Open sockets: {len(inventory):,} in use, by creation site (not leaks):"
    return Group(Text(heading, style="bold"), Unfolded(table))


def inventory_markdown(report: Report) -> list[str]:
    """The same table in Markdown, under its own heading."""
    inventory = report.inventory
    if not inventory:
        return []
    lines = [
        f"### Open sockets ({len(inventory)}, not leaks)",
        "",
        md_row(["Created at", "Socket", "Type", "Endpoints", "Owner"]),
        "| --- | --- | --- | --- | --- |",
    ]
    for group in group_by_site(inventory):
        for row in _rows(group):
            endpoints = "<br>".join(md_code(e) for e in row.endpoints)
            if not endpoints and not row.more:
                endpoints = md_code("-")
            cells = [
                md_code(row.site) if row.site else "",
                md_code(row.socket),
                md_text(row.type),
                endpoints,
                md_text(row.owner),
            ]
            lines.append(md_row(cells))
    return [*lines, ""]


@dataclass(frozen=True, slots=True)
class _Row:
    """One row's cells, control characters made visible; a group's site only on its first."""

    site: str
    socket: str
    type: str
    endpoints: tuple[str, ...]
    owner: str
    more: bool = False  # the row that counts the sockets left out


def _rows(group: SiteGroup) -> list[_Row]:
    """The group's rows: its site on the first, a count of the sockets left out last."""
    sockets = group.sockets
    shown = sockets if len(sockets) <= ROWS_PER_SITE else sockets[: ROWS_PER_SITE - 1]
    site = visible(_site(group))
    rows = []
    for number, record in enumerate(shown):
        rows.append(
            _Row(
                site if number == 0 else "",
                record.id,
                visible(record.type),
                tuple(visible(e) for e in _endpoints(record)),
                visible(owner(record)),
            )
        )
    hidden = len(sockets) - len(shown)
    if hidden:
        types = sorted({s.type for s in sockets[len(shown) :]})
        rows.append(_Row("", f"… {hidden} more", visible("/".join(types)), (), "", more=True))
    return rows


def _longest_word(cell: str) -> int:
    return max((len(word) for word in cell.split()), default=0)


def _site(group: SiteGroup) -> str:
    count = f" ({plural(len(group.sockets), 'socket')})" if len(group.sockets) > 1 else ""
    headline = site_headline(group.sockets[0].created)
    if headline is None:
        return f"{creation_unknown(group.sockets[0])}{count}"
    return f"{headline}{count}"


def _endpoints(record: SocketRecord) -> list[str]:
    active = record.active_endpoints
    shown = [f"{e.op.value} {e.url}" for e in active[:ENDPOINTS_PER_ROW]]
    if len(active) > ENDPOINTS_PER_ROW:
        shown.append(f"+{len(active) - ENDPOINTS_PER_ROW} more")
    return shown


def owner(record: SocketRecord) -> str:
    """The thread that used the socket last (its owner now), or that made it."""
    if record.threads_used:
        return record.threads_used[-1].name
    thread = record.created.thread
    return thread.name if thread else "?"
