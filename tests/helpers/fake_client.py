"""A hand-built target for the TUI: fixed sockets, threads and events, and a fixed clock.

:class:`FakeClient` implements :class:`zmqscope.remote.client.Client` the way memray's
``MockReader`` stands in for a live tracker: the app cannot tell it from a
server, and a test can change what the next refresh sees (``add_socket``,
``close_socket``, ``remove_socket``, ``block_term``) or make it fail
(``fail_next``, ``disconnect``). Every path is a made-up ``/srv/app/...`` file,
so nothing shown depends on the machine or its working directory.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import Counter
from collections.abc import Iterable, Sequence

from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Culprit,
    Endpoint,
    EndpointOp,
    Event,
    Frame,
    Peer,
    ProcessInfo,
    ProcessStats,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadInfo,
    ThreadRef,
    Traffic,
    UsageWarning,
)
from zmqscope.remote.client import ClientError, EventPage, Hello, LiveSnapshot, ServerBusy
from zmqscope.reporting import Report, build_report

NOW = 1_764_324_000.0  # 2025-11-28T10:00:00Z: every time below is relative to it
PID = 4242
ARGV = ("/srv/app/main.py", "--workers", "2")
ENDPOINT = f"ipc:///run/user/1000/zmqscope/{PID}.ipc"

MAIN = ThreadRef(1001, "MainThread")
VENTILATOR = ThreadRef(1002, "ventilator")
WORKER = ThreadRef(1003, "worker-1")
REPORTER = ThreadRef(1004, "reporter")
STUBBORN = ThreadRef(1005, "stubborn")
TICKER = ThreadRef(1006, "ticker")
SERVICE = ThreadRef(1007, "service")

MAIN_FILE = "/srv/app/main.py"
TERM_CALLED = Frame(MAIN_FILE, 88, "shutdown")
STUBBORN_STUCK = Frame("/srv/app/stubborn.py", 16, "hold_on")


def clock() -> float:
    """The fixed clock every test app is given."""
    return NOW


def call(thread: ThreadRef | None, *frames: Frame, ago: float = 0.0) -> CallSite:
    return CallSite(NOW - ago, thread, tuple(frames))


def make_socket(
    socket_id: str,
    type_name: str,
    *,
    thread: ThreadRef | None = MAIN,
    site: Frame | None = None,
    context: str = "c1",
    state: SocketState = SocketState.OPEN,
    endpoints: Sequence[Endpoint] = (),
    used_by: Sequence[ThreadRef] = (),
    traffic: Traffic | None = None,
    ago: float = 600.0,
    closed: CallSite | None = None,
    linger: int | None = -1,
    options: Sequence[tuple[str, str]] = (),
) -> SocketRecord:
    """A socket record; its creation stack is ``site`` then ``main()``."""
    stack = (site, Frame(MAIN_FILE, 120, "main")) if site else ()
    return SocketRecord(
        id=socket_id,
        context=context,
        type=type_name,
        state=state,
        created=call(thread, *stack, ago=ago),
        closed=closed,
        endpoints=tuple(endpoints),
        linger=linger,
        options=tuple(options),
        threads_used=tuple(used_by) or ((thread,) if thread else ()),
        traffic=traffic,
        adopted=site is None,
    )


def _bind(url: str, requested: str | None = None, active: bool = True) -> Endpoint:
    return Endpoint(EndpointOp.BIND, url, active=active, requested=requested, time=NOW - 590)


def _connect(url: str, active: bool = True) -> Endpoint:
    return Endpoint(EndpointOp.CONNECT, url, active=active, time=NOW - 590)


def connected(url: str) -> Endpoint:
    """An active connect to ``url``, for a test's own sockets."""
    return _connect(url)


