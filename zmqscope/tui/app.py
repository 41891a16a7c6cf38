"""``zmqscope attach``: a live view into a running ZeroMQ application.

The app receives a :class:`~zmqscope.client.Client` and knows nothing about
sockets or servers: tests drive it with a fake client, ``attach report.json``
with a saved report. Background I/O runs in worker threads, one at a time
(the client's socket is used by one thread at a time); a lost connection
leaves the last snapshot on screen.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import psutil
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from zmqscope.client import Client, ClientError, Discovered, Hello, LiveSnapshot
from zmqscope.model import Event, ThreadInfo
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.help import HelpScreen
from zmqscope.tui.picker import PickerScreen
from zmqscope.tui.shutdown import ShutdownBanner, ShutdownView
from zmqscope.tui.sockets import SocketTable
from zmqscope.tui.threads import ThreadsView

MAX_EVENTS = 5_000


@dataclass(frozen=True)
class Fetched:
    """One round of answers from the client."""

    hello: Hello | None
    snapshot: LiveSnapshot
    threads: tuple[ThreadInfo, ...]
    events: tuple[Event, ...]
    cursor: int


class ScopeApp(App[None]):
    """Header, a banner while term() is blocked, and the Sockets/Threads/Shutdown views."""

    TITLE = "zmqscope"

    CSS = """
    #filter { display: none; dock: bottom; }
    #filter.-shown { display: block; }
    #table-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("c", "toggle_closed", "Closed"),
        Binding("p", "pause", "Pause"),
        Binding("r", "refresh", "Refresh"),
        Binding("e", "export", "Export"),
        Binding("question_mark", "help", "Help"),
        Binding("1", "view('sockets')", "Sockets", show=False),
        Binding("2", "view('threads')", "Threads", show=False),
        Binding("3", "view('shutdown')", "Shutdown", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(
        self,
        client: Client | None = None,
        *,
        connect: Callable[[Discovered], Client] | None = None,
        discover: Callable[[], list[Discovered]] | None = None,
        interval: float = 1.0,
        clock: Callable[[], float] = time.time,
        export_dir: Path | None = None,
    ) -> None:
        super().__init__()
        self.client = client
        self._connect = connect
        self._discover = discover
        self.interval = interval
        self.clock = clock
        self.export_dir = export_dir or Path.cwd()
        self.paused = False
        self.hello: Hello | None = None
        self.current: LiveSnapshot | None = None
        self.threads: tuple[ThreadInfo, ...] = ()
        self.events: list[Event] = []
        self._cursor = 0
        self._busy = threading.Lock()
        self._timer_started = False

    def compose(self) -> ComposeResult:
        yield ProcessHeader(id="header")
        yield ShutdownBanner(id="banner")
        with TabbedContent(initial="sockets", id="views"):
            with TabPane("Sockets [1]", id="sockets"):
                yield SocketTable(id="table")
                yield Static("", id="table-status")
                yield Input(placeholder="filter: type, thread, file or endpoint", id="filter")
            with TabPane("Threads [2]", id="threads"):
                yield ThreadsView(id="threads-view")
            with TabPane("Shutdown [3]", id="shutdown"):
                yield ShutdownView(id="shutdown-view")
        yield Footer()

    def on_mount(self) -> None:
        header = self.query_one(ProcessHeader)
        header.interval = self.interval
        if self.client is not None:
            self.start(self.client)
        elif self._discover is not None:
            self.push_screen(PickerScreen(self._discover), self._picked)

    def _picked(self, chosen: Discovered | None) -> None:
        if chosen is None or self._connect is None:
            return
        try:
            client = self._connect(chosen)
        except ClientError as error:
            self.notify(str(error), severity="error")
            self.push_screen(PickerScreen(self._discover or list), self._picked)
            return
        self.start(client)

    def start(self, client: Client) -> None:
        """Show ``client``'s target: fetch now, then every interval if it is live."""
        self.client = client
        header = self.query_one(ProcessHeader)
        header.connection = "live" if client.live else "offline"
        self.query_one(SocketTable).focus()
        self.fetch()
        if client.live and not self._timer_started:
            self._timer_started = True
            self.set_interval(self.interval, self._tick)

    def _tick(self) -> None:
        if not self.paused and self.query_one(ProcessHeader).connection != "process exited":
            self.fetch()

    # -- background I/O ---------------------------------------------------------

    @work(thread=True, group="fetch")
    def fetch(self) -> None:
        client = self.client
        if client is None or not self._busy.acquire(blocking=False):
            return  # one request at a time: the previous one is still out
        try:
            fetched = self._ask(client)
        except ClientError as error:
            self.call_from_thread(self._lost, str(error))
        else:
            self.call_from_thread(self._apply, fetched)
        finally:
            self._busy.release()

    def _ask(self, client: Client) -> Fetched:
        hello = client.hello() if self.hello is None else None
        snapshot = client.snapshot()
        threads = client.threads() if client.live else ()
        page = client.events(self._cursor) if client.live else None
        events = page.events if page else ()
        return Fetched(hello, snapshot, threads, events, page.cursor if page else self._cursor)

    def _apply(self, fetched: Fetched) -> None:
        header = self.query_one(ProcessHeader)
        if fetched.hello is not None:
            self.hello = header.hello = fetched.hello
        self.current = fetched.snapshot
        self.threads = fetched.threads
        self.events = (self.events + list(fetched.events))[-MAX_EVENTS:]
        self._cursor = fetched.cursor
        header.stats = fetched.snapshot.stats
        if self.client is not None and self.client.live and header.connection != "paused":
            header.connection = "live"
        self.redraw()

    def _lost(self, message: str) -> None:
        header = self.query_one(ProcessHeader)
        pid = self.hello.process.pid if self.hello else None
        gone = pid is not None and not psutil.pid_exists(pid)
        header.connection = "process exited" if gone else "connection lost"
        self.notify(message, severity="warning", timeout=4)
        self.redraw()

    # -- drawing ----------------------------------------------------------------

    def redraw(self) -> None:
        now = self.clock()
        self.query_one(ProcessHeader).show(now)
        snapshot = self.current.report.snapshot if self.current else None
        self.query_one(ShutdownBanner).show(snapshot, now)
        if snapshot is None:
            return
        table = self.query_one(SocketTable)
        table.show(snapshot, now)
        self._status(table)
        live = self.client is not None and self.client.live
        self.query_one(ThreadsView).show(self.threads, snapshot, live)
        self.query_one(ShutdownView).show(snapshot, now)

    def _status(self, table: SocketTable) -> None:
        parts = [f"{table.row_count} shown"]
        if table.hidden_closed:
            parts.append(f"{table.hidden_closed} closed hidden (c)")
        order = "descending" if table.sort_reverse else "ascending"
        parts.append(f"sorted by {table.sort_column}, {order} (s)")
        if table.filter_text:
            parts.append(f"filter '{table.filter_text}' (/)")
        self.query_one("#table-status", Static).update(" · ".join(parts))

    # -- actions ----------------------------------------------------------------

    def action_view(self, view: str) -> None:
        self.query_one(TabbedContent).active = view

    def action_filter(self) -> None:
        self.action_view("sockets")
        box = self.query_one("#filter", Input)
        box.add_class("-shown")
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#filter", Input)
        if box.has_class("-shown") or box.value:
            box.value = ""
            box.remove_class("-shown")
            self.query_one(SocketTable).focus()

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        self.query_one(SocketTable).filter_text = event.value.strip()
        self.redraw()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        box = self.query_one("#filter", Input)
        if not box.value:
            box.remove_class("-shown")
        self.query_one(SocketTable).focus()

    def action_sort(self) -> None:
        column = self.query_one(SocketTable).cycle_sort()
        self._status(self.query_one(SocketTable))
        self.notify(f"sorted by {column}", timeout=1.5)

    def action_toggle_closed(self) -> None:
        table = self.query_one(SocketTable)
        table.show_closed = not table.show_closed
        self.redraw()

    def action_pause(self) -> None:
        if self.client is None or not self.client.live:
            self.notify("a saved report does not change: nothing to pause", timeout=2)
            return
        self.paused = not self.paused
        self.query_one(ProcessHeader).connection = "paused" if self.paused else "live"
        self.redraw()

    def action_refresh(self) -> None:
        if self.client is not None and self.client.live:
            self.fetch()
        else:
            self.notify("a saved report does not change", timeout=2)

    def action_export(self) -> None:
        if self.current is None:
            self.notify("nothing to export yet", severity="warning")
            return
        pid = self.current.report.snapshot.process.pid
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock()))
        path = self.export_dir / f"zmqscope-{pid}-{stamp}.json"
        try:
            path.write_text(self.current.report.to_json(), encoding="utf-8")
        except OSError as error:
            self.notify(f"cannot write {path}: {error.strerror}", severity="error")
            return
        self.notify(f"snapshot saved to {path}")

    def action_help(self) -> None:
        self.push_screen(HelpScreen())

    @on(SocketTable.Opened)
    def open_socket(self, event: SocketTable.Opened) -> None:
        if self.current is None:
            return
        snapshot = self.current.report.snapshot
        record = snapshot.socket(event.socket_id)
        if record is None:
            return
        peers = self.current.stats.peers if self.current.stats else ()
        self.push_screen(SocketDetailScreen(record, self.events, peers, snapshot.warnings))

    @on(ShutdownBanner.Clicked)
    def banner_clicked(self) -> None:
        self.action_view("shutdown")
