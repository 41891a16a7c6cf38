"""``zmqscope attach``: a live view into a running ZeroMQ application.

The app receives a :class:`~zmqscope.remote.client.Client` and knows nothing about
sockets or servers: tests drive it with a fake client, ``attach report.json``
with a saved report. Background I/O runs in worker threads, one at a time
(the client's socket is used by one thread at a time); a lost connection
leaves the last snapshot on screen. When the process exits, its exit report
takes the last snapshot's place if it wrote one where we know to look
(``zmqscope run --json``, ``ZMQSCOPE_JSON``); else the header says how old
the last snapshot is.

Times on screen (ages, how long a ``term()`` has been blocked) are counted
to the moment of the state shown: now, for a live process; when it was
made, for a saved report or the last snapshot of a process that has exited.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Input, Static, TabbedContent, TabPane

from zmqscope._files import FileWriteError
from zmqscope._shown import shown, visible
from zmqscope.model import Event, LimitWarning, Snapshot, ThreadInfo, snapshot_limits
from zmqscope.remote.client import (
    Client,
    ClientError,
    Discovered,
    Hello,
    LiveSnapshot,
    ServerBusy,
    exit_report_paths,
    process_exited,
    read_exit_report,
)
from zmqscope.reporting import Report
from zmqscope.tui._export import export_folder, write_export
from zmqscope.tui._rows import Rows, column_label, make_rows
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
    rows: Rows
    limits: tuple[LimitWarning, ...]
    # Where the process will write its exit report (None: not asked this round).
    exit_reports: tuple[Path, ...] | None = None


class ScopeApp(App[None]):
    """Header, a banner while term() is blocked, and the Sockets/Threads/Shutdown views."""

    TITLE = "zmqscope"

    # The views take the height the header, banner and footer leave: with
    # TabbedContent's default (height auto) the screen itself scrolled and
    # pushed the header and the banner out of sight.
    CSS = """
    #views, #views > ContentSwitcher, #views TabPane { height: 1fr; }
    #views TabPane { padding: 0; }
    #filter { display: none; dock: bottom; }
    #table-status { height: 1; padding: 0 1; color: $text-muted; }
    """

    # In the footer's order, the keys a newcomer needs first: an 80-column
    # footer cuts the last ones.
    BINDINGS: ClassVar = [
        Binding("q", "quit", "Quit"),
        # Ctrl-C quits, as in any terminal program (Textual's default only
        # says to press ctrl+q).
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True),
        Binding("question_mark", "help", "Help"),
        Binding("e", "export", "Export"),
        Binding("slash", "filter", "Filter"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("c", "toggle_closed", "Closed"),
        Binding("p", "pause", "Pause"),
        # Refreshing is what the timer does: the key is in the help, not the footer.
        Binding("r", "refresh", "Refresh", show=False),
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
        exit_reports: Callable[[int], tuple[Path, ...]] = exit_report_paths,
    ) -> None:
        """``export_dir``: where ``e`` writes (default: the user's state folder).
        ``exit_reports``: where the process of a pid will write its exit report."""
        super().__init__()
        self.client = client
        self._connect = connect
        self._discover = discover
        self.interval = interval
        self.clock = clock
        self.export_dir = export_dir or export_folder()
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
        self._view = "sockets"  # the tab shown: only it is redrawn on refresh
        self._busy = threading.Lock()
        self._timer_started = False

    @property
    def home(self) -> Screen[Any]:
        """The screen with the views (the detail, help and picker go on top of it)."""
        return self.screen_stack[0]

    def compose(self) -> ComposeResult:
        # The app keeps its widgets: a refresh must not look them up on
        # whatever screen is on top, nor after they were taken down at exit.
        self.header = ProcessHeader(id="header")
        self.banner = ShutdownBanner(id="banner")
        self.table = SocketTable(id="table")
        self.table_status = Static("", id="table-status")
        self.filter_box = Input(placeholder="filter: type, thread, file or endpoint", id="filter")
        self.threads_view = ThreadsView(id="threads-view")
        self.shutdown_view = ShutdownView(id="shutdown-view")
        yield self.header
        yield self.banner
        with TabbedContent(initial="sockets", id="views"):
            with TabPane("Sockets [1]", id="sockets"):
                yield self.table
                yield self.table_status
                yield self.filter_box
            with TabPane("Threads [2]", id="threads"):
                yield self.threads_view
            with TabPane("Shutdown [3]", id="shutdown"):
                yield self.shutdown_view
        # Compact, and without the palette's hint: at 80 columns every key shown fits.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.header.interval = self.interval
        if self.client is not None:
            self.start(self.client)
        elif self._discover is not None:
            self.push_screen(PickerScreen(self._discover), self._picked)

    @property
    def _views_gone(self) -> bool:
        """True once the app is shutting down: late answers and ticks are dropped."""
        return not self.header.is_attached

    def _picked(self, chosen: Discovered | None) -> None:
        if chosen is None or self._connect is None:
            return
        try:
            client = self._connect(chosen)
        except ClientError as error:
            self.notify(visible(str(error)), severity="error", markup=False)
            self.push_screen(PickerScreen(self._discover or list), self._picked)
            return
        self.start(client)

    def start(self, client: Client) -> None:
        """Show ``client``'s target: fetch now, then every interval if it is live."""
        self.client = client
        self.header.connection = "live" if client.live else "offline"
        self._focus_view("sockets")
        self.fetch()
        if client.live and not self._timer_started:
            self._timer_started = True
            self.set_interval(self.interval, self._tick)

    def _tick(self) -> None:
        if self._views_gone or self.paused or self.ended:
            return
        self.fetch()

    # -- background I/O ---------------------------------------------------------

    @work(thread=True, group="fetch")
    def fetch(self) -> None:
        client = self.client
        if client is None or not self._busy.acquire(blocking=False):
            return  # one request at a time: the previous one is still out
        try:
            fetched = self._ask(client)
        except ServerBusy as error:
            self.call_from_thread(self._refused, str(error))
        except ClientError as error:
            self.call_from_thread(self._lost, str(error))
        else:
            self.call_from_thread(self._apply, fetched)
        finally:
            self._busy.release()

    def _ask(self, client: Client) -> Fetched:
        hello = client.hello() if self.hello is None else None
        exit_reports = None
        if hello is not None and client.live:  # read from the process while it runs
            exit_reports = self._find_exit_reports(hello.process.pid)
        snapshot = client.snapshot()
        threads = client.threads() if client.live else ()
        page = client.events(self._cursor) if client.live else None
        events = page.events if page else ()
        cursor = page.cursor if page else self._cursor
        # The table's text is formatted here, off the UI thread; a saved
        # report's ages are counted to when it was made.
        now = self.clock() if client.live else snapshot.snapshot.taken_at
        rows = make_rows(snapshot.snapshot, now, self._rows, snapshot.leaks())
        self.table.prepare(rows)
        limits = _limits(snapshot)
        return Fetched(hello, snapshot, threads, events, cursor, rows, limits, exit_reports)

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
        for path in paths:
            report = read_exit_report(path, pid, since)
            if report is not None:
                leaks = {leak.socket: leak.kind for leak in report.leaks}
                rows = make_rows(report.snapshot, report.generated_at, None, leaks)
                self.table.prepare(rows)
                self.call_from_thread(self._show_final, path, report, rows)
                return

    def _show_final(self, path: Path, report: Report, rows: Rows) -> None:
        if self._views_gone:
            return
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

    # -- drawing ----------------------------------------------------------------

    @property
    def showing_live(self) -> bool:
        """True while the views show a running process (not a file, not a process gone)."""
        return self.client is not None and self.client.live and not self.ended

    def _now(self) -> float:
        """The moment of the state shown: now, or when that snapshot or report was made."""
        if self.current is not None and not self.showing_live:
            return self.current.snapshot.taken_at
        return self.clock()

    def redraw(self) -> None:
        """Draw the views other than the table (that one is updated in place) anew."""
        now = self._drawn_at = self._now()
        self.header.show(now)
        snapshot = self.current.snapshot if self.current else None
        self.banner.show(snapshot, now, ended=self._past)
        if snapshot is None:
            return
        self._status()
        self._draw_view(self._view, snapshot, now)

    @property
    def _past(self) -> bool:
        """The views show the last snapshot of a process that has exited since."""
        return self.ended and self.final_report is None

    def _draw_view(self, view: str, snapshot: Snapshot, now: float) -> None:
        """Rebuild the Threads or Shutdown view, only while it is the one shown.

        Each is rebuilt whole (every thread's stack with its source lines);
        a hidden one is drawn when its tab is chosen.
        """
        if view == "threads":
            if self.final_report is not None:
                self.threads_view.show((), snapshot, False, ended=True)
            else:
                self.threads_view.show(self.threads, snapshot, self.client_live)
        elif view == "shutdown":
            self.shutdown_view.show(snapshot, now, ended=self._past)

    @property
    def client_live(self) -> bool:
        return self.client is not None and self.client.live

    def _status(self) -> None:
        table = self.table
        parts = [f"{table.row_count} shown"]
        if table.hidden_closed:
            parts.append(f"{table.hidden_closed} closed hidden (c)")
        order = "descending" if table.sort_reverse else "ascending"
        parts.append(f"sorted by {column_label(table.sort_column)}, {order} (s, S)")
        if table.filter_text:
            parts.append(f"filter '{table.filter_text}' (/)")
        self.table_status.update(shown(" · ".join(parts)), layout=False)

    # -- actions ----------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Hide the keys that would act out of sight (and from the footer): on the
        picker all but quit and help, and the sockets table's keys on another view."""
        if isinstance(self.screen, PickerScreen):
            return action in ("quit", "help", "command_palette")
        if action in _TABLE_ACTIONS:
            on_table = not isinstance(self.screen, (SocketDetailScreen, HelpScreen))
            return on_table and self._view == "sockets"
        return True

    def action_view(self, view: str) -> None:
        # 1/2/3 and / are app keys, so they work over a detail or the help:
        # close those first, or the view would change out of sight.
        while isinstance(self.screen, (SocketDetailScreen, HelpScreen)):
            self.pop_screen()
        self.home.query_one(TabbedContent).active = view
        self._focus_view(view)

    @on(TabbedContent.TabActivated)
    def tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.pane.id is not None:
            self._view = event.pane.id
            self.refresh_bindings()  # the table's keys only on the Sockets view
            snapshot = self.current.snapshot if self.current else None
            if snapshot is not None:
                self._draw_view(self._view, snapshot, self._drawn_at)
            self._focus_view(event.pane.id)

    def _focus_view(self, view: str) -> None:
        # Focus follows the view (keys and mouse alike): a hidden table kept
        # the focus, so enter and the arrows did nothing after "2" then "1".
        # set_focus, not focus(): the latter waits for the next idle, and keys
        # typed meanwhile would go to the widget that had the focus before.
        widget = {
            "sockets": self.table,
            "threads": self.threads_view,
            "shutdown": self.shutdown_view,
        }[view]
        self.home.set_focus(widget)

    def action_filter(self) -> None:
        self.action_view("sockets")
        self.filter_box.display = True
        self.home.set_focus(self.filter_box)
        if self._rows is not None:
            self.table.prepare(self._rows, filtering=True)  # now, not at the first letter

    def action_clear_filter(self) -> None:
        box = self.filter_box
        if box.display or box.value:
            # The rows come back first, in the next frame; the box's own
            # Changed message would only arrive after the layout and focus moves.
            self.table.filter_text = ""
            self._refilter()
            box.value = ""
            box.display = False
            self.home.set_focus(self.table)

    @on(Input.Changed, "#filter")
    def filter_changed(self, event: Input.Changed) -> None:
        text = event.value.strip()
        if text != self.table.filter_text:
            self.table.filter_text = text
            self._refilter()

    def _refilter(self) -> None:
        # Only the table changes: the other views keep what they drew.
        self.table.refilter()
        self._status()

    @on(Input.Submitted, "#filter")
    def filter_done(self) -> None:
        if not self.filter_box.value:
            self.filter_box.display = False
        self.home.set_focus(self.table)

    def action_sort(self) -> None:
        self.table.cycle_sort()
        self._status()  # says which column: no toast, which would cost a layout

    def action_reverse_sort(self) -> None:
        self.table.reverse_sort()
        self._status()

    @on(SocketTable.Sorted)
    def header_clicked(self) -> None:
        self._status()

    def action_toggle_closed(self) -> None:
        self.table.show_closed = not self.table.show_closed
        self._refilter()

    def action_pause(self) -> None:
        if self.ended:
            self.notify("the process has exited: nothing to pause", timeout=2)
            return
        if self.client is None or not self.client.live:
            self.notify("a saved report does not change: nothing to pause", timeout=2)
            return
        self.paused = not self.paused
        self.header.connection = "paused" if self.paused else "live"
        self.header.show(self._drawn_at)

    def action_refresh(self) -> None:
        if self.ended:
            self.notify("the process has exited: nothing to refresh", timeout=2)
        elif self.client is not None and self.client.live:
            self.fetch()
        else:
            self.notify("a saved report does not change", timeout=2)

    def action_export(self) -> None:
        if self.current is None:
            self.notify("nothing to export yet", severity="warning")
            return
        pid = self.current.snapshot.process.pid
        folder = self.export_dir
        try:
            path = write_export(folder, pid, self.clock(), self.current.report.to_json())
        except FileWriteError as error:
            self.notify(visible(str(error)), severity="error", markup=False)
            return
        except OSError as error:  # the folder could not be made
            where = error.filename or folder
            note = visible(f"cannot write {where}: {error.strerror}")
            self.notify(note, severity="error", markup=False)
            return
        self.notify(visible(f"snapshot saved to {path}"), markup=False)

    # Keys a subclass adds, for the help screen: (key, what it does).
    EXTRA_KEYS: ClassVar[tuple[tuple[str, str], ...]] = ()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.EXTRA_KEYS, str(self.export_dir)))

    @on(SocketTable.Opened)
    def open_socket(self, event: SocketTable.Opened) -> None:
        if self.current is None:
            return
        snapshot = self.current.snapshot
        record = snapshot.socket(event.socket_id)
        if record is None:
            return
        peers = self.current.stats.peers if self.current.stats else ()
        # A saved report's paths are not opened; nor, once shown, the exit report's.
        live = self.client_live and self.final_report is None
        self.push_screen(
            SocketDetailScreen(record, self.events, peers, snapshot.warnings, read_sources=live)
        )

    @on(ShutdownBanner.Clicked)
    def banner_clicked(self) -> None:
        self.action_view("shutdown")


_TABLE_ACTIONS = frozenset({"sort", "reverse_sort", "toggle_closed"})


def _limits(fetched: LiveSnapshot) -> tuple[LimitWarning, ...]:
    """The limits near or reached: from the records and the vital signs (a saved
    report: the file descriptors it recorded)."""
    stats = fetched.stats
    if stats is None:
        return fetched.report.limit_warnings
    snapshot = fetched.snapshot
    return snapshot_limits(snapshot.contexts, snapshot.sockets, stats.fds, stats.fd_limit)