def default_sockets() -> list[SocketRecord]:
    """Eight sockets: every state, a wildcard bind, traffic on some, one adopted."""
    return [
        make_socket(
            "s1",
            "PUSH",
            thread=VENTILATOR,
            site=Frame("/srv/app/pipeline.py", 21, "start_ventilator"),
            endpoints=[_bind("tcp://127.0.0.1:5557", requested="tcp://127.0.0.1:*")],
            traffic=Traffic(msgs_out=1520, frames_out=1520, bytes_out=152_000, last_send=NOW - 1),
            ago=3600,
            options=[("SNDHWM", "1000")],
        ),
        make_socket(
            "s2",
            "PULL",
            thread=WORKER,
            site=Frame("/srv/app/worker.py", 14, "run_worker"),
            endpoints=[_connect("tcp://127.0.0.1:5557")],
            traffic=Traffic(msgs_in=760, frames_in=760, bytes_in=76_000, last_recv=NOW - 1),
            ago=3590,
        ),
        make_socket(
            "s3",
            "PUB",
            thread=MAIN,
            site=Frame("/srv/app/status.py", 9, "open_status"),
            endpoints=[_bind("inproc://status")],
            used_by=[MAIN, REPORTER],
            traffic=Traffic(msgs_out=42, frames_out=42, bytes_out=420),
            ago=3595,
        ),
        make_socket(
            "s4",
            "SUB",
            thread=TICKER,
            site=Frame("/srv/app/ticks.py", 30, "run_ticker"),
            state=SocketState.CLOSED,
            endpoints=[_connect("inproc://ticks", active=False)],
            closed=call(TICKER, Frame("/srv/app/ticks.py", 44, "stop_ticker"), ago=100),
            ago=1800,
        ),
        make_socket(
            "s5",
            "DEALER",
            thread=STUBBORN,
            site=Frame("/srv/app/stubborn.py", 12, "hold_on"),
            endpoints=[_connect("tcp://127.0.0.1:9")],
            ago=3580,
        ),
        make_socket(
            "s6",
            "REQ",
            thread=SERVICE,
            site=Frame("/srv/app/service.py", 18, "ping"),
            state=SocketState.CLOSED,
            endpoints=[_connect("tcp://127.0.0.1:5560")],
            closed=call(SERVICE, Frame("/srv/app/service.py", 25, "ping"), ago=30),
            ago=900,
        ),
        make_socket(
            "s7",
            "PUSH",
            thread=MAIN,
            site=Frame("/srv/app/audit.py", 7, "open_audit_log"),
            context="c2",
            state=SocketState.COLLECTED,
            endpoints=[_bind("inproc://audit")],
            closed=call(None, ago=60),
            ago=3000,
        ),
        make_socket(
            "s8",
            "ROUTER",
            thread=None,
            site=None,  # adopted by watch(): made before zmqscope looked
            context="c2",
            endpoints=[_bind("tcp://0.0.0.0:6000")],
            linger=None,
            ago=7200,
        ),
    ]


PEER_PID = 5151  # a second process, talking to the default one over tcp


def peer_sockets() -> list[SocketRecord]:
    """A worker process's sockets: a DEALER to the default ROUTER (s8), a PULL from the
    default PUSH (s1), a SUB that connects to a port nothing binds, with no subscription."""
    worker = ThreadRef(2001, "MainThread")
    return [
        make_socket(
            "s1",
            "DEALER",
            thread=worker,
            site=Frame("/srv/worker/main.py", 12, "serve"),
            endpoints=[_connect("tcp://127.0.0.1:6000")],
        ),
        make_socket(
            "s2",
            "PULL",
            thread=worker,
            site=Frame("/srv/worker/main.py", 15, "serve"),
            endpoints=[_connect("tcp://localhost:5557")],
        ),
        make_socket(
            "s3",
            "SUB",
            thread=worker,
            site=Frame("/srv/worker/main.py", 18, "serve"),
            endpoints=[_connect("tcp://127.0.0.1:6001")],
        ),
    ]


def default_threads() -> tuple[ThreadInfo, ...]:
    return (
        ThreadInfo(
            MAIN.id, MAIN.name, False, (TERM_CALLED, Frame(MAIN_FILE, 120, "main")), ("s3",)
        ),
        ThreadInfo(
            VENTILATOR.id,
            VENTILATOR.name,
            True,
            (Frame("/srv/app/pipeline.py", 30, "start_ventilator"),),
            ("s1",),
        ),
        ThreadInfo(
            WORKER.id, WORKER.name, True, (Frame("/srv/app/worker.py", 19, "run_worker"),), ("s2",)
        ),
        ThreadInfo(
            REPORTER.id, REPORTER.name, True, (Frame("/srv/app/status.py", 22, "report"),), ()
        ),
        ThreadInfo(STUBBORN.id, STUBBORN.name, False, (STUBBORN_STUCK,), ("s5",)),
    )


