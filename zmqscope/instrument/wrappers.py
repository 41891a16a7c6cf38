"""The wrappers installed on pyzmq's classes.

Each wrapper calls pyzmq's own method first and records afterwards, so
return values and exceptions are pyzmq's; what each records is in
:mod:`.recording`, guarded. The socket()+close() path is inline here: it is
the measured hot path (docs/lazy-records.md). The state they record into
lives in :mod:`.state`, read at call time (a forked child gets a new one).
"""

from __future__ import annotations

import errno
import functools
import sys
import threading
from collections.abc import Callable
from time import time as _time
from types import FrameType
from typing import Any, TypeVar

import zmq

from zmqscope._own_context import own_handles
from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument.recording import (
    SOCKET_DEL_CODE,
    called_from_finalizer,
    context_entry,
    frame_at,
    record_close,
    record_context,
    record_max_sockets,
    record_refusal,
    record_socket,
    record_thread_start,
)
from zmqscope.instrument.recording_calls import (
    record_endpoint,
    record_endpoint_removed,
    record_option,
)
from zmqscope.instrument.registry.store import (
    ContextEntry,
)
from zmqscope.model import EndpointOp

F = TypeVar("F", bound=Callable[..., Any])
# The caller, inline: ``_active_get(_get_ident()) or _current_thread()`` (see
# :mod:`.recording`, which keeps the same three, switched the same way).
_get_ident, _active_get, _current_thread = _threads.lookup()


def _use_lookup(lookup: _threads.Lookup) -> None:
    global _get_ident, _active_get, _current_thread
    _get_ident, _active_get, _current_thread = lookup


_threads.on_change(_use_lookup)

_MAX_SOCKETS = int(zmq.MAX_SOCKETS)
_EMFILE = errno.EMFILE


# -- the wrappers ----------------------------------------------------------------


def _wrap_thread_start(original: F) -> F:
    @functools.wraps(original)
    def start(self: Any, *args: Any, **kwargs: Any) -> Any:
        record_thread_start(self)
        return original(self, *args, **kwargs)

    return start  # type: ignore[return-value]


# Long on purpose (51 lines, 11 of them comments): the socket() fast path, inline
# (bench_core.py socket()+close()): its parts as helpers would add calls to every socket().
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
                record_refusal(args, kwargs, stack, error)
            raise
        try:  # inline rather than @guarded: socket creation is the busiest hook
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
            record_socket(self, stack)
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
                # The raw record's close (Journal.raw_closed has the layout).
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
                    caller.f_code is SOCKET_DEL_CODE
                    or (caller.f_code.co_name == "close" and called_from_finalizer(caller))
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
                record_close(entry, linger, frame_at(1))
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
            record_option(self, option, value)
        return result

    return set  # type: ignore[return-value]


def _wrap_context_set(original: F) -> F:
    @functools.wraps(original)
    def set(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        if (args[0] if args else kwargs.get("option")) == _MAX_SOCKETS:
            record_max_sockets(self)
        return result

    return set  # type: ignore[return-value]


def _wrap_context_init(original: F) -> F:
    @functools.wraps(original)
    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        record_context(self)

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
        (sock, "bind", lambda f: _wrap_address(f, record_endpoint, EndpointOp.BIND)),
        (sock, "connect", lambda f: _wrap_address(f, record_endpoint, EndpointOp.CONNECT)),
        (sock, "unbind", lambda f: _wrap_address(f, record_endpoint_removed, EndpointOp.BIND)),
        (
            sock,
            "disconnect",
            lambda f: _wrap_address(f, record_endpoint_removed, EndpointOp.CONNECT),
        ),
        (sock, "set", _wrap_set),
        (sock, "setsockopt", _wrap_set),
        (ctx, "__init__", _wrap_context_init),
        (ctx, "set", _wrap_context_set),
        (ctx, "term", _wrap_term),
        (ctx, "destroy", _wrap_term),
        (threading.Thread, "start", _wrap_thread_start),
    ]
