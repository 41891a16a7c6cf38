"""The thread-safe store of what the hooks recorded.

Entries (:mod:`zmqscope.instrument.registry.entries`) are mutable and private;
:meth:`Registry.snapshot` turns them into the frozen values of
:mod:`zmqscope.model`. The registry never holds an application socket or
context: it keys everything by the libzmq handle and keeps at most a weak
reference to the Python object.

The busiest records, a socket's creation and its close, arrive raw and
without the lock (:meth:`Registry.socket_seen`); every locked method first
builds them into entries, in order (``_drain``), so a reader sees what it
would have seen had they been built at once. A socket created and closed
before anyone looked is counted and never built when its context
terminates. The design and its measurements: docs/lazy-records.md.
"""

from __future__ import annotations

import itertools
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from zmqscope import _native
from zmqscope.instrument.frames import RawFrame, thread_alive
from zmqscope.instrument.registry.entries import (
    OWNER,
    Changes,
    ContextEntry,
    EndpointEntry,
    RawThread,
    Site,
    SiteRef,
    SocketEntry,
    close_may_block_term,
    holds_messages,
    new_counters,
    stamp_counters,
    thread_start,
    traffic_row,
)
from zmqscope.instrument.registry.events import EventLog
from zmqscope.model import (
    ContextState,
    Culprit,
    EndpointOp,
    Event,
    ProcessInfo,
    Snapshot,
    SocketState,
    UsageWarning,
)
from zmqscope.model._records import refusal_limit

MAX_CLOSED_RECORDS = 10_000
# Sockets garbage-collected without close() are leaks: never forgotten with
# the closed records, kept on their own up to this many (then the oldest go,
# counted in leaks_dropped). ~1.4 KB each (measured): ~28 MB at the bound.
MAX_LEAKS_KEPT = 20_000
MAX_TERMINATED_CONTEXTS = 256
MAX_WARNINGS = 1_000
MAX_REMOVALS = 20_000
MAX_FAILURES_KEPT = 3  # refused socket() calls kept per context (all are counted)
# Raw records waiting to be built: past this many, the oldest half is built
# (closed ones that cannot keep term() waiting are dropped). Calls recorded
# raw do not count; the journal's items of any kind have their own, looser
# bound, against calls without end on sockets nobody reads.
MAX_UNREAD = MAX_CLOSED_RECORDS
MAX_JOURNAL = 8 * MAX_CLOSED_RECORDS

# A raw record (see Registry.socket_seen): a list, its fields by index.
# R_CLOSE: None while open, then (time, thread, raw stack, collected, linger).
# R_CONNECTED, R_LINGER: what its calls recorded raw (Registry.call_seen)
# say about whether its close may keep term() waiting.
R_REF, R_HANDLE, R_CONTEXT, R_TYPE, R_TIME, R_THREAD, R_STACK, R_FRAMES = range(8)
R_CLOSE, R_ENTRY, R_CONNECTED, R_LINGER = 8, 9, 10, 11
C_COLLECTED, C_LINGER = 3, 4  # in R_CLOSE
# A call recorded raw (Registry.call_seen): (record, kind, time, raw site,
# ...), made by the thread that created the socket.
CALL_ENDPOINT = "endpoint"  # ..., op, url, requested
CALL_ENDPOINT_REMOVED = "removed"  # ..., op, addr
CALL_LINGER = "linger"  # ..., value, source
CALL_OPTION = "option"  # ..., name, value
_SKIPPED = "skipped"  # R_ENTRY of a record dropped unbuilt
_ANY_CONTEXT = "any"  # _drain(skip=...): unread closed records of every context, dropped
_UNREAD_CLOSED = "unread"  # the same, for a caller that would forget them anyway

# Enum members read through the class cost ~70 ns each on Python 3.11; the
# socket()+close() path reads these.
_OPEN, _CLOSED, _COLLECTED = SocketState.OPEN, SocketState.CLOSED, SocketState.COLLECTED
_TERMINATED = ContextState.TERMINATED
_STATE_TEXT = {state: state.value for state in SocketState}  # .value is a Python call
_get_ident = _native.original("_thread", "get_ident")  # an OS thread's, even under gevent

