"""Decide which sockets in a snapshot are leaks, and say so in one sentence."""

from __future__ import annotations

from collections.abc import Sequence

from zmqscope.model import (
    ContextState,
    Culprit,
    EndpointOp,
    Leak,
    LeakKind,
    Snapshot,
    SocketRecord,
    SocketState,
)
from zmqscope.model._text import is_classified, site_headline, started_text
from zmqscope.reporting._report import Report

# A leak message names a few endpoints so it is recognisable in a log line;
# the full list is in the report's socket record.
_MAX_ENDPOINTS_IN_MESSAGE = 3


def build_report(
    snapshot: Snapshot,
    *,
    culprits: Sequence[Culprit] | None = None,
    generated_at: float | None = None,
    live: bool = False,
    at_exit: bool = False,
    fds: int | None = None,
    fd_limit: int | None = None,
) -> Report:
    """Analyse ``snapshot`` for leaks, in socket order, and wrap it in a :class:`Report`.

    ``culprits`` defaults to the snapshot's own: those of every ``term()``
    that outlived its grace period.

    ``generated_at`` defaults to the snapshot's own time: the report describes
    the sockets as they were then, not when it happened to be rendered.

    ``live``: the process is still running, so an open socket is in use, not
    leaked (the report's inventory), unless a ``term()`` of its context waits
    for it. Otherwise (at exit, after a test) every open socket is a leak.
    ``at_exit`` marks the report a process makes as it exits; ``fds`` and
    ``fd_limit`` are its open file descriptors and their soft limit.
    """
    leaks = tuple(
        leak
        for record in snapshot.sockets
        if (leak := find_leak(snapshot, record, live=live)) is not None
    )
    when = snapshot.taken_at if generated_at is None else generated_at
    blocking = snapshot.culprits if culprits is None else tuple(culprits)
    return Report(
        snapshot=snapshot,
        leaks=leaks,
        culprits=blocking,
        generated_at=when,
        at_exit=at_exit,
        fds=fds,
        fd_limit=fd_limit,
    )


def find_leak(snapshot: Snapshot, record: SocketRecord, *, live: bool = False) -> Leak | None:
    """The leak ``record`` represents in ``snapshot``, or None if it was cleaned up.

    With ``live``, an open socket is a leak only while a ``term()`` of its
    context waits for it. A socket pyzmq made for itself (``record.internal``,
    e.g. the zero-copy tracker's) is never a leak: the application cannot
    close it, and pyzmq closes it at exit.
    """
    if record.internal is not None:
        return None
    subject = _describe(record)
    if record.state is SocketState.OPEN:
        if not live:
            message = f"{subject} was never closed{_endpoint_note(record)}"
            return Leak(record.id, LeakKind.OPEN_AT_EXIT, message)
        context = snapshot.context(record.context)
        if context is None or context.state is not ContextState.TERMINATING:
            return None
        message = (
            f"{subject} is still open{_endpoint_note(record)}; term() of context"
            f" {context.id} waits until it is closed"
        )
        return Leak(record.id, LeakKind.BLOCKS_TERM, message)
    if record.state is SocketState.COLLECTED:
        message = f"{subject} was garbage-collected without close()"
        return Leak(record.id, LeakKind.COLLECTED_UNCLOSED, message)
    if _blocks_term(snapshot, record):
        message = (
            f"{subject} was closed with {_linger_phrase(record.linger)} but its connects may"
            f" still hold unsent messages; it keeps term() of context {record.context} waiting"
        )
        return Leak(record.id, LeakKind.BLOCKS_TERM, message)
    return None


def _blocks_term(snapshot: Snapshot, record: SocketRecord) -> bool:
    # libzmq keeps a closed socket alive inside its context while LINGER lets
    # queued messages wait for a peer; only connects queue for absent peers.
    # An unknown LINGER (adopted sockets) is treated as libzmq's default, -1.
    # Inactive (disconnected) connects count too: their pipes linger as well.
    # When the watchdog named the culprits of that term(), its word counts.
    if record.state is not SocketState.CLOSED or record.linger == 0:
        return False
    context = snapshot.context(record.context)
    if context is None or context.state is not ContextState.TERMINATING:
        return False
    named = [c for c in snapshot.culprits if c.context in (None, context.id)]
    if named:
        return any(c.socket == record.id for c in named)
    # Inproc pipes hold nothing once closed; a socket that sent nothing
    # (traffic mode knows, unless a C loop such as zmq.proxy sent for it) has
    # nothing queued.
    if record.traffic is not None and not record.traffic.msgs_out and record.proxied_by is None:
        return False
    return any(
        e.op is EndpointOp.CONNECT and not e.url.startswith("inproc://") for e in record.endpoints
    )


def _describe(record: SocketRecord) -> str:
    """``PULL socket created at app.py:12 in start() by worker-1``.

    Made inside a library: ``... at app.py:7 in main(), via
    jupyter_client/connect.py:697 by MainThread``. Made where no frame of
    the application's was recorded (a thread a library started): ``... by
    Thread-1, started at app.py:12 in main(),``.
    """
    created = record.created
    headline = site_headline(created, short=True)
    thread = created.thread.name if created.thread else None
    if headline is None and record.adopted:
        origin = "created before zmqscope was watching"
        return f"{record.type} socket {origin}" + (f" by {thread}" if thread else "")
    by = thread or "an unknown thread"
    started = None
    if created.user_frame is None and (is_classified(created) or not created.stack):
        started = started_text(created.thread, short=True)
        if started is not None:
            by += f", {started},"
    if headline:
        return f"{record.type} socket created at {headline} by {by}"
    # No frame outside pyzmq (a device's thread): where the thread was started says more.
    where = "" if started else " at an unknown site"
    return f"{record.type} socket created{where} by {by}"


def _endpoint_note(record: SocketRecord) -> str:
    """`` (bound tcp://127.0.0.1:5555, connected ipc:///tmp/x)`` or nothing."""
    active = record.active_endpoints
    if not active:
        return ""
    verbs = {EndpointOp.BIND: "bound", EndpointOp.CONNECT: "connected"}
    shown = [f"{verbs[e.op]} {e.url}" for e in active[:_MAX_ENDPOINTS_IN_MESSAGE]]
    hidden = len(active) - len(shown)
    if hidden:
        shown.append(f"{hidden} more")
    return f" ({', '.join(shown)})"


def _linger_phrase(linger: int | None) -> str:
    return "an unknown LINGER" if linger is None else f"LINGER {linger}"
