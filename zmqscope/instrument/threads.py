"""Who is calling: the thread (or, under gevent and eventlet, the greenlet) behind a hook.

The hooks record the caller as an object with ``ident`` and ``name`` whose
name is read when the record is built: a ``threading.Thread`` straight from
threading's own table (the usual, cheapest case), or a stand-in from here.

- A thread ``threading`` does not know (started with ``_thread`` or from C)
  gets a stand-in named after its ident. ``threading.current_thread()``
  would register a ``_DummyThread`` the application never made.
- Under gevent's or eventlet's monkey-patching every greenlet looks like a
  thread to ``threading``, and most of them are ``Dummy-N``. There the
  caller is the greenlet: the ident is its OS thread's (libzmq's sockets
  belong to OS threads; ``pthread_kill`` and ``sys._current_frames()`` take
  OS idents), the name says which greenlet and function it is
  (``Greenlet-3 (serve_client)``), or the thread's own name for the main
  greenlet and ``threading.Thread``s run as greenlets.

:func:`lookup` hands the hooks the three functions of their inline
``active_get(get_ident()) or fallback()``; :func:`refresh` switches them
when the process is (or stops being) green.
"""

from __future__ import annotations

import importlib
import itertools
import os
import sys
import threading
import weakref
from collections.abc import Callable
from types import FrameType
from typing import Any

from zmqscope import _native


class CallerThread:
    """A recorded caller that is not a ``threading.Thread``: an ident and a name."""

    __slots__ = ("ident", "name")

    def __init__(self, ident: int, name: str) -> None:
        self.ident = ident
        self.name = name

    def __repr__(self) -> str:
        return f"CallerThread({self.ident}, {self.name!r})"


# threading's own table of running threads: reading it (and the thread's
# name) directly saves three Python calls on every socket's creation and close.
_ACTIVE: dict[int, threading.Thread] = getattr(threading, "_active", {})
_unknown: dict[int, CallerThread] = {}


def _unknown_thread() -> Any:
    """The caller is a thread threading does not know, or the process turned green."""
    if _native.green_threads():
        refresh()  # patched after the hooks were set: from now on by greenlet
        return _green_caller()
    ident = _native.get_ident()
    caller = _ACTIVE.get(ident) or _unknown.get(ident)
    if caller is None:
        caller = _unknown[ident] = CallerThread(ident, f"thread {ident}")
    return caller


# -- greenlets ---------------------------------------------------------------------

_greenlets: weakref.WeakKeyDictionary[Any, CallerThread] = weakref.WeakKeyDictionary()
_numbers = itertools.count(1)
# Frames of these packages are the greenlet's machinery, not what it runs.
_GREEN_LIBRARIES = tuple(f"{os.sep}{name}{os.sep}" for name in ("gevent", "eventlet", "greenlet"))


def _getcurrent() -> Any:
    return _greenlet_module().getcurrent()


def _greenlet_module() -> Any:
    # Loaded already: gevent and eventlet are built on it.
    return sys.modules.get("greenlet") or importlib.import_module("greenlet")


def _green_caller() -> CallerThread:
    current = _getcurrent()
    caller = _greenlets.get(current)
    if caller is None:
        caller = _greenlets[current] = CallerThread(_native.get_ident(), _green_name(current))
    return caller


def _green_name(greenlet: Any) -> str:
    # threading.Thread objects run as greenlets, and the main greenlet, are in
    # threading's table under the patched (per-greenlet) ident.
    thread = _ACTIVE.get(threading.get_ident())
    if thread is not None:
        return thread.name
    if getattr(greenlet, "parent", None) is None:  # the main greenlet of another OS thread
        ident = _native.get_ident()
        known = _ACTIVE.get(ident)
        return known.name if known is not None else f"thread {ident}"
    name = getattr(greenlet, "name", None)  # gevent's Greenlet names itself
    if not isinstance(name, str):
        name = f"{type(greenlet).__name__}-{next(_numbers)}"
    function = _function_of(greenlet)
    return f"{name} ({function})" if function else name


