"""The values of a topology: what went in (snapshots, the host's sockets), what came out
(nodes, edges, diagnoses), and their ``zmqscope.topology/1`` JSON forms."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from zmqscope.model._base import (
    SchemaError,
    _list,
    _optional,
    _require,
    _time,
    check_count,
    scalar_text,
)
from zmqscope.model._records import SocketRecord
from zmqscope.model._snapshot import Snapshot

TOPOLOGY_SCHEMA = "zmqscope.topology/1"


# -- what goes in -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostSocket:
    """One OS socket of this host, as the kernel lists it (psutil.net_connections).

    ``local``/``remote`` are written as ZeroMQ endpoints: ``tcp://127.0.0.1:5555``,
    ``tcp://[::1]:5555``, ``ipc:///tmp/x.sock`` (a unix socket's path);
    ``remote`` is None when there is none (a listener, most unix sockets).
    ``pid`` is None for another user's socket: the kernel does not say whose.
    """

    local: str
    remote: str | None
    listening: bool
    pid: int | None


@dataclass(frozen=True, slots=True)
class HostProcess:
    """A process of this host that a host socket belongs to."""

    pid: int
    argv: tuple[str, ...]
    cwd: str | None = None


@dataclass(frozen=True, slots=True)
class HostFacts:
    """What the OS says about this host's sockets, for matching what the snapshots cannot.

    ``addresses`` are this host's own IP addresses (loopback ones need not
    be listed): a connect to one of them stays on this host, and can be
    judged; one to any other address is not.
    """

    sockets: tuple[HostSocket, ...] = ()
    processes: tuple[HostProcess, ...] = ()
    addresses: tuple[str, ...] = ()

    def process(self, pid: int | None) -> HostProcess | None:
        for process in self.processes:
            if process.pid == pid:
                return process
        return None


class Reach(str, Enum):
    """How a process's records were obtained, or why they were not."""

    LIVE = "live"  # its server answered with a snapshot
    SAVED = "saved"  # read from a report file
    BUSY = "busy"  # its server refused for now (over budget, too many clients)
    NO_ANSWER = "no-answer"  # its server did not answer in time (hung, stopped)
    UNREACHABLE = "unreachable"  # cannot be asked (gone, refused, not a zmqscope server)


@dataclass(frozen=True, slots=True)
class ProcessSeen:
    """One instrumented process, as gathered: its snapshot, or why there is none.

    ``cwd`` resolves its relative ipc paths (None: its snapshot's
    ``process.root``, else paths are taken as given). ``problem`` is the
    one-line reason when ``snapshot`` is None.
    """

    pid: int
    argv: tuple[str, ...]
    reach: Reach
    snapshot: Snapshot | None = None
    cwd: str | None = None
    parent: int | None = None
    problem: str | None = None

    @classmethod
    def of(cls, snapshot: Snapshot, reach: Reach = Reach.SAVED, **more: Any) -> ProcessSeen:
        """A process seen through one snapshot (a saved report's, a live answer)."""
        process = snapshot.process
        return cls(process.pid, process.argv, reach, snapshot, **more)


# -- what comes out ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SocketNode:
    """A socket of an instrumented process: its record, under a key unique in the topology.

    ``key`` is ``"<process key>/<socket id>"`` (``"4242/s3"``), ``pid`` its process's. Type,
    endpoints, owner thread (``record.created.thread``) and creation line
    (``record.created``) are the record's.
    """

    key: str
    process: str
    pid: int
    record: SocketRecord

    @property
    def type(self) -> str:
        return self.record.type

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "process": self.process,
            "pid": self.pid,
            "record": self.record.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SocketNode:
        return cls(
            _require(data, "key", str),
            _require(data, "process", str),
            check_count(data.get("pid"), "field 'pid'"),
            SocketRecord.from_dict(_require(data, "record", dict)),
        )


