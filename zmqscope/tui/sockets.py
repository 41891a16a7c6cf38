"""The live sockets table: sortable, filterable, updated in place."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.message import Message
from textual.widgets import DataTable

from zmqscope.model import Snapshot, SocketRecord, SocketState
from zmqscope.tui import _format

_BASE_COLUMNS = (
    ("id", "ID"),
    ("type", "TYPE"),
    ("state", "STATE"),
    ("endpoints", "ENDPOINTS"),
    ("owner", "OWNER"),
    ("age", "AGE"),
    ("created", "CREATED AT"),
)
_TRAFFIC_COLUMNS = (
    ("msgs_in", "MSGS IN"),
    ("msgs_out", "MSGS OUT"),
    ("bytes_in", "BYTES IN"),
    ("bytes_out", "BYTES OUT"),
)
SORTABLE = ("id", "type", "state", "owner", "age", "created", "msgs_in", "msgs_out")

_STATE_STYLE = {SocketState.OPEN: "", SocketState.CLOSED: "dim", SocketState.COLLECTED: "yellow"}


def _number(socket_id: str) -> int:
    digits = socket_id.lstrip("s")
    return int(digits) if digits.isdigit() else 0


_SORT_KEYS: dict[str, Callable[[SocketRecord], Any]] = {
    "id": lambda r: _number(r.id),
    "type": lambda r: (r.type, _number(r.id)),
    "state": lambda r: (r.state.value, _number(r.id)),
    "owner": lambda r: (_format.owner(r), _number(r.id)),
    "age": lambda r: r.created.time,
    "created": lambda r: (_format.site(r.created.site), _number(r.id)),
    "msgs_in": lambda r: r.traffic.msgs_in if r.traffic else -1,
    "msgs_out": lambda r: r.traffic.msgs_out if r.traffic else -1,
}


def matches(record: SocketRecord, needle: str) -> bool:
    """The filter: type, thread, file or endpoint text contains ``needle``."""
    if not needle:
        return True
    needle = needle.lower()
    site = record.created.site
    haystack = [
        record.id,
        record.type,
        record.state.value,
        _format.owner(record),
        *(t.name for t in record.threads_used),
        *(e.url for e in record.endpoints),
        site.file if site else "",
        _format.site(site),
    ]
    return any(needle in text.lower() for text in haystack)


class SocketTable(DataTable[str]):
    """One row per socket, keyed by its id: a refresh touches only changed cells."""

    DEFAULT_CSS = """
    SocketTable {
        height: 1fr;
    }
    """

    class Opened(Message):
        """The user asked for a socket's details (enter or double click)."""

        def __init__(self, socket_id: str) -> None:
            super().__init__()
            self.socket_id = socket_id

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)
        self.filter_text = ""
        self.show_closed = False
        self.sort_column = "id"
        self.sort_reverse = False
        self.hidden_closed = 0
        self._traffic: bool | None = None
        self._rows: dict[str, tuple[str, ...]] = {}
        self._records: dict[str, SocketRecord] = {}

    @property
    def columns_shown(self) -> tuple[tuple[str, str], ...]:
        return _BASE_COLUMNS + (_TRAFFIC_COLUMNS if self._traffic else ())

    def show(self, snapshot: Snapshot, now: float) -> None:
        """Bring the table in line with ``snapshot``; the cursor stays on its socket."""
        traffic = any(s.traffic is not None for s in snapshot.sockets)
        if traffic != self._traffic:
            self._traffic = traffic
            self.clear(columns=True)
            self._rows.clear()
            for key, label in self.columns_shown:
                self.add_column(label, key=key)
        wanted = self._visible(snapshot)
        current = self.current_socket
        self._records = {r.id: r for r in wanted}
        for gone in [key for key in self._rows if key not in self._records]:
            self.remove_row(gone)
            del self._rows[gone]
        for record in wanted:
            self._put(record, now)
        self._resort()
        if current is not None and current in self._rows:
            self.move_cursor(row=self.get_row_index(current), scroll=False)

    def _visible(self, snapshot: Snapshot) -> list[SocketRecord]:
        shown = []
        self.hidden_closed = 0
        for record in snapshot.sockets:
            if record.state is not SocketState.OPEN and not self.show_closed:
                self.hidden_closed += 1
                continue
            if matches(record, self.filter_text):
                shown.append(record)
        return shown

    def _cells(self, record: SocketRecord, now: float) -> tuple[str, ...]:
        cells: tuple[str, ...] = (
            record.id,
            record.type,
            record.state.value,
            _format.endpoints_cell(record),
            _format.owner(record),
            _format.age(now - record.created.time),
            _format.site(record.created.site) if not record.adopted else "(adopted)",
        )
        if self._traffic:
            cells += _format.traffic_cells(record.traffic)
        return cells

    def _put(self, record: SocketRecord, now: float) -> None:
        cells = self._cells(record, now)
        previous = self._rows.get(record.id)
        if previous is None:
            self.add_row(*cells, key=record.id)
        elif previous != cells:
            columns = [key for key, _label in self.columns_shown]
            for column, old, new in zip(columns, previous, cells, strict=True):
                if old != new:
                    self.update_cell(record.id, column, new)
        self._rows[record.id] = cells

    def _resort(self) -> None:
        sort_key = _SORT_KEYS[self.sort_column]
        records = self._records
        self.sort(
            "id", key=lambda socket_id: sort_key(records[socket_id]), reverse=self.sort_reverse
        )

    def cycle_sort(self) -> str:
        """Sort by the next column (traffic columns only when traffic is counted)."""
        choices = [c for c in SORTABLE if self._traffic or not c.startswith("msgs")]
        index = choices.index(self.sort_column) if self.sort_column in choices else -1
        self.sort_column = choices[(index + 1) % len(choices)]
        self.sort_reverse = self.sort_column in ("age", "msgs_in", "msgs_out")
        current = self.current_socket
        self._resort()
        if current is not None:
            self.move_cursor(row=self.get_row_index(current), scroll=True)
        return self.sort_column

    @property
    def current_socket(self) -> str | None:
        if not self._rows or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        row_key, _ = self.coordinate_to_cell_key(self.cursor_coordinate)
        return row_key.value

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        if event.row_key.value is not None:
            self.post_message(self.Opened(event.row_key.value))
