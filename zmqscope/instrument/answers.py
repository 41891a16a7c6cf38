"""What the introspection server answers, computed from the registry only.

Nothing here calls into an application socket: sockets are described by what
the hooks recorded, threads by ``sys._current_frames()``, the process by
:mod:`zmqscope.instrument.vitals` and psutil. Reading the process may fail (an
application out of file descriptors cannot open ``/proc``): what cannot be
read is unknown, and the answer goes out without it.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Hashable
from typing import Any

import psutil

from zmqscope._version import __version__
from zmqscope.instrument import hooks, origins
from zmqscope.instrument import threads as _threads
from zmqscope.instrument.culprits import thread_stack
from zmqscope.instrument.registry.store import Registry
from zmqscope.instrument.vitals import VitalSigns
from zmqscope.model import EndpointOp, Peer, ProcessStats, ThreadInfo, check_limits, near
from zmqscope.remote.protocol import Request, RequestType
from zmqscope.remote.server import Server
from zmqscope.remote.wire import FrameTable, encode_socket

# Vital signs are read again at most this often (psutil reads several files).
STATS_MAX_AGE = 0.5
# More records than this waiting to be built when the server reads: the
# application churns sockets, and those it closed meanwhile are not built
# (Registry.thin_reader).
UNREAD_HISTORY = 1_000


class ProcessAnswers:
    """What the server answers, read from this process's records.

    One per server (:class:`~zmqscope.remote.handler.Answers`): keeps the
    psutil handle so CPU % is measured between calls.
    """

    def __init__(self, endpoint: str, started: float) -> None:
        self.endpoint = endpoint
        self.started = started
        self._psutil_process: psutil.Process | None = None
        self._vitals = VitalSigns()
        self._stats: ProcessStats | None = None
        self._stats_at = 0.0

    def answer(self, request: Request) -> Any:
        if request.type is RequestType.EVENTS:
            return self.events(request.cursor)
        if request.type is RequestType.SNAPSHOT:
            return self.snapshot(request.cursor, request.peers)
        if request.type is RequestType.HELLO and not request.peers:
            return self.hello(peers=False)
        handlers = {
            RequestType.HELLO: self.hello,
            RequestType.REPORT: self.report,
            RequestType.THREADS: self.threads,
        }
        return handlers[request.type]()

    def version(self) -> Hashable | None:
        """The registry and its version: a cached answer holds while they do."""
        registry = hooks.registry()
        version = registry.version()
        return None if version is None else (id(registry), version)

    def prepare(self) -> None:
        # What describing a frame imports, imported now: an application out of
        # file descriptors later could not open a module's file to answer.
        origins.origins()

    def prepare_thread(self) -> None:
        """What answering needs, imported before the first request, while forks wait.

        See :func:`zmqscope._native.fork_waits`: nothing may be imported on the
        server's thread while the application could fork.
        """
        import zmqscope.reporting  # noqa: F401  (report answers)

        origins.origins()  # the standard library's folders (sysconfig), to classify frames

    def reading(self, ident: int) -> None:
        Registry.thin_reader = (ident, UNREAD_HISTORY)

    def done_reading(self, ident: int) -> None:
        if Registry.thin_reader == (ident, UNREAD_HISTORY):
            Registry.thin_reader = None

    def hello(self, peers: bool = True) -> dict[str, Any]:
        """Who the process is and how it fares (``peers`` False: as :meth:`snapshot`'s)."""
        info = hooks.process_info()
        registry = hooks.registry()
        open_counts = Counter(e.context_id for e in registry.open_entries())
        contexts = registry.contexts()
        # Only the contexts a warning may be about are frozen (ls asks every process).
        suspects = [
            c.freeze()
            for c in contexts
            if c.failures_total or (c.max_sockets and near(open_counts[c.id], c.max_sockets))
        ]
        stats = self.stats() if peers else self._stats_without_peers()
        limits = check_limits(suspects, open_counts, stats.fds, stats.fd_limit)
        return {
            **info.to_dict(),
            "endpoint": self.endpoint,
            "started": self.started,
            "zmqscope": __version__,
            "open_sockets": sum(open_counts.values()),
            "term_blocked": any(c.term_blocked_since for c in contexts),
            "stats": stats.to_dict(),
            "limits": [warning.to_dict() for warning in limits],
        }

    def report(self) -> dict[str, Any]:
        """The report of this running process: its open sockets are its inventory."""
        from zmqscope.reporting import build_report

        snapshot = hooks.registry().snapshot(hooks.process_info())
        # Read now, not the polls' cached reading: a report is asked for
        # once, often right after something went wrong (the last descriptor
        # taken), and its limit warnings come from these figures.
        stats = self.stats(fresh=True)
        fds, fd_limit = stats.fds, stats.fd_limit
        report = build_report(snapshot, live=True, fds=fds, fd_limit=fd_limit)
        return report.to_dict()

    @property
    def instance(self) -> str:
        """Names the registry whose generations a client counts (new after a fork)."""
        return f"{os.getpid()}-{id(hooks.registry())}-{self.started}"

    def snapshot(self, since: int = 0, peers: bool = True) -> dict[str, Any]:
        """What changed since the client's generation ``since`` (0: everything).

        ``peers`` False: the vital signs without the OS's connections, unless
        a reading with them is fresh (reading them costs ~70 ms with
        thousands of connections on the host).

        Polling clients (the TUI) ask every second; sending only the records
        that changed keeps each poll cheap for the app however many sockets
        it has. ``instance`` tells a client when its generation belongs to
        another process (or another registry, after a fork).
        """
        changes = hooks.registry().changes_since(since)
        table = FrameTable()
        sockets = [encode_socket(s, table) for s in changes.sockets]
        return {
            "instance": self.instance,
            "generation": changes.generation,
            "full": changes.full,
            "taken_at": changes.taken_at,
            "process": hooks.process_info().to_dict(),
            "contexts": [c.to_dict() for c in changes.contexts],
            "frames": table.rows,
            "sockets": sockets,
            "removed": list(changes.removed),
            "traffic": changes.traffic,
            "culprits": [c.to_dict() for c in changes.culprits],
            "warnings": [w.to_dict() for w in changes.warnings],
            "created_total": changes.created_total,
            "dropped": changes.dropped,
            "leaks_dropped": changes.leaks_dropped,
            # A new client's first snapshot (`zmqscope report PID` makes its
            # report from one) reads the process now; polls share a reading.
            "stats": (
                self.stats(fresh=since == 0) if peers else self._stats_without_peers()
            ).to_dict(),
        }

    def threads(self) -> list[dict[str, Any]]:
        greenlets = _threads.green_owners()
        if greenlets:
            return _green_threads(greenlets)
        frames = sys._current_frames()
        owned: dict[int, list[str]] = {}
        for entry in hooks.registry().open_entries():
            if entry.owner is not None:
                owned.setdefault(entry.owner[0], []).append(entry.id)
        infos = []
        for thread in threading.enumerate():
            if thread.name.startswith("zmqscope-"):
                continue  # zmqscope's own server and watchdog threads
            ident = thread.ident or 0
            info = ThreadInfo(
                id=ident,
                name=thread.name,
                daemon=thread.daemon,
                stack=thread_stack(frames.get(ident)),
                sockets=tuple(owned.get(ident, ())),
            )
            infos.append(info.to_dict())
        return infos

    def events(self, cursor: int) -> dict[str, Any]:
        events, next_cursor, missed = hooks.registry().events_since(cursor)
        return {"events": [e.to_dict() for e in events], "cursor": next_cursor, "missed": missed}

    def stats(self, fresh: bool = False) -> ProcessStats:
        """The process's vital signs, read again when older than STATS_MAX_AGE (or ``fresh``)."""
        now = time.monotonic()
        if fresh or self._stats is None or now - self._stats_at >= STATS_MAX_AGE:
            self._stats = self._read_stats()
            self._stats_at = now
        return self._stats

    def _stats_without_peers(self) -> ProcessStats:
        """The last reading while fresh, else one without peers (not kept: polls want peers)."""
        if self._stats is not None and time.monotonic() - self._stats_at < STATS_MAX_AGE:
            return self._stats
        return self._read_stats(peers=False)

    def _read_stats(self, peers: bool = True) -> ProcessStats:
        vitals = self._vitals.read()
        return ProcessStats(
            started=self.started,
            cpu_percent=vitals.cpu_percent,
            rss=vitals.rss,
            threads=vitals.threads,
            fds=vitals.fds,
            fd_limit=vitals.fd_limit,
            peers=self._peers() if peers else (),
        )

    def _process(self) -> psutil.Process | None:
        """psutil's handle on this process, made on first need; None while it cannot be."""
        if self._psutil_process is None:
            try:
                self._psutil_process = psutil.Process()
            except (psutil.Error, OSError):
                return None  # (out of descriptors: psutil reads /proc to make one)
        return self._psutil_process

    def _peers(self) -> tuple[Peer, ...]:
        """OS tcp connections matched to the open sockets' tcp endpoints."""
        wanted = []
        for entry in hooks.registry().open_entries():
            for endpoint in entry.endpoints:
                parsed = _tcp_host_port(endpoint.url) if endpoint.active else None
                if parsed is not None:
                    wanted.append((entry.id, endpoint.url, endpoint.op, parsed))
        process = self._process()
        if not wanted or process is None:
            return ()
        try:
            connections = process.net_connections(kind="tcp")
        except (psutil.Error, OSError):
            return ()
        return tuple(_matching_peers(wanted, connections))


def _matching_peers(
    wanted: list[tuple[str, str, EndpointOp, tuple[str, int]]], connections: list[Any]
) -> list[Peer]:
    """The connections (psutil's) at the wanted sockets' tcp endpoints, as peers."""
    peers = []
    for socket_id, url, op, (host, port) in wanted:
        for conn in connections:
            if not conn.raddr:
                continue
            local, remote = conn.laddr, conn.raddr
            if op is EndpointOp.BIND:
                hit = local.port == port
            else:
                hit = remote.port == port and host in (remote.ip, "localhost", "*")
            if hit:
                peers.append(
                    Peer(
                        socket=socket_id,
                        endpoint=url,
                        local=f"{local.ip}:{local.port}",
                        remote=f"{remote.ip}:{remote.port}",
                        status=str(conn.status),
                    )
                )
    return peers


def _tcp_host_port(url: str) -> tuple[str, int] | None:
    if not url.startswith("tcp://"):
        return None
    rest = url[len("tcp://") :]
    # tcp://source;target (a connect with a source address): the target counts.
    rest = rest.rsplit(";", 1)[-1]
    host, _, port = rest.rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


def _green_threads(greenlets: list[tuple[_threads.CallerThread, Any]]) -> list[dict[str, Any]]:
    """Under gevent/eventlet: the greenlets that made or used sockets, each with its stack.

    Their ids are their OS thread's (several greenlets share one); sockets
    are matched by the whole recorded owner, ident and name.
    """
    owned: dict[tuple[int, str], list[str]] = {}
    for entry in hooks.registry().open_entries():
        if entry.owner is not None:
            owned.setdefault(entry.owner, []).append(entry.id)
    infos = []
    for caller, frame in greenlets:
        info = ThreadInfo(
            id=caller.ident,
            name=caller.name,
            daemon=False,
            stack=thread_stack(frame),
            sockets=tuple(owned.get((caller.ident, caller.name), ())),
        )
        infos.append(info.to_dict())
    return infos


class ProcessServer(Server):
    """An introspection server answering from this process's records.

    :func:`zmqscope.serve` starts the process's one; tests start others.
    """

    def __init__(
        self,
        endpoint: str | None = None,
        curve_secret_key: bytes | None = None,
        insecure: bool = False,
    ) -> None:
        super().__init__(endpoint, curve_secret_key, insecure, ProcessAnswers("", time.time()))
