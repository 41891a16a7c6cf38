"""Class-level hooks on pyzmq: every socket's life, whatever made it.

Only lifecycle methods are wrapped (``__init__``, ``close``, ``bind``,
``connect``, ``unbind``, ``disconnect``, option setters, ``term`` and
``destroy``); ``send``/``recv`` are touched only in the opt-in traffic mode
(:mod:`zmqscope.instrument.traffic`), so by default the message path costs nothing.
The wrappers and what they record are in :mod:`zmqscope.instrument.wrappers`; this
module holds the entry points (install, uninstall, watch) that put the
wrappers on pyzmq's classes and take them off again. The state both share is
in :mod:`zmqscope.instrument.state`; what the rest of zmqscope reads of it
(the registry, the process, the first context's callbacks) is re-exported
here, the instrumentation's one interface.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import zmq

from zmqscope import _bounds as bounds
from zmqscope._defaults import DEFAULT_STACK_DEPTH
from zmqscope.instrument import origins, recording
from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument import traffic as _traffic
from zmqscope.instrument import wrappers as _wrappers
from zmqscope.instrument.frames import FrameFilter
from zmqscope.instrument.registry.entries import Site
from zmqscope.instrument.registry.store import Registry
from zmqscope.instrument.state import (
    TermObserver,
    call_site,
    entry_of,
    fds_exhausted,
    forget_first_context,
    internal_errors,
    note_thread,
    process_info,
    registry,
    when_first_context,
)

__all__ = [
    "DEFAULT_STACK_DEPTH",
    "TermObserver",
    "fds_exhausted",
    "forget_first_context",
    "ignore_file",
    "install",
    "internal_errors",
    "is_installed",
    "note_handed_to",
    "note_thread_by_object",
    "process_info",
    "registry",
    "reset_registry",
    "set_term_observer",
    "stop_walks_at",
    "uninstall",
    "watch",
    "when_first_context",
]


def _patch(table: list[tuple[Any, str, Callable[[Any], Any]]]) -> None:
    if shared.current.frames is None:
        shared.current.frames = FrameFilter()
    for cls, name, wrap in table:
        own = name in cls.__dict__
        original = getattr(cls, name)
        shared.current.originals.append((cls, name, own, cls.__dict__.get(name)))
        setattr(cls, name, wrap(original))


def _unpatch() -> None:
    for cls, name, own, original in reversed(shared.current.originals):
        if own:
            setattr(cls, name, original)
        else:
            delattr(cls, name)
    shared.current.originals.clear()


# -- public entry points (re-exported by zmqscope) -------------------------------


def install(traffic: bool = False, stack_depth: int = DEFAULT_STACK_DEPTH) -> None:
    """Record every socket and context in this process from now on.

    ``traffic=True`` also counts messages and bytes per socket, at a cost on
    every send and recv (see the benchmarks); it can be turned on only before
    the first socket is made or after ``uninstall()``.
    """
    stack_depth = bounds.stack_depth(stack_depth)
    with shared.current.lock:
        if shared.current.patched and traffic != shared.current.registry.traffic:
            # Switching traffic mode re-patches; sockets made before the
            # switch keep what they had (no counters, or frozen counters).
            _unpatch()
        shared.current.stack_depth = stack_depth
        shared.current.close_depth = min(shared.CLOSE_STACK_DEPTH, stack_depth)
        shared.current.installed = True
        # Paths are shown relative to where the process was when zmqscope
        # started in it, whatever directory the application moves to later.
        origins.fix_root()
        _threads.refresh()
        if not shared.current.patched:
            shared.current.registry.traffic = traffic
            _patch(_wrappers.lifecycle_patches())
            if traffic:
                _patch(_traffic.patches(note_thread_by_object, note_handed_to))
        if shared.current.frames is not None:
            shared.current.frames.depth = stack_depth


def note_thread_by_object(sock: Any) -> None:
    """Traffic mode's slow path: a send/recv from a thread other than the owner."""
    try:
        entry = entry_of(sock)
        if entry is not None:
            note_thread(entry, call_site())
    except Exception:
        shared.current.internal_errors += 1


def note_handed_to(sock: Any, loop: str) -> None:
    """Traffic mode: ``sock`` was handed to a C loop whose messages it cannot count."""
    try:
        entry = entry_of(sock)
        if entry is not None:
            shared.current.registry.handed_to(entry, loop)
    except Exception:
        shared.current.internal_errors += 1


def uninstall() -> None:
    """Remove every hook; pyzmq is exactly as it was. Records are kept."""
    with shared.current.lock:
        shared.current.installed = False
        shared.current.watched.clear()
        _unpatch()
        _traffic.forget_all()


def is_installed() -> bool:
    return shared.current.installed


def reset_registry() -> None:
    """Forget every record (hooks stay as they are)."""
    with shared.current.lock:
        traffic = shared.current.registry.traffic
        shared.current.registry = Registry()
        shared.current.registry.traffic = traffic
        _traffic.forget_all()


def ignore_file(path: str) -> None:
    """Treat frames of ``path`` as plumbing (e.g. the ``zmqscope`` launcher)."""
    with shared.current.lock:
        if shared.current.frames is None:
            shared.current.frames = FrameFilter()
        shared.current.frames.ignore(path)


def stop_walks_at(paths: tuple[str, ...]) -> tuple[str, ...]:
    """End every recorded stack at frames of these files (see FrameFilter.stop_at).

    Returns the paths set before, to put back when done.
    """
    with shared.current.lock:
        if shared.current.frames is None:
            shared.current.frames = FrameFilter()
        return shared.current.frames.stop_at(paths)


def set_term_observer(observer: TermObserver | None) -> None:
    shared.current.term_observer = observer


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
    with shared.current.lock:
        shared.current.watched.add(ctx.underlying)
        if not shared.current.patched:
            _patch(_wrappers.lifecycle_patches())
        entry = recording.context_entry(ctx)
        reg = shared.current.registry
        for sock in list(ctx._sockets):
            if sock.closed or reg.open_socket(sock.underlying) is not None:
                continue
            site = Site(time.time(), None)  # where and by whom it was made: unknown
            adopted = reg.socket_created(
                sock, sock.underlying, entry, sock._type_name, site, adopted=True
            )
            if adopted.traffic is not None:
                _traffic.follow(sock, adopted)  # traffic mode: count from now on