def _function_of(greenlet: Any) -> str | None:
    """The function the greenlet runs: gevent keeps it, else its outermost own frame."""
    run = getattr(greenlet, "_run", None)
    run = getattr(run, "func", run)  # functools.partial
    qualname = getattr(run, "__qualname__", None)
    if isinstance(qualname, str) and qualname != "Thread._bootstrap":
        return qualname
    outermost = None
    frame = sys._getframe(1)
    while frame is not None:
        path = frame.f_code.co_filename
        if not any(part in path for part in _GREEN_LIBRARIES):
            outermost = frame
        frame = frame.f_back  # type: ignore[assignment]
    if outermost is None:
        return None
    code = outermost.f_code
    return str(getattr(code, "co_qualname", code.co_name))  # co_qualname: Python 3.11+


# -- what the hooks call -----------------------------------------------------------

Lookup = tuple[Callable[[], Any], Callable[[Any], Any], Callable[[], Any]]
# The OS thread's ident, even if this module is first imported after patching.
_PLAIN: Lookup = (_native.original("_thread", "get_ident"), _ACTIVE.get, _unknown_thread)
_GREEN: Lookup = (_getcurrent, _greenlets.get, _green_caller)
_lookup: Lookup = _PLAIN
_listeners: list[Callable[[Lookup], None]] = []


def lookup() -> Lookup:
    """``(key, table_get, fallback)``: the caller is ``table_get(key()) or fallback()``."""
    return _lookup


def on_change(listener: Callable[[Lookup], None]) -> None:
    """Call ``listener`` with the new lookup whenever :func:`refresh` switches it."""
    _listeners.append(listener)


def refresh() -> None:
    """Identify callers by greenlet once gevent or eventlet patched ``threading``.

    Called where it costs nothing noticeable (install, a new context) and
    when an unknown caller shows up.
    """
    global _lookup, _GREEN
    wanted = _PLAIN
    if _native.green_threads():
        if _GREEN[0] is _getcurrent:  # bind greenlet's own getcurrent once
            _GREEN = (_greenlet_module().getcurrent, _greenlets.get, _green_caller)
        wanted = _GREEN
    if wanted is not _lookup:
        _lookup = wanted
        for listener in list(_listeners):
            listener(wanted)


def green_owner(owner: tuple[int, str]) -> tuple[bool, FrameType | None] | None:
    """Under gevent/eventlet, whether the greenlet recorded as ``owner`` lives, and where it is.

    ``(alive, frame)``: the frame a live greenlet is suspended at, or the
    current frame of its OS thread when it is the one running there. None
    when callers are not greenlets (then ``owner`` is a thread).
    """
    if _lookup is _PLAIN:
        return None
    for greenlet, caller in list(_greenlets.items()):
        if (caller.ident, caller.name) != owner:
            continue
        if greenlet.dead:
            return (False, None)
        frame = greenlet.gr_frame  # None while it runs
        if frame is None:
            frame = sys._current_frames().get(caller.ident)
        return (True, frame)
    return (False, None)  # collected with its greenlet: long gone


def green_owners() -> list[tuple[CallerThread, FrameType | None]]:
    """Live greenlets that made or used a socket, with the frame each is at (see green_owner)."""
    if _lookup is _PLAIN:
        return []
    found = []
    for greenlet, caller in list(_greenlets.items()):
        if not greenlet.dead:
            frame = greenlet.gr_frame or sys._current_frames().get(caller.ident)
            found.append((caller, frame))
    return found


def current_thread_ref() -> tuple[int, str]:
    """(ident, name) of the caller: a thread, or a greenlet under gevent/eventlet."""
    key, table_get, fallback = _lookup
    caller = table_get(key()) or fallback()
    return (caller.ident, caller.name)


def thread_alive(ident: int) -> bool:
    """True while the OS thread ``ident`` runs (threads threading does not know included)."""
    return ident in sys._current_frames()


def _forget_in_child() -> None:
    # The parent's greenlets are gone with its other threads' idents.
    _unknown.clear()
    _greenlets.clear()


os.register_at_fork(after_in_child=_forget_in_child)
