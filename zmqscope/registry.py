"""The thread-safe store of what the hooks recorded.

Entries here are mutable and private; :meth:`Registry.snapshot` turns them into
the frozen values of :mod:`zmqscope.model`. The registry never holds an
application socket or context: it keys everything by the libzmq handle and
keeps at most a weak reference to the Python object.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from typing import Any

from zmqscope._frames import RawFrame
from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Endpoint,
    EndpointOp,
    Frame,
    ProcessInfo,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadRef,
)

RawThread = tuple[int, str]

DEFAULT_LINGER = -1  # libzmq's own default: wait forever for unsent messages
MAX_CLOSED_RECORDS = 10_000
MAX_TERMINATED_CONTEXTS = 256


class _Site:
    """A call site as captured: raw frames, resolved only on snapshot."""

    __slots__ = ("stack", "thread", "time")

    def __init__(self, when: float, thread: RawThread | None, stack: tuple[RawFrame, ...]) -> None:
        self.time = when
        self.thread = thread
        self.stack = stack

    def freeze(self) -> CallSite:
        thread = ThreadRef(*self.thread) if self.thread else None
        return CallSite(self.time, thread, tuple(Frame(*f) for f in self.stack))


class _EndpointEntry:
    __slots__ = ("active", "op", "requested", "site", "time", "url")

    def __init__(self, op: EndpointOp, url: str, requested: str | None, site: RawFrame | None):
        self.op = op
        self.url = url
        self.requested = requested
        self.site = site
        self.time = time.time()
        self.active = True

    def matches(self, op: EndpointOp, addr: str) -> bool:
        return self.active and self.op is op and addr in (self.url, self.requested)

    def freeze(self) -> Endpoint:
        site = Frame(*self.site) if self.site else None
        return Endpoint(self.op, self.url, self.active, self.requested, self.time, site)


class SocketEntry:
    """The live, mutable record of one libzmq socket."""

    __slots__ = (
        "adopted",
        "closed",
        "context_id",
        "created",
        "endpoints",
        "handle",
        "id",
        "linger",
        "linger_source",
        "options",
        "state",
        "threads",
        "type_name",
    )

    def __init__(
        self,
        socket_id: str,
        handle: int,
        context_id: str | None,
        type_name: str,
        created: _Site,
        adopted: bool,
    ) -> None:
        self.id = socket_id
        self.handle = handle
        self.context_id = context_id
        self.type_name = type_name
        self.created = created
        self.adopted = adopted
        self.state = SocketState.OPEN
        self.closed: _Site | None = None
        self.endpoints: list[_EndpointEntry] = []
        self.linger: int | None = None if adopted else DEFAULT_LINGER
        self.linger_source = "unknown" if adopted else "default"
        self.options: dict[str, str] = {}
        self.threads: dict[int, str] = {}
        if created.thread:
            self.threads[created.thread[0]] = created.thread[1]

    @property
    def may_block_term(self) -> bool:
        """Closed, but libzmq may still hold it open until LINGER expires."""
        return self.linger != 0 and any(e.op is EndpointOp.CONNECT for e in self.endpoints)

    def freeze(self) -> SocketRecord:
        return SocketRecord(
            id=self.id,
            context=self.context_id,
            type=self.type_name,
            state=self.state,
            created=self.created.freeze(),
            closed=self.closed.freeze() if self.closed else None,
            endpoints=tuple(e.freeze() for e in self.endpoints),
            linger=self.linger,
            linger_source=self.linger_source,
            options=tuple(self.options.items()),
            threads_used=tuple(ThreadRef(i, n) for i, n in self.threads.items()),
            adopted=self.adopted,
        )


class ContextEntry:
    """The live, mutable record of one libzmq context."""

    __slots__ = (
        "adopted",
        "created",
        "handle",
        "id",
        "state",
        "term_blocked_since",
        "term_called",
        "terminated_at",
    )

    def __init__(self, context_id: str, handle: int, created: _Site | None, adopted: bool):
        self.id = context_id
        self.handle = handle
        self.created = created
        self.adopted = adopted
        self.state = ContextState.OPEN
        self.term_called: _Site | None = None
        self.term_blocked_since: float | None = None
        self.terminated_at: float | None = None

    def freeze(self) -> ContextRecord:
        return ContextRecord(
            id=self.id,
            state=self.state,
            created=self.created.freeze() if self.created else None,
            term_called=self.term_called.freeze() if self.term_called else None,
            term_blocked_since=self.term_blocked_since,
            terminated_at=self.terminated_at,
            adopted=self.adopted,
        )


class Registry:
    """Records of every socket and context, safe to update from any thread.

    Bounded: closed records are forgotten when their context terminates
    (sockets garbage-collected without close() are kept: they are leaks), and
    beyond ``max_closed`` the oldest closed records go first, those that can
    no longer block ``term()`` (LINGER 0 or no connects) before the others.
    """

    def __init__(self, max_closed: int = MAX_CLOSED_RECORDS) -> None:
        # Re-entrant: a garbage collection inside a locked section may run a
        # socket's __del__, whose close() comes back here on the same thread.
        self._lock = threading.RLock()
        self._max_closed = max_closed
        self._socket_ids = itertools.count(1)
        self._context_ids = itertools.count(1)
        self._sockets: dict[str, SocketEntry] = {}
        self._open: dict[int, SocketEntry] = {}
        self._contexts: dict[str, ContextEntry] = {}
        self._live_contexts: dict[int, ContextEntry] = {}
        self._closed_harmless: deque[SocketEntry] = deque()
        self._closed_risky: deque[SocketEntry] = deque()
        self._owners: dict[int, weakref.ref[Any]] = {}
        self.created_total = 0
        self.dropped = 0

    # -- contexts ---------------------------------------------------------

    def context_created(self, handle: int, created: _Site | None, adopted: bool) -> ContextEntry:
        """The entry for a context handle, made if new (shadows share one)."""
        with self._lock:
            entry = self._live_contexts.get(handle)
            if entry is None:
                entry = ContextEntry(f"c{next(self._context_ids)}", handle, created, adopted)
                self._live_contexts[handle] = entry
                self._contexts[entry.id] = entry
            return entry

    def context(self, handle: int) -> ContextEntry | None:
        return self._live_contexts.get(handle)

    def term_called(self, entry: ContextEntry, site: _Site) -> bool:
        """Mark a context terminating; False when a term() is already running."""
        with self._lock:
            if entry.state is not ContextState.OPEN:
                return False
            entry.state = ContextState.TERMINATING
            entry.term_called = site
            return True

    def term_failed(self, entry: ContextEntry) -> None:
        with self._lock:
            entry.state = ContextState.OPEN
            entry.term_blocked_since = None

    def term_returned(self, entry: ContextEntry) -> None:
        """The context is gone: forget its closed sockets, free its handle."""
        with self._lock:
            entry.state = ContextState.TERMINATED
            entry.terminated_at = time.time()
            entry.term_blocked_since = None
            if self._live_contexts.get(entry.handle) is entry:
                del self._live_contexts[entry.handle]
            for socket in list(self._sockets.values()):
                # Collected sockets stay: they are leaks the report must show.
                if socket.context_id == entry.id and socket.state is SocketState.CLOSED:
                    self._forget(socket)
            self._trim_terminated_contexts()

    def _trim_terminated_contexts(self) -> None:
        terminated = [c for c in self._contexts.values() if c.state is ContextState.TERMINATED]
        excess = len(terminated) - MAX_TERMINATED_CONTEXTS
        if excess <= 0:
            return
        in_use = {s.context_id for s in self._sockets.values()}
        for context in terminated[:excess]:
            if context.id not in in_use:
                del self._contexts[context.id]

    # -- sockets ----------------------------------------------------------

    def socket_created(
        self,
        owner: Any,
        handle: int,
        context: ContextEntry | None,
        type_name: str,
        created: _Site,
        adopted: bool = False,
    ) -> SocketEntry:
        """Record a new libzmq socket, held only weakly through ``owner``."""
        with self._lock:
            previous = self._open.get(handle)
            if previous is not None:
                # The handle was freed without us seeing close (libzmq reuses
                # addresses): the old socket is gone.
                self._mark_closed(previous, None, SocketState.COLLECTED)
            socket_id = f"s{next(self._socket_ids)}"
            entry = SocketEntry(
                socket_id, handle, context.id if context else None, type_name, created, adopted
            )
            self._sockets[socket_id] = entry
            self._open[handle] = entry
            self.created_total += 1
            # pyzmq sockets are weak-referenceable (Context._sockets is a WeakSet).
            self._owners[handle] = weakref.ref(owner, self._owner_collector(entry))
            return entry

    def _owner_collector(self, entry: SocketEntry) -> Callable[[Any], None]:
        def collected(_ref: Any) -> None:
            # Normally pyzmq's __del__ has already closed (and we recorded
            # it); this catches an owner that vanished without closing.
            with self._lock:
                if entry.state is SocketState.OPEN:
                    self._mark_closed(entry, None, SocketState.COLLECTED)

        return collected

    def open_socket(self, handle: int) -> SocketEntry | None:
        """The open entry for a libzmq handle (how shadows find their record)."""
        return self._open.get(handle)

    def socket_closed(self, entry: SocketEntry, site: _Site, collected: bool) -> None:
        with self._lock:
            if entry.state is SocketState.OPEN:
                state = SocketState.COLLECTED if collected else SocketState.CLOSED
                self._mark_closed(entry, site, state)

    def _mark_closed(self, entry: SocketEntry, site: _Site | None, state: SocketState) -> None:
        entry.state = state
        entry.closed = site
        if self._open.get(entry.handle) is entry:
            del self._open[entry.handle]
        self._owners.pop(entry.handle, None)
        if site and site.thread:
            entry.threads.setdefault(site.thread[0], site.thread[1])
        context = self._contexts.get(entry.context_id or "")
        if (
            context is not None
            and context.state is ContextState.TERMINATED
            and state is SocketState.CLOSED
        ):
            self._forget(entry)
            return
        retained = self._closed_risky if entry.may_block_term else self._closed_harmless
        retained.append(entry)
        self._trim_closed()

    def _trim_closed(self) -> None:
        while len(self._closed_harmless) + len(self._closed_risky) > self._max_closed:
            queue = self._closed_harmless or self._closed_risky
            victim = queue.popleft()
            if victim.id in self._sockets:
                del self._sockets[victim.id]
                self.dropped += 1

    def _forget(self, entry: SocketEntry) -> None:
        self._sockets.pop(entry.id, None)
        for queue in (self._closed_harmless, self._closed_risky):
            with contextlib.suppress(ValueError):
                queue.remove(entry)

    def endpoint_added(
        self,
        entry: SocketEntry,
        op: EndpointOp,
        url: str,
        requested: str | None,
        site: RawFrame | None,
        thread: RawThread,
    ) -> None:
        with self._lock:
            entry.endpoints.append(_EndpointEntry(op, url, requested, site))
            entry.threads.setdefault(*thread)

    def endpoint_removed(
        self, entry: SocketEntry, op: EndpointOp, addr: str, thread: RawThread
    ) -> None:
        with self._lock:
            for endpoint in entry.endpoints:
                if endpoint.matches(op, addr):
                    endpoint.active = False
                    break
            entry.threads.setdefault(*thread)

    def linger_set(self, entry: SocketEntry, value: int, source: str, thread: RawThread) -> None:
        with self._lock:
            entry.linger = value
            entry.linger_source = source
            entry.threads.setdefault(*thread)

    def option_set(self, entry: SocketEntry, name: str, value: str, thread: RawThread) -> None:
        with self._lock:
            entry.options[name] = value
            entry.threads.setdefault(*thread)

    # -- reading ----------------------------------------------------------

    def entries(self) -> list[SocketEntry]:
        with self._lock:
            return list(self._sockets.values())

    def snapshot(self, process: ProcessInfo) -> Snapshot:
        """Frozen copies of every record, consistent at one instant."""
        with self._lock:
            sockets = tuple(e.freeze() for e in self._sockets.values())
            contexts = tuple(c.freeze() for c in self._contexts.values())
            created_total, dropped = self.created_total, self.dropped
        return Snapshot(time.time(), process, contexts, sockets, created_total, dropped)

    def contexts(self) -> Iterable[ContextEntry]:
        with self._lock:
            return list(self._contexts.values())


def make_site(thread: RawThread | None, stack: tuple[RawFrame, ...]) -> _Site:
    return _Site(time.time(), thread, stack)