def default_events() -> tuple[Event, ...]:
    entries = [
        (3600, "created", "s1", "PUSH at pipeline.py:21"),
        (3599, "bound", "s1", "tcp://127.0.0.1:5557 (asked tcp://127.0.0.1:*)"),
        (3590, "created", "s2", "PULL at worker.py:14"),
        (3589, "connected", "s2", "tcp://127.0.0.1:5557"),
        (3595, "created", "s3", "PUB at status.py:9"),
        (3500, "warning", "s3", "PUB s3 used by MainThread then reporter"),
        (100, "closed", "s4", "SUB at ticks.py:44"),
        (60, "collected", "s7", "PUSH made at audit.py:7"),
    ]
    return tuple(
        Event(seq, NOW - ago, kind, socket, "c1", detail)
        for seq, (ago, kind, socket, detail) in enumerate(entries, start=1)
    )


def default_warnings() -> tuple[UsageWarning, ...]:
    return (
        UsageWarning(
            kind="thread-sharing",
            socket="s3",
            message="PUB s3 (status.py:9) was used by MainThread, then by reporter "
            "at status.py:22 without a hand-off",
            time=NOW - 3500,
            first=MAIN,
            first_site=Frame("/srv/app/main.py", 95, "heartbeat"),
            second=REPORTER,
            second_site=Frame("/srv/app/status.py", 22, "report"),
        ),
    )


def default_culprits() -> tuple[Culprit, ...]:
    return (
        Culprit(
            socket="s5",
            reason="the DEALER is still open: term() waits until it is closed",
            owner_stack=(STUBBORN_STUCK, Frame("/srv/app/threads.py", 8, "run")),
            owner=STUBBORN,
            owner_alive=True,
            remedy="close the socket when recv() raises zmq.ContextTerminated",
            where="stubborn is in time.sleep(3600) at stubborn.py:16",
            context="c1",
            certain=True,
        ),
        Culprit(
            socket="s6",
            reason="closed with LINGER -1 after connect(): unsent requests may keep term() waiting",
            owner=SERVICE,
            owner_alive=False,
            remedy="set LINGER to 0 (or a few seconds) before close()",
            where="service has exited",
            context="c1",
            certain=False,
        ),
    )


def default_peers() -> tuple[Peer, ...]:
    return (
        Peer("s1", "tcp://127.0.0.1:5557", "127.0.0.1:5557", "127.0.0.1:40412", "ESTABLISHED"),
        Peer("s2", "tcp://127.0.0.1:5557", "127.0.0.1:40412", "127.0.0.1:5557", "ESTABLISHED"),
    )


