"""Hand-built processes for the topology tests: sockets made at known lines, their endpoints."""

from __future__ import annotations

from collections.abc import Sequence

from zmqscope.model import (
    CallSite,
    Endpoint,
    EndpointOp,
    Frame,
    ProcessInfo,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadRef,
    Traffic,
)
from zmqscope.model.topology import ProcessSeen, Reach

TAKEN_AT = 1_800_000_000.0
MAIN = ThreadRef(1, "MainThread")


def bind(url: str, time: float = 0.0, requested: str | None = None) -> Endpoint:
    return Endpoint(EndpointOp.BIND, url, requested=requested, time=time)


def connect(url: str) -> Endpoint:
    return Endpoint(EndpointOp.CONNECT, url)


def socket(
    socket_id: str,
    type_name: str,
    *endpoints: Endpoint,
    line: int = 10,
    file: str = "/srv/app/app.py",
    context: str = "c1",
    options: Sequence[tuple[str, str]] = (),
    traffic: Traffic | None = None,
    state: SocketState = SocketState.OPEN,
    internal: str | None = None,
) -> SocketRecord:
    """An open socket made by MainThread at ``file:line`` in main()."""
    frame = Frame(file, line, "main", origin="user", display=file.rsplit("/", 1)[-1])
    return SocketRecord(
        id=socket_id,
        context=context,
        type=type_name,
        state=state,
        created=CallSite(TAKEN_AT - 60, MAIN, (frame,), user_frame=0),
        endpoints=tuple(endpoints),
        options=tuple(options),
        traffic=traffic,
        internal=internal,
    )


def process(
    pid: int,
    *sockets: SocketRecord,
    argv: Sequence[str] = ("python", "app.py"),
    root: str | None = "/srv/app",
    cwd: str | None = None,
    taken_at: float = TAKEN_AT,
) -> ProcessSeen:
    """Process ``pid`` seen live, with ``sockets``."""
    info = ProcessInfo(pid, tuple(argv), "3.11.7", "27.0.0", "4.3.5", root=root)
    snapshot = Snapshot(taken_at=taken_at, process=info, sockets=tuple(sockets))
    return ProcessSeen(pid, tuple(argv), Reach.LIVE, snapshot, cwd=cwd)


def silent(pid: int, reach: Reach = Reach.NO_ANSWER) -> ProcessSeen:
    """Process ``pid``, which did not answer."""
    return ProcessSeen(pid, ("python", "hung.py"), reach, None, problem="no answer within 1 s")
