"""The compact form of socket records in live snapshots (part of the protocol).

A snapshot of 10,000 sockets repeats the same few creation sites thousands
of times. On the wire each distinct frame travels once, in a ``frames``
table, and stacks are lists of indices into it; call sites, endpoints and
threads are short lists instead of objects. Decoding builds the model's
records directly, sharing one :class:`~zmqscope.model.Frame` per row and one
:class:`~zmqscope.model.ThreadRef` per thread. Imports only the model.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

from zmqscope.model import (
    MAX_INT,
    MAX_NESTING,
    MAX_TEXT,
    ORIGINS,
    CallSite,
    Endpoint,
    EndpointOp,
    Frame,
    SchemaError,
    SocketRecord,
    SocketState,
    ThreadRef,
    check_time,
    check_value,
    scalar_text,
)


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """No garbage collection while a big snapshot is encoded or decoded.

    Ten thousand records make a few hundred thousand small objects, none of
    them garbage; collections triggered meanwhile only cost (a third of the
    decoding time, measured).
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class FrameTable:
    """Frames seen while encoding one reply, each given an index once."""

    def __init__(self) -> None:
        self._index: dict[Frame, int] = {}
        self.rows: list[list[Any]] = []

    def ref(self, frame: Frame) -> int:
        index = self._index.get(frame)
        if index is None:
            index = self._index[frame] = len(self.rows)
            row = [frame.file, frame.line, frame.function]
            if frame.origin is not None:
                row += [frame.origin, frame.display, frame.cell, frame.source]
            self.rows.append(row)
        return index


def _call(site: CallSite | None, table: FrameTable) -> list[Any] | None:
    if site is None:
        return None
    thread: list[Any] | None = None
    if site.thread is not None:
        thread = [site.thread.id, site.thread.name]
        if site.thread.started is not None:
            thread.append(_call(site.thread.started, table))
    stack = [table.ref(f) for f in site.stack]
    return [site.time, thread, stack, site.user_frame, site.truncated]


def encode_socket(record: SocketRecord, table: FrameTable) -> list[Any]:
    """A record as one list (traffic travels separately, see Registry.changes_since)."""
    endpoints = [
        [
            e.op.value,
            e.url,
            e.active,
            e.requested,
            e.time,
            table.ref(e.site) if e.site else None,
        ]
        for e in record.endpoints
    ]
    return [
        record.id,
        record.context,
        record.type,
        record.state.value,
        _call(record.created, table),
        _call(record.closed, table),
        endpoints,
        record.linger,
        record.linger_source,
        [list(option) for option in record.options],
        [[t.id, t.name] for t in record.threads_used],
        record.adopted,
        record.internal,
        record.proxied_by,
    ]


def _frame(row: Any) -> Frame:
    """A frame table's row: file, line, function, then origin, display, cell, source."""
    if not isinstance(row, list):
        raise ValueError("a frame is not a list")
    file, line, function = row[:3]
    origin, display, cell, source = (list(row[3:7]) + [None] * 4)[:4]
    return Frame(
        _str(file),
        _int(line),
        _str(function),
        origin if origin in ORIGINS else None,
        None if display is None else _str(display),
        None if cell is None else _int(cell),
        None if source is None else _str(source),
    )


# The members by value: a dict lookup costs a fraction of an Enum call, which
# is made only for any other value (and raises as before). Twice per socket.
_OPS = {op.value: op for op in EndpointOp}
_STATES = {state.value: state for state in SocketState}


def _op(value: Any) -> EndpointOp:
    found = _OPS.get(value) if type(value) is str else None
    return EndpointOp(value) if found is None else found


def _state(value: Any) -> SocketState:
    found = _STATES.get(value) if type(value) is str else None
    return SocketState(value) if found is None else found


def _str(value: Any) -> str:
    """A string of a record (an id, a name, a path) within the model's bounds."""
    # type() rather than isinstance(): this runs for every field of every socket.
    if type(value) is not str or len(value) > MAX_TEXT:
        raise ValueError(f"a text field is not a string of at most {MAX_TEXT} characters")
    return value


