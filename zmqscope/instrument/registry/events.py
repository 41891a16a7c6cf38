"""The registry's bounded log of what happened, newest last.

The hooks pay for an append of a raw tuple; a reader (the server's ``events``
answer, the TUI's timeline) pays for the formatting.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from typing import Any

from zmqscope.instrument.frames import RawFrame
from zmqscope.instrument.registry.entries import SiteRef, frozen_frame, site_frame
from zmqscope.model import Event
from zmqscope.model.wording import short_location

MAX_EVENTS = 10_000


class EventLog:
    """Numbered events; the oldest are dropped past ``max_events``.

    Not locked itself: the registry appends and reads under its own lock, so
    sequence numbers follow the order of the log.
    """

    def __init__(self, max_events: int | None = None) -> None:
        # (seq, time, kind, socket, context, detail, site)
        self._events: deque[tuple[Any, ...]] = deque(maxlen=max_events or MAX_EVENTS)
        self._seq = 0

    def emit(
        self,
        kind: str,
        socket: str | None = None,
        context: str | None = None,
        detail: str = "",
        site: SiteRef = None,
        when: float | None = None,
    ) -> None:
        self._seq += 1
        self._events.append(
            (self._seq, time.time() if when is None else when, kind, socket, context, detail, site)
        )

    @property
    def seq(self) -> int:
        """The last event's sequence number (0: none yet)."""
        return self._seq

    def since(self, cursor: int) -> tuple[list[tuple[Any, ...]], int, int]:
        """(raw events after ``cursor``, the last sequence number, how many were lost)."""
        events = self._events
        # Sequence numbers are consecutive: skip to the first one after cursor
        # (this runs under the registry's lock, which the hooks wait for).
        skip = min(len(events), max(0, cursor - events[0][0] + 1)) if events else 0
        raw = list(itertools.islice(events, skip, None))
        oldest = events[0][0] if events else self._seq + 1
        missed = max(0, oldest - cursor - 1) if cursor < self._seq else 0
        return raw, self._seq, missed

    @staticmethod
    def formatted(raw: list[tuple[Any, ...]]) -> tuple[Event, ...]:
        """The model's events, each site shortened to ``file:line`` in its detail."""
        return tuple(
            Event(seq, when, kind, socket, context, detail + _at(site_frame(site)))
            for seq, when, kind, socket, context, detail, site in raw
        )


def _at(frame: RawFrame | None) -> str:
    # Said as every one-line message says a place (model.wording).
    return f" at {short_location(frozen_frame(frame))}" if frame else ""
