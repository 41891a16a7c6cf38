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

This module holds the registry's sockets: their creation, calls and close.
Its tables and bounds are in :mod:`.base`, contexts in :mod:`.contexts`,
what readers get in :mod:`.reading`: one class, :class:`Registry`.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import Any

from zmqscope.instrument.frames import RawFrame
from zmqscope.instrument.registry.base import (
    _CLOSED,
    _COLLECTED,
    _OPEN,
    _STATE_TEXT,
    _TERMINATED,
    MAX_CLOSED_RECORDS,
    MAX_FAILURES_KEPT,
    MAX_LEAKS_KEPT,
    MAX_REMOVALS,
    MAX_TERMINATED_CONTEXTS,
    MAX_WARNINGS,
)
from zmqscope.instrument.registry.contexts import ContextRecords
from zmqscope.instrument.registry.entries import (
    OWNER,
    ContextEntry,
    EndpointEntry,
    RawThread,
    Site,
    SiteRef,
    SocketEntry,
    new_counters,
)
from zmqscope.instrument.registry.journal import (
    CALL_ENDPOINT,
    CALL_ENDPOINT_REMOVED,
    CALL_LINGER,
)
from zmqscope.instrument.registry.reading import RegistryReading
from zmqscope.model import (
    EndpointOp,
    SocketState,
)

__all__ = [
    "MAX_CLOSED_RECORDS",
    "MAX_FAILURES_KEPT",
    "MAX_LEAKS_KEPT",
    "MAX_REMOVALS",
    "MAX_TERMINATED_CONTEXTS",
    "MAX_WARNINGS",
    "ContextEntry",
    "Registry",
    "SocketEntry",
]


class Registry(ContextRecords, RegistryReading):
    """Records of every socket and context, safe to update from any thread.

    Bounded: closed records are forgotten when their context terminates, and
    beyond ``max_closed`` the oldest closed records go first, those that can
    no longer block ``term()`` (LINGER 0 or no connects) before the others.
    Sockets garbage-collected without close() are leaks: they are kept apart,
    through their context's end and the closed bound, up to ``max_leaks``
    (beyond it the oldest go, counted in ``leaks_dropped``).
    """

    def __init__(
        self, max_closed: int = MAX_CLOSED_RECORDS, max_leaks: int = MAX_LEAKS_KEPT
    ) -> None:
        super().__init__(max_closed, max_leaks)
        self._collected = self._owner_collected  # bound once, not per socket

    # -- the journal's side (journal.Builder), called with the lock held ----

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

    # -- contexts ---------------------------------------------------------

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
