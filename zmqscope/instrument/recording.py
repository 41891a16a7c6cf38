"""What each wrapper records of a socket's and a context's life (:mod:`.wrappers`
puts the wrappers on pyzmq's classes; a socket's endpoints and options are
:mod:`.recording_calls`').

A socket's creation and close, a context's creation and MAX_SOCKETS, a
refused socket() and the threads that start: each step runs
guarded (:func:`guarded`), so a failure inside zmqscope is counted
(``hooks.internal_errors()``) and never reaches the application. What it
records goes to the process's registry (:mod:`.state`), read at call time.
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from time import time as _time
from types import FrameType
from typing import Any

import zmq

from zmqscope import _own_context
from zmqscope._own_context import own_handles
from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument import traffic
from zmqscope.instrument.frames import RawStack, current_thread_ref
from zmqscope.instrument.registry.entries import THREAD_START, Site, thread_start
from zmqscope.instrument.registry.store import (
    ContextEntry,
    SocketEntry,
)

# The caller, inline: ``_active_get(_get_ident()) or _current_thread()`` is the
# calling thread's Thread, read straight from threading's table (the name is
# read when the record is built), or _threads' stand-in for any other caller
# (greenlets under gevent and eventlet: then the three are switched).
_get_ident, _active_get, _current_thread = _threads.lookup()


def _use_lookup(lookup: _threads.Lookup) -> None:
    global _get_ident, _active_get, _current_thread
    _get_ident, _active_get, _current_thread = lookup


_threads.on_change(_use_lookup)


def guarded(record: Callable[..., None]) -> Callable[..., None]:
    """Run a recording step; zmqscope's own failure never reaches the app."""

    @functools.wraps(record)
    def run(*args: Any) -> None:
        try:
            record(*args)
        except Exception:
            shared.current.internal_errors += 1

    return run


# A close() from pyzmq's finalizer means the application never closed it.
SOCKET_DEL_CODE = zmq.Socket.__del__.__code__
# pyzmq's process-wide helpers that make a context of their own, by the file
# whose code makes it: their sockets are pyzmq's, never the application's.
# zmq.utils.garbage is the zero-copy tracker (send(copy=False, track=True)):
# its thread makes a PULL, and the first tracked send a PUSH, on that context.
GARBAGE = "zmq.utils.garbage"
_HELPER_FILES = {
    os.path.join(os.path.dirname(os.path.abspath(zmq.__file__ or "")), "utils", "garbage.py"): (
        GARBAGE
    ),
}


# -- what each wrapper records ------------------------------------------------


def record_socket(sock: Any, stack: RawStack | None) -> None:
    """Every creation but the usual one (which the ``__init__`` wrapper records raw)."""
    state = shared.current
    reg = state.registry
    handle = sock.underlying
    ctx = getattr(sock, "context", None)
    context = reg.context(ctx.underlying) if ctx is not None else None
    frames = state.frames
    if (
        context is None
        or stack is None
        or frames is None
        or handle in reg.raw
        or handle in reg.by_handle
        or context.handle in own_handles
    ):
        found = _unusual_socket(sock, handle, ctx, stack)
        if found is None:
            return
        context, stack = found
    started = thread_start(_active_get(_get_ident()) or _current_thread())
    site = Site(_time(), current_thread_ref(), stack, frames, started)
    entry = reg.socket_created(sock, handle, context, sock._type_name, site)
    if entry.traffic is not None:
        traffic.follow(sock, entry)


def _unusual_socket(
    sock: Any, handle: int, ctx: Any, stack: RawStack | None
) -> tuple[ContextEntry | None, RawStack] | None:
    """A shadow, a context seen for the first time, or watch() mode.

    The context's record and the stack to record the socket with, or None
    when there is nothing to record.
    """
    state = shared.current
    existing = state.registry.open_socket(handle)
    if existing is not None:
        # A shadow (Socket.shadow, asyncio's internal shadow): same socket.
        traffic.follow(sock, existing)
        return None
    context = context_entry(ctx)
    if context is None and not (ctx is None and state.installed):
        return None  # a context nobody asked zmqscope to watch
    frames = state.frames
    if stack is None:
        # Watch mode walks after pyzmq's __init__: frames of this module,
        # the wrapper and pyzmq's own are passed over as plumbing.
        stack = frames.capture(state.stack_depth, 2) if frames is not None else ()
    return context, stack


def record_close(entry: SocketEntry, linger: Any, caller: FrameType | None) -> None:
    thread = current_thread_ref()
    state = shared.current
    if called_from_finalizer(caller):
        site = Site(_time(), thread)
        collected = True
    else:
        frames = state.frames
        stack = frames.capture(state.close_depth, 2) if frames else ()
        site = Site(_time(), thread, stack, frames)
        collected = False
        shared.note_thread(entry, site, thread)
    state.registry.socket_closed(entry, site, collected, None if linger is None else int(linger))


