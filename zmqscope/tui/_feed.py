"""The app's line to its process: fetch on a timer, apply the answers, notice the end.

:class:`FeedApp` asks the client in a worker thread, one request at a time
(the client's socket is used by one thread at a time), and hands the answers
to the views; a lost connection leaves the last snapshot on screen, a busy
server is asked again at the next tick, and when the process exits its exit
report takes the last snapshot's place if it wrote one where we know to
look. :class:`~zmqscope.tui.app.ScopeApp` adds the views and the keys.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual import work
from textual.app import App

from zmqscope._defaults import DEFAULT_INTERVAL
from zmqscope._shown import visible
from zmqscope.model import Event, ThreadInfo
from zmqscope.remote.client import (
    Client,
    ClientError,
    Hello,
    LiveSnapshot,
    ServerBusy,
    exit_report_paths,
    process_exited,
)
from zmqscope.reporting import Report
from zmqscope.tui import _fetch
from zmqscope.tui._fetch import Fetched
from zmqscope.tui._rows import Rows
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.sockets import SocketTable

MAX_EVENTS = 5_000

_T = TypeVar("_T")


class FeedApp(App[None]):
    """What the process said last, kept up to date; the subclass draws it (:meth:`redraw`)."""

    # Made by the subclass's compose(): the answers are shown there.
    header: ProcessHeader
    table: SocketTable

    def __init__(
        self,
        client: Client | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        exit_reports: Callable[[int], tuple[Path, ...]] = exit_report_paths,
    ) -> None:
        """``exit_reports``: where the process of a pid will write its exit report."""
        super().__init__()
        self.client = client
        self.interval = interval
        self.clock = clock
        self._find_exit_reports = exit_reports
        self._exit_reports: tuple[Path, ...] = ()
        self.ended = False  # the live process has exited
        self.final_report: Path | None = None  # its exit report, shown since
        self.paused = False
        self.hello: Hello | None = None
        self.current: LiveSnapshot | None = None
        self.threads: tuple[ThreadInfo, ...] = ()
        self.events: list[Event] = []
        self._cursor = 0
        self._rows: Rows | None = None
        self._drawn_at = clock()
        # One request at a time on a client (its socket is one thread's at a
        # time): a lock per client, so that a request hung on a process left
        # behind does not hold up the next process's.
        self._locks: dict[int, threading.Lock] = {}

    def forget(self) -> None:
        """Drop what the last process said: the next client's answers start afresh."""
        self.ended = False
        self.final_report = None
        self.paused = False
        self.hello = None
        self.current = None
        self.threads = ()
        self.events = []
        self._cursor = 0
        self._rows = None
        self._exit_reports = ()
        self.header.forget()
        self.table.forget()

    def redraw(self) -> None:
        """Draw the views anew from what the process said last."""
        raise NotImplementedError

    @property
    def _views_gone(self) -> bool:
        """True once the app is shutting down: late answers and ticks are dropped."""
        return not self.header.is_attached

    def _tick(self) -> None:
        if self._views_gone or self.paused or self.ended:
            return
        self.fetch()

    # -- background I/O ---------------------------------------------------------

    @work(thread=True, group="fetch")
    def fetch(self) -> None:
        client = self.client
        if client is None:
            return
        busy = self.lock_of(client)
        if not busy.acquire(blocking=False):
            return  # one request at a time: the previous one is still out
        try:
            fetched = self._ask(client)
        except ServerBusy as error:
            self.call_from_thread(self._answered, client, self._refused, str(error))
        except ClientError as error:
            self.call_from_thread(self._answered, client, self._lost, str(error))
        else:
            self.call_from_thread(self._answered, client, self._apply, fetched)
        finally:
            busy.release()

    def lock_of(self, client: Client) -> threading.Lock:
        """The lock a request to ``client`` holds while it is out."""
        return self._locks.setdefault(id(client), threading.Lock())

    def _answered(self, client: Client, apply: Callable[[_T], None], answer: _T) -> None:
        """Hand ``client``'s answer on, unless the app has switched to another process since."""
        if client is self.client:
            apply(answer)

    def _ask(self, client: Client) -> Fetched:
        fetched = _fetch.ask(
            client,
            greeted=self.hello is not None,
            cursor=self._cursor,
            previous=self._rows,
            clock=self.clock,
            find_exit_reports=self._find_exit_reports,
        )
        self.table.prepare(fetched.rows)
        return fetched

    def _apply(self, fetched: Fetched) -> None:
        if self._views_gone:
            return
        header = self.header
        if fetched.hello is not None:
            self.hello = header.hello = fetched.hello
        if fetched.exit_reports is not None:
            self._exit_reports = fetched.exit_reports
        self.current = fetched.snapshot
        self.threads = fetched.threads
        self.events = (self.events + list(fetched.events))[-MAX_EVENTS:]
        self._cursor = fetched.cursor
        self._rows = fetched.rows
        header.stats = fetched.snapshot.stats
        header.limits = fetched.limits
        header.leaks = len(fetched.rows.leaks)
        if self.client is not None and not self.client.live:
            # A saved run's report: its children's leaks (each shown from the Topology view).
            header.children_leaks = fetched.snapshot.report.tree_leaks
            header.source = self.client.description
            header.as_of = fetched.snapshot.snapshot.taken_at
        elif header.connection != "paused":
            header.connection = "live"
        self.table.show(fetched.rows)
        self.redraw()

    def _refused(self, message: str) -> None:
        """The server answered busy: the view stays, the next tick asks again."""
        if self._views_gone:
            return
        header = self.header
        if header.connection != "server busy":
            self.notify(message, severity="warning", timeout=4)  # once per refusal spell
        header.connection = "server busy"
        header.show(self._drawn_at)

    def _lost(self, message: str) -> None:
        if self._views_gone:
            return
        header = self.header
        pid = self.hello.process.pid if self.hello else None
        state = "process exited" if pid is not None and process_exited(pid) else "connection lost"
        if header.connection != state:
            # Once per loss: the timer keeps trying, and a toast per tick piled up.
            self.notify(visible(message), severity="warning", timeout=4, markup=False)
        header.connection = state
        if state == "process exited" and not self.ended:
            self._process_ended(pid)
        header.show(self._drawn_at)  # uptime and the like as of the last answer

    def _process_ended(self, pid: int | None) -> None:
        """The process is gone: say how old the last snapshot is, and look for its exit report."""
        self.ended = True
        header = self.header
        header.exit_seen = self.clock()
        if self.current is None:
            return
        since = self.current.snapshot.taken_at
        header.as_of = since
        self.redraw()  # the banner and the Shutdown view speak of the last snapshot
        if self._exit_reports and pid is not None:
            self.read_final_report(self._exit_reports, pid, since)

    @work(thread=True, group="final")
    def read_final_report(self, paths: tuple[Path, ...], pid: int, since: float) -> None:
        """Show the exit report ``pid`` wrote at one of ``paths`` after ``since``, if any."""
        found = _fetch.final_report(paths, pid, since)
        if found is not None:
            path, report, rows = found
            self.table.prepare(rows)
            self.call_from_thread(self._show_final, path, report, rows)

    def _show_final(self, path: Path, report: Report, rows: Rows) -> None:
        shown = self.hello.process.pid if self.hello else None
        if self._views_gone or report.snapshot.process.pid != shown:
            return  # the app has switched to another process since
        self.final_report = path
        self.current = LiveSnapshot(report.snapshot, None, report)
        self.threads = ()
        self._rows = rows
        header = self.header
        header.stats = None
        header.leaks = len(rows.leaks)
        header.limits = report.limit_warnings
        header.source = str(path)
        header.as_of = report.generated_at
        self.table.show(rows)
        self.redraw()
        self.notify(visible(f"the process has exited: its exit report {path}"), markup=False)

    # -- what is shown ----------------------------------------------------------

    @property
    def showing_live(self) -> bool:
        """True while the views show a running process (not a file, not a process gone)."""
        return self.client is not None and self.client.live and not self.ended

    def _now(self) -> float:
        """The moment of the state shown: now, or when that snapshot or report was made."""
        if self.current is not None and not self.showing_live:
            return self.current.snapshot.taken_at
        return self.clock()

    @property
    def client_live(self) -> bool:
        return self.client is not None and self.client.live
