"""Which test started each thread, so that a test is failed only for its own code's sockets.

A socket made during test B by a thread that was already running when B
began (a heartbeat thread an earlier test left behind, a wider fixture's
server thread) was not made by B's code: B is not failed for it. The
plugin notes which threads run each time a test's window opens; a thread
seen for the first time was started since the last window opened, that
is during the previous test (or before the first one). Noting costs one
comparison of ``threading``'s table of running threads per test, and a
copy only when it changed.

A pool's worker thread (``concurrent.futures``, asyncio's default executor,
``multiprocessing.pool.ThreadPool``) outlives the test that started it and
runs whatever later tests submit: its sockets count as the test's during
which they were made, as they always did.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zmqscope.instrument.registry.journal import creator
from zmqscope.instrument.registry.store import SocketEntry
from zmqscope.model import SchemaError, ThreadRef

# threading's own table of running threads, ident -> Thread: compared and
# copied as it is (both atomic under the GIL) rather than rebuilt as a list
# by threading.enumerate() for every test.
_ACTIVE: dict[int, threading.Thread] | None = getattr(threading, "_active", None)
# Functions a pool's worker threads run: (module, name), looked up when needed.
_POOL_WORKERS = (("concurrent.futures.thread", "_worker"), ("multiprocessing.pool", "worker"))

Threads = Mapping[int, threading.Thread]


@dataclass(frozen=True, slots=True)
class ThreadOrigin:
    """A thread that made sockets during a test whose code did not start it.

    ``started_in`` is the node id of the test during which it was started
    (its setup, call or teardown), empty when it was running before the
    first test; ``started_by`` names the wider fixture whose setup started
    it (``module-scoped fixture 'server'``), if one did.
    """

    thread: ThreadRef
    started_in: str
    started_by: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "thread": self.thread.to_dict(),
            "started_in": self.started_in,
            "started_by": self.started_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadOrigin:
        try:
            started_by = data.get("started_by")
            return cls(
                ThreadRef.from_dict(data["thread"]),
                str(data["started_in"]),
                None if started_by is None else str(started_by),
            )
        except (KeyError, TypeError) as exc:
            raise SchemaError(f"not a thread origin: {exc}") from None


class ThreadBook:
    """Notes the running threads as each test's window opens; tells who started a thread."""

    def __init__(self) -> None:
        self._seen: Threads = {}  # as the last window opened; replaced, never changed
        # ident -> (the thread, the test it was first seen after, the fixture that started it)
        self._origins: dict[int, tuple[threading.Thread, str, str | None]] = {}
        self._current = ""  # the node id of the test whose window opened last
        self.runner = threading.get_ident()  # the thread that runs the tests

    def opened(self, nodeid: str) -> Threads:
        """A test's window opens: the threads running now, which are not its own."""
        active = _ACTIVE
        if active is None:  # (an interpreter without threading._active)
            active = {t.ident or 0: t for t in threading.enumerate()}
        if active != self._seen:  # the usual case: no thread started or ended since
            now = active.copy()
            self._note(now, self._current, None)
            self._seen = now
        self._current = nodeid
        self.runner = threading.get_ident()
        return self._seen

    @staticmethod
    def running() -> Threads:
        """The threads running now (before a wider fixture's setup, say)."""
        return (_ACTIVE if _ACTIVE is not None else {}).copy()

    def started_by(self, before: Threads, fixture: str) -> None:
        """``fixture``'s setup ran since ``before``: the threads started meanwhile are its."""
        now = self.running()
        new = {i: t for i, t in now.items() if before.get(i) is not t}
        if new:
            self._note(new, self._current, fixture)

    def _note(self, threads: Threads, test: str, fixture: str | None) -> None:
        origins = self._origins
        for ident, thread in threads.items():
            known = origins.get(ident)
            if known is None or known[0] is not thread:
                origins[ident] = (thread, test, fixture)
        if fixture is None:  # a full table: forget threads that have ended
            for ident in [i for i in origins if i not in threads]:
                del origins[ident]

    def origin(self, entry: SocketEntry, before: Threads) -> ThreadOrigin | None:
        """Where the thread that made ``entry`` came from, if the test's code did not start it.

        ``before``: the threads running when the test's window opened. A
        thread a wider fixture's setup started is never a test's, even when
        that setup ran in this test's window. None when the socket is the
        test's: made by the thread running the test, by a thread started
        since the window opened, or by a pool's worker.
        """
        made_by = entry.created.thread
        if made_by is None or made_by[0] == self.runner:
            return None
        ident, name = made_by
        known = self._origins.get(ident)
        if known is not None and known[2] is not None:
            thread: threading.Thread | None = known[0]  # a wider fixture's
        else:
            thread = before.get(ident)  # running before the test began
        if thread is None or not _same_thread(entry, thread, name) or _pool_worker(thread):
            return None
        test, fixture = (known[1], known[2]) if known and known[0] is thread else ("", None)
        return ThreadOrigin(ThreadRef(ident, name), test, fixture)


def _same_thread(entry: SocketEntry, thread: threading.Thread, name: str) -> bool:
    """True if ``entry``'s socket was made by ``thread`` (idents are reused)."""
    made_by = creator(entry)  # the Thread object itself, on the usual path
    if isinstance(made_by, threading.Thread):
        return made_by is thread
    return thread.name == name


def _pool_worker(thread: threading.Thread) -> bool:
    """True for a worker thread of a pool: it runs what a test submitted."""
    target = getattr(thread, "_target", None)  # set while the thread runs
    if target is None:
        return False
    for module, name in _POOL_WORKERS:
        found = getattr(sys.modules.get(module), name, None)
        if found is not None and target is found:
            return True
    return False