def frame_at(depth: int) -> FrameType | None:
    """``sys._getframe(depth + 1)``, or None past the bottom of the stack.

    A wrapper can be the bottom Python frame: called from C, e.g. as an
    ``atexit`` function (``atexit.register(sock.close)``).
    """
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def called_from_finalizer(caller: FrameType | None) -> bool:
    """True when pyzmq's ``Socket.__del__`` is closing a socket being collected.

    ``caller`` called ``close()``. A subclass's own ``close`` may sit in
    between (``_AsyncSocket.close`` for asyncio sockets), so the walk goes
    on up through frames of functions named ``close`` only: the frames above
    an application's call are not read (each frame read makes CPython build
    an object for it).
    """
    for _ in range(3):
        if caller is None:
            return False
        code = caller.f_code
        if code is SOCKET_DEL_CODE:
            return True
        if code.co_name != "close":
            return False
        caller = caller.f_back
    return False


@guarded
def record_context(ctx: Any) -> None:
    if _own_context.making_one():
        return
    if shared.current.installed and ctx.underlying not in own_handles:
        site = shared.captured_site()
        # Frames: this function, its guard, the __init__ wrapper, its caller.
        internal = pyzmq_helper(ctx, frame_at(3))
        limit = shared.max_sockets_of(ctx)
        shared.current.registry.context_created(
            ctx.underlying, site, False, internal=internal, max_sockets=limit
        )
        shared.context_recorded()


def context_entry(ctx: Any) -> ContextEntry | None:
    """The record of ``ctx`` if zmqscope is looking at it, else None.

    A context made before zmqscope was installed is adopted on first sight.
    """
    if ctx is None:
        return None
    handle = ctx.underlying
    entry = shared.current.registry.context(handle)
    if entry is not None and shared.current.installed and handle not in own_handles:
        return entry  # the usual case
    if not shared.looking_at(handle):
        return None
    if entry is not None:
        return entry
    internal = pyzmq_helper(ctx, None)
    return shared.current.registry.context_created(
        handle, None, True, internal=internal, max_sockets=shared.max_sockets_of(ctx)
    )


def pyzmq_helper(ctx: Any, caller: FrameType | None) -> str | None:
    """The pyzmq helper that made ``ctx`` for itself, or None for the application's.

    ``caller`` called the context's constructor (None: not known, the context
    is being adopted). Measured on pyzmq 26-27: the zero-copy tracker makes
    its context in ``GarbageCollector.context``, in its own thread, and keeps
    it as ``zmq.utils.garbage.gc._context``. Contexts are made rarely: a few
    frames read here cost the socket hooks nothing.
    """
    for _ in range(3):  # a subclass's constructor may sit in between
        if caller is None:
            break
        helper = _HELPER_FILES.get(os.path.abspath(caller.f_code.co_filename))
        if helper is not None:
            return helper
        caller = caller.f_back
    garbage = sys.modules.get(GARBAGE)
    known = getattr(getattr(garbage, "gc", None), "_context", None)
    try:
        if known is not None and known.underlying == ctx.underlying:
            return GARBAGE
    except Exception:  # a context already closed has no handle to compare
        pass
    return None


def record_thread_start(thread: Any) -> None:
    """Keep where and when ``thread`` is being started, and by which thread.

    A socket made in a thread a library started is best explained by the
    line that started the thread. Threads start rarely: this walks the stack
    at once, like a socket's creation does, and keeps the raw walk in the
    thread object itself (see _entries.thread_start).
    """
    try:
        own = thread.__dict__
        if THREAD_START in own:
            return  # started already: Thread.start() is about to say so
        state = shared.current
        frames = state.frames
        if frames is None:
            return
        # Frames passed over: this function and the start() wrapper.
        stack = frames.capture(state.stack_depth, 3)
        own[THREAD_START] = Site(_time(), current_thread_ref(), stack, frames)
    except Exception:
        shared.current.internal_errors += 1


@guarded
def record_max_sockets(ctx: Any) -> None:
    """``ctx.set(zmq.MAX_SOCKETS, n)`` (or ``ctx.max_sockets = n``), as libzmq took it."""
    known = shared.current.registry.context(ctx.underlying)
    entry = context_entry(ctx)
    limit = shared.max_sockets_of(ctx)
    # A context seen here for the first time was adopted with the value just
    # set: whether its first socket came before is not known.
    if known is not None and entry is known and limit is not None:
        shared.current.registry.max_sockets_set(entry, limit)


@guarded
def record_refusal(args: tuple[Any, ...], kwargs: dict[str, Any], stack: Any, error: Any) -> None:
    """libzmq refused a socket (EMFILE): its context's MAX_SOCKETS or the fd limit."""
    state = shared.current
    ctx = args[0] if args else kwargs.get("context")
    entry = context_entry(ctx) if isinstance(ctx, zmq.Context) else None
    if entry is None:
        return
    frames = state.frames
    if stack is None:
        stack = frames.capture(state.stack_depth, 2) if frames is not None else ()
    site = Site(_time(), current_thread_ref(), stack, frames)
    exhausted = shared.fds_exhausted()
    state.registry.socket_refused(entry, site, int(error.errno), str(error.strerror), exhausted)