class FakeClient:
    """A :class:`~zmqscope.remote.client.Client` over hand-built records.

    ``live=False`` behaves like :class:`~zmqscope.remote.client.ReportClient`: no
    stats, threads or events. ``calls`` counts every request by name.
    """

    def __init__(
        self,
        *,
        live: bool = True,
        pid: int = PID,
        traffic: bool = True,
        term_blocked: bool = False,
        sockets: Iterable[SocketRecord] | None = None,
        threads: Sequence[ThreadInfo] | None = None,
        max_sockets: int | None = None,
        fds: int = 37,
    ) -> None:
        self.live = live
        self.max_sockets = max_sockets  # c1's MAX_SOCKETS (None: not known)
        self.fds = fds
        self.description = ENDPOINT if live else "/srv/reports/report.json"
        self.pid = pid
        self.traffic = traffic
        self.term_blocked = term_blocked
        self.term_returned = False
        self.sockets = list(default_sockets() if sockets is None else sockets)
        self.thread_infos = tuple(default_threads() if threads is None else threads)
        self.event_log = list(default_events())
        self.calls: Counter[str] = Counter()
        self.closed = False
        self._failures = 0
        self._failure = "connection lost"
        self._refusals = 0
        self._lock = threading.Lock()

    # -- knobs ------------------------------------------------------------------------

    def fail_next(self, calls: int = 1, message: str = "no answer within 3 s") -> None:
        """The next ``calls`` requests raise :class:`ClientError`."""
        self._failures, self._failure = calls, message

    def refuse_next(self, calls: int = 1) -> None:
        """The next ``calls`` requests raise :class:`ServerBusy`: over the server's budget."""
        self._refusals = calls

    def disconnect(self, message: str = "no answer within 3 s") -> None:
        """Every request from now on raises :class:`ClientError`."""
        self.fail_next(10**9, message)

    def add_socket(self, record: SocketRecord) -> None:
        self.sockets.append(record)
        self.event_log.append(
            Event(len(self.event_log) + 1, NOW, "created", record.id, record.context, record.type)
        )

    def close_socket(self, socket_id: str) -> None:
        """The next snapshot shows ``socket_id`` closed (hidden unless ``c``)."""
        self.sockets = [
            dataclasses.replace(s, state=SocketState.CLOSED, closed=call(s.created.thread, ago=1))
            if s.id == socket_id
            else s
            for s in self.sockets
        ]

    def remove_socket(self, socket_id: str) -> None:
        """The next snapshot no longer has ``socket_id`` at all (forgotten after term())."""
        self.sockets = [s for s in self.sockets if s.id != socket_id]

    def block_term(self) -> None:
        """The next snapshot has c1's term() blocked for 12 s, with its culprits."""
        self.term_blocked = True

    def return_term(self) -> None:
        """The next snapshot has c1's term() returned after 12 s; its culprits stay."""
        self.term_blocked = False
        self.term_returned = True

    # -- Client -----------------------------------------------------------------------

    def _request(self, name: str) -> None:
        with self._lock:
            self.calls[name] += 1
            if self._failures:
                self._failures -= 1
                raise ClientError(f"{ENDPOINT}: {self._failure}")
            if self._refusals:
                self._refusals -= 1
                message = "the server is busy (over its CPU budget): ask again in 2.0 s"
                raise ServerBusy(f"{ENDPOINT}: {message}", 2.0)

    def _stats(self) -> ProcessStats | None:
        if not self.live:
            return None
        return ProcessStats(
            started=NOW - 3723,
            cpu_percent=12.5,
            rss=48_300_000,
            threads=len(self.thread_infos),
            fds=self.fds,
            fd_limit=1024,
            peers=default_peers(),
        )

    def _snapshot(self) -> Snapshot:
        sockets = self.sockets
        if not self.traffic:
            sockets = [dataclasses.replace(s, traffic=None) for s in sockets]
        blocked, returned = self.term_blocked, self.term_returned
        state = ContextState.OPEN
        if blocked or returned:
            state = ContextState.TERMINATING if blocked else ContextState.TERMINATED
        c1 = ContextRecord(
            "c1",
            state,
            created=call(MAIN, Frame(MAIN_FILE, 33, "main"), ago=3700),
            term_called=call(MAIN, TERM_CALLED, ago=12) if blocked or returned else None,
            term_blocked_since=NOW - 12 if blocked else None,
            terminated_at=NOW if returned else None,
            term_blocked_for=12.0 if returned else None,
            max_sockets=self.max_sockets,
        )
        c2 = ContextRecord("c2", ContextState.OPEN, adopted=True)
        return Snapshot(
            taken_at=NOW,
            process=ProcessInfo(self.pid, ARGV, "3.11.7", "27.3.0", "4.3.5"),
            contexts=(c1, c2),
            sockets=tuple(sockets),
            created_total=len(sockets),
            culprits=default_culprits() if blocked or returned else (),
            warnings=default_warnings(),
        )

    def hello(self) -> Hello:
        self._request("hello")
        snapshot = self._snapshot()
        return Hello(
            process=snapshot.process,
            endpoint=self.description,
            started=NOW - 3723 if self.live else None,
            open_sockets=len(snapshot.open_sockets),
            term_blocked=self.term_blocked,
            stats=self._stats(),
        )

    def snapshot(self) -> LiveSnapshot:
        self._request("snapshot")
        snapshot = self._snapshot()
        if not self.live:  # a saved report carries its leaks, as ReportClient's does
            return LiveSnapshot(snapshot, None, build_report(snapshot, live=True))
        return LiveSnapshot(snapshot, self._stats())

    def report(self) -> Report:
        self._request("report")
        return build_report(self._snapshot())

    def threads(self) -> tuple[ThreadInfo, ...]:
        self._request("threads")
        return self.thread_infos if self.live else ()

    def events(self, since: int = 0) -> EventPage:
        self._request("events")
        if not self.live:
            return EventPage((), since, 0)
        fresh = tuple(e for e in self.event_log if e.seq > since)
        return EventPage(fresh, max((e.seq for e in self.event_log), default=since), 0)

    def close(self) -> None:
        self.closed = True
