"""How much of the application's CPU the introspection server may use.

The server shares the interpreter (and its GIL) with the application: every
millisecond it computes is a millisecond the application's threads wait. So
its thread spends from a bucket of CPU time that fills at ``share`` of one
core and holds at most ``burst`` seconds: a client's first snapshot of a big
registry may take a burst at once, a flood of requests only ``share`` in the
long run. Everything the thread does is charged (reading, refusing, the
answers themselves), measured with the thread's own CPU clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable

# A tenth of one core in the long run; half a second of CPU at once (a first
# snapshot of 10,000 sockets takes ~0.25 s).
SHARE = 0.1
BURST = 0.5


class CpuBudget:
    """A token bucket of CPU seconds for the thread that calls :meth:`charge`."""

    def __init__(
        self,
        share: float = SHARE,
        burst: float = BURST,
        clock: Callable[[], float] = time.monotonic,
        cpu_clock: Callable[[], float] = time.thread_time,
    ) -> None:
        self.share = share
        self.burst = burst
        self._clock = clock
        self._cpu_clock = cpu_clock
        self._tokens = burst
        self._refilled_at = clock()
        self._cpu_seen: float | None = None
        self.spent = 0.0  # CPU seconds charged in all

    def set(self, share: float, burst: float) -> None:
        """New limits, starting full (the CPU clock keeps running: nothing is missed)."""
        self.share = share
        self.burst = burst
        self._tokens = burst
        self._refilled_at = self._clock()

    def charge(self) -> None:
        """Charge the CPU time the calling thread used since its last call."""
        now = self._cpu_clock()
        if self._cpu_seen is not None:
            used = max(0.0, now - self._cpu_seen)
            self._tokens -= used
            self.spent += used
        self._cpu_seen = now

    @property
    def tokens(self) -> float:
        """CPU seconds left (negative: overspent), refilled up to now."""
        now = self._clock()
        elapsed = max(0.0, now - self._refilled_at)
        self._refilled_at = now
        self._tokens = min(self.burst, self._tokens + elapsed * self.share)
        return self._tokens

    def available(self) -> bool:
        """True while there is CPU time left to answer a request."""
        return self.tokens > 0.0

    def retry_after(self) -> float:
        """Seconds until there is CPU time again (0 when there is now)."""
        return max(0.0, -self.tokens) / self.share
