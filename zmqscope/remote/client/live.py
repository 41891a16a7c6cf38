"""The client of a running process's server, over its ipc socket file or a
DEALER (tcp, abstract ipc; CURVE where asked)."""

from __future__ import annotations

import errno
import itertools
import os
import stat
import time
from pathlib import Path
from typing import Any

from zmqscope.model import (
    Event,
    LimitWarning,
    ProcessInfo,
    ProcessStats,
    SchemaError,
    ThreadInfo,
    check_count,
    check_time,
    check_value,
    scalar_text,
)
from zmqscope.remote.channels import Channel, ChannelError, StreamChannel, ZmqChannel
from zmqscope.remote.client.interface import (
    DEFAULT_TIMEOUT,
    ClientError,
    EventPage,
    Hello,
    LiveSnapshot,
    ServerBusy,
)
from zmqscope.remote.client.view import SnapshotView
from zmqscope.remote.protocol import ErrorCode, RequestType, encode_request
from zmqscope.remote.wire import paused_gc
from zmqscope.reporting import Report


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
        self._view = SnapshotView()
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

    def hello(self, peers: bool = True) -> Hello:
        """Who the target is; ``peers`` False: its vital signs may lack the OS connections."""
        data = self.request(RequestType.HELLO, **({} if peers else {"peers": False}))
        return _hello(data, self.endpoint)

    def snapshot(self, peers: bool = True) -> LiveSnapshot:
        """The target's records now: only what changed since the last call travels.

        ``peers`` False: the vital signs may lack the OS connections of the
        sockets (the server need not read them).
        """
        extra = {} if peers else {"peers": False}
        with paused_gc():
            data = self.request(RequestType.SNAPSHOT, since=self._view.generation, **extra)
        try:
            if not self._view.accepts(data):
                with paused_gc():
                    data = self.request(RequestType.SNAPSHOT, since=0, **extra)
            with paused_gc():
                snapshot = self._view.apply(data)
            return LiveSnapshot(snapshot, ProcessStats.from_dict(data["stats"]))
        except (SchemaError, KeyError, TypeError, ValueError, AttributeError) as error:
            self._view = SnapshotView()
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
