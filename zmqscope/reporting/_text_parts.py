"""Pieces shared by the rich panels: label/value grids, endpoints, stacks, call sites."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from rich.measure import Measurement
from rich.padding import Padding
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from zmqscope._shown import shown, shown_lines
from zmqscope.model import CallSite, Frame, SocketRecord
from zmqscope.model.wording import (
    callers,
    creation_text,
    endpoint_text,
    endpoints_unknown,
    frame_text,
    headline_index,
    more,
    traffic_text,
    via_frames,
)

if TYPE_CHECKING:
    from rich.console import Console, ConsoleOptions, RenderResult

# Wide enough for anything: only the narrowest width a panel can take is asked.
_UNBOUNDED = 1 << 16


def grid() -> Table:
    """Two columns: a dim label and its value."""
    table = Table.grid(padding=(0, 1))
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    return table


class Unfolded:
    """A panel or table drawn at least as wide as the longest words it holds (paths, URLs).

    CI logs are read with grep: a path cut in two at the terminal's width
    (80 columns in most CI runners) is a path nobody finds. Prose still wraps
    at spaces; a panel (or a table, each column as wide as its longest word)
    holding a longer path grows past the width instead, and the lines it
    prints are longer than the terminal (printed with ``crop=False``).
    """

    def __init__(self, renderable: Panel | Table) -> None:
        self.renderable = renderable

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update_width(_UNBOUNDED)
        renderable = self.renderable
        if isinstance(renderable, Panel):
            # A panel measures as wide as its content unwrapped; what its content
            # needs at the least is the longest word (plus borders and padding).
            content = Measurement.get(console, unbounded, renderable.renderable)
            _, right, _, left = Padding.unpack(renderable.padding)
            needed = content.minimum + left + right + 2
        else:
            needed = Measurement.get(console, unbounded, renderable).minimum
        width = max(options.max_width, needed)
        yield from console.render(renderable, options.update_width(width))


def endpoints(record: SocketRecord) -> Text:
    """One endpoint a line, inactive ones dimmed; what is unknown (adopted sockets) said."""
    unknown = endpoints_unknown(record)
    if not record.endpoints:
        return shown(unknown or "none")
    lines = [shown(endpoint_text(e), style="" if e.active else "dim") for e in record.endpoints]
    if unknown is not None:
        lines.append(shown(f"({unknown})", style="dim"))
    return Text("\n").join(lines)


def frames(stack: Sequence[Frame], limit: int | None = None) -> Text:
    """One frame a line (a notebook cell's source under it); past ``limit``, a count."""
    shown = stack if limit is None else stack[:limit]
    lines = []
    for frame in shown:
        lines.append(frame_text(frame))
        if frame.source:
            lines.append(f"    {frame.source}")
    hidden = len(stack) - len(shown)
    if hidden:
        lines.append(more(hidden, "frame"))
    return shown_lines(lines)


def add_creation(table: Table, record: SocketRecord) -> None:
    """The ``created`` row (the application's line, via the library's) and ``via``."""
    table.add_row("created", _with_source(creation_text(record), record.created))
    via = via_frames(record.created)
    if via:
        table.add_row("via", frames(via))


def add_callers(table: Table, site: CallSite) -> None:
    """A ``called from`` row: the frames outward of the named one, runners' left out."""
    chain = callers(site)
    if chain:
        table.add_row("called from", frames(chain))


def _with_source(text: str, site: CallSite) -> Text:
    """``text``, and the named frame's source line under it when it is a notebook cell's."""
    index = headline_index(site)
    source = site.stack[index].source if index is not None else None
    return shown_lines([text, f"    {source}"] if source else [text])


def add_traffic(table: Table, record: SocketRecord) -> None:
    """A "traffic" row when the socket was counted (traffic mode)."""
    if record.traffic is not None:
        table.add_row("traffic", shown(traffic_text(record.traffic, record.proxied_by)))
