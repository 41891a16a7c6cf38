"""Sockets, contexts and the process: what happened to them (call sites: ``_sites``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from zmqscope.model._base import (
    ContextState,
    EndpointOp,
    SchemaError,
    SocketState,
    _list,
    _optional,
    _optional_time,
    _require,
    _text,
    check_count,
    check_time,
    scalar_text,
)
from zmqscope.model._sites import CallSite, Frame, ThreadRef


def _callsite_or_none(data: Mapping[str, Any], key: str) -> CallSite | None:
    value = _optional(data, key, dict)
    return CallSite.from_dict(value) if value else None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A bind or connect, with the address libzmq actually used.

    ``url`` is resolved (``tcp://127.0.0.1:*`` becomes the bound port);
    ``requested`` keeps what the application asked for when it differs.
    ``active`` turns false after unbind/disconnect.
    """

    op: EndpointOp
    url: str
    active: bool = True
    requested: str | None = None
    time: float = 0.0
    site: Frame | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "op": self.op.value,
            "url": self.url,
            "active": self.active,
            "requested": self.requested,
            "time": self.time,
            "site": self.site.to_dict() if self.site else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Endpoint:
        try:
            op = EndpointOp(_require(data, "op", str))
        except ValueError:
            raise SchemaError("unknown endpoint op") from None
        site = _optional(data, "site", dict)
        return cls(
            op=op,
            url=_require(data, "url", str),
            active=bool(data.get("active", True)),
            requested=_optional(data, "requested", str),
            time=_optional_time(data, "time") or 0.0,
            site=Frame.from_dict(site) if site else None,
        )


@dataclass(frozen=True, slots=True)
class Traffic:
    """Per-socket message counters (traffic mode only)."""

    msgs_out: int = 0
    msgs_in: int = 0
    frames_out: int = 0
    frames_in: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    last_send: float | None = None
    last_recv: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "msgs_out": self.msgs_out,
            "msgs_in": self.msgs_in,
            "frames_out": self.frames_out,
            "frames_in": self.frames_in,
            "bytes_out": self.bytes_out,
            "bytes_in": self.bytes_in,
            "last_send": self.last_send,
            "last_recv": self.last_recv,
        }

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Traffic:
        """From the compact list a live snapshot carries (see zmqscope.remote.protocol)."""
        if not isinstance(row, (list, tuple)) or len(row) != 8:
            raise SchemaError("a traffic row has 8 numbers")
        # Counts are integers; an integral float (a server that summed floats) reads too.
        counts = [check_count(_integral(n), "a traffic count") for n in row[:6]]
        sent, received = (_when(n) for n in row[6:])
        msgs_out, msgs_in, frames_out, frames_in, bytes_out, bytes_in = counts
        return cls(
            msgs_out=msgs_out,
            msgs_in=msgs_in,
            frames_out=frames_out,
            frames_in=frames_in,
            bytes_out=bytes_out,
            bytes_in=bytes_in,
            last_send=sent,
            last_recv=received,
        )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Traffic:
        ints = {
            k: int(_optional(data, k, int) or 0)
            for k in ("msgs_out", "msgs_in", "frames_out", "frames_in", "bytes_out", "bytes_in")
        }
        return cls(
            **ints,
            last_send=_optional_time(data, "last_send"),
            last_recv=_optional_time(data, "last_recv"),
        )


def _integral(value: Any) -> Any:
    return int(value) if isinstance(value, float) and value.is_integer() else value


def _when(value: Any) -> float | None:
    """A traffic row's time: 0 (never) is None."""
    if value == 0 and not isinstance(value, bool):
        return None
    return check_time(value, "a traffic time")


