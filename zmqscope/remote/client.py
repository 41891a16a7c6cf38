"""Talk to a running zmqscope server, or read a saved report, the same way.

The CLI (``ls``, ``report``) and the TUI use only this module and the model:
:func:`connect` turns what the user typed (a pid, an endpoint, a report file)
into a :class:`Client`; :func:`discover` lists instrumented processes.
"""

from __future__ import annotations

import dataclasses
import errno
import itertools
import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import psutil

from zmqscope._bounds import PID_MAX
from zmqscope._errors import ZmqscopeError
from zmqscope._exit_report import exit_report_paths as exit_report_paths
from zmqscope.model import (
    ContextRecord,
    ContextState,
    Culprit,
    Event,
    LeakKind,
    LimitWarning,
    ProcessInfo,
    ProcessStats,
    SchemaError,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadInfo,
    Traffic,
    UsageWarning,
)
from zmqscope.model._base import check_count, check_time, check_value, scalar_text
from zmqscope.remote.access import needs_authentication
from zmqscope.remote.channels import Channel, ChannelError, StreamChannel, ZmqChannel
from zmqscope.remote.curve import existing_user_keys
from zmqscope.remote.discovery import Discovered as Discovered
from zmqscope.remote.discovery import NotServing, find_server
from zmqscope.remote.discovery import discover as discover
from zmqscope.remote.protocol import (
    MAX_REPLY_BYTES,
    ErrorCode,
    RequestType,
    encode_request,
)
from zmqscope.remote.wire import Decoder, paused_gc
from zmqscope.reporting import Report, build_report
from zmqscope.reporting._analysis import find_leak

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


class LiveClient:
    """A client of one server endpoint: a stream connection to an ipc socket file, else a DEALER.

    A server over its budget answers ``busy`` with when to ask again; the
    client waits and asks again while its timeout allows, then raises
    :class:`ServerBusy`.
    """

    live = True

    def __init__(
        self,
        endpoint: str,
        timeout: float = DEFAULT_TIMEOUT,
        curve_server_key: bytes | None = None,
        curve_client_secret: bytes | None = None,
    ) -> None:
        """``curve_server_key``: the server's public key, to talk CURVE; the client's
        own key pair is made from ``curve_client_secret`` (default: a new one)."""
        self.endpoint = endpoint
        self.description = endpoint
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._view = _View()
        self._channel: Channel
        try:
            if endpoint.startswith("ipc://") and not endpoint.startswith("ipc://@"):
                _check_socket_file(endpoint)
                self._channel = StreamChannel(endpoint, timeout)
            else:
                self._channel = ZmqChannel(endpoint, timeout, curve_server_key, curve_client_secret)
        except ChannelError as error:
            raise ClientError(str(error)) from None

    def request(self, kind: RequestType, **params: Any) -> Any:
        """Send one request; its reply's data, or :class:`ClientError`."""
        # A deadline, not a count of polls: stale replies must not extend it.
        deadline = time.monotonic() + self.timeout
        while True:
            request_id = next(self._ids)
            payload = encode_request(kind, request_id, **params)
            try:
                reply = self._channel.exchange(payload, request_id, deadline)
            except ChannelError as failure:
                raise ClientError(str(failure)) from None
            refusal = reply.error
            if refusal is None:
                return reply.data
            if refusal.code is not ErrorCode.BUSY:
                raise ClientError(f"{self.endpoint} refused {kind.value}: {refusal}")
            wait = refusal.retry_after if refusal.retry_after is not None else 0.5
            if time.monotonic() + wait >= deadline:
                raise ServerBusy(f"{self.endpoint}: {refusal}", wait)
            time.sleep(wait)

    def hello(self) -> Hello:
        data = self.request(RequestType.HELLO)
        return _hello(data, self.endpoint)

    def snapshot(self) -> LiveSnapshot:
        """The target's records now: only what changed since the last call travels."""
        with paused_gc():
            data = self.request(RequestType.SNAPSHOT, since=self._view.generation)
        try:
            if not self._view.accepts(data):
                with paused_gc():
                    data = self.request(RequestType.SNAPSHOT, since=0)
            with paused_gc():
                snapshot = self._view.apply(data)
            return LiveSnapshot(snapshot, ProcessStats.from_dict(data["stats"]))
        except (SchemaError, KeyError, TypeError, ValueError, AttributeError) as error:
            self._view = _View()
            raise ClientError(f"{self.endpoint} sent a malformed snapshot ({error})") from None

    def report(self) -> Report:
        try:
            return Report.from_dict(self.request(RequestType.REPORT))
        except SchemaError as error:
            raise ClientError(f"{self.endpoint} sent a malformed report ({error})") from None

    def threads(self) -> tuple[ThreadInfo, ...]:
        data = self.request(RequestType.THREADS)
        try:
            return tuple(ThreadInfo.from_dict(t) for t in check_value(data, "threads"))
        except (SchemaError, TypeError, AttributeError) as error:
            raise ClientError(f"{self.endpoint} sent malformed threads ({error})") from None

    def events(self, since: int = 0) -> EventPage:
        data = self.request(RequestType.EVENTS, since=since)
        try:
            events = tuple(Event.from_dict(e) for e in check_value(data["events"], "events"))
            cursor = check_count(data["cursor"], "cursor")
            return EventPage(events, cursor, check_count(data["missed"], "missed"))
        except (SchemaError, KeyError, TypeError, AttributeError) as error:
            raise ClientError(f"{self.endpoint} sent malformed events ({error})") from None

    def close(self) -> None:
        self._channel.close()


