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
    ORIGINS,
    CallSite,
    Endpoint,
    EndpointOp,
    Frame,
    SchemaError,
    SocketRecord,
    SocketState,
    ThreadRef,
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
    file, line, function = row[:3]
    origin, display, cell, source = (list(row[3:7]) + [None] * 4)[:4]
    return Frame(
        str(file),
        int(line),
        str(function),
        origin if origin in ORIGINS else None,
        None if display is None else str(display),
        None if cell is None else int(cell),
        None if source is None else str(source),
    )


class Decoder:
    """Turns one reply's compact records back into model records."""

    def __init__(self, frame_rows: Any) -> None:
        try:
            self.frames = [_frame(row) for row in frame_rows]
        except (TypeError, ValueError) as error:
            raise SchemaError(f"bad frame table ({error})") from None
        self._threads: dict[tuple[Any, ...], ThreadRef] = {}

    def _thread(self, item: Any) -> ThreadRef:
        # [id, name], or [id, name, where it was started]: one ThreadRef each.
        key = (item[0], item[1], repr(item[2]) if len(item) > 2 else None)
        thread = self._threads.get(key)
        if thread is None:
            started = self._call(item[2]) if len(item) > 2 else None
            thread = self._threads[key] = ThreadRef(int(item[0]), str(item[1]), started)
        return thread

    def _call(self, item: Any) -> CallSite | None:
        if item is None:
            return None
        when, thread, stack = item[:3]
        frames = self.frames
        resolved = tuple(frames[i] for i in stack)
        user_frame = item[3] if len(item) > 3 else None
        if user_frame is not None and not 0 <= int(user_frame) < len(resolved):
            raise ValueError("user_frame is not an index of the stack")
        return CallSite(
            float(when),
            self._thread(thread) if thread else None,
            resolved,
            None if user_frame is None else int(user_frame),
            bool(item[4]) if len(item) > 4 else False,
        )

    def _endpoint(self, item: Any) -> Endpoint:
        op, url, active, requested, when, site = item
        return Endpoint(
            EndpointOp(op),
            str(url),
            bool(active),
            None if requested is None else str(requested),
            float(when),
            None if site is None else self.frames[site],
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
                id=str(sid),
                context=None if context is None else str(context),
                type=str(kind),
                state=SocketState(state),
                created=made,
                closed=self._call(closed),
                endpoints=tuple(self._endpoint(e) for e in endpoints),
                linger=None if linger is None else int(linger),
                linger_source=str(source),
                options=tuple((str(k), str(v)) for k, v in options),
                threads_used=tuple(self._thread(t) for t in threads),
                adopted=bool(adopted),
                internal=None if internal is None else str(internal),
                proxied_by=None if proxied_by is None else str(proxied_by),
            )
        except (TypeError, ValueError, IndexError) as error:
            raise SchemaError(f"bad socket record ({error})") from None
