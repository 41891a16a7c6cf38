"""Gathering a topology: every instrumented process's snapshot, in parallel, and the
host's sockets from the OS; or the processes of saved reports.

A process that does not answer in time (hung, stopped, over its budget) is
listed as such and never holds the others up: each is asked with its own
timeout, and the whole gathering waits for no more than about one timeout
past the slowest start.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path
from typing import Any

import psutil

from zmqscope._defaults import DEFAULT_GRACE
from zmqscope.model import SchemaError
from zmqscope.model.topology import (
    HostFacts,
    HostProcess,
    HostSocket,
    ProcessSeen,
    Reach,
    Topology,
    build_topology,
    unmatched_ipc,
)
from zmqscope.remote.client.interface import ClientError, ServerBusy
from zmqscope.remote.client.saved import ReportClient
from zmqscope.remote.client.targets import client_for
from zmqscope.remote.discovery import Discovered, discover
from zmqscope.remote.proc_sockets import read_tables, tcp_rows_apart
from zmqscope.remote.wire import paused_gc
from zmqscope.reporting import Report

# Seconds each process may take to answer: a topology of a hung system must come quickly.
DEFAULT_PROCESS_TIMEOUT = 2.0
# Processes asked at once: their servers build snapshots in parallel, the
# client reads them one at a time (the GIL), so more only adds threads.
MAX_ASKED_AT_ONCE = 8


def gather_topology(
    timeout: float = DEFAULT_PROCESS_TIMEOUT,
    grace: float = DEFAULT_GRACE,
    on_refused: Callable[[str], None] | None = None,
) -> Topology:
    """The topology of this user's instrumented processes on this host, now."""
    # Hundreds of thousands of objects are made, none of them garbage: a
    # collection meanwhile only costs (a fifth of the OS table's and the
    # matching's time, measured with 20,000 sockets).
    with paused_gc():
        # The OS's tcp table is read while the processes answer (most of that
        # time is waiting for them).
        with ThreadPoolExecutor(1, "zmqscope-topology-os") as reader:
            tcp = reader.submit(host_facts, unix=False)
            seen = gather_processes(timeout, on_refused)
            host = tcp.result()
        if unmatched_ipc(seen):
            unix = host_facts(tcp=False)
            host = HostFacts(host.sockets + unix.sockets, _union(host, unix), host.addresses)
        return build_topology(seen, host, grace=grace)


def _union(one: HostFacts, other: HostFacts) -> tuple[HostProcess, ...]:
    known = {p.pid for p in one.processes}
    return one.processes + tuple(p for p in other.processes if p.pid not in known)


