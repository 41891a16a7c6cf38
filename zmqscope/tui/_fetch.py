"""One round of questions to the client, asked off the UI thread (no Textual here).

:func:`ask` is what the app's fetch worker runs: the process's hello (once),
its snapshot, threads and new events, and the table's rows formatted from
them, all before the UI thread sees any of it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from zmqscope.model import Event, LimitWarning, ThreadInfo, snapshot_limits
from zmqscope.remote.client import Client, Hello, LiveSnapshot, read_exit_report
from zmqscope.reporting import Report
from zmqscope.tui._rows import Rows, make_rows


@dataclass(frozen=True)
class Fetched:
    """One round of answers from the client."""

    hello: Hello | None
    snapshot: LiveSnapshot
    threads: tuple[ThreadInfo, ...]
    events: tuple[Event, ...]
    cursor: int
    rows: Rows
    limits: tuple[LimitWarning, ...]
    # Where the process will write its exit report (None: not asked this round).
    exit_reports: tuple[Path, ...] | None = None


def ask(
    client: Client,
    *,
    greeted: bool,
    cursor: int,
    previous: Rows | None,
    clock: Callable[[], float],
    find_exit_reports: Callable[[int], tuple[Path, ...]],
) -> Fetched:
    """Ask ``client`` everything the views show; ``greeted``: its hello is known already.

    ``cursor``: the events seen so far; ``previous``: the rows shown now (the
    new ones reuse what did not change).
    """
    hello = client.hello() if not greeted else None
    exit_reports = None
    if hello is not None and client.live:  # read from the process while it runs
        exit_reports = find_exit_reports(hello.process.pid)
    snapshot = client.snapshot()
    threads = client.threads() if client.live else ()
    page = client.events(cursor) if client.live else None
    events = page.events if page else ()
    cursor = page.cursor if page else cursor
    # The table's text is formatted here, off the UI thread; a saved
    # report's ages are counted to when it was made.
    now = clock() if client.live else snapshot.snapshot.taken_at
    rows = make_rows(snapshot.snapshot, now, previous, snapshot.leaks())
    return Fetched(hello, snapshot, threads, events, cursor, rows, limits(snapshot), exit_reports)


def limits(fetched: LiveSnapshot) -> tuple[LimitWarning, ...]:
    """The limits near or reached: from the records and the vital signs (a saved
    report: the file descriptors it recorded)."""
    stats = fetched.stats
    if stats is None:
        return fetched.report.limit_warnings
    snapshot = fetched.snapshot
    return snapshot_limits(snapshot.contexts, snapshot.sockets, stats.fds, stats.fd_limit)


def final_report(
    paths: tuple[Path, ...], pid: int, since: float
) -> tuple[Path, Report, Rows] | None:
    """The exit report ``pid`` wrote at one of ``paths`` after ``since``, with its rows."""
    for path in paths:
        report = read_exit_report(path, pid, since)
        if report is not None:
            leaks = {leak.socket: leak.kind for leak in report.leaks}
            return path, report, make_rows(report.snapshot, report.generated_at, None, leaks)
    return None
