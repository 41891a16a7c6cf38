"""The lazy journal: sockets recorded raw by the busy hooks, built when read.

The two busiest hooks, a socket's creation and its close, and the calls its
creating thread makes before anyone looks (binds, connects, options), write
*raw records* here without the registry's lock and without building
anything. Whoever next enters the registry drains the journal in order, and
the registry (its :class:`Builder` side) makes entries, ids and events from
it exactly as if they had been recorded at once. A socket created and closed
before anyone looked, whose close cannot keep ``term()`` waiting, may be
counted and never built. The design and its measurements:
docs/lazy-records.md.

Only this module reads or writes a raw record's fields. A raw record is a
list (smaller and faster to fill than an object with slots, measured there),
its fields by index (``R_*`` below); the hooks hand the journal what they saw
and get back only the record itself, as a token.

May import: :mod:`.entries`, :mod:`zmqscope.instrument.frames`,
:mod:`zmqscope.model`.
"""

from __future__ import annotations

import enum
import itertools
import time
import weakref
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol

from zmqscope.instrument.frames import thread_alive
from zmqscope.instrument.registry.entries import (
    ContextEntry,
    RawThread,
    Site,
    SiteRef,
    SocketEntry,
    close_may_block_term,
    holds_messages,
    thread_start,
)
from zmqscope.model import SocketState

if TYPE_CHECKING:
    from collections.abc import Callable
    from contextlib import AbstractContextManager

    from zmqscope.instrument.frames import RawFrame

# Raw records waiting to be built: past this many, the oldest half is built
# (closed ones that cannot keep term() waiting are dropped). Calls recorded
# raw do not count; the journal's items of any kind have their own, looser
# bound, against calls without end on sockets nobody reads.
MAX_UNREAD = 10_000  # the registry's MAX_CLOSED_RECORDS
MAX_JOURNAL = 8 * MAX_UNREAD

# A raw record (see Journal.socket_seen): a list, its fields by index.
# R_CLOSE: None while open, then (time, thread, raw stack, collected, linger).
# R_CONNECTED, R_LINGER: what its calls recorded raw (Journal.call_seen) say
# about whether its close may keep term() waiting.
R_REF, R_HANDLE, R_CONTEXT, R_TYPE, R_TIME, R_THREAD, R_STACK, R_FRAMES = range(8)
R_CLOSE, R_ENTRY, R_CONNECTED, R_LINGER = 8, 9, 10, 11
C_COLLECTED, C_LINGER = 3, 4  # in R_CLOSE
_SKIPPED = "skipped"  # R_ENTRY of a record dropped unbuilt

# A call recorded raw (Journal.call_seen): (record, kind, time, raw site,
# ...), made by the thread that created the socket.
CALL_ENDPOINT = "endpoint"  # ..., op, url, requested
CALL_ENDPOINT_REMOVED = "removed"  # ..., op, addr
CALL_LINGER = "linger"  # ..., value, source
CALL_OPTION = "option"  # ..., name, value

_OPEN, _CLOSED, _COLLECTED = SocketState.OPEN, SocketState.CLOSED, SocketState.COLLECTED


class _Skip(enum.Enum):
    """Which closed, unread records a drain drops unbuilt (see :class:`Journal`)."""

    NONE = "none"  # build everything
    CONTEXT = "context"  # those of the context whose term() drains
    UNREAD = "unread"  # those of every context: the caller would forget them
    BOUND = "bound"  # the same, counted as dropped: nobody reads


# Read through the class, an enum member costs a dict look-up; the drain
# loop compares with these once per record.
_NONE, _CONTEXT, _UNREAD, _BOUND = _Skip.NONE, _Skip.CONTEXT, _Skip.UNREAD, _Skip.BOUND


class Builder(Protocol):
    """What the journal asks of the registry while draining (its lock held)."""

    def new_entry(
        self,
        handle: int,
        context: ContextEntry | None,
        type_name: str,
        created: Site,
        adopted: bool,
        traffic: bool,
    ) -> SocketEntry: ...

    def close_applied(
        self, entry: SocketEntry, site: Site | None, linger: int | None, state: SocketState
    ) -> None: ...

    def call_applied(
        self,
        entry: SocketEntry,
        kind: str,
        args: tuple[Any, ...],
        site: RawFrame | None,
        when: float,
    ) -> None: ...

    def unbuilt_dropped(self, context: ContextEntry, past_bound: bool) -> None: ...

    def thread_used(
        self,
        entry: SocketEntry,
        thread: RawThread,
        site: SiteRef,
        is_alive: Callable[[int], bool],
    ) -> None: ...


