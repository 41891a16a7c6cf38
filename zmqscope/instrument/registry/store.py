"""The thread-safe store of what the hooks recorded.

Entries (:mod:`zmqscope.instrument.registry.entries`) are mutable and private;
:meth:`Registry.snapshot` turns them into the frozen values of
:mod:`zmqscope.model`. The registry never holds an application socket or
context: it keys everything by the libzmq handle and keeps at most a weak
reference to the Python object.

The busiest records, a socket's creation and its close, arrive raw and
without the lock, in the journal (:mod:`.journal`, the only module that
reads a raw record); every locked method first has it build them into
entries, in order (``_drain``), so a reader sees what it
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
from zmqscope.instrument.frames import RawFrame
from zmqscope.instrument.registry.entries import (
    OWNER,
    Changes,
    ContextEntry,
    EndpointEntry,
    RawThread,
    Site,
    SiteRef,
    SocketEntry,
    new_counters,
    stamp_counters,
    traffic_row,
)
from zmqscope.instrument.registry.events import EventLog
from zmqscope.instrument.registry.journal import (
    CALL_ENDPOINT,
    CALL_ENDPOINT_REMOVED,
    CALL_LINGER,
    Journal,
)
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
        self.by_handle = self._open  # open entries by libzmq handle (read-only outside)
        self.live_contexts = self._live_contexts  # ... and contexts (read-only outside)
        # The lazy path (docs/lazy-records.md): the busy hooks record sockets
        # raw in the journal, without the lock; the first locked section after
        # them builds their entries, in order (_drain). Its hot methods are
        # this registry's own attributes: the hooks reach them in one look-up,
        # as when they were methods here (no call added to socket()+close()).
        lazy = self.lazy = Journal(self, self._lock)
        self.journal = lazy.items  # waiting records and calls (read-only outside)
        self.raw = lazy.raw  # handle -> raw record, until its close begins
        self.socket_seen = lazy.socket_seen
        self.call_seen = lazy.call_seen
        self.unbuilt = lazy.unbuilt
        self.raw_closed = lazy.raw_closed
        self.is_closing = lazy.is_closing
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

    # -- the lazy path (its records and draining: the journal) -------------

    def settle(self) -> None:
        """Apply every raw creation, call and close recorded so far to the entries.

        For a caller that holds entries and reads their fields directly (the
        pytest plugin's checks): the busy hooks record without the lock, and
        the registry applies their records when it is next entered.
        """
        if self.journal:
            with self._lock:
                self._drain()

    def _drain(self) -> None:
        """Build what waits in the journal; called with the lock held (see :data:`thin_reader`)."""
        journal = self.journal
        if not journal:
            return
        thin = Registry.thin_reader
        if thin and len(journal) > thin[1] and _get_ident() == thin[0]:
            self.lazy.drop_unread()
        else:
            self.lazy.build()

    # The journal's side (journal.Builder), called with the lock held.

    def unbuilt_dropped(self, context: ContextEntry, past_bound: bool) -> None:
        """A socket made and closed unread is counted, never built."""
        context.started = True
        next(self._socket_ids)  # ids stay "s<created_total>"
        self._created_total += 1
        if past_bound:
            self.dropped += 1
        else:
            self.skipped += 1

    def close_applied(
        self, entry: SocketEntry, site: Site | None, linger: int | None, state: SocketState
    ) -> None:
        """The close of a socket recorded raw, its entry built."""
        if linger is not None:
            entry.linger, entry.linger_source = linger, "close"
        self._mark_closed(entry, site, state)

    def call_applied(
        self,
        entry: SocketEntry,
        kind: str,
        args: tuple[Any, ...],
        site: RawFrame | None,
        when: float,
    ) -> None:
        """A call recorded raw (journal.CALL_*), applied as the locked methods would."""
        if kind is CALL_ENDPOINT:
            self._endpoint_added(entry, args[0], args[1], args[2], site, when)
        elif kind is CALL_ENDPOINT_REMOVED:
            self._endpoint_removed(entry, args[0], args[1], when)
        elif kind is CALL_LINGER:
            self._linger_set(entry, args[0], args[1])
        else:
            self._option_set(entry, args[0], args[1])

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
            self.lazy.skip_closed(entry)
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
            entry = self.new_entry(handle, context, type_name, created, adopted, self.traffic)
            # pyzmq sockets are weak-referenceable (Context._sockets is a WeakSet).
            ref = entry.ref = weakref.ref(owner, self._collected)
            self._owned[id(ref)] = entry
            return entry

    def new_entry(
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
            if self.lazy.is_closing(previous):
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
        if entry is not None and self.lazy.is_closing(entry):
            return None  # being closed: a new socket with its handle is not its shadow
        return entry

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
            if skip_closed:
                self.lazy.skip_unread_closed()
            else:
                self._drain()
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
