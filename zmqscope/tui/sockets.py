"""The live sockets table: sortable, filterable, updated in place.

A Line API widget (``ScrollView`` + ``render_line``) rather than a
``DataTable``: with 10,000 sockets, DataTable's ``remove_row`` is linear in
the rows (a filter that hid most of them took seconds) and every new row is
measured through Rich (clearing the filter took seconds more). Here a row is
a tuple of strings, formatted off the UI thread at each refresh, and only
the lines on screen are rendered.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.binding import Binding, BindingType
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from zmqscope.model import SocketState
from zmqscope.tui._rows import BASE_COLUMNS, DESCENDING, SORTABLE, Rows, fit, width_of

_PAD = 1  # cells of space on each side of a column
# In the left margin of a row whose socket a topology diagnosis names.
DIAGNOSIS_MARKER = "!"


@dataclass(frozen=True, slots=True)
class TableUpdate:
    """What the last :meth:`SocketTable.show` changed (tests and benchmarks read it)."""

    added: int
    removed: int
    changed: int
    kept: int


class SocketTable(ScrollView, can_focus=True):
    """One row per socket, keyed by its id; the cursor stays on its socket."""

    DEFAULT_CSS = """
    SocketTable {
        height: 1fr;
        background: $surface;
        color: $foreground;
        &:focus {
            background-tint: $foreground 5%;
            & > .socket-table--cursor {
                background: $block-cursor-background;
                color: $block-cursor-foreground;
                text-style: $block-cursor-text-style;
            }
        }
        & > .socket-table--header {
            text-style: bold;
            background: $panel;
            color: $foreground;
        }
        & > .socket-table--even-row {
            background: $surface-lighten-1 50%;
        }
        &:dark > .socket-table--even-row {
            background: $surface-darken-1 40%;
        }
        & > .socket-table--closed {
            color: $text-muted;
        }
        & > .socket-table--collected {
            color: $text-warning;
        }
        & > .socket-table--leak {
            color: $text-error;
            text-style: bold;
        }
        & > .socket-table--diagnosed {
            color: $text-accent;
            text-style: italic;
        }
        & > .socket-table--cursor {
            background: $block-cursor-blurred-background;
            color: $block-cursor-blurred-foreground;
            text-style: $block-cursor-blurred-text-style;
        }
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "socket-table--header",
        "socket-table--even-row",
        "socket-table--closed",
        "socket-table--collected",
        "socket-table--leak",
        "socket-table--diagnosed",
        "socket-table--cursor",
    }

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "cursor(-1)", "Up", show=False),
        Binding("down", "cursor(1)", "Down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "edge(-1)", "First", show=False),
        Binding("end", "edge(1)", "Last", show=False),
        Binding("enter", "open", "Details"),
    ]

    cursor_row: reactive[int] = reactive(0, init=False)

    class Opened(Message):
        """The user asked for a socket's details (enter, or a click on the cursor's row)."""

        def __init__(self, socket_id: str) -> None:
            super().__init__()
            self.socket_id = socket_id

    class Sorted(Message):
        """The user sorted by clicking a column's header (again: reversed)."""

        def __init__(self, column: str) -> None:
            super().__init__()
            self.column = column

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.filter_text = ""
        self.show_closed = False
        self.sort_column = "id"
        self.sort_reverse = False
        self.hidden_closed = 0
        self.last_update = TableUpdate(0, 0, 0, 0)
        self._rows: Rows | None = None
        self._columns: tuple[tuple[str, str], ...] = BASE_COLUMNS
        self._cells: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []  # socket ids, top to bottom
        self._index: dict[str, int] = {}
        self._widths: list[int] = [len(label) for _key, label in BASE_COLUMNS]
        # Sockets a topology diagnosis names (a connect nothing binds, types
        # that cannot talk...): marked, and styled unless a leak's style wins.
        self.diagnosed: frozenset[str] = frozenset()

    # -- what the rows are ----------------------------------------------------------

    @property
    def columns_shown(self) -> tuple[tuple[str, str], ...]:
        """(key, label) of each column, traffic counters only when they are counted."""
        return self._columns

    @property
    def row_count(self) -> int:
        return len(self._order)

    @property
    def row_ids(self) -> list[str]:
        """The ids of the sockets shown, top to bottom."""
        return list(self._order)

    def get_row(self, socket_id: str) -> tuple[str, ...]:
        """The cells of ``socket_id``'s row, as shown (before cutting to the column width)."""
        return self._cells[socket_id]

    @property
    def current_socket(self) -> str | None:
        """The id of the socket under the cursor."""
        if 0 <= self.cursor_row < len(self._order):
            return self._order[self.cursor_row]
        return None

    def show(self, rows: Rows) -> None:
        """Bring the table in line with a new snapshot; the cursor stays on its socket."""
        self._rows = rows
        self._rebuild()

    def mark(self, diagnosed: frozenset[str]) -> None:
        """Mark the rows of the sockets in ``diagnosed`` (ids of this process's sockets)."""
        if diagnosed != self.diagnosed:
            self.diagnosed = diagnosed
            self.refresh()

    def forget(self) -> None:
        """No rows until the next snapshot (of another process): the cursor goes to the top."""
        self._rows = None
        self._cells = {}
        self._order = []
        self._index = {}
        self.virtual_size = Size(self.virtual_size.width, 1)
        self._set_cursor(0)
        self.refresh()

    def prepare(self, rows: Rows, filtering: bool = False) -> None:
        """Sort ``rows`` (and, while filtering, index their text) ahead of showing them.

        The fetch worker calls this off the UI thread; it only fills caches.
        """
        rows.order(self.sort_column, self.sort_reverse)
        if filtering or self.filter_text:
            for socket_id in rows.records:
                rows.haystack(socket_id)

    def refilter(self) -> None:
        """Apply a new filter, sort or closed-sockets choice to the last snapshot."""
        if self._rows is not None:
            self._rebuild()

    def _rebuild(self) -> None:
        rows = self._rows
        assert rows is not None
        current = self.current_socket
        order = self._visible(rows)
        cells = rows.cells
        old_cells = self._cells
        added = changed = 0
        for socket_id in order:
            before = old_cells.get(socket_id)
            if before is None:
                added += 1
            elif before is not cells[socket_id]:
                changed += 1
        shown = {socket_id: cells[socket_id] for socket_id in order}
        removed = sum(1 for socket_id in old_cells if socket_id not in shown)
        self.last_update = TableUpdate(added, removed, changed, len(order) - added - changed)
        self._cells = shown
        self._order = order
        self._index = {socket_id: row for row, socket_id in enumerate(order)}
        self._columns = rows.columns
        self._widths = list(rows.widths)
        width = sum(self._widths) + 2 * _PAD * len(self._widths)
        self.virtual_size = Size(width, len(order) + 1)  # + the header line
        row = self._index.get(current, self.cursor_row) if current else self.cursor_row
        self._set_cursor(max(0, min(row, len(order) - 1)))
        self.refresh()

    def _visible(self, rows: Rows) -> list[str]:
        """The ids of the sockets to show, in the order chosen: a leak is never hidden."""
        order = rows.order(self.sort_column, self.sort_reverse)
        records = rows.records
        self.hidden_closed = 0 if self.show_closed else rows.closed
        if not self.show_closed:
            leaks = rows.leaks
            order = [sid for sid in order if records[sid].state is SocketState.OPEN or sid in leaks]
        needle = self.filter_text.lower()
        if needle:
            order = [sid for sid in order if needle in rows.haystack(sid)]
        return order

    def cycle_sort(self) -> str:
        """Sort by the next column shown (traffic columns only when traffic is counted)."""
        choices = [key for key, _label in self.columns_shown]
        index = choices.index(self.sort_column) if self.sort_column in choices else -1
        self.sort_by(choices[(index + 1) % len(choices)])
        return self.sort_column

    def sort_by(self, column: str) -> None:
        """Sort by ``column``: counters and age descending, the rest ascending."""
        self.sort_column = column
        self.sort_reverse = column in DESCENDING
        self.refilter()

    def reverse_sort(self) -> None:
        """The same column, the other way round."""
        self.sort_reverse = not self.sort_reverse
        self.refilter()

    # -- the cursor -----------------------------------------------------------------

    def move_to(self, socket_id: str) -> None:
        """Put the cursor on ``socket_id``'s row."""
        self._set_cursor(self._index[socket_id])

    def _set_cursor(self, row: int) -> None:
        self.cursor_row = row
        self._scroll_to_cursor()

    def watch_cursor_row(self) -> None:
        self.refresh()

    def _scroll_to_cursor(self) -> None:
        visible = max(1, self.scrollable_content_region.height - 1)  # less the header
        top = round(self.scroll_y)
        if self.cursor_row < top:
            self.scroll_to(y=self.cursor_row, animate=False)
        elif self.cursor_row >= top + visible:
            self.scroll_to(y=self.cursor_row - visible + 1, animate=False)

    def action_cursor(self, step: int) -> None:
        if self._order:
            self._set_cursor(max(0, min(self.cursor_row + step, len(self._order) - 1)))

    def action_page(self, direction: int) -> None:
        self.action_cursor(direction * max(1, self.scrollable_content_region.height - 2))

    def action_edge(self, direction: int) -> None:
        self.action_cursor(direction * len(self._order))

    def action_open(self) -> None:
        socket_id = self.current_socket
        if socket_id is not None:
            self.post_message(self.Opened(socket_id))

    def on_resize(self) -> None:
        self._scroll_to_cursor()

    def on_click(self, event: events.Click) -> None:
        offset = event.get_content_offset(self)
        if offset is None:
            return
        if offset.y == 0:
            column = self._column_at(offset.x + round(self.scroll_x))
            if column in SORTABLE:
                if column == self.sort_column:
                    self.reverse_sort()
                else:
                    self.sort_by(column)
                self.post_message(self.Sorted(column))
            return
        row = round(self.scroll_y) + offset.y - 1
        if not 0 <= row < len(self._order):
            return
        if row == self.cursor_row or event.chain > 1:
            self.post_message(self.Opened(self._order[row]))
        self._set_cursor(row)

    def _column_at(self, x: int) -> str | None:
        left = 0
        for (key, _label), width in zip(self.columns_shown, self._widths, strict=True):
            left += width + 2 * _PAD
            if x < left:
                return key
        return None

    # -- drawing --------------------------------------------------------------------

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self.refresh()

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    def render_line(self, y: int) -> Strip:
        scroll_x, scroll_y = self.scroll_offset
        width = self.scrollable_content_region.width
        base = self.rich_style
        if y == 0:
            labels = tuple(label for _key, label in self.columns_shown)
            style = base + self.get_component_rich_style("socket-table--header")
            return self._line(labels, style, scroll_x, width)
        row = scroll_y + y - 1
        if row >= len(self._order):
            return Strip.blank(width, base)
        socket_id = self._order[row]
        style = base
        if row % 2:
            style += self.get_component_rich_style("socket-table--even-row")
        assert self._rows is not None
        state = self._rows.records[socket_id].state
        diagnosed = socket_id in self.diagnosed
        if socket_id in self._rows.leaks:
            style += self.get_component_rich_style("socket-table--leak")
        elif diagnosed:
            style += self.get_component_rich_style("socket-table--diagnosed")
        elif state is not SocketState.OPEN:
            style += self.get_component_rich_style(f"socket-table--{state.value}")
        if row == self.cursor_row:
            style += self.get_component_rich_style("socket-table--cursor")
        marker = DIAGNOSIS_MARKER if diagnosed else " "
        return self._line(self._cells[socket_id], style, scroll_x, width, marker)

    def _line(
        self, cells: tuple[str, ...], style: Style, scroll_x: int, shown: int, marker: str = " "
    ) -> Strip:
        pad = " " * _PAD
        fitted = (fit(cell, width) for cell, width in zip(cells, self._widths, strict=True))
        # The marker takes the first column's left padding: no column moves.
        text = marker + "".join(pad + cell + pad for cell in fitted)[1:]
        strip = Strip([Segment(text, style)], width_of(text))
        return strip.crop_extend(scroll_x, scroll_x + shown, style)
