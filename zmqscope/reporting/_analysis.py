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
from zmqscope.model.held_terms import held_terms
from zmqscope.model.wording import is_classified, site_headline, started_text
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
    blocking = snapshot.culprits if culprits is None else tuple(culprits)
    holding = closed_culprits(snapshot, blocking)
    leaks = tuple(
        leak
        for record in snapshot.sockets
        if (leak := find_leak(snapshot, record, live=live, holding=holding)) is not None
    )
    when = snapshot.taken_at if generated_at is None else generated_at
    return Report(
        snapshot=snapshot,
        leaks=leaks,
        culprits=blocking,
        generated_at=when,
        at_exit=at_exit,
        fds=fds,
        fd_limit=fd_limit,
    )


def closed_culprits(snapshot: Snapshot, culprits: Sequence[Culprit]) -> frozenset[str]:
    """The closed sockets counted as keeping a ``term()`` waiting, by id.

    Only while that ``term()`` is really blocked (the watchdog named it a
    culprit past the grace period, and it still waits), and only when no
    open socket keeps it waiting: an open socket surely does, while a closed
    one only may (libzmq does not say whether its queue still holds
    messages). Those are still listed among the culprits, as "may".
    """
    return frozenset(
        culprit.socket
        for term in held_terms(snapshot, culprits)
        if term.ended is None and not term.sure
        for culprit in term.maybe
    )


def find_leak(
    snapshot: Snapshot,
    record: SocketRecord,
    *,
    live: bool = False,
    holding: frozenset[str] | None = None,
) -> Leak | None:
    """The leak ``record`` represents in ``snapshot``, or None if it was cleaned up.

    With ``live``, an open socket is a leak only while a ``term()`` of its
    context waits for it. A socket pyzmq made for itself (``record.internal``,
    e.g. the zero-copy tracker's) is never a leak: the application cannot
    close it, and pyzmq closes it at exit. A closed socket is a leak when it
    is among ``holding`` (default: :func:`closed_culprits` of the snapshot's
    culprits).
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
    if holding is None:
        holding = closed_culprits(snapshot, snapshot.culprits)
    if record.state is SocketState.CLOSED and record.id in holding:
        # Which closed sockets may hold messages (LINGER, tcp/ipc connects,
        # what traffic mode saw sent) is the watchdog's call: it named them.
        message = (
            f"{subject} was closed with {_linger_phrase(record.linger)} but its connects may"
            f" still hold unsent messages; with no socket of context {record.context} left"
            " open, it may be what keeps its term() waiting"
        )
        return Leak(record.id, LeakKind.BLOCKS_TERM, message)
    return None


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
