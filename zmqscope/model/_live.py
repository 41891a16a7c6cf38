"""Records that only a live process has: its vital signs, threads and events."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from zmqscope.model._base import _list, _optional, _require, _text, _time, scalar_text
from zmqscope.model._sites import Frame, frames_from_list, frames_to_list


@dataclass(frozen=True, slots=True)
class Peer:
    """An OS connection matched to one of a socket's tcp endpoints."""

    socket: str
    endpoint: str
    local: str
    remote: str
    status: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "socket": self.socket,
            "endpoint": self.endpoint,
            "local": self.local,
            "remote": self.remote,
            "status": self.status,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Peer:
        return cls(
            socket=_require(data, "socket", str),
            endpoint=_require(data, "endpoint", str),
            local=_require(data, "local", str),
            remote=_require(data, "remote", str),
            status=_require(data, "status", str),
        )


@dataclass(frozen=True, slots=True)
class ProcessStats:
    """A live process's vital signs, as psutil reads them in the server.

    ``fds``/``fd_limit`` show how close a leaking app is to "Too many open
    files"; ``peers`` are the OS connections behind each tcp endpoint.
    """

    started: float
    cpu_percent: float = 0.0
    rss: int = 0
    threads: int = 0
    fds: int | None = None
    fd_limit: int | None = None
    peers: tuple[Peer, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "started": self.started,
            "cpu_percent": self.cpu_percent,
            "rss": self.rss,
            "threads": self.threads,
            "fds": self.fds,
            "fd_limit": self.fd_limit,
            "peers": [p.to_dict() for p in self.peers],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessStats:
        return cls(
            started=_time(data, "started"),
            cpu_percent=float(_optional(data, "cpu_percent", (int, float)) or 0.0),
            rss=int(_optional(data, "rss", int) or 0),
            threads=int(_optional(data, "threads", int) or 0),
            fds=_optional(data, "fds", int),
            fd_limit=_optional(data, "fd_limit", int),
            peers=tuple(Peer.from_dict(p) for p in _list(data, "peers")),
        )


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """A thread of the process now: where it is and which sockets it owns."""

    id: int
    name: str
    daemon: bool
    stack: tuple[Frame, ...]
    sockets: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "daemon": self.daemon,
            "stack": frames_to_list(self.stack),
            "sockets": list(self.sockets),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ThreadInfo:
        return cls(
            id=_require(data, "id", int),
            name=_require(data, "name", str),
            daemon=bool(data.get("daemon", False)),
            stack=frames_from_list(data.get("stack", [])),
            sockets=tuple(scalar_text(s, "a socket id") for s in _list(data, "sockets")),
        )


@dataclass(frozen=True, slots=True)
class Event:
    """One entry of the registry's bounded event log.

    ``kind`` is one of created, bound, connected, unbound, disconnected,
    closed, collected, warning, term-blocked, term-done, socket-refused
    (libzmq refused a ``socket()``: EMFILE).
    """

    seq: int
    time: float
    kind: str
    socket: str | None = None
    context: str | None = None
    detail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "kind": self.kind,
            "socket": self.socket,
            "context": self.context,
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Event:
        return cls(
            seq=_require(data, "seq", int),
            time=_time(data, "time"),
            kind=_require(data, "kind", str),
            socket=_optional(data, "socket", str),
            context=_optional(data, "context", str),
            detail=_text(data, "detail", ""),
        )
