"""The wrappers installed on pyzmq's classes, and what each one records.

Each wrapper calls pyzmq's own method first and records afterwards, so
return values and exceptions are pyzmq's; recording runs guarded, so a
failure inside zmqscope is counted (``hooks.internal_errors()``) and never
reaches the application. The state they record into lives in
:mod:`zmqscope.instrument.hooks`, read at call time (a forked child gets a new one).
"""

from __future__ import annotations

import errno
import functools
import os
import sys
import threading
from collections.abc import Callable
from time import time as _time
from types import FrameType
from typing import Any, TypeVar

import zmq

from zmqscope import _own_context
from zmqscope._own_context import own_handles
from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument import traffic
from zmqscope.instrument.frames import RawFrame, RawStack, current_thread_ref
from zmqscope.instrument.registry.entries import THREAD_START, Site, thread_start
from zmqscope.instrument.registry.store import (
    CALL_ENDPOINT,
    CALL_ENDPOINT_REMOVED,
    CALL_LINGER,
    CALL_OPTION,
    ContextEntry,
    Registry,
    SocketEntry,
)
from zmqscope.model import EndpointOp

F = TypeVar("F", bound=Callable[..., Any])
# The caller, inline: ``_active_get(_get_ident()) or _current_thread()`` is the
# calling thread's Thread, read straight from threading's table (the name is
# read when the record is built), or _threads' stand-in for any other caller
# (greenlets under gevent and eventlet: then the three are switched).
_get_ident, _active_get, _current_thread = _threads.lookup()


def _use_lookup(lookup: _threads.Lookup) -> None:
    global _get_ident, _active_get, _current_thread
    _get_ident, _active_get, _current_thread = lookup


_threads.on_change(_use_lookup)


def _guarded(record: Callable[..., None]) -> Callable[..., None]:
    """Run a recording step; zmqscope's own failure never reaches the app."""

    @functools.wraps(record)
    def run(*args: Any) -> None:
        try:
            record(*args)
        except Exception:
            shared.current.internal_errors += 1

    return run


# A close() from pyzmq's finalizer means the application never closed it.
_SOCKET_DEL_CODE = zmq.Socket.__del__.__code__
# pyzmq's code objects that tell where a LINGER value came from.
_LINGER_SOURCES = {
    zmq.Context.socket.__code__: "context",  # ctx.sockopts applied to a new socket
    zmq.Context.destroy.__code__: "destroy",  # ctx.destroy(linger=...)
}
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
_LINGER = int(zmq.LINGER)
_MAX_SOCKETS = int(zmq.MAX_SOCKETS)
_EMFILE = errno.EMFILE
_SUBSCRIBE, _UNSUBSCRIBE = int(zmq.SUBSCRIBE), int(zmq.UNSUBSCRIBE)
_MAX_OPTION_TEXT = 80


# -- what each wrapper records ------------------------------------------------


def _record_socket(sock: Any, stack: RawStack | None) -> None:
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


def _record_close(entry: SocketEntry, linger: Any, caller: FrameType | None) -> None:
    thread = current_thread_ref()
    state = shared.current
    if _called_from_finalizer(caller):
        site = Site(_time(), thread)
        collected = True
    else:
        frames = state.frames
        stack = frames.capture(state.close_depth, 2) if frames else ()
        site = Site(_time(), thread, stack, frames)
        collected = False
        shared.note_thread(entry, site, thread)
    state.registry.socket_closed(entry, site, collected, None if linger is None else int(linger))


def _frame_at(depth: int) -> FrameType | None:
    """``sys._getframe(depth + 1)``, or None past the bottom of the stack.

    A wrapper can be the bottom Python frame: called from C, e.g. as an
    ``atexit`` function (``atexit.register(sock.close)``).
    """
    try:
        return sys._getframe(depth + 1)
    except ValueError:
        return None


def _called_from_finalizer(caller: FrameType | None) -> bool:
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
        if code is _SOCKET_DEL_CODE:
            return True
        if code.co_name != "close":
            return False
        caller = caller.f_back
    return False


# A bind, connect, unbind, disconnect or option of a socket whose entry is not
# built yet, made by the thread that created the socket, is recorded raw too
# (Registry.call_seen). A call from another thread builds the entry: whether
# that is a hand-off or two live threads sharing the socket is asked now.


def _unbuilt(sock: Any, reg: Registry) -> list[Any] | None:
    """The socket's raw record, while its entry is not built, for its creating thread."""
    try:
        handle = sock.underlying
    except Exception:
        return None
    return reg.unbuilt(handle, _active_get(_get_ident()) or _current_thread())