class _View:
    """A client's copy of the server's records, kept current by applying deltas."""

    def __init__(self) -> None:
        self.instance: str | None = None
        self.generation = 0
        self.records: dict[str, SocketRecord] = {}

    def accepts(self, data: Any) -> bool:
        """False when a delta is for another registry (the process forked, say)."""
        return bool(data["full"]) or data["instance"] == self.instance

    def apply(self, data: Any) -> Snapshot:
        if data["full"]:
            self.records = {}
        records = self.records
        decoder = Decoder(data["frames"])
        for item in data["sockets"]:
            record = decoder.socket(item)
            records[record.id] = record  # an update keeps its place: creation order
        for socket_id in data["removed"]:
            records.pop(scalar_text(socket_id, "a removed socket"), None)
        self.instance = scalar_text(data["instance"], "instance")
        self.generation = check_count(data["generation"], "generation")
        traffic = {str(k): Traffic.from_row(v) for k, v in dict(data["traffic"]).items()}
        sockets = tuple(
            dataclasses.replace(r, traffic=traffic[r.id]) if r.id in traffic else r
            for r in records.values()
        )
        return Snapshot(
            taken_at=check_time(data["taken_at"], "taken_at"),
            process=ProcessInfo.from_dict(data["process"]),
            contexts=tuple(ContextRecord.from_dict(c) for c in data["contexts"]),
            sockets=sockets,
            created_total=check_count(data["created_total"], "created_total"),
            dropped=check_count(data["dropped"], "dropped"),
            culprits=tuple(Culprit.from_dict(c) for c in data["culprits"]),
            warnings=tuple(UsageWarning.from_dict(w) for w in data["warnings"]),
            leaks_dropped=int(data.get("leaks_dropped", 0)),  # (servers before it: none)
        )


def _hello(data: Any, endpoint: str) -> Hello:
    try:
        stats = data.get("stats")
        started = data.get("started")
        return Hello(
            process=ProcessInfo.from_dict(data),
            endpoint=scalar_text(data.get("endpoint", endpoint), "endpoint"),
            started=None if started is None else check_time(started, "started"),
            open_sockets=check_count(data.get("open_sockets", 0), "open_sockets"),
            term_blocked=bool(data.get("term_blocked", False)),
            stats=ProcessStats.from_dict(stats) if stats else None,
            limits=tuple(LimitWarning.from_dict(w) for w in data.get("limits", ())),
        )
    except (SchemaError, AttributeError, TypeError, ValueError) as error:
        raise ClientError(f"{endpoint} sent a malformed hello ({error})") from None


class ReportClient:
    """The same interface over a saved report JSON: no threads, no events."""

    live = False

    def __init__(self, path: Path) -> None:
        self.description = str(path)
        try:
            with path.open("rb") as handle:
                # Read no more than a report can be: a huge file is not one.
                data = handle.read(MAX_REPLY_BYTES + 1)
            if len(data) > MAX_REPLY_BYTES:
                limit = MAX_REPLY_BYTES >> 20
                raise ClientError(f"{path}: not a zmqscope report (larger than {limit} MB)")
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ClientError(f"cannot read {path}: {reason}") from None
        try:
            self._report = Report.from_json(text)
        except SchemaError as error:
            raise ClientError(f"{path}: {error}") from None
        # As read: a pytest plugin's file has keys a Report does not keep.
        self.text = text

    def hello(self) -> Hello:
        snapshot = self._report.snapshot
        return Hello(
            process=snapshot.process,
            endpoint=self.description,
            started=None,
            open_sockets=len(snapshot.open_sockets),
            term_blocked=bool(snapshot.culprits),
            stats=None,
            limits=self._report.limit_warnings,
        )

    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(self._report.snapshot, None, self._report)

    def report(self) -> Report:
        return self._report

    def threads(self) -> tuple[ThreadInfo, ...]:
        return ()

    def events(self, since: int = 0) -> EventPage:
        return EventPage((), since, 0)

    def close(self) -> None:
        pass