def _int(value: Any) -> int:
    """An integer of a record within the model's bounds (never a bool, nor a float)."""
    if type(value) is not int or not -MAX_INT <= value <= MAX_INT:
        raise ValueError("a number field is not an integer in range")
    return value


class Decoder:
    """Turns one reply's compact records back into model records.

    Every value is checked as the model's ``from_dict`` checks it (a server
    may be anything that answers): text and numbers within bounds, times
    between 1970 and 3000, threads' starts nested at most ``MAX_NESTING`` deep.
    """

    def __init__(self, frame_rows: Any) -> None:
        try:
            self.frames = [_frame(row) for row in check_value(frame_rows, "the frame table")]
        except (TypeError, ValueError) as error:
            raise SchemaError(f"bad frame table ({error})") from None
        self._threads: dict[tuple[Any, ...], ThreadRef] = {}

    def _thread(self, item: Any, nesting: int = 0) -> ThreadRef:
        # [id, name], or [id, name, where it was started]: one ThreadRef each.
        if nesting > MAX_NESTING:
            raise ValueError(f"threads' starts nest deeper than {MAX_NESTING}")
        # The JSON text of where it was started tells threads apart cheaply; it is
        # decoded (and its nesting checked) once per distinct thread.
        key = (item[0], item[1], repr(item[2]) if len(item) > 2 else None)
        thread = self._threads.get(key)
        if thread is None:
            started = self._call(item[2], nesting + 1) if len(item) > 2 else None
            thread = self._threads[key] = ThreadRef(_int(item[0]), _str(item[1]), started)
        return thread

    def _call(self, item: Any, nesting: int = 0) -> CallSite | None:
        if item is None:
            return None
        when, thread, stack = item[:3]
        frames = self.frames
        resolved = tuple(map(frames.__getitem__, stack))  # an index that is not one: an error
        user_frame = item[3] if len(item) > 3 else None
        if user_frame is not None and not 0 <= _int(user_frame) < len(resolved):
            raise ValueError("user_frame is not an index of the stack")
        return CallSite(
            check_time(when, "a time"),
            self._thread(thread, nesting) if thread else None,
            resolved,
            None if user_frame is None else int(user_frame),
            bool(item[4]) if len(item) > 4 else False,
        )

    def _endpoint(self, item: Any) -> Endpoint:
        op, url, active, requested, when, site = item
        return Endpoint(
            _op(op),
            _str(url),
            bool(active),
            None if requested is None else _str(requested),
            0.0 if when == 0 else check_time(when, "a time"),
            None if site is None else self.frames[_int(site)],
        )

    def socket(self, item: Any) -> SocketRecord:
        """The record, or :class:`SchemaError` if ``item`` is not one."""
        try:
            (sid, context, kind, state, created, closed, endpoints, linger, source, options,
             threads, adopted, *later) = item  # fmt: skip
            # Items added since (a server of an older version sends none).
            internal, proxied_by = (*later, None, None)[:2]
            made = self._call(created)
            if made is None:
                raise ValueError("a socket has a creation site")
            return SocketRecord(
                id=_str(sid),
                context=None if context is None else _str(context),
                type=_str(kind),
                state=_state(state),
                created=made,
                closed=self._call(closed),
                endpoints=tuple(self._endpoint(e) for e in check_value(endpoints, "endpoints")),
                linger=None if linger is None else _int(linger),
                linger_source=_str(source),
                options=tuple((_str(k), scalar_text(v, "an option")) for k, v in options),
                threads_used=tuple(self._thread(t) for t in check_value(threads, "threads")),
                adopted=bool(adopted),
                internal=None if internal is None else _str(internal),
                proxied_by=None if proxied_by is None else _str(proxied_by),
            )
        except (TypeError, ValueError, IndexError, RecursionError) as error:
            # RecursionError: repr() of a thread's start nested near the parser's limit.
            raise SchemaError(f"bad socket record ({error})") from None