def _raw_site() -> RawStack:
    """The application frame that made a call, unresolved.

    Frames passed over: this one, the ``_record_*`` function, its guard and
    the wrapper; the walk goes on past pyzmq's own frames from there. Taken
    first, before the record is looked up: the call is then recorded as
    soon after it as can be.
    """
    frames = shared.current.frames
    return frames.capture(1, 5) if frames is not None else ()


def _resolved(raw: RawStack) -> RawFrame | None:
    frames = shared.current.frames
    stack = frames.resolve(raw) if frames is not None and raw else ()
    return stack[0] if stack else None


@_guarded
def _record_endpoint(sock: Any, op: EndpointOp, addr: Any, result: Any) -> None:
    site = _raw_site()
    reg = shared.current.registry
    requested = shared.endpoint_text(addr)
    # pyzmq's bind() returns a context manager holding LAST_ENDPOINT, which
    # is the resolved address of a wildcard bind; no extra libzmq call.
    url = shared.endpoint_text(getattr(result, "addr", None) or requested)
    asked = requested if requested != url else None
    rec = _unbuilt(sock, reg)
    if rec is not None:
        reg.call_seen((rec, CALL_ENDPOINT, _time(), site, op, url, asked))
        return
    entry = shared.entry_of(sock)
    if entry is not None:
        frame = _resolved(site)
        shared.note_thread(entry, frame)
        reg.endpoint_added(entry, op, url, asked, frame)


@_guarded
def _record_endpoint_removed(sock: Any, op: EndpointOp, addr: Any, result: Any) -> None:
    site = _raw_site()
    reg = shared.current.registry
    url = shared.endpoint_text(addr)
    rec = _unbuilt(sock, reg)
    if rec is not None:
        reg.call_seen((rec, CALL_ENDPOINT_REMOVED, _time(), site, op, url))
        return
    entry = shared.entry_of(sock)
    if entry is not None:
        shared.note_thread(entry, _resolved(site))
        reg.endpoint_removed(entry, op, url)


@_guarded
def _record_option(sock: Any, option: Any, value: Any) -> None:
    site = _raw_site()
    option = int(option)
    if option in (_SUBSCRIBE, _UNSUBSCRIBE):
        _record_subscription(sock, option, shared.endpoint_text(value), _resolved(site))
        return
    reg = shared.current.registry
    args: tuple[Any, str]  # (LINGER's value, where it came from) or (name, value)
    if option == _LINGER:
        # Frames: this function, its guard, the set() wrapper, its caller.
        caller = _frame_at(3)
        source = _LINGER_SOURCES.get(caller.f_code, "setsockopt") if caller else "setsockopt"
        kind, args = CALL_LINGER, (int(value), source)
    else:
        kind, args = (
            CALL_OPTION,
            (_option_name(option), shared.endpoint_text(value)[:_MAX_OPTION_TEXT]),
        )
    rec = _unbuilt(sock, reg)
    if rec is not None:
        reg.call_seen((rec, kind, _time(), site, *args))
        return
    entry = shared.entry_of(sock)
    if entry is not None:
        shared.note_thread(entry, _resolved(site))
        if kind is CALL_LINGER:
            reg.linger_set(entry, *args)
        else:
            reg.option_set(entry, *args)


def _option_name(option: int) -> str:
    try:
        return zmq.SocketOption(option).name
    except ValueError:
        return str(option)


def _record_subscription(sock: Any, option: int, topic: str, site: RawFrame | None) -> None:
    """Topics add up on the entry: a subscription builds it."""
    entry = shared.entry_of(sock)
    if entry is not None:
        shared.note_thread(entry, site)
        subscriptions = _subscriptions(entry, option, topic)
        shared.current.registry.option_set(entry, "SUBSCRIBE", subscriptions)


def _subscriptions(entry: SocketEntry, option: int, topic: str) -> str:
    """The SUB socket's current topics, as a short comma-separated list."""
    current = entry.options.get("SUBSCRIBE", "") if entry.options else ""
    topics = [t for t in current.split(",") if t]
    quoted = repr(topic[:_MAX_OPTION_TEXT])
    if option == _SUBSCRIBE:
        topics.append(quoted)
    elif quoted in topics:
        topics.remove(quoted)
    return ",".join(topics[-16:])


@_guarded
def _record_context(ctx: Any) -> None:
    if _own_context.making_one():
        return
    if shared.current.installed and ctx.underlying not in own_handles:
        site = shared.captured_site()
        # Frames: this function, its guard, the __init__ wrapper, its caller.
        internal = pyzmq_helper(ctx, _frame_at(3))
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


