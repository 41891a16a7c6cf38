"""What readers get from the registry: part of :class:`~.store.Registry` (see :mod:`.base`)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from zmqscope.instrument.registry.base import _CLOSED, _COLLECTED, RegistryBase
from zmqscope.instrument.registry.entries import (
    Changes,
    ContextEntry,
    SocketEntry,
    stamp_counters,
    traffic_row,
)
from zmqscope.instrument.registry.events import EventLog
from zmqscope.model import (
    Event,
    ProcessInfo,
    Snapshot,
)


class RegistryReading(RegistryBase):
    """Entries, changes, snapshots and events, each read under the lock after a drain."""

    def events_since(self, cursor: int) -> tuple[tuple[Event, ...], int, int]:
        """(events after ``cursor``, the next cursor, how many were lost to the bound)."""
        with self._lock:
            self._drain()
            raw, last, missed = self._log.since(cursor)
        return EventLog.formatted(raw), last, missed

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