class Journal:
    """Raw records and calls, in order, and the table of open raw records by handle.

    The hooks' busy paths use it without the lock: each of their steps is
    one dict or deque operation, atomic under the GIL. Draining (the named
    methods :meth:`build`, :meth:`skip_closed`, :meth:`skip_unread_closed`,
    :meth:`drop_unread`) runs with the registry's lock held.
    """

    def __init__(self, builder: Builder, lock: AbstractContextManager[Any]) -> None:
        self._builder = builder
        self._lock = lock
        # Raw records (lists) and calls recorded raw (tuples), in order.
        self.items: deque[list[Any] | tuple[Any, ...]] = deque()
        self.raw: dict[int, list[Any]] = {}  # handle -> raw record, until closed
        self._collected_cb = self._raw_collected
        self._draining = False
        # Raw records recorded, and taken from the journal (built or dropped):
        # the difference is how many wait (the bound, MAX_UNREAD).
        self._records_seen = itertools.count(1)
        self._records_taken = 0

    # -- written by the hooks, without the lock ------------------------------

    def socket_seen(
        self,
        owner: Any,
        handle: int,
        context: ContextEntry,
        type_name: str,
        when: float,
        thread: Any,
        stack: Any,
        frames: Any,
    ) -> None:
        """Record a new socket as it is: its entry is built when someone reads.

        The creation hook's busy path (a new socket of a recorded context):
        no lock, no entry, no id, no event. ``thread`` is the creating
        ``threading.Thread`` (its name is read when the entry is built) or
        an ``(ident, name)`` pair.
        """
        ref = _RawRef(owner, self._collected_cb)
        rec = ref.rec = [
            ref,
            handle,
            context,
            type_name,
            when,
            thread,
            stack,
            frames,
            None,  # R_CLOSE
            None,  # R_ENTRY
            False,  # R_CONNECTED
            None,  # R_LINGER
        ]
        self.raw[handle] = rec
        self.items.append(rec)
        seen = next(self._records_seen)  # (atomic: no lock needed)
        if seen - self._records_taken > MAX_UNREAD:
            # Nobody reads: the oldest half is built, or dropped if closed.
            with self._lock:
                self.drop_unread(until_taken=seen - MAX_UNREAD // 2)

    def call_seen(self, call: tuple[Any, ...]) -> None:
        """Record a bind, connect, unbind, disconnect or option of an unbuilt socket.

        ``call`` is ``(raw record, CALL_*, time, raw site, ...)``, made by the thread
        that created the socket (any other thread's call builds the entry, so
        that sharing is judged while both threads run); it is applied
        to the entry, in order, when the record is built. What may make the
        socket's close block term() is noted on the record now: a connect
        beyond inproc, the LINGER set.
        """
        kind = call[1]
        if kind is CALL_ENDPOINT:
            if holds_messages(call[4], call[5]):
                call[0][R_CONNECTED] = True
        elif kind is CALL_LINGER:
            call[0][R_LINGER] = call[4]  # what its close's linger falls back on
        items = self.items
        items.append(call)
        if len(items) > MAX_JOURNAL:
            with self._lock:
                self.drop_unread(keep=MAX_JOURNAL // 2)

    def unbuilt(self, handle: int, thread: Any) -> list[Any] | None:
        """The raw record of ``handle`` while its entry is not built, if ``thread`` made it.

        Its calls are then recorded raw (:meth:`call_seen`); ``thread`` is
        the caller's, as :meth:`socket_seen` got it.
        """
        rec = self.raw.get(handle)
        if rec is None or rec[R_ENTRY] is not None or rec[R_THREAD] is not thread:
            return None
        return rec

    def raw_closed(self, rec: list[Any], closing: tuple[Any, ...]) -> None:
        """The close of a socket recorded raw (popped from :attr:`raw` by the close hook).

        ``closing`` is ``(time, thread, stack, by the finalizer, linger)``.
        The close fast path: no lock, applied when the journal is drained.
        """
        rec[R_REF] = None  # the weak reference goes: its callback cannot run
        rec[R_CLOSE] = closing
        self.items.append(rec)

    def _raw_collected(self, ref: _RawRef) -> None:
        # The socket object vanished without close() (pyzmq's __del__ closes
        # it, and that close is recorded as a collection; this is the rest).
        rec = ref.rec
        if rec[R_CLOSE] is not None:
            return
        if self.raw.get(rec[R_HANDLE]) is rec:
            del self.raw[rec[R_HANDLE]]
        rec[R_REF] = None
        rec[R_CLOSE] = (time.time(), None, None, True, None)
        self.items.append(rec)

    def is_closing(self, entry: SocketEntry) -> bool:
        """True once ``entry``'s socket has begun its close() (lock-free).

        A socket recorded raw has: its record is out of the raw table. Another
        has: the close hook marked it.
        """
        rec = entry.raw
        return entry.closing or (rec is not None and self.raw.get(entry.handle) is not rec)

    # -- drained with the registry's lock held ---------------------------

    def build(self) -> None:
        """Build every record and apply every call waiting, oldest first."""
        self._drain(_NONE, None, 0, 0)

    def skip_closed(self, context: ContextEntry) -> None:
        """The same, but ``context``'s sockets created and closed unread are only counted.

        For its ``term()``, which would forget them (``skipped``), unless
        their close may keep that ``term()`` waiting.
        """
        self._drain(_CONTEXT, context, 0, 0)

    def skip_unread_closed(self) -> None:
        """The same for the sockets of every context: for a caller that would forget them."""
        self._drain(_UNREAD, None, 0, 0)

    def drop_unread(self, keep: int = 0, until_taken: int = 0) -> None:
        """The bound: as :meth:`skip_unread_closed`, counted as ``dropped``.

        ``keep``: leave that many newest items; ``until_taken``: stop once
        that many raw records have been taken from the journal (built or
        dropped) in all.
        """
        self._drain(_BOUND, None, keep, until_taken)

    # Branched on purpose (C901): one pass over the journal, run per record read
    # (bench_core.py socket()+close(), term() after closes); see docs/lazy-records.md.
    def _drain(
        self, skip: _Skip, context: ContextEntry | None, keep: int, until_taken: int
    ) -> None:
        items = self.items
        if not items or self._draining:
            return  # (a garbage collection inside a drain may come back here)
        builder = self._builder
        self._draining = True
        try:
            while len(items) > keep:
                if until_taken and self._records_taken >= until_taken:
                    break
                try:
                    rec = items.popleft()
                except IndexError:
                    break
                if isinstance(rec, tuple):
                    self._apply_call(rec)
                    continue
                entry = rec[R_ENTRY]
                if entry is None:
                    self._records_taken += 1
                    closing = rec[R_CLOSE]
                    if (
                        skip is not _NONE
                        and closing is not None
                        and not closing[C_COLLECTED]
                        and (skip is not _CONTEXT or rec[R_CONTEXT] is context)
                        and not _may_block_term(rec, closing)
                    ):
                        rec[R_ENTRY] = _SKIPPED
                        builder.unbuilt_dropped(rec[R_CONTEXT], skip is _BOUND)
                        continue
                    rec[R_ENTRY] = self._built(rec)
                elif entry is not _SKIPPED:
                    self._closed(rec, entry)
        finally:
            self._draining = False

    def _built(self, rec: list[Any]) -> SocketEntry:
        thread = rec[R_THREAD]
        created = Site(
            rec[R_TIME], _thread_ref(thread), rec[R_STACK], rec[R_FRAMES], thread_start(thread)
        )
        # No traffic counters: only the eager path follows a socket's messages
        # (traffic mode records eagerly, even if switched on since).
        entry = self._builder.new_entry(
            rec[R_HANDLE], rec[R_CONTEXT], rec[R_TYPE], created, False, False
        )
        entry.raw = rec
        return entry

    def _closed(self, rec: list[Any], entry: SocketEntry) -> None:
        if entry.state is not _OPEN:
            return
        when, thread, stack, collected, linger = rec[R_CLOSE]
        site: Site | None = None
        if stack is not None:  # None: the weak reference noticed it gone
            thread = _thread_ref(thread)
            site = Site(when, thread, stack, rec[R_FRAMES] if stack else None)
            if not collected and thread is not None:
                self._builder.thread_used(entry, thread, site, thread_alive)
        self._builder.close_applied(entry, site, linger, _COLLECTED if collected else _CLOSED)

    def _apply_call(self, call: tuple[Any, ...]) -> None:
        """Apply a call recorded raw (see call_seen) to its socket's entry."""
        rec = call[0]
        entry = rec[R_ENTRY]
        if entry is None or entry is _SKIPPED:
            return  # (its socket was dropped unbuilt: the call goes with it)
        kind, when, raw_site = call[1], call[2], call[3]
        resolved = rec[R_FRAMES].resolve(raw_site) if raw_site else ()
        site = resolved[0] if resolved else None
        # Made by the creating thread, the owner unless another thread took
        # the socket meanwhile (that call built the entry and judged it).
        owner, creator = entry.owner, _thread_ref(rec[R_THREAD])
        if owner is not None and creator is not None and owner[0] == creator[0]:
            entry.owner_site = site
        self._builder.call_applied(entry, kind, call[4:], site, when)


def creator(entry: SocketEntry) -> Any:
    """The ``threading.Thread`` (or ``(ident, name)``) that made a socket recorded raw.

    None for a socket recorded eagerly. The object itself, where the entry
    has only its ident and name: idents are reused, the object is not.
    """
    rec = entry.raw
    return rec[R_THREAD] if rec is not None else None


class _RawRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a socket that carries its raw record (no look-up table)."""

    __slots__ = ("rec",)
    rec: list[Any]


def _may_block_term(rec: list[Any], closing: tuple[Any, ...]) -> bool:
    """Whether a raw record's close may keep term() waiting (:func:`close_may_block_term`).

    Its LINGER: from ``close(linger=...)``, else the last value set, else
    not known (libzmq's default, -1).
    """
    if not rec[R_CONNECTED]:
        # The usual case, answered without the call: the drain at term()
        # asks this of every record it skips.
        return False
    linger = closing[C_LINGER]
    if linger is None:
        linger = rec[R_LINGER]
    return close_may_block_term(rec[R_CONNECTED], linger)


def _thread_ref(thread: Any) -> RawThread | None:
    """(ident, name) of a recorded thread: a ``threading.Thread`` or already a pair."""
    if thread is None or type(thread) is tuple:
        return thread
    return (thread.ident, thread.name)
