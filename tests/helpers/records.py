"""Hand-built socket records and snapshots for the report tests: an app in /srv/project."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone

from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Endpoint,
    EndpointOp,
    Frame,
    ProcessInfo,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadRef,
)

WORKER = ThreadRef(140000, "worker-1")
MAIN = ThreadRef(1, "MainThread")
ROOT = "/srv/project"
# 2026-11-28T10:00:00Z plus a fraction the JSON must drop.
GENERATED_AT = datetime(2026, 11, 28, 10, 0, 0, tzinfo=timezone.utc).timestamp() + 0.4
WILDCARD_BIND = Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:43211", requested="tcp://127.0.0.1:*")
CONNECT = Endpoint(EndpointOp.CONNECT, "tcp://127.0.0.1:5556")


def frames(root: str = ROOT) -> tuple[Frame, ...]:
    """An application call site and the two frames that led to it."""
    return (
        Frame(f"{root}/app.py", 12, "start"),
        Frame(f"{root}/pkg/main.py", 40, "main"),
        Frame("/opt/elsewhere/runner.py", 7, "<module>"),
    )


def sock(
    socket_id: str = "s1",
    state: SocketState = SocketState.OPEN,
    *,
    type_name: str = "PULL",
    stack: Sequence[Frame] | None = None,
    thread: ThreadRef | None = WORKER,
    endpoints: Sequence[Endpoint] = (),
    linger: int | None = -1,
    closed: CallSite | None = None,
    adopted: bool = False,
) -> SocketRecord:
    """A socket record with sensible defaults: an open PULL made by worker-1."""
    return SocketRecord(
        id=socket_id,
        context="c1",
        type=type_name,
        state=state,
        created=CallSite(100.0, thread, frames() if stack is None else tuple(stack)),
        closed=closed,
        endpoints=tuple(endpoints),
        linger=linger,
        adopted=adopted,
    )


def closed_sock(
    socket_id: str = "s2",
    *,
    linger: int | None = -1,
    endpoints: Sequence[Endpoint] = (),
    root: str = ROOT,
) -> SocketRecord:
    """A PUSH socket closed from MainThread in app.py:30 stop()."""
    closed = CallSite(200.0, MAIN, (Frame(f"{root}/app.py", 30, "stop"),))
    return sock(
        socket_id,
        SocketState.CLOSED,
        type_name="PUSH",
        stack=frames(root),
        closed=closed,
        linger=linger,
        endpoints=endpoints,
    )


def snap(
    *sockets: SocketRecord,
    context_state: ContextState = ContextState.OPEN,
    created_total: int | None = None,
    dropped: int = 0,
) -> Snapshot:
    """A snapshot of process 123 with one context, c1, holding ``sockets``."""
    return Snapshot(
        taken_at=GENERATED_AT,
        process=ProcessInfo(123, ("app.py",), "3.11.7", "27.0.0", "4.3.5"),
        contexts=(ContextRecord("c1", context_state),),
        sockets=sockets,
        created_total=len(sockets) if created_total is None else created_total,
        dropped=dropped,
    )
