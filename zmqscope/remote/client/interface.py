"""What the CLI and the TUI see of a target, live or saved: the :class:`Client`
interface, the values it returns, and its errors."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from zmqscope._errors import ZmqscopeError
from zmqscope.model import (
    ContextState,
    Event,
    LeakKind,
    LimitWarning,
    ProcessInfo,
    ProcessStats,
    Snapshot,
    SocketState,
    ThreadInfo,
)
from zmqscope.reporting import Report, build_report, find_leak

DEFAULT_TIMEOUT = 3.0


class ClientError(ZmqscopeError):
    """Cannot reach or read the target; the message is one line for the user."""


class ServerBusy(ClientError):
    """The server refused for now (over its budget, too many clients); ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Hello:
    """Who the target is."""

    process: ProcessInfo
    endpoint: str
    started: float | None
    open_sockets: int
    term_blocked: bool
    stats: ProcessStats | None
    # Limits near or reached (MAX_SOCKETS, file descriptors), without their sites.
    limits: tuple[LimitWarning, ...] = ()


class LiveSnapshot:
    """A snapshot plus, for a live process, its vital signs.

    ``report`` (leak analysis over the snapshot) is made on first use: a
    polling TUI mostly needs only the snapshot.
    """

    __slots__ = ("_report", "snapshot", "stats")

    def __init__(
        self, snapshot: Snapshot, stats: ProcessStats | None, report: Report | None = None
    ) -> None:
        self.snapshot = snapshot
        self.stats = stats
        self._report = report

    @property
    def report(self) -> Report:
        """The report of a running process: open sockets are its inventory, not leaks."""
        if self._report is None:
            stats = self.stats
            fds, fd_limit = (stats.fds, stats.fd_limit) if stats else (None, None)
            self._report = build_report(self.snapshot, live=True, fds=fds, fd_limit=fd_limit)
        return self._report

    def leaks(self) -> dict[str, LeakKind]:
        """The leaks among the sockets, by id, as :attr:`report` would list them.

        A saved report's are its own. A running process's open sockets are
        in use, except those of a context whose ``term()`` waits: only the
        others are looked at, so a polling TUI does not analyse 10,000 open
        sockets each second.
        """
        if self._report is not None:
            return {leak.socket: leak.kind for leak in self._report.leaks}
        snapshot = self.snapshot
        waiting = {c.id for c in snapshot.contexts if c.state is ContextState.TERMINATING}
        found = {}
        for record in snapshot.sockets:
            if record.state is SocketState.OPEN and record.context not in waiting:
                continue
            leak = find_leak(snapshot, record, live=True)
            if leak is not None:
                found[record.id] = leak.kind
        return found


@dataclass(frozen=True, slots=True)
class EventPage:
    events: tuple[Event, ...]
    cursor: int
    missed: int


class Client(Protocol):
    """What the CLI and TUI need from a target, live or offline."""

    description: str
    live: bool

    def hello(self) -> Hello: ...
    def snapshot(self) -> LiveSnapshot: ...
    def report(self) -> Report: ...
    def threads(self) -> tuple[ThreadInfo, ...]: ...
    def events(self, since: int = 0) -> EventPage: ...
    def close(self) -> None: ...
