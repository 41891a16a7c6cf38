"""A topology from per-process snapshots and the host's sockets: nodes, then edges,
then diagnoses (:mod:`.diagnoses`)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from zmqscope._defaults import DEFAULT_GRACE
from zmqscope.model._base import EndpointOp, SocketState
from zmqscope.model.topology.addresses import (
    INPROC,
    IPC,
    TCP,
    Address,
    parse,
    reaches,
    stays_here,
)
from zmqscope.model.topology.diagnoses import diagnose
from zmqscope.model.topology.pairs import compatible
from zmqscope.model.topology.values import (
    Edge,
    End,
    HostFacts,
    HostSocket,
    ProcessNode,
    ProcessSeen,
    SocketNode,
    Topology,
)


@dataclass(frozen=True, slots=True)
class Bound:
    """One active bind of a socket, parsed."""

    node: SocketNode
    url: str
    address: Address
    time: float


@dataclass(frozen=True, slots=True)
class Connecting:
    """One active connect of a socket, parsed."""

    node: SocketNode
    url: str
    address: Address


@dataclass(slots=True)
class _Wiring:
    """What the matching collects on its way."""

    host: HostFacts | None
    processes: list[ProcessNode]
    by_pid: dict[int, str]
    contexts: dict[str, str | None] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    unreached: list[Connecting] = field(default_factory=list)
    peers: dict[str, ProcessNode] = field(default_factory=dict)
    hidden: int = 0
    index: _HostIndex | None = None
    addresses: frozenset[str] = frozenset()

    def peer(self, pid: int | None) -> str:
        """The key of the process node for a pid the OS showed, made on first use."""
        if pid is not None and pid in self.by_pid:
            return self.by_pid[pid]
        if pid is None:
            self.hidden += 1
            key = f"?{self.hidden}"
            self.peers[key] = ProcessNode(key, None, (), instrumented=False)
            return key
        key = str(pid)
        if key not in self.peers:
            known = self.host.process(pid) if self.host else None
            argv = known.argv if known else ()
            self.peers[key] = ProcessNode(key, pid, argv, instrumented=False)
        return key


def build_topology(
    processes: Sequence[ProcessSeen],
    host: HostFacts | None = None,
    grace: float = DEFAULT_GRACE,
    now: float | None = None,
) -> Topology:
    """The topology of ``processes`` (and, with ``host``, of this host's other sockets).

    ``host`` None (saved reports): only the processes' own records are
    matched, and a connect "to nothing" is to nothing among them. ``grace``:
    seconds a REQ may wait for its reply before it is named.
    """
    nodes, cwds = _process_nodes(processes)
    wiring = _Wiring(host, nodes, {n.pid: n.key for n in nodes if n.pid is not None})
    if host is not None:
        wiring.index = _HostIndex.of(host)
        wiring.addresses = frozenset(host.addresses)
    binds, connects = _endpoints(nodes, cwds)
    for socket in (s for n in nodes for s in n.sockets):
        wiring.contexts[socket.key] = socket.record.context
    by_key = _bind_index(binds)
    for connect in connects:
        _match(wiring, connect, by_key)
    _accepted(wiring, binds)
    found = diagnose(
        nodes,
        wiring.edges,
        binds,
        wiring.unreached,
        host_checked=host is not None,
        grace=grace,
        taken=dict(_taken(nodes, processes)),
    )
    return Topology(
        taken_at=time.time() if now is None else now,
        processes=(*nodes, *wiring.peers.values()),
        edges=tuple(wiring.edges),
        diagnoses=found,
        host_checked=host is not None,
    )


def unmatched_ipc(processes: Sequence[ProcessSeen]) -> bool:
    """True when an ipc connect reaches no recorded bind: only then is the OS's unix table read.

    (The table lists every named unix socket on the host, and reading it costs
    more than the rest of a gathering when thousands of ipc sockets are open.)
    """
    # Only the ipc endpoints are taken apart: the tcp ones, most of them, do not matter here.
    bound: set[str] = set()
    connected: set[str] = set()
    for entry in processes:
        snapshot = entry.snapshot
        if snapshot is None:
            continue
        cwd = entry.cwd or snapshot.process.root
        for record in snapshot.sockets:
            if record.state is not SocketState.OPEN or record.internal is not None:
                continue
            for endpoint in record.endpoints:
                if not endpoint.active or endpoint.url[:6].lower() != "ipc://":
                    continue
                address = parse(endpoint.url, cwd)
                if address is not None:
                    mine = bound if endpoint.op is EndpointOp.BIND else connected
                    mine.add(address.path)
    return not connected <= bound


def _process_nodes(
    processes: Sequence[ProcessSeen],
) -> tuple[list[ProcessNode], dict[str, str | None]]:
    nodes: list[ProcessNode] = []
    cwds: dict[str, str | None] = {}
    seen: dict[int, int] = defaultdict(int)
    for entry in processes:
        seen[entry.pid] += 1
        key = str(entry.pid) if seen[entry.pid] == 1 else f"{entry.pid}#{seen[entry.pid]}"
        snapshot = entry.snapshot
        records = snapshot.sockets if snapshot is not None else ()
        sockets = tuple(
            SocketNode(f"{key}/{r.id}", key, entry.pid, r)
            for r in records
            if r.state is SocketState.OPEN and r.internal is None
        )
        nodes.append(
            ProcessNode(
                key, entry.pid, entry.argv, True, entry.reach, entry.problem, entry.parent, sockets
            )
        )
        root = snapshot.process.root if snapshot is not None else None
        cwds[key] = entry.cwd or root
    return nodes, cwds


def _taken(
    nodes: Sequence[ProcessNode], processes: Sequence[ProcessSeen]
) -> Iterable[tuple[str, float]]:
    for node, entry in zip(nodes, processes, strict=True):
        if entry.snapshot is not None:
            yield node.key, entry.snapshot.taken_at


def _endpoints(
    nodes: Sequence[ProcessNode], cwds: dict[str, str | None]
) -> tuple[list[Bound], list[Connecting]]:
    binds: list[Bound] = []
    connects: list[Connecting] = []
    for node in nodes:
        cwd = cwds.get(node.key)
        for socket in node.sockets:
            for endpoint in socket.record.endpoints:
                address = parse(endpoint.url, cwd) if endpoint.active else None
                if address is None:
                    continue
                if endpoint.op is EndpointOp.BIND:
                    binds.append(Bound(socket, endpoint.url, address, endpoint.time))
                else:
                    connects.append(Connecting(socket, endpoint.url, address))
    return binds, connects


def _bind_index(binds: Sequence[Bound]) -> dict[tuple[str, str], list[Bound]]:
    """Binds by transport and port (tcp) or path: what a connect can reach is among one list."""
    index: dict[tuple[str, str], list[Bound]] = defaultdict(list)
    for bound in binds:
        address = bound.address
        index[(address.transport, address.port or address.path)].append(bound)
    return index


def _match(
    wiring: _Wiring, connect: Connecting, by_key: dict[tuple[str, str], list[Bound]]
) -> None:
    address = connect.address
    if address.transport not in (TCP, IPC, INPROC):
        return  # pgm, udp, ws, ...: not matched, not judged
    if address.transport == TCP and not stays_here(address.host, wiring.addresses):
        return  # another host's port, whatever binds the same number here
    candidates = by_key.get((address.transport, address.port or address.path), [])
    reached = [b for b in candidates if _reaches(wiring, connect, b)]
    if address.transport == IPC and len(reached) > 1:
        # The last bind replaced the socket file: new connects reach it alone.
        reached = [max(reached, key=lambda b: b.time)]
    source = End(connect.node.process, connect.node.key, connect.url)
    for bound in reached:
        target = End(bound.node.process, bound.node.key, bound.url)
        fits = compatible(connect.node.type, bound.node.type)
        wiring.edges.append(Edge(source, target, address.transport, fits))
    if reached or address.transport == INPROC:
        if not reached:
            wiring.unreached.append(connect)
        return
    listener = wiring.index.listener(address) if wiring.index is not None else None
    if listener is not None:
        target = End(wiring.peer(listener.pid), None, listener.local)
        wiring.edges.append(Edge(source, target, address.transport))
    else:
        wiring.unreached.append(connect)


def _reaches(wiring: _Wiring, connect: Connecting, bound: Bound) -> bool:
    if not reaches(connect.address, bound.address):
        return False
    if connect.address.transport != INPROC:
        return True
    # inproc: within one process and one context.
    return bound.node.process == connect.node.process and (
        wiring.contexts.get(bound.node.key) == wiring.contexts.get(connect.node.key)
    )


@dataclass(slots=True)
class _HostIndex:
    """The host's sockets by port (tcp) or path (ipc), parsed once."""

    listening: dict[tuple[str, str], list[tuple[Address, HostSocket]]]
    connected: dict[tuple[int | None, str], list[tuple[Address, HostSocket]]]
    by_local: dict[str, list[HostSocket]]

    @classmethod
    def of(cls, host: HostFacts) -> _HostIndex:
        index = cls(defaultdict(list), defaultdict(list), defaultdict(list))
        for socket in host.sockets:
            local = parse(socket.local)
            if local is None:
                continue
            if socket.listening:
                index.listening[(local.transport, local.port or local.path)].append((local, socket))
            elif socket.remote is not None:
                index.connected[(socket.pid, local.port)].append((local, socket))
                index.by_local[socket.local].append(socket)
        return index

    def listener(self, address: Address) -> HostSocket | None:
        for local, socket in self.listening.get(
            (address.transport, address.port or address.path), []
        ):
            if reaches(address, local):
                return socket
        return None

    def accepted(self, pid: int | None, bound: Address) -> Iterable[HostSocket]:
        """The connected sockets of ``pid`` whose local address is the bind's."""
        for local, socket in self.connected.get((pid, bound.port), []):
            if reaches(local, bound):
                yield socket

    def client_of(self, accepted: HostSocket) -> HostSocket | None:
        for socket in self.by_local.get(accepted.remote or "", []):
            if socket.remote == accepted.local:
                return socket
        return None


def _accepted(wiring: _Wiring, binds: Sequence[Bound]) -> None:
    """Edges from processes the OS shows connected to a tcp bind, that no connect explains."""
    index = wiring.index
    if index is None:
        return
    explained = {(e.source.process, e.target.socket) for e in wiring.edges}
    for bound in binds:
        if bound.address.transport != TCP:
            continue
        for accepted in index.accepted(bound.node.pid, bound.address):
            client = index.client_of(accepted)
            key = wiring.peer(client.pid if client is not None else None)
            if (key, bound.node.key) in explained:
                continue
            explained.add((key, bound.node.key))
            target = End(bound.node.process, bound.node.key, bound.url)
            wiring.edges.append(Edge(End(key, None, accepted.remote or ""), target, TCP))
