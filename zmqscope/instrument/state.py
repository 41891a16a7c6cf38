"""The process's instrumentation state, shared by the hooks, the wrappers and the watchdog.

:data:`current` is the one :class:`State` (a forked child gets a new one):
what is installed, the registry, the frame filter, the term() observer and
the count of zmqscope's own swallowed errors. The wrappers
(:mod:`.wrappers`) read it on every call they record; the hooks
(:mod:`.hooks`) change it when they install, uninstall or watch. Also here:
what both need to read from it (the caller's site, a socket's record, the
first context's callbacks). Imports neither :mod:`.hooks` nor
:mod:`.wrappers`.
"""

from __future__ import annotations

import errno
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import zmq

from zmqscope import _native
from zmqscope._defaults import DEFAULT_STACK_DEPTH
from zmqscope._own_context import own_handles
from zmqscope.instrument import origins, threads, traffic
from zmqscope.instrument.frames import FrameFilter, RawFrame, current_thread_ref, thread_alive
from zmqscope.instrument.registry.entries import RawThread, Site, SiteRef
from zmqscope.instrument.registry.store import ContextEntry, Registry, SocketEntry
from zmqscope.model import ProcessInfo

# A close is explained by where it was called from; a short stack keeps the
# close path cheap (socket()+close() is measured in benchmarks/).
CLOSE_STACK_DEPTH = 3


class TermObserver(Protocol):
    """Told when a ``term()``/``destroy()`` starts and ends (the shutdown watchdog)."""

    def term_started(self, entry: ContextEntry) -> object: ...

    def term_finished(self, token: object) -> None: ...


@dataclass
class State:
    """What is installed. One per process (:data:`current`, new in a forked child)."""

    registry: Registry = field(default_factory=Registry)
    installed: bool = False  # record every context
    watched: set[int] = field(default_factory=set)  # context handles (watch mode)
    stack_depth: int = DEFAULT_STACK_DEPTH
    close_depth: int = CLOSE_STACK_DEPTH  # never more than stack_depth
    # (class or module, name, whether it had its own, what it had)
    originals: list[tuple[Any, str, bool, Any]] = field(default_factory=list)
    frames: FrameFilter | None = None
    term_observer: TermObserver | None = None
    internal_errors: int = 0
    # Called once, with nothing held, after the first context is recorded
    # (zmqscope run and ZMQSCOPE=1 start their server then: see when_first_context).
    first_context: list[Callable[[], None]] = field(default_factory=list)
    # A real lock even under gevent: zmqscope's own threads take it too.
    lock: Any = field(default_factory=_native.rlock)
    # os.fork(): the pid this process was forked from, how many it forked.
    forked_from: int | None = None
    forks: int = 0

    @property
    def patched(self) -> bool:
        return bool(self.originals)


current = State()


def registry() -> Registry:
    """The process's registry (shared by install and watch)."""
    return current.registry


def internal_errors() -> int:
    """How many times a hook failed inside zmqscope (and was swallowed)."""
    return current.internal_errors


def captured_site(depth: int | None = None) -> Site:
    """The caller's thread and stack (resolved when first read), stamped now."""
    frames = current.frames
    stack = frames.capture(depth or current.stack_depth, 2) if frames is not None else ()
    return Site(time.time(), current_thread_ref(), stack, frames)


def call_site() -> RawFrame | None:
    """The application frame that made the current call into pyzmq."""
    frames = current.frames
    return frames.call_site(2) if frames is not None else None


def endpoint_text(addr: Any) -> str:
    """An endpoint or option value as text (bytes decoded, never failing)."""
    return addr.decode("utf-8", "replace") if isinstance(addr, bytes) else str(addr)


def fds_exhausted() -> bool | None:
    """Whether this process has no file descriptor free now (None: cannot tell)."""
    try:
        os.close(os.dup(2))
    except OSError as error:
        return True if error.errno == errno.EMFILE else None
    return False


def max_sockets_of(ctx: Any) -> int | None:
    """``ctx.get(zmq.MAX_SOCKETS)``, read by the application's own thread, or None.

    Read where the application calls into pyzmq, never from zmqscope's
    threads: a context may be terminated (and freed) at any moment.
    """
    try:
        return int(ctx.get(zmq.MAX_SOCKETS))
    except Exception:
        return None


def looking_at(context_handle: int) -> bool:
    """Whether the context at ``context_handle`` is recorded (installed or watched)."""
    if context_handle in own_handles:
        return False
    return current.installed or context_handle in current.watched


def entry_of(sock: Any) -> SocketEntry | None:
    """The open record of ``sock``, or None."""
    try:
        handle = sock.underlying
    except Exception:
        return None
    return current.registry.open_socket(handle)


def when_first_context(callback: Callable[[], None]) -> None:
    """Call ``callback`` once, right after the next context is recorded.

    What zmqscope needs only in a process that uses ZeroMQ (its server)
    starts then: a process that never makes a context pays nothing, and no
    thread of zmqscope's exists before an application that monkey-patches
    with gevent or eventlet at start-up (during an import, say) has done so.
    """
    with current.lock:
        if callback not in current.first_context:
            current.first_context.append(callback)


def forget_first_context(callback: Callable[[], None]) -> None:
    """Take back a :func:`when_first_context` that has not run yet."""
    with current.lock:
        while callback in current.first_context:
            current.first_context.remove(callback)


def context_recorded() -> None:
    """A context was recorded: run what waited for it (see :func:`when_first_context`)."""
    threads.refresh()  # gevent and eventlet patch before making contexts, as a rule
    if not current.first_context:
        return
    with current.lock:
        callbacks = list(current.first_context)
        current.first_context.clear()
    for callback in callbacks:
        try:
            callback()
        except Exception:
            current.internal_errors += 1


def note_thread(entry: SocketEntry, site: SiteRef, thread: RawThread | None = None) -> None:
    """Record which thread called into ``entry`` (the registry warns if it is shared)."""
    thread = thread or current_thread_ref()
    if entry.owner == thread:
        entry.owner_site = site  # the usual case: the owner again, nothing to check
        return
    current.registry.thread_used(entry, thread, site, thread_alive)


def process_info() -> ProcessInfo:
    return ProcessInfo(
        pid=os.getpid(),
        argv=tuple(sys.argv),
        python=sys.version.split()[0],
        pyzmq=zmq.__version__,
        libzmq=zmq.zmq_version(),
        root=origins.project_root(),
        forked_from=current.forked_from,
        forks=current.forks,
    )


def _after_fork_in_child() -> None:
    # The parent's records describe the parent's sockets, and its lock may be
    # held by a thread that does not exist here: start over.
    global current
    old = current
    current = State(
        installed=old.installed,
        watched=set(old.watched),
        stack_depth=old.stack_depth,
        close_depth=old.close_depth,
        originals=old.originals,
        frames=old.frames,
        term_observer=old.term_observer,
        first_context=list(old.first_context),
        forked_from=os.getppid(),
    )
    current.registry.traffic = old.registry.traffic
    traffic.forget_all()


def _after_fork_in_parent() -> None:
    current.forks += 1


os.register_at_fork(after_in_child=_after_fork_in_child, after_in_parent=_after_fork_in_parent)
