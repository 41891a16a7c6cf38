"""Which sockets keep a ``term()`` waiting, and what would free it.

Worked out from the registry and ``sys._current_frames()`` only, never by
touching a socket; the watchdog (:mod:`.watchdog`) calls :func:`find_culprits`
when a term() outlives its grace, the server's answers use
:func:`thread_stack`.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from types import FrameType

import zmq

from zmqscope._source import source_line
from zmqscope.instrument import hooks
from zmqscope.instrument import state as shared
from zmqscope.instrument import threads as _threads
from zmqscope.instrument.frames import is_zmqscope_file
from zmqscope.instrument.origins import classified_frame
from zmqscope.instrument.registry.entries import ContextEntry, SocketEntry, frozen_frame
from zmqscope.model import ORIGIN_USER, Culprit, EndpointOp, Frame, SocketState, ThreadRef
from zmqscope.model.wording import call_name, short_location

_OWNER_STACK_DEPTH = 30
_THREADING = os.path.abspath(threading.__file__)
_ZMQ_DIR = os.path.dirname(os.path.abspath(zmq.__file__ or "")) + os.sep


def find_culprits(context: ContextEntry) -> tuple[Culprit, ...]:
    """Every recorded socket that can keep ``term()`` of ``context`` waiting."""
    frames = sys._current_frames()
    alive = {t.ident: t for t in threading.enumerate()}
    called = context.term_called
    # (ident, name): under gevent/eventlet greenlets share an ident, not a name.
    terming = (called.thread[0], called.thread[1]) if called and called.thread else None
    now = time.time()
    culprits = []
    for entry in hooks.registry().entries():
        if entry.context_id != context.id:
            continue
        reason = _why_it_blocks(entry, now)
        if reason is not None:
            culprits.append(_culprit(entry, context, reason, frames, alive, terming))
    # Sockets that block for sure first; those that only may, after.
    return tuple(sorted(culprits, key=lambda c: not c.certain))


def _why_it_blocks(entry: SocketEntry, now: float) -> str | None:
    if entry.state is SocketState.OPEN:
        return "still open: term() waits until every socket of its context is closed"
    if entry.state is SocketState.CLOSED and entry.may_block_term:
        linger = entry.linger
        closed = entry.closed
        if linger is not None and linger > 0 and closed and closed.time + linger / 1000 < now:
            return None  # its LINGER has run out: libzmq has let it go
        targets = ", ".join(e.url for e in entry.endpoints if e.op is EndpointOp.CONNECT)
        shown = "unknown" if linger is None else str(linger)
        return (
            f"may block: closed with LINGER {shown}, and libzmq keeps it until its queued "
            f"messages reach {targets}; a peer that never answers keeps term() waiting"
            + (" forever" if linger == -1 else "")
        )
    return None


def _culprit(
    entry: SocketEntry,
    context: ContextEntry,
    reason: str,
    frames: dict[int, FrameType],
    alive: dict[int | None, threading.Thread],
    terming: tuple[int, str] | None,
) -> Culprit:
    owner = entry.owner
    owner_ref = ThreadRef(*owner) if owner else None
    # Idents are reused by new threads: the same ident under another name is
    # another thread, and the owner is gone.
    thread = alive.get(owner[0]) if owner is not None else None
    is_alive = thread is not None and owner is not None and thread.name == owner[1]
    frame = frames.get(owner[0]) if owner is not None else None
    # Under gevent/eventlet the owner is a greenlet (its ident its OS thread's).
    green = _threads.green_owner(owner) if owner is not None else None
    if green is not None:
        is_alive, frame = green
    certain = entry.state is SocketState.OPEN
    if certain:
        stack = thread_stack(frame) if owner and is_alive else ()
        where = _where(owner_ref, is_alive, stack)
    else:
        # Nobody holds a closed socket; what matters is where it was closed.
        stack = ()
        where = _closed_where(entry)
    return Culprit(
        socket=entry.id,
        reason=reason,
        owner_stack=stack,
        owner=owner_ref,
        owner_alive=is_alive if owner else None,
        remedy=_remedy(entry, owner, is_alive, terming),
        where=where,
        context=context.id,
        certain=certain,
    )


def _closed_where(entry: SocketEntry) -> str:
    closed = entry.closed
    if closed is None:
        return "closed by the garbage collector"
    thread = closed.thread[1] if closed.thread else "an unknown thread"
    if closed.stack:
        frame = frozen_frame(closed.stack[0])
        return f"closed by {thread} at {short_location(frame)} in {call_name(frame.function)}"
    return f"closed by {thread}"


def thread_stack(frame: FrameType | None) -> tuple[Frame, ...]:
    """The thread's current stack, innermost first, without zmqscope's frames.

    pyzmq's frames stay: "blocked in pyzmq's recv_multipart()" is the answer.
    ``threading``'s bootstrap and frozen start-up frames are left out.
    """
    out: list[Frame] = []
    launchers = shared.current.frames
    while frame is not None and len(out) < _OWNER_STACK_DEPTH:
        code = frame.f_code
        path = os.path.abspath(code.co_filename)
        if not (
            is_zmqscope_file(path)
            or path == _THREADING
            or code.co_filename.startswith("<frozen ")
            or (launchers is not None and launchers.is_ignored(path))
        ):
            out.append(classified_frame(path, frame.f_lineno, code.co_name))
        frame = frame.f_back
    return tuple(out)


def _where(owner: ThreadRef | None, alive: bool, stack: tuple[Frame, ...]) -> str:
    """One line a user can act on: where the owner thread is right now."""
    if owner is None:
        return "its owner thread is unknown (the socket was adopted by watch())"
    if not alive:
        return f"{owner.name} has exited without closing it"
    if not stack:
        return f"{owner.name} is running outside Python code"
    # The application's own frame: under gevent a greenlet waits in the hub's
    # frames (a library's), which say nothing about where the app is.
    app = next(
        (f for f in stack if f.origin == ORIGIN_USER),
        next((f for f in stack if not f.file.startswith(_ZMQ_DIR)), stack[0]),
    )
    source = source_line(app.file, app.line)
    shown = f" `{source}`" if source else ""
    inner = stack[0]
    if inner.file.startswith(_ZMQ_DIR):
        where = short_location(app)
        blocked_in = call_name(inner.function)
        return f"{owner.name} is blocked in pyzmq's {blocked_in} at {where}{shown}"
    return f"{owner.name} is at {short_location(app)} in {call_name(app.function)}{shown}"


def _remedy(
    entry: SocketEntry,
    owner: tuple[int, str] | None,
    alive: bool,
    terming: tuple[int, str] | None,
) -> str:
    if entry.state is not SocketState.OPEN:
        return (
            "set LINGER 0 before closing it (sock.close(linger=0)), or for every socket "
            "with ctx.setsockopt(zmq.LINGER, 0), or end with ctx.destroy(linger=0)"
        )
    if owner is not None and (owner[0], owner[1]) == terming:
        return "close it before calling term(), or end with ctx.destroy(linger=0)"
    if owner is not None and alive:
        return (
            f"close it in its own thread ({owner[1]}): when a blocking call raises "
            "zmq.ContextTerminated, close the socket instead of carrying on"
        )
    return (
        "close sockets before their thread ends (with ctx.socket(...) as sock:), "
        "or end with ctx.destroy(linger=0)"
    )
