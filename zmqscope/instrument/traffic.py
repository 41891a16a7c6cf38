"""Traffic mode: per-socket message and byte counters on send and recv.

Off by default: any Python wrapper around send/recv costs throughput (see
benchmarks/). The wrappers keep the per-message work to one dict lookup by
``id(socket)`` and a few list-item updates; counters never go through
pyzmq's slow ``__setattr__``. A send or recv from a thread other than the
socket's last user drops to a slow path that records the thread (misuse).

Multipart messages count as one message and one frame per part: a frame
sent with SNDMORE is not a message yet; a frame received counts as a message
until pyzmq (``recv_multipart``) or the application asks ``RCVMORE`` and
learns more parts follow.
"""

from __future__ import annotations

import functools
import sys
import time
import weakref
from collections.abc import Callable
from typing import Any

import zmq

from zmqscope import _native
from zmqscope.instrument.registry.entries import (
    BYTES_IN,
    BYTES_OUT,
    FRAMES_IN,
    FRAMES_OUT,
    MORE_IN,
    MORE_OUT,
    MORE_SEEN_AT,
    OWNER,
    SocketEntry,
    stamp_counters,
)

SlowPath = Callable[[Any], None]
HandedTo = Callable[[Any, str], None]  # (socket, the C loop it was handed to)

# Owners are OS threads (greenlets of one thread share its sockets safely):
# threading's own get_ident unless gevent or eventlet made it per greenlet.
_os_ident = _native.original("_thread", "get_ident")
_SNDMORE = int(zmq.SNDMORE)
_RCVMORE = int(zmq.RCVMORE)

# id(Python socket object) -> that socket's counters. Shadows of a socket
# (asyncio's internal one included) share its counters.
_counters: dict[int, list[float]] = {}
_refs: dict[int, weakref.ref[Any]] = {}


def follow(sock: Any, entry: SocketEntry) -> None:
    """Count the traffic of ``sock`` (a socket object or a shadow of it)."""
    counters = entry.traffic
    if counters is None:
        return
    key = id(sock)

    def forget(_ref: Any, key: int = key) -> None:
        _counters.pop(key, None)
        _refs.pop(key, None)

    _counters[key] = counters
    _refs[key] = weakref.ref(sock, forget)
    start_clock()


def forget_all() -> None:
    _counters.clear()
    _refs.clear()


# The time of the last send and recv is not read per message (time.time()
# alone cost a tenth of inproc throughput): a daemon thread looks at every
# counted socket each CLOCK_STEP seconds and stamps those whose frame counts
# moved. "last send" and "last recv" are therefore exact to CLOCK_STEP. A real
# OS thread with a real sleep, also under gevent (zmqscope._native).
CLOCK_STEP = 0.1
_clock_thread: _native.Thread | None = None


def start_clock() -> None:
    global _clock_thread
    if _clock_thread is not None and _clock_thread.is_alive():
        return
    _clock_thread = _native.Thread(_tick, "zmqscope-clock").start()


def stamp(now: float) -> None:
    """Give every socket whose frame counts moved since the last look the time ``now``."""
    for counters in list(_counters.values()):
        stamp_counters(counters, now)


def _tick() -> None:
    # Runs while something is counted: when forget_all() empties the counters
    # (uninstall), the thread ends at its next step.
    global _clock_thread
    while _counters:
        stamp(time.time())
        _native.sleep(CLOCK_STEP)
    _clock_thread = None


# pyzmq's own Socket.send (zmq.sugar) only builds a Frame for the DRAFT
# routing_id/group arguments and then calls the backend's send. Without those
# arguments the wrapper calls the backend itself: one Python frame per message
# instead of two. Only when the method wrapped is pyzmq's own (the supported
# pyzmq range, pyproject.toml, has this send); anything else is called as is.
_SUGAR_SEND = zmq.Socket.__dict__["send"]
_BACKEND_SEND = zmq.backend.Socket.send


def _wrap_send(original: Any, slow: SlowPath) -> Any:
    lookup, ident = _counters.get, _os_ident
    backend = _BACKEND_SEND if original is _SUGAR_SEND else None

    @functools.wraps(original)
    def send(
        self: Any,
        data: Any,
        flags: int = 0,
        copy: bool = True,
        track: bool = False,
        routing_id: int | None = None,
        group: str | None = None,
    ) -> Any:
        if backend is not None and routing_id is None and group is None:
            result = backend(self, data, flags, copy, track)
        else:
            result = original(self, data, flags, copy, track, routing_id, group)
        counters = lookup(id(self))
        if counters is not None:
            if counters[OWNER] != ident():
                slow(self)
            counters[FRAMES_OUT] += 1
            if flags & _SNDMORE:
                counters[MORE_OUT] += 1
            try:
                counters[BYTES_OUT] += len(data)
            except TypeError:  # a buffer without len(): count its bytes
                counters[BYTES_OUT] += memoryview(data).nbytes
        return result

    return send