@dataclass(frozen=True, slots=True)
class SocketRecord:
    """Everything recorded about one libzmq socket (shadows collapse onto one).

    ``internal`` names the pyzmq helper that made the socket for itself (e.g.
    ``zmq.utils.garbage``, the zero-copy tracker): not the application's,
    never a leak. ``proxied_by`` names the C loop it was handed to
    (``zmq.proxy``, ``zmq.device``, ...): messages it forwards bypass the
    Python send/recv that traffic mode counts.
    """

    id: str
    context: str | None
    type: str
    state: SocketState
    created: CallSite
    closed: CallSite | None = None
    endpoints: tuple[Endpoint, ...] = ()
    linger: int | None = -1
    linger_source: str = "default"
    options: tuple[tuple[str, str], ...] = ()
    threads_used: tuple[ThreadRef, ...] = ()
    traffic: Traffic | None = None
    adopted: bool = False
    internal: str | None = None
    proxied_by: str | None = None

    @property
    def active_endpoints(self) -> tuple[Endpoint, ...]:
        return tuple(e for e in self.endpoints if e.active)

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "context": self.context,
            "type": self.type,
            "state": self.state.value,
            "created": self.created.to_dict(),
            "closed": self.closed.to_dict() if self.closed else None,
            "endpoints": [e.to_dict() for e in self.endpoints],
            "linger": self.linger,
            "linger_source": self.linger_source,
            "options": dict(self.options),
            "threads_used": [t.to_dict() for t in self.threads_used],
            "traffic": self.traffic.to_dict() if self.traffic else None,
            "adopted": self.adopted,
            "internal": self.internal,
            "proxied_by": self.proxied_by,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SocketRecord:
        try:
            state = SocketState(_require(data, "state", str))
        except ValueError:
            raise SchemaError("unknown socket state") from None
        created = _require(data, "created", dict)
        options = _optional(data, "options", dict) or {}
        traffic = _optional(data, "traffic", dict)
        return cls(
            id=_require(data, "id", str),
            context=_optional(data, "context", str),
            type=_require(data, "type", str),
            state=state,
            created=CallSite.from_dict(created),
            closed=_callsite_or_none(data, "closed"),
            endpoints=tuple(Endpoint.from_dict(e) for e in _list(data, "endpoints")),
            linger=_optional(data, "linger", int),
            linger_source=_text(data, "linger_source", "default"),
            options=tuple(
                (scalar_text(k, "an option name"), scalar_text(v, f"option {k!r}"))
                for k, v in options.items()
            ),
            threads_used=tuple(ThreadRef.from_dict(t) for t in _list(data, "threads_used")),
            traffic=Traffic.from_dict(traffic) if traffic else None,
            adopted=bool(data.get("adopted", False)),
            # Both absent from reports written before they existed.
            internal=_optional(data, "internal", str),
            proxied_by=_optional(data, "proxied_by", str),
        )


@dataclass(frozen=True, slots=True)
class SocketFailure:
    """A ``socket()`` of a context that libzmq refused (EMFILE: "Too many open files").

    libzmq reports both of its limits with the same error: ``limit`` says
    which one it was, ``"max-sockets"`` or ``"fds"`` (see
    :func:`refusal_limit`), from ``open_sockets`` (the sockets of the context
    zmqscope knew to be open then), ``max_sockets`` (its limit then) and
    whether a file descriptor was free then.
    """

    site: CallSite
    errno: int
    error: str
    open_sockets: int
    max_sockets: int | None = None
    limit: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.site.to_dict(),
            "errno": self.errno,
            "error": self.error,
            "open_sockets": self.open_sockets,
            "max_sockets": self.max_sockets,
            "limit": self.limit,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SocketFailure:
        open_sockets = _require(data, "open_sockets", int)
        max_sockets = _optional(data, "max_sockets", int)
        limit = _optional(data, "limit", str) or refusal_limit(open_sockets, max_sockets)
        return cls(
            site=CallSite.from_dict(data),
            errno=_require(data, "errno", int),
            error=_text(data, "error", ""),
            open_sockets=open_sockets,
            max_sockets=max_sockets,
            limit=limit,
        )


LIMIT_MAX_SOCKETS = "max-sockets"
LIMIT_FDS = "fds"


def refusal_limit(
    open_sockets: int,
    max_sockets: int | None,
    fds_exhausted: bool | None = None,
    started: bool = True,
) -> str:
    """Which limit refused a ``socket()``: ``"max-sockets"`` or ``"fds"``.

    A context holding MAX_SOCKETS open sockets is full. It is also full when
    a descriptor was still free and the context had made sockets before
    (another socket needs one, its mailbox): closed sockets keep their slot
    until libzmq's reaper lets go of them. A context's first socket needs five.
    """
    if max_sockets is None:
        return LIMIT_FDS
    if open_sockets >= max_sockets or (fds_exhausted is False and started):
        return LIMIT_MAX_SOCKETS
    return LIMIT_FDS


