"""Class-level hooks on pyzmq: every socket's life, whatever made it.

Only lifecycle methods are wrapped (``__init__``, ``close``, ``bind``,
``connect``, ``unbind``, ``disconnect``, option setters, ``term`` and
``destroy``); ``send``/``recv`` are touched only in the opt-in traffic mode
(:mod:`zmqscope.instrument.traffic`), so by default the message path costs nothing.
The wrappers and what they record are in :mod:`zmqscope.instrument.wrappers`; this
module holds the process's state and the entry points (install, uninstall,
watch) that put the wrappers on pyzmq's classes and take them off again.
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

from zmqscope import _bounds as bounds
from zmqscope import _native
from zmqscope._own_context import own_handles
from zmqscope.instrument import origins
from zmqscope.instrument import threads as _threads
from zmqscope.instrument import traffic as _traffic
from zmqscope.instrument import wrappers as _wrappers
from zmqscope.instrument.frames import FrameFilter, RawFrame, current_thread_ref, thread_alive
from zmqscope.instrument.registry.entries import RawThread, Site, SiteRef
from zmqscope.instrument.registry.store import ContextEntry, Registry, SocketEntry
from zmqscope.model import ProcessInfo

DEFAULT_STACK_DEPTH = 12


class TermObserver(Protocol):
    """Told when a ``term()``/``destroy()`` starts and ends (the shutdown watchdog)."""

    def term_started(self, entry: ContextEntry) -> object: ...

    def term_finished(self, token: object) -> None: ...


@dataclass
class _State:
    """What is installed. One per process (reset in a forked child)."""

    registry: Registry = field(default_factory=Registry)
    installed: bool = False  # record every context
    watched: set[int] = field(default_factory=set)  # context handles (watch mode)
    stack_depth: int = DEFAULT_STACK_DEPTH
    close_depth: int = _wrappers.CLOSE_STACK_DEPTH  # never more than stack_depth
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


_state = _State()


def registry() -> Registry:
    """The process's registry (shared by install and watch)."""
    return _state.registry


def internal_errors() -> int:
    """How many times a hook failed inside zmqscope (and was swallowed)."""
    return _state.internal_errors


def captured_site(depth: int | None = None) -> Site:
    """The caller's thread and stack (resolved when first read), stamped now."""
    frames = _state.frames
    stack = frames.capture(depth or _state.stack_depth, 2) if frames is not None else ()
    return Site(time.time(), current_thread_ref(), stack, frames)


def call_site() -> RawFrame | None:
    """The application frame that made the current call into pyzmq."""
    frames = _state.frames
    return frames.call_site(2) if frames is not None else None


def _text(addr: Any) -> str:
    return addr.decode("utf-8", "replace") if isinstance(addr, bytes) else str(addr)


def _context_entry(ctx: Any) -> ContextEntry | None:
    """The record of ``ctx`` if zmqscope is looking at it, else None.

    A context made before zmqscope was installed is adopted on first sight.
    """
    if ctx is None:
        return None
    handle = ctx.underlying
    entry = _state.registry.context(handle)
    if entry is not None and _state.installed and handle not in own_handles:
        return entry  # the usual case
    if not _looking_at(handle):
        return None
    if entry is not None:
        return entry
    internal = _wrappers.pyzmq_helper(ctx, None)
    return _state.registry.context_created(
        handle, None, True, internal=internal, max_sockets=max_sockets_of(ctx)
    )


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


def _looking_at(context_handle: int) -> bool:
    if context_handle in own_handles:
        return False
    return _state.installed or context_handle in _state.watched


def _entry_of(sock: Any) -> SocketEntry | None:
    try:
        handle = sock.underlying
    except Exception:
        return None
    return _state.registry.open_socket(handle)


def when_first_context(callback: Callable[[], None]) -> None:
    """Call ``callback`` once, right after the next context is recorded.

    What zmqscope needs only in a process that uses ZeroMQ (its server)
    starts then: a process that never makes a context pays nothing, and no
    thread of zmqscope's exists before an application that monkey-patches
    with gevent or eventlet at start-up (during an import, say) has done so.
    """
    with _state.lock:
        if callback not in _state.first_context:
            _state.first_context.append(callback)


def forget_first_context(callback: Callable[[], None]) -> None:
    """Take back a :func:`when_first_context` that has not run yet."""
    with _state.lock:
        while callback in _state.first_context:
            _state.first_context.remove(callback)


def context_recorded() -> None:
    """A context was recorded: run what waited for it (see :func:`when_first_context`)."""
    _threads.refresh()  # gevent and eventlet patch before making contexts, as a rule
    if not _state.first_context:
        return
    with _state.lock:
        callbacks = list(_state.first_context)
        _state.first_context.clear()
    for callback in callbacks:
        try:
            callback()
        except Exception:
            _state.internal_errors += 1


def note_thread(entry: SocketEntry, site: SiteRef, thread: RawThread | None = None) -> None:
    """Record which thread called into ``entry`` (the registry warns if it is shared)."""
    thread = thread or current_thread_ref()
    if entry.owner == thread:
        entry.owner_site = site  # the usual case: the owner again, nothing to check
        return
    _state.registry.thread_used(entry, thread, site, thread_alive)