def _count_received(self: Any, size: int, slow: SlowPath) -> None:
    counters = _counters.get(id(self))
    if counters is not None:
        if counters[OWNER] != _os_ident():
            slow(self)
        counters[FRAMES_IN] += 1
        counters[BYTES_IN] += size


def _wrap_recv(original: Any, slow: SlowPath) -> Any:
    lookup, ident = _counters.get, _os_ident

    @functools.wraps(original)
    def recv(self: Any, flags: int = 0, copy: bool = True, track: bool = False) -> Any:
        result = original(self, flags, copy, track)
        counters = lookup(id(self))
        if counters is not None:
            if counters[OWNER] != ident():
                slow(self)
            counters[FRAMES_IN] += 1
            counters[BYTES_IN] += len(result)
        return result

    return recv


def _wrap_recv_into(original: Any, slow: SlowPath) -> Any:
    @functools.wraps(original)
    def recv_into(self: Any, *args: Any, **kwargs: Any) -> Any:
        received = original(self, *args, **kwargs)
        _count_received(self, int(received), slow)
        return received

    return recv_into


def _wrap_get(original: Any) -> Any:
    lookup = _counters.get

    @functools.wraps(original)
    def get(self: Any, option: int) -> Any:
        result = original(self, option)
        if option == _RCVMORE and result:
            counters = lookup(id(self))
            # The last frame received was not a whole message; count it once
            # however often RCVMORE is asked for the same frame.
            if counters is not None and counters[MORE_SEEN_AT] != counters[FRAMES_IN]:
                counters[MORE_SEEN_AT] = counters[FRAMES_IN]
                counters[MORE_IN] += 1
        return result

    return get


# zmq.proxy() and its kin run a loop in C (libzmq's zmq_proxy) that moves
# messages between sockets without the Python send/recv counted here:
# measured, a PUSH whose messages zmq.proxy forwarded still counts 0 frames
# out. So every place these functions are reached from is wrapped, to mark
# the sockets handed to them ("traffic not counted"), once per call, never
# per message. pyzmq binds them by name in several modules (zmq.device calls
# zmq.sugar's proxy; zmq.devices' Device classes took zmq's at import), so
# each binding is wrapped: the modules below when already imported, zmq and
# zmq.backend always (a module imported later binds the wrapper).
_LOOPS = {
    "proxy": "zmq.proxy",
    "proxy_steerable": "zmq.proxy_steerable",
    "monitored_queue": "zmq.devices.monitored_queue",
}
_LOOP_MODULES = (
    "zmq",
    "zmq.backend",
    "zmq.sugar",
    "zmq.devices",
    "zmq.devices.basedevice",
    "zmq.devices.monitoredqueue",
    "zmq.devices.monitoredqueuedevice",
)


def _wrap_loop(original: Any, loop: str, handed: HandedTo) -> Any:
    @functools.wraps(original)
    def run_loop(*args: Any, **kwargs: Any) -> Any:
        for value in (*args, *kwargs.values()):
            if isinstance(value, zmq.Socket):
                handed(value, loop)
        return original(*args, **kwargs)

    return run_loop


def _loop_patches(handed: HandedTo) -> list[tuple[Any, str, Callable[[Any], Any]]]:
    found: list[tuple[Any, str, Callable[[Any], Any]]] = []
    for module_name in _LOOP_MODULES:
        module = sys.modules.get(module_name)
        for name, loop in _LOOPS.items():
            if module is not None and callable(getattr(module, name, None)):
                wrap = functools.partial(_wrap_loop, loop=loop, handed=handed)
                found.append((module, name, wrap))
    return found


def patches(slow: SlowPath, handed: HandedTo) -> list[tuple[Any, str, Callable[[Any], Any]]]:
    """(class or module, name, wrapper factory) for everything traffic mode wraps."""
    sock = zmq.Socket
    return [
        (sock, "send", lambda f: _wrap_send(f, slow)),
        (sock, "recv", lambda f: _wrap_recv(f, slow)),
        (sock, "recv_into", lambda f: _wrap_recv_into(f, slow)),
        (sock, "get", _wrap_get),
        (sock, "getsockopt", _wrap_get),
        *_loop_patches(handed),
    ]
