"""The registry's state and the rules that keep it bounded; the base of :class:`~.store.Registry`.

The registry is one class in four modules, by concern: this one (its
tables, the lazy journal it drains, and forgetting closed records),
:mod:`.contexts` (contexts and their ``term()``), :mod:`.reading` (what
readers get) and :mod:`.store` (sockets: creation, calls, close). The
private names here are the class's own, shared by its parts.
"""

from __future__ import annotations

import itertools
from collections import deque
from typing import cast

from zmqscope import _native
from zmqscope.instrument.registry.entries import (
    ContextEntry,
    SocketEntry,
)
from zmqscope.instrument.registry.events import EventLog
from zmqscope.instrument.registry.journal import (
    Builder,
    Journal,
)
from zmqscope.model import (
    ContextState,
    Culprit,
    SocketState,
    UsageWarning,
)

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


class RegistryBase:
    """The tables of :class:`~.store.Registry`, its lock, and its bounds."""

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
        lazy = self.lazy = Journal(cast("Builder", self), self._lock)  # (a Registry)
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
        thin = self.thin_reader  # (set on the class, see answers.py)
        if thin and len(journal) > thin[1] and _get_ident() == thin[0]:
            self.lazy.drop_unread()
        else:
            self.lazy.build()

    def _touch(self, entry: SocketEntry) -> None:
        # Called with the lock held: the record changed, its frozen copy is stale.
        self.generation += 1
        entry.version = self.generation
        entry.frozen = None

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