@dataclass(frozen=True, slots=True)
class ContextRecord:
    """One libzmq context (shadow contexts collapse onto one).

    ``internal``: the pyzmq helper that made it for itself, as on sockets.
    ``max_sockets`` is the MAX_SOCKETS libzmq enforces for it (None when not
    known); ``max_sockets_ignored`` a value the application set after the
    context's first socket, which libzmq ignores. ``socket_failures`` keeps
    the first few ``socket()`` calls libzmq refused, ``failures_total`` counts
    them all.
    """

    id: str
    state: ContextState
    created: CallSite | None = None
    term_called: CallSite | None = None
    term_blocked_since: float | None = None
    terminated_at: float | None = None
    adopted: bool = False
    internal: str | None = None
    max_sockets: int | None = None
    # How long a term() reported blocked waited in all, from its call until
    # it returned (or raised); None while it waits, or if it never blocked.
    term_blocked_for: float | None = None
    max_sockets_ignored: int | None = None
    socket_failures: tuple[SocketFailure, ...] = ()
    failures_total: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "state": self.state.value,
            "created": self.created.to_dict() if self.created else None,
            "term_called": self.term_called.to_dict() if self.term_called else None,
            "term_blocked_since": self.term_blocked_since,
            "terminated_at": self.terminated_at,
            "term_blocked_for": self.term_blocked_for,
            "adopted": self.adopted,
            "internal": self.internal,
            "max_sockets": self.max_sockets,
            "max_sockets_ignored": self.max_sockets_ignored,
            "socket_failures": [f.to_dict() for f in self.socket_failures],
            "failures_total": self.failures_total,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ContextRecord:
        try:
            state = ContextState(_require(data, "state", str))
        except ValueError:
            raise SchemaError("unknown context state") from None
        failures = tuple(SocketFailure.from_dict(f) for f in _list(data, "socket_failures"))
        return cls(
            id=_require(data, "id", str),
            state=state,
            created=_callsite_or_none(data, "created"),
            term_called=_callsite_or_none(data, "term_called"),
            term_blocked_since=_optional_time(data, "term_blocked_since"),
            terminated_at=_optional_time(data, "terminated_at"),
            term_blocked_for=_optional(data, "term_blocked_for", (int, float)),
            adopted=bool(data.get("adopted", False)),
            internal=_optional(data, "internal", str),
            max_sockets=_optional(data, "max_sockets", int),
            max_sockets_ignored=_optional(data, "max_sockets_ignored", int),
            socket_failures=failures,
            failures_total=max(_optional(data, "failures_total", int) or 0, len(failures)),
        )


@dataclass(frozen=True, slots=True)
class ProcessInfo:
    """The process a snapshot was taken in."""

    pid: int
    argv: tuple[str, ...]
    python: str
    pyzmq: str
    libzmq: str
    # The folder the application's paths are shown relative to: the working
    # directory when zmqscope started in the process (None: not recorded).
    root: str | None = None
    # os.fork() as zmqscope saw it: the pid this process was forked from, and
    # how many children it forked. Parent and child then print look-alike
    # reports, which say their pid (:attr:`forked`).
    forked_from: int | None = None
    forks: int = 0
    # The parent's pid, in a report a child of ``zmqscope run`` delivered
    # (None: not recorded).
    ppid: int | None = None

    @property
    def forked(self) -> bool:
        """True for a process that forked, or was forked: one of several alike."""
        return self.forked_from is not None or self.forks > 0

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "pid": self.pid,
            "argv": list(self.argv),
            "python": self.python,
            "pyzmq": self.pyzmq,
            "libzmq": self.libzmq,
        }
        if self.root is not None:
            data["root"] = self.root
        if self.forked_from is not None:
            data["forked_from"] = self.forked_from
        if self.forks:
            data["forks"] = self.forks
        if self.ppid is not None:
            data["ppid"] = self.ppid
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProcessInfo:
        argv = _list(data, "argv")
        return cls(
            pid=check_count(data.get("pid"), "field 'pid'"),
            argv=tuple(scalar_text(a, "an argument") for a in argv),
            python=_text(data, "python", ""),
            pyzmq=_text(data, "pyzmq", ""),
            libzmq=_text(data, "libzmq", ""),
            root=_optional(data, "root", str),
            forked_from=_optional(data, "forked_from", int),
            forks=_optional(data, "forks", int) or 0,
            ppid=_optional(data, "ppid", int),
        )
