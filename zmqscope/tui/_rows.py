"""The rows of the sockets table as plain text: columns, cells, sort keys, the filter.

No Textual here: :mod:`zmqscope.tui.sockets` draws what this module computes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rich.cells import cell_len, set_cell_size

from zmqscope.model import LeakKind, Snapshot, SocketRecord, SocketState
from zmqscope.model.wording import age, visible
from zmqscope.tui import _format

BASE_COLUMNS = (
    ("id", "ID"),
    ("type", "TYPE"),
    ("state", "STATE"),
    ("endpoints", "ENDPOINTS"),
    ("owner", "OWNER"),
    ("age", "AGE"),
    ("created", "CREATED AT"),
)
TRAFFIC_COLUMNS = (
    ("msgs_in", "MSGS IN"),
    ("msgs_out", "MSGS OUT"),
    ("bytes_in", "BYTES IN"),
    ("bytes_out", "BYTES OUT"),
)
# Every column sorts; a click on its header or ``s`` (the next column) picks one.
SORTABLE = tuple(key for key, _label in BASE_COLUMNS + TRAFFIC_COLUMNS)
LABELS = dict(BASE_COLUMNS + TRAFFIC_COLUMNS)
# Sorted first in descending order: the busiest, and the youngest, on top.
DESCENDING = frozenset({"age", "msgs_in", "msgs_out", "bytes_in", "bytes_out"})
# Long endpoints or thread names are cut so that the other columns stay on screen.
MAX_CELL = 40


def _number(socket_id: str) -> int:
    digits = socket_id.lstrip("s")
    return int(digits) if digits.isdigit() else 0


SORT_KEYS: dict[str, Callable[[SocketRecord], Any]] = {
    "id": lambda r: _number(r.id),
    "type": lambda r: (r.type, _number(r.id)),
    "state": lambda r: (r.state.value, _number(r.id)),
    "owner": lambda r: (_format.owner(r), _number(r.id)),
    "age": lambda r: r.created.time,
    "endpoints": lambda r: (_format.endpoints_cell(r), _number(r.id)),
    "created": lambda r: (_format.site(r.created), _number(r.id)),
    "msgs_in": lambda r: r.traffic.msgs_in if r.traffic else -1,
    "msgs_out": lambda r: r.traffic.msgs_out if r.traffic else -1,
    "bytes_in": lambda r: r.traffic.bytes_in if r.traffic else -1,
    "bytes_out": lambda r: r.traffic.bytes_out if r.traffic else -1,
}


def column_label(key: str) -> str:
    """How the status line names a column: ``msgs in``, ``created at``."""
    return LABELS.get(key, key).lower()


def haystack(record: SocketRecord, leak: LeakKind | None = None) -> str:
    """What the filter searches: type, state, threads, endpoints and file, lower case.

    A leak's text has "leak" and its kind, so ``/leak`` shows the leaks.
    """
    inner, own = record.created.site, record.created.user_site
    parts = [
        record.id,
        record.type,
        record.state.value,
        f"leak {leak.value}" if leak is not None else "",
        _format.owner(record),
        *(t.name for t in record.threads_used),
        *(e.url for e in record.endpoints),
        inner.file if inner else "",
        own.file if own else "",
        _format.site(record.created),
    ]
    # As shown (control characters as escapes), with a separator no needle
    # contains, so that a match never spans two fields.
    return "\0".join(visible(part) for part in parts).lower()


def width_of(text: str) -> int:
    return len(text) if text.isascii() else cell_len(text)


def fit(text: str, width: int) -> str:
    """``text`` cut to ``width`` cells (with an ellipsis) or padded to it."""
    size = width_of(text)
    if size > width:
        # One cut, not a character at a time: a cell may be a megabyte long.
        return set_cell_size(text, width - 1) + "…"
    return text + " " * (width - size)


def row_cells(
    record: SocketRecord, now: float, traffic: bool, leak: LeakKind | None = None
) -> tuple[str, ...]:
    """The text of each column of ``record``'s row at time ``now``, as shown.

    Names, types, endpoints and paths are the application's (or a saved
    report's): their control characters are shown as escapes, or a thread
    named with an escape sequence would retitle the terminal. A leak's state
    says so: ``collected (leak)``.
    """
    state = _format.state(record)
    cells: tuple[str, ...] = (
        record.id,
        record.type,
        f"{state} (leak)" if leak is not None else state,
        _format.endpoints_cell(record),
        _format.owner(record),
        age(now - record.created.time),
        _format.site(record.created) if not record.adopted else "(adopted)",
    )
    if traffic:
        cells += _format.traffic_cells(record.traffic, record.proxied_by is not None)
    if not "".join(cells).isprintable():  # one test a row; most rows have nothing to escape
        cells = tuple(visible(cell) for cell in cells)
    return cells


@dataclass(frozen=True, slots=True)
class Rows:
    """The text of every socket's row in one snapshot, and each column's width.

    The fetch worker makes it, off the UI thread: formatting 10,000 rows
    takes ~80 ms. Widths cover every row, hidden or not, so that columns
    keep still while the user types a filter. Orders and filter texts are
    made on first use and kept, so that a key press only picks rows.
    """

    snapshot: Snapshot
    traffic: bool
    records: Mapping[str, SocketRecord]
    cells: Mapping[str, tuple[str, ...]]
    widths: tuple[int, ...]
    closed: int  # sockets not open and not leaks: the ones ``c`` hides
    # The leaks among them (collected without close(), keeping a term()
    # waiting; at exit, every open socket): never hidden.
    leaks: Mapping[str, LeakKind] = field(default_factory=dict)
    _orders: dict[tuple[str, bool], list[str]] = field(default_factory=dict)
    _haystacks: dict[str, str] = field(default_factory=dict)

    @property
    def columns(self) -> tuple[tuple[str, str], ...]:
        """(key, label) of each column, traffic counters only when they are counted."""
        return BASE_COLUMNS + (TRAFFIC_COLUMNS if self.traffic else ())

    def order(self, column: str, reverse: bool) -> list[str]:
        """Every socket id, sorted by ``column``."""
        key = (column, reverse)
        if key not in self._orders:
            sort_key = SORT_KEYS[column]
            records = self.records
            ids = sorted(records, key=lambda socket_id: sort_key(records[socket_id]))
            if reverse:
                ids.reverse()
            self._orders[key] = ids
        return self._orders[key]

    def haystack(self, socket_id: str) -> str:
        """What the filter searches in ``socket_id``'s record."""
        text = self._haystacks.get(socket_id)
        if text is None:
            record = self.records[socket_id]
            text = self._haystacks[socket_id] = haystack(record, self.leaks.get(socket_id))
        return text