def read_exit_report(path: Path, pid: int, since: float) -> Report | None:
    """The report process ``pid`` wrote at ``path`` as it exited, if it is there.

    Only a regular file (never a FIFO, which would block) holding a valid
    exit report of that process made at ``since`` or later (not a file left
    by an earlier run, nor the report written while its ``term()`` hung)
    counts; anything else is None.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        report = ReportClient(path).report()
    except (OSError, ClientError):
        return None
    made_after = report.generated_at >= int(since)  # whole seconds in the file
    if report.snapshot.process.pid != pid or not report.at_exit or not made_after:
        return None
    return report


# -- finding and connecting ------------------------------------------------------------


def process_exited(pid: int) -> bool:
    """True once ``pid`` has ended, even if its parent has not reaped it yet.

    ``zmqscope demo`` is the demo's parent: its exited child stays a zombie
    until the TUI quits, and ``psutil.pid_exists`` still says yes.
    """
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def connect(target: str | None, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """A client for a pid, an endpoint or a report file (None: the only process)."""
    if target is None:
        refused: list[str] = []
        running = discover(refused.append)
        if refused:
            raise ClientError(refused[0])
        if len(running) != 1:
            count = "no instrumented process" if not running else f"{len(running)} processes"
            raise ClientError(f"{count} found: name a PID, an ENDPOINT or a REPORT.json")
        return client_for(running[0], timeout)
    if target.isdigit():
        pid = int(target)
        if pid > PID_MAX:  # no system hands out such a pid, and psutil cannot take it
            raise ClientError(f"no process with pid {target}")
        return _connect_pid(pid, timeout)
    if target.startswith(("ipc://", "tcp://")):
        return _connect_endpoint(target, timeout)
    path = Path(target)
    if path.is_file():
        return ReportClient(path)
    if path.exists():
        raise ClientError(f"{target} is not a file")
    raise ClientError(
        f"cannot read {target}: no such file "
        "(TARGET is a pid, an ipc:// or tcp:// endpoint, or a report file)"
    )


def client_for(entry: Discovered, timeout: float = DEFAULT_TIMEOUT) -> LiveClient:
    """A client of a discovered server, with this user's CURVE keys if it wants them."""
    # The keys are those of the runtime folder the server was found in.
    return _client(entry.endpoint, timeout, curve=entry.curve, keys_in=entry.path.parent)


def _connect_endpoint(endpoint: str, timeout: float) -> LiveClient:
    """An endpoint the user typed: CURVE with this user's keys where a server of theirs uses it.

    A server this user's ``ls`` lists says whether it does; another (a tcp
    server whose runtime folder is elsewhere, say) is asked with CURVE if
    this user has keys.
    """
    if not needs_authentication(endpoint):
        return LiveClient(endpoint, timeout)
    for entry in discover():
        if entry.endpoint == endpoint:
            return client_for(entry, timeout)
    return _client(endpoint, timeout, curve=True)


def _client(endpoint: str, timeout: float, curve: bool, keys_in: Path | None = None) -> LiveClient:
    keys = existing_user_keys(keys_in) if curve else None
    if keys is None:
        return LiveClient(endpoint, timeout)
    return LiveClient(
        endpoint,
        timeout,
        curve_server_key=keys.server_public,
        curve_client_secret=keys.client_secret,
    )


def _check_socket_file(endpoint: str) -> None:
    """The socket of an ipc endpoint exists and is this user's (one line if not).

    Another user's socket is refused even where it can be reached (root):
    its server could answer anything.
    """
    path = Path(endpoint[len("ipc://") :])
    try:
        info = path.lstat()
    except OSError as error:
        if error.errno in (errno.ENOENT, errno.ENOTDIR):
            raise ClientError(f"no zmqscope server at {endpoint}") from None
        if error.errno == errno.EACCES:
            raise ClientError(
                f"refusing {endpoint}: {path.parent} is not open to you (another user's folder?)"
            ) from None
        raise ClientError(f"cannot use {endpoint}: {error.strerror}") from None
    if not stat.S_ISSOCK(info.st_mode):
        raise ClientError(f"no zmqscope server at {endpoint}: it is not a socket")
    if info.st_uid != os.getuid():
        raise ClientError(f"refusing {endpoint}: it belongs to uid {info.st_uid}, not to you")


def _connect_pid(pid: int, timeout: float) -> Client:
    # Looked for in every runtime folder this user's servers may use, not
    # only in this shell's (as ls and the picker list them).
    try:
        entry = find_server(pid)
    except NotServing as error:
        raise ClientError(str(error)) from None
    return client_for(entry, timeout)