def _patch(table: list[tuple[Any, str, Callable[[Any], Any]]]) -> None:
    if _state.frames is None:
        _state.frames = FrameFilter()
    for cls, name, wrap in table:
        own = name in cls.__dict__
        original = getattr(cls, name)
        _state.originals.append((cls, name, own, cls.__dict__.get(name)))
        setattr(cls, name, wrap(original))


def _unpatch() -> None:
    for cls, name, own, original in reversed(_state.originals):
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)
    _state.originals.clear()


# -- public entry points (re-exported by zmqscope) -------------------------------


def install(traffic: bool = False, stack_depth: int = DEFAULT_STACK_DEPTH) -> None:
    """Record every socket and context in this process from now on.

    ``traffic=True`` also counts messages and bytes per socket, at a cost on
    every send and recv (see the benchmarks); it can be turned on only before
    the first socket is made or after ``uninstall()``.
    """
    stack_depth = bounds.stack_depth(stack_depth)
    with _state.lock:
        if _state.patched and traffic != _state.registry.traffic:
            # Switching traffic mode re-patches; sockets made before the
            # switch keep what they had (no counters, or frozen counters).
            _unpatch()
        _state.stack_depth = stack_depth
        _state.close_depth = min(_wrappers.CLOSE_STACK_DEPTH, stack_depth)
        _state.installed = True
        # Paths are shown relative to where the process was when zmqscope
        # started in it, whatever directory the application moves to later.
        origins.fix_root()
        _threads.refresh()
        if not _state.patched:
            _state.registry.traffic = traffic
            _patch(_wrappers.lifecycle_patches())
            if traffic:
                _patch(_traffic.patches(note_thread_by_object, note_handed_to))
        if _state.frames is not None:
            _state.frames.depth = stack_depth


def note_thread_by_object(sock: Any) -> None:
    """Traffic mode's slow path: a send/recv from a thread other than the owner."""
    try:
        entry = _entry_of(sock)
        if entry is not None:
            note_thread(entry, call_site())
    except Exception:
        _state.internal_errors += 1


def note_handed_to(sock: Any, loop: str) -> None:
    """Traffic mode: ``sock`` was handed to a C loop whose messages it cannot count."""
    try:
        entry = _entry_of(sock)
        if entry is not None:
            _state.registry.handed_to(entry, loop)
    except Exception:
        _state.internal_errors += 1


def uninstall() -> None:
    """Remove every hook; pyzmq is exactly as it was. Records are kept."""
    with _state.lock:
        _state.installed = False
        _state.watched.clear()
        _unpatch()
        _traffic.forget_all()


def is_installed() -> bool:
    return _state.installed


def reset_registry() -> None:
    """Forget every record (hooks stay as they are)."""
    with _state.lock:
        traffic = _state.registry.traffic
        _state.registry = Registry()
        _state.registry.traffic = traffic
        _traffic.forget_all()


def ignore_file(path: str) -> None:
    """Treat frames of ``path`` as plumbing (e.g. the ``zmqscope`` launcher)."""
    with _state.lock:
        if _state.frames is None:
            _state.frames = FrameFilter()
        _state.frames.ignore(path)


def stop_walks_at(paths: tuple[str, ...]) -> tuple[str, ...]:
    """End every recorded stack at frames of these files (see FrameFilter.stop_at).

    Returns the paths set before, to put back when done.
    """
    with _state.lock:
        if _state.frames is None:
            _state.frames = FrameFilter()
        return _state.frames.stop_at(paths)


def set_term_observer(observer: TermObserver | None) -> None:
    _state.term_observer = observer


def watch(ctx: zmq.Context[Any]) -> None:
    """Record the sockets of one existing context (e.g. ``Context.instance()``).

    Sockets it already has are adopted: their type is known, their creation
    site and endpoints are not.
    """
    if not isinstance(ctx, zmq.Context):
        raise TypeError(f"watch() needs a zmq.Context, not {type(ctx).__name__}")
    if ctx.closed:
        raise ValueError("cannot watch a context that is already terminated")
    _threads.refresh()
    with _state.lock:
        _state.watched.add(ctx.underlying)
        if not _state.patched:
            _patch(_wrappers.lifecycle_patches())
        entry = _context_entry(ctx)
        reg = _state.registry
        for sock in list(ctx._sockets):
            if sock.closed or reg.open_socket(sock.underlying) is not None:
                continue
            site = Site(time.time(), None)  # where and by whom it was made: unknown
            adopted = reg.socket_created(
                sock, sock.underlying, entry, sock._type_name, site, adopted=True
            )
            if adopted.traffic is not None:
                _traffic.follow(sock, adopted)  # traffic mode: count from now on


def process_info() -> ProcessInfo:
    return ProcessInfo(
        pid=os.getpid(),
        argv=tuple(sys.argv),
        python=sys.version.split()[0],
        pyzmq=zmq.__version__,
        libzmq=zmq.zmq_version(),
        root=origins.project_root(),
        forked_from=_state.forked_from,
        forks=_state.forks,
    )


def _after_fork_in_child() -> None:
    # The parent's records describe the parent's sockets, and its lock may be
    # held by a thread that does not exist here: start over.
    global _state
    old = _state
    _state = _State(
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
    _state.registry.traffic = old.registry.traffic
    _traffic.forget_all()


def _after_fork_in_parent() -> None:
    _state.forks += 1


os.register_at_fork(after_in_child=_after_fork_in_child, after_in_parent=_after_fork_in_parent)
