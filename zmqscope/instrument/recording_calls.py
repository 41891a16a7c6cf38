"""What a socket's calls record: bind, connect, unbind, disconnect, and options
set (LINGER with where its value came from, SUB topics adding up).

Each step runs guarded, like those of :mod:`.recording`.
"""

from __future__ import annotations

from time import time as _time
from typing import Any

import zmq

from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument.frames import RawFrame, RawStack
from zmqscope.instrument.recording import frame_at, guarded
from zmqscope.instrument.registry.journal import (
    CALL_ENDPOINT,
    CALL_ENDPOINT_REMOVED,
    CALL_LINGER,
    CALL_OPTION,
)
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.model import EndpointOp

# The caller, inline, as in :mod:`.recording`.
_get_ident, _active_get, _current_thread = _threads.lookup()


def _use_lookup(lookup: _threads.Lookup) -> None:
    global _get_ident, _active_get, _current_thread
    _get_ident, _active_get, _current_thread = lookup


_threads.on_change(_use_lookup)

# pyzmq's code objects that tell where a LINGER value came from.
_LINGER_SOURCES = {
    zmq.Context.socket.__code__: "context",  # ctx.sockopts applied to a new socket
    zmq.Context.destroy.__code__: "destroy",  # ctx.destroy(linger=...)
}

_LINGER = int(zmq.LINGER)
_SUBSCRIBE, _UNSUBSCRIBE = int(zmq.SUBSCRIBE), int(zmq.UNSUBSCRIBE)
_MAX_OPTION_TEXT = 80


# A bind, connect, unbind, disconnect or option of a socket whose entry is not
# built yet, made by the thread that created the socket, is recorded raw too
# (Journal.call_seen). A call from another thread builds the entry: whether
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


@guarded
def record_endpoint(sock: Any, op: EndpointOp, addr: Any, result: Any) -> None:
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


@guarded
def record_endpoint_removed(sock: Any, op: EndpointOp, addr: Any, result: Any) -> None:
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


@guarded
def record_option(sock: Any, option: Any, value: Any) -> None:
    site = _raw_site()
    option = int(option)
    if option in (_SUBSCRIBE, _UNSUBSCRIBE):
        _record_subscription(sock, option, shared.endpoint_text(value), _resolved(site))
        return
    reg = shared.current.registry
    args: tuple[Any, str]  # (LINGER's value, where it came from) or (name, value)
    if option == _LINGER:
        # Frames: this function, its guard, the set() wrapper, its caller.
        caller = frame_at(3)
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
