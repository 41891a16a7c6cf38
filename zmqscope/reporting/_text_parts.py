"""Pieces shared by the rich panels: label/value grids, endpoints, stacks."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text

from zmqscope.model import Frame, SocketRecord
from zmqscope.reporting._format import endpoint_text, frame_text, traffic_text


def grid() -> Table:
    """Two columns: a dim label and its value."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    # Paths have no spaces to wrap at; folding keeps them whole on 80 columns.
    table.add_column(overflow="fold")
    return table


def endpoints(record: SocketRecord) -> Text:
    """One endpoint a line, inactive ones dimmed."""
    if not record.endpoints:
        return Text("none")
    lines = [Text(endpoint_text(e), style="" if e.active else "dim") for e in record.endpoints]
    return Text("\n").join(lines)


def frames(stack: Sequence[Frame], limit: int | None = None) -> Text:
    """One frame a line; past ``limit``, a count of the frames left out."""
    shown = stack if limit is None else stack[:limit]
    lines = [frame_text(frame) for frame in shown]
    hidden = len(stack) - len(shown)
    if hidden:
        lines.append(f"… {hidden} more frame{'s' if hidden > 1 else ''}")
    return Text("\n".join(lines))


def add_traffic(table: Table, record: SocketRecord) -> None:
    """A "traffic" row when the socket was counted (traffic mode)."""
    if record.traffic is not None:
        table.add_row("traffic", traffic_text(record.traffic, record.proxied_by))