def _record_thread_start(thread: Any) -> None:
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


@_guarded
def _record_max_sockets(ctx: Any) -> None:
    """``ctx.set(zmq.MAX_SOCKETS, n)`` (or ``ctx.max_sockets = n``), as libzmq took it."""
    known = shared.current.registry.context(ctx.underlying)
    entry = context_entry(ctx)
    limit = shared.max_sockets_of(ctx)
    # A context seen here for the first time was adopted with the value just
    # set: whether its first socket came before is not known.
    if known is not None and entry is known and limit is not None:
        shared.current.registry.max_sockets_set(entry, limit)


@_guarded
def _record_refusal(args: tuple[Any, ...], kwargs: dict[str, Any], stack: Any, error: Any) -> None:
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


# -- the wrappers ----------------------------------------------------------------


def _wrap_thread_start(original: F) -> F:
    @functools.wraps(original)
    def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        _record_thread_start(self)
        return original(self, *args, **kwargs)

    return start  # type: ignore[return-value]


def _wrap_socket_init(original: F) -> F:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        # The walk runs before libzmq sets the socket up: the frames it reads
        # are still in the CPU's caches then (measured: ~1.5 us less per
        # socket). Only when every socket is recorded: watch() looks at a few
        # contexts, and sockets of the others would pay for nothing.
        state = shared.current
        frames = state.frames
        stack = None
        if state.installed and frames is not None:
            try:
                stack = frames.capture(state.stack_depth, 2)
            except Exception:
                state.internal_errors += 1
        try:
            original(self, *args, **kwargs)
        except zmq.ZMQError as error:
            if error.errno == _EMFILE:  # "Too many open files": which limit, and who holds it
                _record_refusal(args, kwargs, stack, error)
            raise
        try:  # inline rather than @_guarded: socket creation is the busiest hook
            reg = state.registry
            if stack is not None and not reg.traffic:
                # The usual case, a new socket of a context already recorded:
                # a raw record, built into an entry only when someone reads
                # the registry (docs/lazy-records.md). Every call and object
                # here counts: libzmq's set-up has just pushed zmqscope's code
                # and data out of the CPU's caches (benchmarks/README.md).
                handle = self.underlying
                ctx = self.context
                context = reg.live_contexts.get(ctx.underlying) if ctx is not None else None
                # An entry with this handle whose close is under way or not
                # yet applied: libzmq gave its handle to this new socket.
                previous = reg.by_handle.get(handle)
                if (
                    context is not None
                    and handle not in reg.raw
                    and (previous is None or reg.is_closing(previous))
                    and context.handle not in own_handles
                ):
                    thread = _active_get(_get_ident()) or _current_thread()
                    reg.socket_seen(
                        self, handle, context, self._type_name, _time(), thread, stack, frames
                    )
                    return
            _record_socket(self, stack)
        except Exception:
            shared.current.internal_errors += 1

    return __init__  # type: ignore[return-value]


