"""The Sockets view: the table, a status line under it, and the filter box.

The keys that act on the table (``/``, ``s``, ``S``, ``c``, escape) are the
app's (its footer shows them); what they do to the table is here.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Input, Static

from zmqscope._shown import shown
from zmqscope.tui._rows import Rows, column_label
from zmqscope.tui.sockets import SocketTable


class SocketsView(Vertical):
    """The sockets table, what it shows (count, order, filter), and the filter box."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.table = SocketTable(id="table")
        self.status_line = Static("", id="table-status")
        self.filter_box = Input(placeholder="filter: type, thread, file or endpoint", id="filter")

    def compose(self) -> ComposeResult:
        yield self.table
        yield self.status_line
        yield self.filter_box

    def show_status(self) -> None:
        """``12 shown · 3 closed hidden (c) · 2 diagnosed: ! (t) · sorted by age, ascending
        (s, S)``."""
        table = self.table
        parts = [f"{table.row_count} shown"]
        if table.hidden_closed:
            parts.append(f"{table.hidden_closed} closed hidden (c)")
        if table.diagnosed:
            parts.append(f"{len(table.diagnosed)} diagnosed: ! (t)")
        order = "descending" if table.sort_reverse else "ascending"
        parts.append(f"sorted by {column_label(table.sort_column)}, {order} (s, S)")
        if table.filter_text:
            parts.append(f"filter '{table.filter_text}' (/)")
        self.status_line.update(shown(" · ".join(parts)), layout=False)

    def refilter(self) -> None:
        # Only the table changes: the other views keep what they drew.
        self.table.refilter()
        self.show_status()

    def open_filter(self, rows: Rows | None) -> None:
        """Show the filter box and type into it; ``rows``: those shown, prepared now."""
        self.filter_box.display = True
        self.screen.set_focus(self.filter_box)
        if rows is not None:
            self.table.prepare(rows, filtering=True)  # now, not at the first letter

    def clear_filter(self) -> None:
        box = self.filter_box
        if box.display or box.value:
            # The rows come back first, in the next frame; the box's own
            # Changed message would only arrive after the layout and focus moves.
            self.table.filter_text = ""
            self.refilter()
            box.value = ""
            box.display = False
            self.screen.set_focus(self.table)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if text != self.table.filter_text:
            self.table.filter_text = text
            self.refilter()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        if not self.filter_box.value:
            self.filter_box.display = False
        self.screen.set_focus(self.table)

    def cycle_sort(self) -> None:
        self.table.cycle_sort()
        self.show_status()  # says which column: no toast, which would cost a layout

    def reverse_sort(self) -> None:
        self.table.reverse_sort()
        self.show_status()

    @on(SocketTable.Sorted)
    def header_clicked(self) -> None:
        self.show_status()

    def toggle_closed(self) -> None:
        self.table.show_closed = not self.table.show_closed
        self.refilter()