def gather_processes(
    timeout: float = DEFAULT_PROCESS_TIMEOUT,
    on_refused: Callable[[str], None] | None = None,
    found: Sequence[Discovered] | None = None,
) -> list[ProcessSeen]:
    """A :class:`ProcessSeen` for each discovered process (``found``: those), in pid order."""
    entries = list(discover(on_refused) if found is None else found)
    if not entries:
        return []
    pool = ThreadPoolExecutor(min(MAX_ASKED_AT_ONCE, len(entries)), "zmqscope-topology")
    try:
        futures = [pool.submit(_ask, entry, timeout) for entry in entries]
        # Each ask ends by its own deadline; this bound only guards against one that does not.
        rounds = -(-len(entries) // MAX_ASKED_AT_ONCE)
        wait(futures, timeout=timeout * (rounds + 1) + 1.0)
        seen = [
            f.result() if f.done() else _unanswered(e, "did not answer in time")
            for f, e in zip(futures, entries, strict=True)
        ]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return sorted(seen, key=lambda s: s.pid)


def _ask(entry: Discovered, timeout: float) -> ProcessSeen:
    try:
        client = client_for(entry, timeout)
    except ClientError as error:
        return _unanswered(entry, str(error), Reach.UNREACHABLE)
    try:
        # The host's connections are read once, here, not by each process.
        snapshot = client.snapshot(peers=False).snapshot
    except ServerBusy as error:
        return _unanswered(entry, str(error), Reach.BUSY)
    except ClientError as error:
        # The channel's words for a deadline passed (remote.channels._no_answer).
        silent = str(error).startswith("no answer from")
        return _unanswered(entry, str(error), Reach.NO_ANSWER if silent else Reach.UNREACHABLE)
    finally:
        client.close()
    cwd, parent = _whereabouts(entry.pid)
    return ProcessSeen(entry.pid, entry.argv, Reach.LIVE, snapshot, cwd=cwd, parent=parent)


def _unanswered(entry: Discovered, problem: str, reach: Reach = Reach.NO_ANSWER) -> ProcessSeen:
    cwd, parent = _whereabouts(entry.pid)
    return ProcessSeen(entry.pid, entry.argv, reach, None, cwd=cwd, parent=parent, problem=problem)


def _whereabouts(pid: int) -> tuple[str | None, int | None]:
    """The process's working directory (its relative ipc paths) and its parent's pid."""
    try:
        process = psutil.Process(pid)
        with process.oneshot():
            return process.cwd(), process.ppid()
    except psutil.Error:
        return None, None


def host_facts(tcp: bool = True, unix: bool = True) -> HostFacts:
    """This host's tcp and unix sockets (those asked for), their processes and IP addresses.

    Another user's sockets are listed without a pid (the kernel does not say
    whose); where the OS refuses the whole table, this user's processes are
    asked one by one.
    """
    kinds = tuple(kind for kind, wanted in (("tcp", tcp), ("unix", unix)) if wanted)
    sockets = tuple(_host_sockets(kinds))
    pids = {s.pid for s in sockets if s.pid is not None}
    return HostFacts(sockets, tuple(_host_processes(pids)), tuple(_addresses()))


def _host_sockets(kinds: tuple[str, ...]) -> Iterable[HostSocket]:
    try:
        rows = list(_connections_of_host(kinds))
    except psutil.AccessDenied:
        rows = list(_connections_of_user(kinds))
    seen: set[tuple[str, str | None, int | None]] = set()
    cwds: dict[int, str | None] = {}
    for row in rows:
        socket = _host_socket(row)
        if socket is None:
            continue
        socket = _absolute(socket, cwds)
        key = (socket.local, socket.remote, socket.pid)
        if key not in seen:
            seen.add(key)
            yield socket


# A row: (local address, remote address, status, pid), as psutil gives them.
_Row = tuple[Any, Any, str, "int | None"]


def _connections_of_host(kinds: tuple[str, ...]) -> Iterable[_Row]:
    for kind in kinds:
        if kind == "tcp" and read_tables() is not None:
            # The same rows as psutil's, in half the time, read by a child
            # process on the other core (remote.proc_sockets).
            yield from tcp_rows_apart(psutil.CONN_LISTEN)
            continue
        for row in psutil.net_connections(kind=kind):
            yield row.laddr, row.raddr, row.status, row.pid


def _connections_of_user(kinds: tuple[str, ...]) -> Iterable[_Row]:
    uid = os.getuid()
    for process in psutil.process_iter(["uids"]):
        uids = process.info.get("uids")
        if uids is None or uids.real != uid:
            continue
        with contextlib.suppress(psutil.Error):
            for kind in kinds:
                for row in process.net_connections(kind=kind):
                    yield row.laddr, row.raddr, row.status, process.pid


def _host_socket(row: _Row) -> HostSocket | None:
    laddr, raddr, status, pid = row
    if isinstance(laddr, str):
        # A unix socket: only a named one can be reached by path. The kernel
        # lists a listener's accepted sockets under its path too, so any named
        # socket counts as one listening there.
        if not laddr:
            return None
        # An abstract name: psutil writes it @name, as ZeroMQ does (older psutil: a NUL byte).
        path = "@" + laddr[1:] if laddr.startswith("\0") else laddr
        return HostSocket(f"ipc://{path}", None, True, pid)
    if not laddr:
        return None
    listening = status == psutil.CONN_LISTEN
    remote = _tcp_url(raddr) if raddr else None
    if not listening and remote is None:
        return None
    return HostSocket(_tcp_url(laddr), remote, listening, pid)


def _absolute(socket: HostSocket, cwds: dict[int, str | None]) -> HostSocket:
    """A unix socket bound by a relative path, as the path from its process's working directory.

    The kernel lists the path as the process gave it to bind(); ZeroMQ's
    connects are resolved the same way (model.topology.addresses.parse).
    """
    path = socket.local[len("ipc://") :] if socket.local.startswith("ipc://") else None
    if path is None or path.startswith(("/", "@")) or socket.pid is None:
        return socket
    if socket.pid not in cwds:
        cwds[socket.pid] = _whereabouts(socket.pid)[0]
    cwd = cwds[socket.pid]
    if cwd is None:
        return socket
    return HostSocket(f"ipc://{os.path.join(cwd, path)}", None, True, socket.pid)


def _tcp_url(address: Any) -> str:
    host, port = address[0], address[1]
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def _host_processes(pids: Iterable[int]) -> Iterable[HostProcess]:
    for pid in sorted(pids):
        with contextlib.suppress(psutil.Error):
            yield HostProcess(pid, tuple(psutil.Process(pid).cmdline()))


def _addresses() -> Iterable[str]:
    with contextlib.suppress(OSError):
        for entries in psutil.net_if_addrs().values():
            for entry in entries:
                if entry.family.name in ("AF_INET", "AF_INET6"):
                    yield entry.address.partition("%")[0]


# -- saved reports ------------------------------------------------------------------


def topology_from_reports(paths: Sequence[Path], grace: float = DEFAULT_GRACE) -> Topology:
    """The topology of the processes in report files (each with its run's child processes).

    No OS facts: only the reports' own records are matched. Raises
    :class:`ClientError` (one line) for a file that is not a report.
    """
    seen: list[ProcessSeen] = []
    for path in paths:
        try:
            report = ReportClient(path).report()
        except (SchemaError, ValueError, RecursionError) as error:
            raise ClientError(f"{path}: {error}") from None
        # A run's report lists its children's reports (docs/report-json.md).
        seen.extend(_seen(one) for one in (report, *report.processes))
    return build_topology(seen, None, grace=grace, now=_latest(seen))


def _seen(report: Report) -> ProcessSeen:
    # An exit report keeps the sockets open or leaked at exit, not those
    # closed before: say so, or its process looks as if it had no wiring.
    problem = EXIT_REPORT_NOTE if report.at_exit else None
    return ProcessSeen.of(report.snapshot, Reach.SAVED, problem=problem)


EXIT_REPORT_NOTE = "an exit report: sockets closed before the exit are not in it"


def _latest(seen: Sequence[ProcessSeen]) -> float:
    times = [s.snapshot.taken_at for s in seen if s.snapshot is not None]
    return max(times) if times else time.time()