@dataclass(frozen=True, slots=True)
class ProcessNode:
    """A process: instrumented (with its sockets) or a peer known only from the OS.

    ``key`` is the pid as text (``"4242"``); a second report of the same pid
    gets ``"4242#2"``; a peer whose pid the OS hides (another user's) gets
    ``"?1"``, ``"?2"``. ``reach`` is None for a peer that is not instrumented.
    ``open_sockets`` counts the socket nodes; ``sockets`` holds the open ones
    (closed sockets talk to nobody).
    """

    key: str
    pid: int | None
    argv: tuple[str, ...]
    instrumented: bool
    reach: Reach | None = None
    problem: str | None = None
    parent: int | None = None
    sockets: tuple[SocketNode, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "pid": self.pid,
            "argv": list(self.argv),
            "instrumented": self.instrumented,
            "reach": self.reach.value if self.reach else None,
            "problem": self.problem,
            "parent": self.parent,
            "sockets": [s.to_dict() for s in self.sockets],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessNode:
        reach = _optional(data, "reach", str)
        try:
            reached = Reach(reach) if reach is not None else None
        except ValueError:
            raise SchemaError("unknown process reach") from None
        pid = data.get("pid")
        return cls(
            key=_require(data, "key", str),
            pid=None if pid is None else check_count(pid, "field 'pid'"),
            argv=tuple(scalar_text(a, "an argument") for a in _list(data, "argv")),
            instrumented=bool(data.get("instrumented", False)),
            reach=reached,
            problem=_optional(data, "problem", str),
            parent=_optional(data, "parent", int),
            sockets=tuple(SocketNode.from_dict(s) for s in _list(data, "sockets")),
        )


@dataclass(frozen=True, slots=True)
class End:
    """One end of an edge: a socket, or a process the OS shows (``socket`` None).

    ``endpoint`` is the address as this end knows it: the connect's URL on
    the connecting end, the bound URL (or the OS's listening address) on the
    other.
    """

    process: str
    socket: str | None
    endpoint: str

    def to_dict(self) -> dict[str, Any]:
        return {"process": self.process, "socket": self.socket, "endpoint": self.endpoint}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> End:
        return cls(
            _require(data, "process", str),
            _optional(data, "socket", str),
            _require(data, "endpoint", str),
        )


@dataclass(frozen=True, slots=True)
class Edge:
    """A connect matched to the bind (or OS listener) it reaches.

    ``source`` connects, ``target`` binds. ``transport`` is ``tcp``, ``ipc``
    or ``inproc``. ``compatible`` is False for socket types ZeroMQ will not
    pair (the handshake fails silently), None when it cannot be told (a
    peer known only from the OS, a STREAM socket).
    """

    source: End
    target: End
    transport: str
    compatible: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": self.source.to_dict(),
            "target": self.target.to_dict(),
            "transport": self.transport,
            "compatible": self.compatible,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Edge:
        compatible = data.get("compatible")
        return cls(
            End.from_dict(_require(data, "source", dict)),
            End.from_dict(_require(data, "target", dict)),
            _require(data, "transport", str),
            compatible if isinstance(compatible, bool) else None,
        )


class DiagnosisKind(str, Enum):
    CONNECT_TO_NOTHING = "connect-to-nothing"
    UNUSED_BIND = "unused-bind"
    INCOMPATIBLE_TYPES = "incompatible-types"
    DOUBLE_BIND = "double-bind"
    NO_SUBSCRIPTION = "no-subscription"
    REQ_WAITING = "req-waiting"


@dataclass(frozen=True, slots=True)
class Diagnosis:
    """Something wrong with the wiring, naming the sockets involved.

    ``sockets`` are socket keys (see :class:`SocketNode`), in the order the
    ``message`` names them; the message is one line and names their
    creation lines already. ``endpoint`` is the address in question, if one.
    """

    kind: DiagnosisKind
    message: str
    sockets: tuple[str, ...]
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "message": self.message,
            "sockets": list(self.sockets),
            "endpoint": self.endpoint,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Diagnosis:
        try:
            kind = DiagnosisKind(_require(data, "kind", str))
        except ValueError:
            raise SchemaError("unknown diagnosis kind") from None
        return cls(
            kind,
            _require(data, "message", str),
            tuple(scalar_text(s, "a socket key") for s in _list(data, "sockets")),
            _optional(data, "endpoint", str),
        )


@dataclass(frozen=True, slots=True)
class Topology:
    """Who talks to whom on this host: processes, their sockets, edges and diagnoses.

    ``host_checked`` says whether the OS's sockets were read (a live
    gathering) or not (saved reports): without them a connect "to nothing"
    means to nothing among the processes seen.
    """

    taken_at: float
    processes: tuple[ProcessNode, ...] = ()
    edges: tuple[Edge, ...] = ()
    diagnoses: tuple[Diagnosis, ...] = ()
    host_checked: bool = False
    # Look-ups by key, made on first use (a view asks for each of 20,000 sockets).
    _index: _Index | None = field(default=None, init=False, repr=False, compare=False)

    def _indexed(self) -> _Index:
        index = self._index
        if index is None:
            index = _Index.of(self)
            object.__setattr__(self, "_index", index)
        return index

    def process(self, key: str) -> ProcessNode | None:
        return self._indexed().processes.get(key)

    def socket(self, key: str) -> SocketNode | None:
        return self._indexed().sockets.get(key)

    def edges_of(self, socket_key: str) -> tuple[Edge, ...]:
        """The edges a socket is an end of, in the topology's order."""
        return tuple(self._indexed().edges.get(socket_key, ()))

    def peers_of(self, socket_key: str) -> tuple[End, ...]:
        """The other ends of a socket's edges: sockets, or processes the OS shows."""
        return tuple(
            e.target if e.source.socket == socket_key else e.source
            for e in self.edges_of(socket_key)
        )

    def diagnoses_of(self, socket_key: str) -> tuple[Diagnosis, ...]:
        """The diagnoses that name a socket."""
        return tuple(self._indexed().diagnoses.get(socket_key, ()))

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": TOPOLOGY_SCHEMA,
            "taken_at": self.taken_at,
            "host_checked": self.host_checked,
            "processes": [p.to_dict() for p in self.processes],
            "edges": [e.to_dict() for e in self.edges],
            "diagnoses": [d.to_dict() for d in self.diagnoses],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Topology:
        schema = data.get("schema")
        if not isinstance(schema, str) or not (
            schema == TOPOLOGY_SCHEMA or schema.startswith(TOPOLOGY_SCHEMA + ".")
        ):
            raise SchemaError(
                f"unsupported topology schema (this zmqscope reads {TOPOLOGY_SCHEMA})"
            )
        return cls(
            taken_at=_time(data, "taken_at"),
            processes=tuple(ProcessNode.from_dict(p) for p in _list(data, "processes")),
            edges=tuple(Edge.from_dict(e) for e in _list(data, "edges")),
            diagnoses=tuple(Diagnosis.from_dict(d) for d in _list(data, "diagnoses")),
            host_checked=bool(data.get("host_checked", False)),
        )


@dataclass(frozen=True, slots=True)
class _Index:
    processes: dict[str, ProcessNode]
    sockets: dict[str, SocketNode]
    edges: dict[str, list[Edge]]
    diagnoses: dict[str, list[Diagnosis]]

    @classmethod
    def of(cls, topology: Topology) -> _Index:
        edges: dict[str, list[Edge]] = {}
        for edge in topology.edges:
            for key in {edge.source.socket, edge.target.socket}:
                if key is not None:
                    edges.setdefault(key, []).append(edge)
        diagnoses: dict[str, list[Diagnosis]] = {}
        for diagnosis in topology.diagnoses:
            for key in dict.fromkeys(diagnosis.sockets):
                diagnoses.setdefault(key, []).append(diagnosis)
        return cls(
            {p.key: p for p in topology.processes},
            {s.key: s for p in topology.processes for s in p.sockets},
            edges,
            diagnoses,
        )