def make_rows(
    snapshot: Snapshot,
    now: float,
    previous: Rows | None = None,
    leaks: Mapping[str, LeakKind] | None = None,
) -> Rows:
    """The rows of ``snapshot`` at time ``now``, ``leaks`` marked.

    A row whose text did not change is ``previous``'s tuple.
    """
    leaks = leaks or {}
    traffic = any(s.traffic is not None for s in snapshot.sockets)
    old: Mapping[str, tuple[str, ...]] = {}
    if previous is not None and previous.traffic == traffic:
        old = previous.cells
    columns = BASE_COLUMNS + (TRAFFIC_COLUMNS if traffic else ())
    widths = [len(label) for _key, label in columns]
    cells = {}
    closed = 0
    for record in snapshot.sockets:
        leak = leaks.get(record.id)
        row = row_cells(record, now, traffic, leak)
        before = old.get(record.id)
        if before == row:
            row = before  # the table sees by identity that this row is unchanged
        cells[record.id] = row
        closed += record.state is not SocketState.OPEN and leak is None
        for column, text in enumerate(row):
            size = len(text) if text.isascii() else cell_len(text)
            if size > widths[column]:
                widths[column] = size
    records = {record.id: record for record in snapshot.sockets}
    capped = tuple(min(width, MAX_CELL) for width in widths)
    return Rows(snapshot, traffic, records, cells, capped, closed, leaks)