# Branched on purpose (C901, here and in close below): the close fast path, inline
# (bench_core.py socket()+close()): its parts as helpers would add calls to every close.
def _wrap_close(original: F) -> F:  # noqa: C901
    @functools.wraps(original)
    def close(self: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: C901
        rec = entry = reg = handle = None
        try:
            if not self.closed:
                reg = shared.current.registry
                handle = self.underlying
                rec = reg.raw.pop(handle, None)  # the usual case: recorded raw
                if rec is None:
                    entry = reg.open_socket(handle)
                    if entry is not None:
                        entry.closing = True  # before libzmq may hand its handle on
        except Exception:  # nothing of zmqscope's may reach the application
            shared.current.internal_errors += 1
        try:
            result = original(self, *args, **kwargs)
        except BaseException:
            # Still open, as far as anyone knows.
            if rec is not None and reg is not None and handle is not None:
                reg.raw[handle] = rec
            elif entry is not None:
                entry.closing = False
            raise
        if rec is not None:
            try:
                # The raw record's close (Registry.socket_seen has the layout).
                state = shared.current
                linger = args[0] if args else kwargs.get("linger") if kwargs else None
                if linger is not None:
                    linger = int(linger)
                thread = _active_get(_get_ident()) or _current_thread()
                try:
                    caller: FrameType | None = sys._getframe(1)
                except ValueError:  # no Python caller: called from C (atexit)
                    caller = None
                # pyzmq's __del__, or a close() that may be its (checked inline first).
                if caller is not None and (
                    caller.f_code is _SOCKET_DEL_CODE
                    or (caller.f_code.co_name == "close" and _called_from_finalizer(caller))
                ):
                    closing: tuple[Any, ...] = (_time(), thread, (), True, linger)
                else:
                    frames = state.frames
                    stack = frames.capture(state.close_depth, 2) if frames is not None else ()
                    closing = (_time(), thread, stack, False, linger)
                reg.raw_closed(rec, closing)  # type: ignore[union-attr]  # the record's own registry
            except Exception:
                shared.current.internal_errors += 1
        elif entry is not None:
            try:
                linger = args[0] if args else kwargs.get("linger")
                _record_close(entry, linger, _frame_at(1))
            except Exception:
                shared.current.internal_errors += 1
        return result

    return close  # type: ignore[return-value]


def _wrap_address(original: F, record: Callable[..., None], op: EndpointOp) -> F:
    """bind/connect (recorded with pyzmq's result) or unbind/disconnect."""

    @functools.wraps(original)
    def address(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        addr = args[0] if args else kwargs.get("addr")
        record(self, op, addr, result)
        return result

    return address  # type: ignore[return-value]


def _wrap_set(original: F) -> F:
    @functools.wraps(original)
    def set(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        option = args[0] if args else kwargs.get("option")
        value = args[1] if len(args) > 1 else kwargs.get("optval", kwargs.get("value"))
        if option is not None:
            _record_option(self, option, value)
        return result

    return set  # type: ignore[return-value]


def _wrap_context_set(original: F) -> F:
    @functools.wraps(original)
    def set(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if (args[0] if args else kwargs.get("option")) == _MAX_SOCKETS:
            _record_max_sockets(self)
        return result

    return set  # type: ignore[return-value]


def _wrap_context_init(original: F) -> F:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        _record_context(self)

    return __init__  # type: ignore[return-value]


def _wrap_term(original: F) -> F:
    @functools.wraps(original)
    def term(self: Any, *args: Any, **kwargs: Any) -> Any:
        entry = _term_starting(self)
        token = _observe_term(entry)
        try:
            result = original(self, *args, **kwargs)
        except BaseException:
            if entry is not None:
                _term_ended(entry, returned=False)
            raise
        finally:
            _observe_term_end(token)
        if entry is not None:
            _term_ended(entry, returned=True)
        return result

    return term  # type: ignore[return-value]


def _term_ended(entry: ContextEntry, returned: bool) -> None:
    """Record how term()/destroy() ended; the application's result or error stands."""
    try:
        if returned:
            shared.current.registry.term_returned(entry)
        else:
            shared.current.registry.term_failed(entry)
    except Exception:
        shared.current.internal_errors += 1


def _term_starting(ctx: Any) -> ContextEntry | None:
    """Mark the context terminating; the outermost of destroy/term owns it."""
    try:
        if ctx.closed:
            return None
        entry = context_entry(ctx)
        if entry is None:
            return None
        site = shared.captured_site()
        return entry if shared.current.registry.term_called(entry, site) else None
    except Exception:
        shared.current.internal_errors += 1
        return None


def _observe_term(entry: ContextEntry | None) -> object:
    observer = shared.current.term_observer
    if entry is None or observer is None:
        return None
    try:
        return (observer, observer.term_started(entry))
    except Exception:
        shared.current.internal_errors += 1
        return None


def _observe_term_end(token: object) -> None:
    if isinstance(token, tuple):
        observer, inner = token
        try:
            observer.term_finished(inner)
        except Exception:
            shared.current.internal_errors += 1


def lifecycle_patches() -> list[tuple[type, str, Callable[[Any], Any]]]:
    sock, ctx = zmq.Socket, zmq.Context
    return [
        (sock, "__init__", _wrap_socket_init),
        (sock, "close", _wrap_close),
        (sock, "bind", lambda f: _wrap_address(f, _record_endpoint, EndpointOp.BIND)),
        (sock, "connect", lambda f: _wrap_address(f, _record_endpoint, EndpointOp.CONNECT)),
        (sock, "unbind", lambda f: _wrap_address(f, _record_endpoint_removed, EndpointOp.BIND)),
        (
            sock,
            "disconnect",
            lambda f: _wrap_address(f, _record_endpoint_removed, EndpointOp.CONNECT),
        ),
        (sock, "set", _wrap_set),
        (sock, "setsockopt", _wrap_set),
        (ctx, "__init__", _wrap_context_init),
        (ctx, "set", _wrap_context_set),
        (ctx, "term", _wrap_term),
        (ctx, "destroy", _wrap_term),
        (threading.Thread, "start", _wrap_thread_start),
    ]