__all__ = ["ContextEntry", "Registry", "SocketEntry"]


class Registry:
    """Records of every socket and context, safe to update from any thread.

    Bounded: closed records are forgotten when their context terminates, and
    beyond ``max_closed`` the oldest closed records go first, those that can
    no longer block ``term()`` (LINGER 0 or no connects) before the others.
    Sockets garbage-collected without close() are leaks: they are kept apart,
    through their context's end and the closed bound, up to ``max_leaks``
    (beyond it the oldest go, counted in ``leaks_dropped``).
    """

    # (OS thread ident, items): reads made by that thread (the server's)
    # with more than that many items unread drop the unread history instead
    # of building it. It looks often and wants what is open now: under churn
    # most records waiting are of sockets created and closed since it last
    # looked, and building each one costs the application more than it is
    # worth. Those whose close cannot keep term() waiting are dropped unbuilt
    # (counted in ``dropped``, as past the MAX_UNREAD bound); open sockets,
    # leaks and closes that may block term() are built as always.
    thin_reader: tuple[int, int] | None = None

    def __init__(
        self, max_closed: int = MAX_CLOSED_RECORDS, max_leaks: int = MAX_LEAKS_KEPT
    ) -> None:
        # Re-entrant: a garbage collection inside a locked section may run a
        # socket's __del__, whose close() comes back here on the same thread.
        self._lock = _native.rlock()  # real, even under gevent: the server takes it too
        self._max_closed = max_closed
        self._max_leaks = max_leaks
        self._socket_ids = itertools.count(1)
        self._context_ids = itertools.count(1)
        self._sockets: dict[str, SocketEntry] = {}
        self._open: dict[int, SocketEntry] = {}
        self._contexts: dict[str, ContextEntry] = {}
        self._live_contexts: dict[int, ContextEntry] = {}
        # Closed records kept, oldest first (dicts: O(1) removal by id).
        self._closed_harmless: dict[str, SocketEntry] = {}
        self._closed_risky: dict[str, SocketEntry] = {}
        # Collected without close(), oldest first: leaks, bounded on their own.
        self._leaks_kept: dict[str, SocketEntry] = {}
        # id(weak reference to a socket object) -> its record (entry.ref is the reference).
        self._owned: dict[int, SocketEntry] = {}
        self._culprits: dict[str, tuple[Culprit, ...]] = {}
        self._warnings: deque[UsageWarning] = deque(maxlen=MAX_WARNINGS)
        self._log = EventLog()
        self._emit = self._log.emit  # called with the lock held, so seqs follow the log
        self.traffic = False
        self._created_total = 0
        self.dropped = 0
        self.leaks_dropped = 0  # collected records forgotten past max_leaks
        # The lazy path (docs/lazy-records.md): raw records of sockets made
        # and closed by the busy hooks, without the lock; the first locked
        # section after them builds their entries, in order (_drain).
        # The hooks' busy paths read and write these two without the lock
        # (single dict and deque operations, atomic under the GIL).
        # Raw records (lists) and calls recorded raw (tuples), in order.
        self.journal: deque[list[Any] | tuple[Any, ...]] = deque()
        self.raw: dict[int, list[Any]] = {}  # handle -> raw record, until closed
        self.by_handle = self._open  # open entries by libzmq handle (read-only outside)
        self.live_contexts = self._live_contexts  # ... and contexts (read-only outside)
        self._raw_collected_cb = self._raw_collected
        self._draining = False
        # Raw records recorded, and taken from the journal (built or dropped):
        # the difference is how many wait (the bound, MAX_UNREAD).
        self._records_seen = itertools.count(1)
        self._records_taken = 0
        self.skipped = 0  # closed before anyone looked, dropped unbuilt at their term()
        # Every change to a socket record bumps the generation; a client that
        # saw generation g asks only for what changed since (changes_since).
        self.generation = 0
        self._removed: deque[tuple[int, str]] = deque(maxlen=MAX_REMOVALS)
        self._collected = self._owner_collected  # bound once, not per socket

    def version(self) -> tuple[int, int] | None:
        """What changed is told by this pair (generation, last event); lock-free.

        The same pair twice means no record changed and no event happened
        in between. None while raw records wait to be built: then the next
        reader will see something new.
        """
        if self.journal:
            return None
        return (self.generation, self._log.seq)

    @property
    def created_total(self) -> int:
        """Sockets ever recorded."""
        self.settle()
        return self._created_total

    # -- the lazy path ------------------------------------------------------

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
        ref = _RawRef(owner, self._raw_collected_cb)
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
        self.journal.append(rec)
        seen = next(self._records_seen)  # (atomic: no lock needed)
        if seen - self._records_taken > MAX_UNREAD:
            # Nobody reads: the oldest half is built, or dropped if closed.
            with self._lock:
                self._drain(_ANY_CONTEXT, until_taken=seen - MAX_UNREAD // 2)

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
        journal = self.journal
        journal.append(call)
        if len(journal) > MAX_JOURNAL:
            with self._lock:
                self._drain(_ANY_CONTEXT, keep=MAX_JOURNAL // 2)

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
        self.journal.append(rec)

    def settle(self) -> None:
        """Apply every raw creation, call and close recorded so far to the entries.

        For a caller that holds entries and reads their fields directly (the
        pytest plugin's checks): the busy hooks record without the lock, and
        the registry applies their records when it is next entered.
        """
        if self.journal:
            with self._lock:
                self._drain()

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
        self.journal.append(rec)

    # Branched on purpose (C901): one pass over the journal, run per record read
    # (bench_core.py socket()+close(), term() after closes); see docs/lazy-records.md.
    def _drain(self, skip: object = None, keep: int = 0, until_taken: int = 0) -> None:  # noqa: C901
        """Build the entries of raw records, oldest first; called with the lock held.

        ``skip``: a ContextEntry whose records that were created and closed
        since anyone last looked are counted (``skipped``) and never built;
        _UNREAD_CLOSED: those of every context; _ANY_CONTEXT: the same,
        counted as ``dropped`` (the bound). ``keep``: leave that many newest
        items; ``until_taken``: stop once that many raw records have been
        taken from the journal (built or dropped) in all.
        """
        journal = self.journal
        if not journal or self._draining:
            return  # (a garbage collection inside a drain may come back here)
        thin = Registry.thin_reader
        if skip is None and thin and len(journal) > thin[1] and _get_ident() == thin[0]:
            skip = _ANY_CONTEXT
        self._draining = True
        try:
            while len(journal) > keep:
                if until_taken and self._records_taken >= until_taken:
                    break
                try:
                    rec = journal.popleft()
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
                        skip is not None
                        and closing is not None
                        and not closing[C_COLLECTED]
                        and (
                            skip is _UNREAD_CLOSED or skip is _ANY_CONTEXT or rec[R_CONTEXT] is skip
                        )
                        and not _may_block_term(rec, closing)
                    ):
                        rec[R_ENTRY] = _SKIPPED
                        rec[R_CONTEXT].started = True
                        next(self._socket_ids)  # ids stay "s<created_total>"
                        self._created_total += 1
                        if skip is _ANY_CONTEXT:
                            self.dropped += 1
                        else:
                            self.skipped += 1
                        continue
                    rec[R_ENTRY] = self._built(rec)
                elif entry is not _SKIPPED:
                    self._closed_raw(rec, entry)
        finally:
            self._draining = False

    def _built(self, rec: list[Any]) -> SocketEntry:
        thread = rec[R_THREAD]
        created = Site(
            rec[R_TIME], _thread_ref(thread), rec[R_STACK], rec[R_FRAMES], thread_start(thread)
        )
        # No traffic counters: only the eager path follows a socket's messages
        # (traffic mode records eagerly, even if switched on since).
        entry = self._new_entry(rec[R_HANDLE], rec[R_CONTEXT], rec[R_TYPE], created, False, False)
        entry.raw = rec
        return entry

    def _closed_raw(self, rec: list[Any], entry: SocketEntry) -> None:
        if entry.state is not _OPEN:
            return
        when, thread, stack, collected, linger = rec[R_CLOSE]
        if linger is not None:
            entry.linger, entry.linger_source = linger, "close"
        site: Site | None = None
        if stack is not None:  # None: the weak reference noticed it gone
            thread = _thread_ref(thread)
            site = Site(when, thread, stack, rec[R_FRAMES] if stack else None)
            if not collected and thread is not None:
                self.thread_used(entry, thread, site, thread_alive)
        self._mark_closed(entry, site, _COLLECTED if collected else _CLOSED)

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
        if kind is CALL_ENDPOINT:
            self._endpoint_added(entry, call[4], call[5], call[6], site, when)
        elif kind is CALL_ENDPOINT_REMOVED:
            self._endpoint_removed(entry, call[4], call[5], when)
        elif kind is CALL_LINGER:
            self._linger_set(entry, call[4], call[5])
        else:
            self._option_set(entry, call[4], call[5])

    def _touch(self, entry: SocketEntry) -> None:
        # Called with the lock held: the record changed, its frozen copy is stale.
        self.generation += 1
        entry.version = self.generation
        entry.frozen = None

    def events_since(self, cursor: int) -> tuple[tuple[Event, ...], int, int]:
        """(events after ``cursor``, the next cursor, how many were lost to the bound)."""
        with self._lock:
            self._drain()
            raw, last, missed = self._log.since(cursor)
        return EventLog.formatted(raw), last, missed

    # -- contexts ---------------------------------------------------------

    def context_created(
        self,
        handle: int,
        created: Site | None,
        adopted: bool,
        internal: str | None = None,
        max_sockets: int | None = None,
    ) -> ContextEntry:
        """The entry for a context handle, made if new (shadows share one).

        ``internal``: the pyzmq helper that made the context for itself.
        ``max_sockets`` is the context's MAX_SOCKETS as read by its creating
        thread; a shadow's reading is not taken (it may be a value set too late).
        """
        with self._lock:
            self._drain()
            entry = self._live_contexts.get(handle)
            if entry is None:
                context_id = f"c{next(self._context_ids)}"
                entry = ContextEntry(context_id, handle, created, adopted, internal, max_sockets)
                self._live_contexts[handle] = entry
                self._contexts[entry.id] = entry
            return entry

    def max_sockets_set(self, entry: ContextEntry, value: int) -> None:
        """``ctx.set(zmq.MAX_SOCKETS, value)``: in force only before the first socket."""
        with self._lock:
            self._drain()  # (a socket recorded raw may be its first)
            if entry.started:
                entry.max_sockets_ignored = value
            else:
                entry.max_sockets = value
                entry.max_sockets_ignored = None

    def socket_refused(
        self,
        entry: ContextEntry,
        site: Site,
        errno: int,
        error: str,
        fds_exhausted: bool | None,
    ) -> None:
        """libzmq refused a ``socket()`` of ``entry`` (EMFILE): keep the first few.

        ``fds_exhausted``: whether the process had no descriptor left then
        (None: not known).
        """
        with self._lock:
            self._drain()
            entry.failures_total += 1
            if len(entry.failures) < MAX_FAILURES_KEPT:
                context_id = entry.id
                used = sum(1 for e in self._open.values() if e.context_id == context_id)
                most = entry.max_sockets
                limit = refusal_limit(used, most, fds_exhausted, entry.started)
                entry.failures.append((site, errno, error, used, most, limit))
                self._emit("socket-refused", context=context_id, detail=error, site=site)

    def context(self, handle: int) -> ContextEntry | None:
        return self._live_contexts.get(handle)

    def term_called(self, entry: ContextEntry, site: Site) -> bool:
        """Mark a context terminating; False when a term() is already running."""
        with self._lock:
            # Sockets of this context made and closed since anyone looked
            # are counted, not built (docs/lazy-records.md).
            self._drain(entry)
            if entry.state is not ContextState.OPEN:
                return False
            entry.state = ContextState.TERMINATING
            entry.term_called = site
            # Another term() after one that was interrupted: the culprits
            # named for that one do not describe this one.
            entry.term_blocked_for = None
            self._culprits.pop(entry.id, None)
            return True

    def term_failed(self, entry: ContextEntry) -> None:
        with self._lock:
            self._drain()
            entry.state = ContextState.OPEN
            _term_over(entry, time.time())

    def term_blocked(self, entry: ContextEntry, culprits: Sequence[Culprit]) -> bool:
        """A term() outlived its grace period: keep its culprits for reports.

        False when the term() has returned (or failed) meanwhile: nothing to report.
        """
        with self._lock:
            self._drain()
            if entry.state is not ContextState.TERMINATING:
                return False
            entry.term_blocked_since = entry.term_called.time if entry.term_called else time.time()
            self._culprits[entry.id] = tuple(culprits)
            self._emit("term-blocked", context=entry.id, detail=f"{len(culprits)} culprits")
            for culprit in culprits:
                socket = self._sockets.get(culprit.socket)
                if socket is not None:
                    socket.pinned = True
            return True

    def term_returned(self, entry: ContextEntry) -> None:
        """The context is gone: forget its closed sockets, free its handle."""
        with self._lock:
            self._drain()
            entry.state = ContextState.TERMINATED
            entry.terminated_at = time.time()
            _term_over(entry, entry.terminated_at)
            self._emit("term-done", context=entry.id)
            if self._live_contexts.get(entry.handle) is entry:
                del self._live_contexts[entry.handle]
            for socket in list(self._sockets.values()):
                # Collected sockets stay (they are leaks), and so do culprits
                # of a blocked term() (the report explains the wait).
                if (
                    socket.context_id == entry.id
                    and socket.state is SocketState.CLOSED
                    and not socket.pinned
                ):
                    self._forget(socket)
            self._trim_terminated_contexts()

    def _trim_terminated_contexts(self) -> None:
        terminated = [c for c in self._contexts.values() if c.state is ContextState.TERMINATED]
        excess = len(terminated) - MAX_TERMINATED_CONTEXTS
        if excess <= 0:
            return
        in_use = {s.context_id for s in self._sockets.values()}
        for context in terminated[:excess]:
            if context.id not in in_use and context.id not in self._culprits:
                del self._contexts[context.id]

    # -- sockets ----------------------------------------------------------

    def socket_created(
        self,
        owner: Any,
        handle: int,
        context: ContextEntry | None,
        type_name: str,
        created: Site,
        adopted: bool = False,
    ) -> SocketEntry:
        """Record a new libzmq socket, held only weakly through ``owner``."""
        with self._lock:
            self._drain()
            entry = self._new_entry(handle, context, type_name, created, adopted, self.traffic)
            # pyzmq sockets are weak-referenceable (Context._sockets is a WeakSet).
            ref = entry.ref = weakref.ref(owner, self._collected)
            self._owned[id(ref)] = entry
            return entry

    def _new_entry(
        self,
        handle: int,
        context: ContextEntry | None,
        type_name: str,
        created: Site,
        adopted: bool,
        traffic: bool,
    ) -> SocketEntry:
        """The entry of a new socket; called with the lock held."""
        previous = self._open.get(handle)
        if previous is not None:
            if _closing(previous, self.raw):
                # Its close() is under way on another thread, and libzmq has
                # already given its handle to this socket: the close's own
                # record follows in the journal.
                del self._open[handle]
            else:
                # The handle was freed without us seeing close (libzmq reuses
                # addresses): the old socket is gone.
                self._mark_closed(previous, None, SocketState.COLLECTED)
        socket_id = f"s{next(self._socket_ids)}"
        entry = SocketEntry(
            socket_id, handle, context.id if context else None, type_name, created, adopted
        )
        if context is not None:
            context.started = True
        if traffic:
            entry.traffic = new_counters(created.thread[0] if created.thread else 0)
        if context is not None and context.internal is not None:
            entry.internal = context.internal  # a pyzmq helper's own socket
        self._sockets[socket_id] = entry
        self._open[handle] = entry
        self._created_total += 1
        self.generation = entry.version = self.generation + 1  # _touch, inline
        self._emit("created", socket_id, entry.context_id, type_name, created, created.time)
        return entry

    def _owner_collected(self, ref: weakref.ref[Any]) -> None:
        # Normally pyzmq's __del__ has already closed the socket (and we
        # recorded it); this catches an owner that vanished without closing.
        with self._lock:
            self._drain()
            entry = self._owned.pop(id(ref), None)
            if entry is not None and entry.state is SocketState.OPEN:
                self._mark_closed(entry, None, SocketState.COLLECTED)

    def open_socket(self, handle: int) -> SocketEntry | None:
        """The open entry for a libzmq handle (how shadows find their record)."""
        if handle in self.raw or (self.journal and handle in self._open):
            # Built now; or an entry whose close is still in the journal
            # (libzmq reuses a closed socket's handle for the next one).
            with self._lock:
                self._drain()
        entry = self._open.get(handle)
        if entry is not None and _closing(entry, self.raw):
            return None  # being closed: a new socket with its handle is not its shadow
        return entry

    def is_closing(self, entry: SocketEntry) -> bool:
        """True once ``entry``'s socket has begun its close() (lock-free)."""
        return _closing(entry, self.raw)

    def socket_closed(
        self, entry: SocketEntry, site: Site, collected: bool, linger: int | None = None
    ) -> None:
        """Mark ``entry`` closed (``linger``: what ``close(linger=...)`` was given)."""
        with self._lock:
            self._drain()
            if entry.state is _OPEN:
                if linger is not None:
                    entry.linger, entry.linger_source = linger, "close"
                self._mark_closed(entry, site, _COLLECTED if collected else _CLOSED)

    def _mark_closed(self, entry: SocketEntry, site: Site | None, state: SocketState) -> None:
        entry.state = state
        entry.closed = site
        self.generation = entry.version = self.generation + 1  # _touch, inline
        entry.frozen = None
        when = site.time if site is not None else None
        self._emit(_STATE_TEXT[state], entry.id, entry.context_id, entry.type_name, site, when)
        if self._open.get(entry.handle) is entry:
            del self._open[entry.handle]
        ref = entry.ref
        if ref is not None:
            entry.ref = None
            self._owned.pop(id(ref), None)
        if state is _COLLECTED:
            self._keep_leak(entry)
            return
        context = self._contexts.get(entry.context_id or "")
        if context is not None and context.state is _TERMINATED and state is _CLOSED:
            self._forget(entry)
            return
        risky = entry.linger != 0 and entry.endpoints and entry.may_block_term
        retained = self._closed_risky if risky else self._closed_harmless
        retained[entry.id] = entry
        if len(self._closed_harmless) + len(self._closed_risky) > self._max_closed:
            self._trim_closed()

    def _keep_leak(self, entry: SocketEntry) -> None:
        collected = self._leaks_kept
        collected[entry.id] = entry
        while len(collected) > self._max_leaks:
            victim = collected.pop(next(iter(collected)))
            if victim.id in self._sockets and not victim.pinned:
                del self._sockets[victim.id]
                self._removal(victim)
                self.leaks_dropped += 1

    def _trim_closed(self) -> None:
        while len(self._closed_harmless) + len(self._closed_risky) > self._max_closed:
            queue = self._closed_harmless or self._closed_risky
            victim = queue.pop(next(iter(queue)))
            if victim.id in self._sockets and not victim.pinned:
                del self._sockets[victim.id]
                self._removal(victim)
                self.dropped += 1

    def _removal(self, entry: SocketEntry) -> None:
        self.generation += 1
        self._removed.append((self.generation, entry.id))

    def _forget(self, entry: SocketEntry) -> None:
        # The event log may still show where it was made and closed: one frame each.
        entry.created.trim()
        if entry.closed is not None:
            entry.closed.trim()
        if self._sockets.pop(entry.id, None) is not None:
            self._removal(entry)
        self._closed_harmless.pop(entry.id, None)
        self._closed_risky.pop(entry.id, None)
        self._leaks_kept.pop(entry.id, None)

    # -- what happens to a socket -----------------------------------------

    def thread_used(
        self,
        entry: SocketEntry,
        thread: RawThread,
        site: SiteRef,
        is_alive: Callable[[int], bool],
    ) -> None:
        """Note a call on ``entry`` from ``thread``; warn on sharing, not hand-off.

        A thread using the socket for the first time takes it over (the
        hand-off of a socket made in one thread and used in another). Coming
        back to a thread that used it before, while the thread that had it
        since is still alive, means two threads share it: a warning, once
        per pair of threads.
        """
        with self._lock:
            self._drain()
            owner = entry.owner
            if owner is not None and owner[0] != thread[0]:
                if thread in entry.threads and is_alive(owner[0]):
                    self._shared(entry, owner, thread, site)
                if entry.traffic is not None:
                    entry.traffic[OWNER] = thread[0]
            entry.owner = thread
            entry.owner_site = site
            if thread not in entry.threads:
                entry.threads += (thread,)
                self._touch(entry)

    def _shared(
        self, entry: SocketEntry, first: RawThread, second: RawThread, site: SiteRef
    ) -> None:
        warning = entry.sharing_warning(first, second, site)
        if warning is not None:
            self._warnings.append(warning)
            self._emit("warning", entry.id, entry.context_id, warning.message)

    def endpoint_added(
        self,
        entry: SocketEntry,
        op: EndpointOp,
        url: str,
        requested: str | None,
        site: RawFrame | None,
    ) -> None:
        with self._lock:
            self._drain()
            self._endpoint_added(entry, op, url, requested, site)

    def _endpoint_added(
        self,
        entry: SocketEntry,
        op: EndpointOp,
        url: str,
        requested: str | None,
        site: RawFrame | None,
        when: float | None = None,
    ) -> None:
        entry.endpoints += (EndpointEntry(op, url, requested, site, when),)
        self._touch(entry)
        kind = "bound" if op is EndpointOp.BIND else "connected"
        self._emit(kind, entry.id, entry.context_id, url, None, when)

    def endpoint_removed(self, entry: SocketEntry, op: EndpointOp, addr: str) -> None:
        with self._lock:
            self._drain()
            self._endpoint_removed(entry, op, addr)

    def _endpoint_removed(
        self, entry: SocketEntry, op: EndpointOp, addr: str, when: float | None = None
    ) -> None:
        for endpoint in entry.endpoints:
            if endpoint.matches(op, addr):
                endpoint.active = False
                self._touch(entry)
                kind = "unbound" if op is EndpointOp.BIND else "disconnected"
                self._emit(kind, entry.id, entry.context_id, endpoint.url, None, when)
                break

    def handed_to(self, entry: SocketEntry, loop: str) -> None:
        """``entry``'s socket was handed to a C loop (``zmq.proxy``, ...) that sends for it."""
        with self._lock:
            self._drain()
            if entry.proxied_by != loop:
                entry.proxied_by = loop
                self._touch(entry)

    def linger_set(self, entry: SocketEntry, value: int, source: str) -> None:
        with self._lock:
            self._drain()
            self._linger_set(entry, value, source)

    def _linger_set(self, entry: SocketEntry, value: int, source: str) -> None:
        entry.linger = value
        entry.linger_source = source
        self._touch(entry)

    def option_set(self, entry: SocketEntry, name: str, value: str) -> None:
        with self._lock:
            self._drain()
            self._option_set(entry, name, value)

    def _option_set(self, entry: SocketEntry, name: str, value: str) -> None:
        if entry.options is None:
            entry.options = {}
        entry.options[name] = value
        self._touch(entry)

    # -- reading ----------------------------------------------------------

    def entries(self) -> list[SocketEntry]:
        with self._lock:
            self._drain()
            return list(self._sockets.values())

    def open_entries(self) -> list[SocketEntry]:
        """The entries of the sockets open now (not the closed ones kept)."""
        with self._lock:
            self._drain()
            return list(self._open.values())

    def created_since(self, mark: int, skip_closed: bool = False) -> list[SocketEntry]:
        """Entries of the sockets recorded after ``created_total`` was ``mark``, oldest first.

        Walks back from the newest record and stops at the first older one,
        so a caller that notes ``created_total`` and asks again later (the
        pytest plugin, once per test) pays for the new records only. With
        ``skip_closed``, records created and closed since anyone last looked
        are counted (``skipped``) but never built: for a caller that would
        only forget them (a closed socket whose close cannot keep term()
        waiting is nobody's leak).
        """
        with self._lock:
            self._drain(_UNREAD_CLOSED if skip_closed else None)
            if self._created_total == mark:
                return []
            found: list[SocketEntry] = []
            for entry in reversed(self._sockets.values()):
                # Ids are "s<n>", n being created_total right after the record was made.
                if int(entry.id[1:]) <= mark:
                    break
                found.append(entry)
        found.reverse()
        return found

    def forget(self, entries: Iterable[SocketEntry]) -> None:
        """Drop records someone has already reported (the pytest plugin, after each test).

        Open records, closed ones that may still block ``term()`` and culprits
        of a blocked ``term()`` are kept: they describe sockets libzmq still holds.
        """
        with self._lock:
            self._drain()
            for entry in entries:
                if entry.pinned:
                    continue
                state = entry.state
                if state is _COLLECTED or (state is _CLOSED and not entry.may_block_term):
                    self._forget(entry)

    def contexts(self) -> Iterable[ContextEntry]:
        with self._lock:
            self._drain()
            return list(self._contexts.values())

    def changes_since(self, since: int) -> Changes:
        """The records changed after generation ``since``, and the ids removed.

        A ``since`` of 0, one this registry never had, or one older than the
        removal log remembers gets everything (``full``).
        """
        with self._lock:
            self._drain()
            lost = len(self._removed) == self._removed.maxlen and self._removed[0][0] > since + 1
            full = since <= 0 or since > self.generation or lost
            entries = self._sockets.values()
            changed = tuple(e.freeze_static() for e in entries if full or e.version > since)
            removed = () if full else tuple(sid for g, sid in self._removed if g > since)
            now = time.time()
            traffic = {}
            for entry in entries:
                if entry.traffic is not None:
                    stamp_counters(entry.traffic, now)
                    traffic[entry.id] = traffic_row(entry.traffic)
            return Changes(
                generation=self.generation,
                full=full,
                taken_at=time.time(),
                sockets=changed,
                removed=removed,
                traffic=traffic,
                contexts=tuple(c.freeze() for c in self._contexts.values()),
                culprits=tuple(c for group in self._culprits.values() for c in group),
                warnings=tuple(self._warnings),
                created_total=self._created_total,
                dropped=self.dropped,
                leaks_dropped=self.leaks_dropped,
            )

    def snapshot(self, process: ProcessInfo) -> Snapshot:
        """Frozen copies of every record, consistent at one instant."""
        with self._lock:
            self._drain()
            sockets = tuple(e.freeze() for e in self._sockets.values())
            contexts = tuple(c.freeze() for c in self._contexts.values())
            culprits = tuple(c for group in self._culprits.values() for c in group)
            warnings = tuple(self._warnings)
            created_total, dropped = self._created_total, self.dropped
            leaks_dropped = self.leaks_dropped
        return Snapshot(
            time.time(),
            process,
            contexts,
            sockets,
            created_total,
            dropped,
            culprits=culprits,
            warnings=warnings,
            leaks_dropped=leaks_dropped,
        )


def _term_over(entry: ContextEntry, now: float) -> None:
    """A term() ended: if it had been reported blocked, how long it waited in all."""
    if entry.term_blocked_since is not None:
        entry.term_blocked_for = max(0.0, now - entry.term_blocked_since)
    entry.term_blocked_since = None


class _RawRef(weakref.ref):  # type: ignore[type-arg]
    """A weak reference to a socket that carries its raw record (no look-up table)."""

    __slots__ = ("rec",)
    rec: list[Any]


def _closing(entry: SocketEntry, raw: dict[int, list[Any]]) -> bool:
    """True if ``entry``'s socket has begun its close() (lock-free).

    A socket recorded raw has: its record is out of the raw table. Another
    has: the close hook marked it.
    """
    rec = entry.raw
    return entry.closing or (rec is not None and raw.get(entry.handle) is not rec)


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
