"""Why does ``term()`` hang? A watchdog that names the sockets it waits for.

When a ``Context.term()`` or ``destroy()`` is still blocked after the grace
period, the watchdog thread works out which sockets keep it waiting — from
the registry and ``sys._current_frames()`` only, never touching a socket —
stores them as culprits (reports, the server and the TUI show them) and tells
its listeners, without interrupting the wait. When the term finally returns,
listeners hear how long it took.
"""

from __future__ import annotations

import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from zmqscope import _native
from zmqscope._defaults import DEFAULT_GRACE
from zmqscope.instrument import hooks, origins
from zmqscope.instrument import state as shared
from zmqscope.instrument.culprits import find_culprits
from zmqscope.instrument.registry.entries import ContextEntry
from zmqscope.model import Culprit


@dataclass(frozen=True)
class BlockedTerm:
    """What listeners get when a term() outlives the grace period."""

    context: str
    since: float
    culprits: tuple[Culprit, ...]


@dataclass(frozen=True)
class TermDone:
    """What listeners get when a term() that was reported blocked returns."""

    context: str
    waited: float


Listener = Callable[[BlockedTerm | TermDone], None]


class _Pending:
    __slots__ = ("context", "deadline", "fired", "started")

    def __init__(self, context: ContextEntry, started: float, deadline: float) -> None:
        self.context = context
        self.started = started
        self.deadline = deadline
        self.fired = False


class TermWatchdog:
    """One daemon thread that wakes when the earliest pending term() is overdue.

    A real OS thread waiting on real locks, also under gevent or eventlet
    (:mod:`zmqscope._native`): a blocked ``term()`` holds the application's
    only OS thread there, and a greenlet watchdog would never run.
    """

    def __init__(self, grace: float = DEFAULT_GRACE) -> None:
        self.grace = grace
        self._pending: set[_Pending] = set()
        self._lock = _native.allocate_lock()
        self._wake = _native.Wakeup()
        self._thread: _native.Thread | None = None
        self._listeners: list[Listener] = []
        self._prepare: list[Callable[[], None]] = []
        _watchdogs.add(self)

    def add_listener(self, listener: Listener, prepare: Callable[[], None] | None = None) -> None:
        """Call ``listener`` with every event; ``prepare`` imports what it needs.

        ``prepare`` runs on the watchdog's thread when it starts, while forks
        wait (:func:`zmqscope._native.fork_waits`): the listener then imports
        nothing while the application could fork.
        """
        self._listeners.append(listener)
        if prepare is not None and prepare not in self._prepare:
            self._prepare.append(prepare)

    def remove_listener(self, listener: Listener) -> bool:
        """Stop calling ``listener``; False if it was not listening."""
        if listener in self._listeners:
            self._listeners.remove(listener)
            return True
        return False

    # -- hooks.TermObserver ------------------------------------------------

    def term_started(self, entry: ContextEntry) -> object:
        now = time.monotonic()
        pending = _Pending(entry, time.time(), now + self.grace)
        with self._lock:
            self._pending.add(pending)
            self._ensure_thread()
        self._wake.set()
        return pending

    def term_finished(self, token: object) -> None:
        if not isinstance(token, _Pending):
            return
        with self._lock:
            self._pending.discard(token)
        if token.fired:
            self._tell(TermDone(token.context.id, time.time() - token.started))

    # -- the watchdog thread -----------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            thread = _native.Thread(self._run, "zmqscope-term-watchdog", self._prepare_thread)
            self._thread = thread.start()

    def _prepare_thread(self) -> None:
        # A term() is overdue only after its grace period: the imports are
        # long done by then.
        origins.origins()  # the standard library's folders, to classify stacks
        for prepare in list(self._prepare):
            try:
                prepare()
            except Exception:
                shared.current.internal_errors += 1

    def _run(self) -> None:
        while True:
            overdue = self._wait_for_overdue()
            for pending in overdue:
                self._fire(pending)

    def _wait_for_overdue(self) -> list[_Pending]:
        while True:
            with self._lock:
                now = time.monotonic()
                waiting = [p for p in self._pending if not p.fired]
                overdue = [p for p in waiting if p.deadline <= now]
                if overdue:
                    for pending in overdue:
                        pending.fired = True
                    return overdue
                timeout = min((p.deadline for p in waiting), default=now + 3600) - now
            # A term() that starts meanwhile raised the flag: no wake-up is lost.
            self._wake.wait(timeout)

    def _after_fork_in_child(self) -> None:
        # The watchdog's thread is not in the child, and its lock may have
        # been held by it at the fork.
        self._lock = _native.allocate_lock()
        self._wake = _native.Wakeup()
        self._thread = None
        self._pending = set()  # the parent's term() calls, not the child's

    def _fire(self, pending: _Pending) -> None:
        try:
            culprits = find_culprits(pending.context)
            # A term() that returned just as its grace ran out was told
            # TermDone already: no BlockedTerm after it.
            if hooks.registry().term_blocked(pending.context, culprits):
                self._tell(BlockedTerm(pending.context.id, pending.started, culprits))
        except Exception:
            shared.current.internal_errors += 1

    def _tell(self, event: BlockedTerm | TermDone) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                shared.current.internal_errors += 1


_watchdogs: weakref.WeakSet[TermWatchdog] = weakref.WeakSet()


def _reset_watchdogs_in_child() -> None:
    for watchdog in list(_watchdogs):
        watchdog._after_fork_in_child()


os.register_at_fork(after_in_child=_reset_watchdogs_in_child)
