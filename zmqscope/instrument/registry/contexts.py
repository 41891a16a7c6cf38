"""Contexts and their ``term()``: part of :class:`~.store.Registry` (see :mod:`.base`)."""

from __future__ import annotations

import time
from collections.abc import Sequence

from zmqscope.instrument.registry.base import (
    MAX_FAILURES_KEPT,
    MAX_TERMINATED_CONTEXTS,
    RegistryBase,
)
from zmqscope.instrument.registry.entries import (
    ContextEntry,
    Site,
)
from zmqscope.model import (
    ContextState,
    Culprit,
    SocketState,
    refusal_limit,
)


class ContextRecords(RegistryBase):
    """The registry's contexts: made, started, terminated, and a blocked ``term()``'s culprits."""

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


def _term_over(entry: ContextEntry, now: float) -> None:
    """A term() ended: if it had been reported blocked, how long it waited in all."""
    if entry.term_blocked_since is not None:
        entry.term_blocked_for = max(0.0, now - entry.term_blocked_since)
    entry.term_blocked_since = None
