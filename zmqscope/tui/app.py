"""``zmqscope attach``: a live view into a running ZeroMQ application.

The app receives a :class:`~zmqscope.remote.client.Client` and knows nothing about
sockets or servers: tests drive it with a fake client, ``attach report.json``
with a saved report. What it asks and when, and what happens when the
connection is lost or the process exits, is :class:`~zmqscope.tui._feed.FeedApp`'s;
the topology and the jumps to another process and back are
:class:`~zmqscope.tui._system.SystemApp`'s; this module lays out the views
and binds the keys. When the process exits,
its exit report takes the last snapshot's place if it wrote one where we
know to look (``zmqscope run --json``, ``ZMQSCOPE_JSON``); else the header
says how old the last snapshot is.

Times on screen (ages, how long a ``term()`` has been blocked) are counted
to the moment of the state shown: now, for a live process; when it was
made, for a saved report or the last snapshot of a process that has exited.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from zmqscope._defaults import DEFAULT_INTERVAL
from zmqscope._files import FileWriteError
from zmqscope._shown import visible
from zmqscope.model import Snapshot
from zmqscope.remote.client import (
    Client,
    ClientError,
    Discovered,
    exit_report_paths,
)
from zmqscope.tui._export import export_folder, write_export
from zmqscope.tui._system import SystemApp
from zmqscope.tui._topology import (
    Drawing,
    Jump,
    OpenSocket,
    TopologySource,
    diagnoses_of,
    peers_elsewhere,
    topology_of,
)
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.help import HelpScreen
from zmqscope.tui.picker import PickerScreen
from zmqscope.tui.shutdown import ShutdownBanner, ShutdownView
from zmqscope.tui.sockets import SocketTable
from zmqscope.tui.sockets_view import SocketsView
from zmqscope.tui.threads import ThreadsView
from zmqscope.tui.topology import TopologyView


class ScopeApp(SystemApp):
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
        Binding("t", "view('topology')", "Topology"),
        Binding("s", "sort", "Sort"),
        Binding("S", "reverse_sort", "Reverse", show=False),
        Binding("c", "toggle_closed", "Closed"),
        Binding("p", "pause", "Pause"),
        # Refreshing is what the timer does: the key is in the help, not the footer.
        Binding("r", "refresh", "Refresh", show=False),
        # After a jump to a peer's process: the one attached to before.
        Binding("b", "previous_process", "Back", show=False),
        Binding("1", "view('sockets')", "Sockets", show=False),
        Binding("2", "view('threads')", "Threads", show=False),
        Binding("3", "view('shutdown')", "Shutdown", show=False),
        Binding("4", "view('topology')", "Topology", show=False),
        Binding("escape", "clear_filter", "Clear filter", show=False),
    ]

    def __init__(
        self,
        client: Client | None = None,
        *,
        connect: Callable[[Discovered], Client] | None = None,
        discover: Callable[[], list[Discovered]] | None = None,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        export_dir: Path | None = None,
        exit_reports: Callable[[int], tuple[Path, ...]] = exit_report_paths,
        open_pid: Callable[[int], Client] | None = None,
        topology: TopologySource = topology_of,
    ) -> None:
        """``export_dir``: where ``e`` writes (default: the user's state folder).
        ``exit_reports``: where the process of a pid will write its exit report.
        ``open_pid``, ``topology``: see :class:`~zmqscope.tui._system.SystemApp`."""
        super().__init__(
            client,
            interval=interval,
            clock=clock,
            exit_reports=exit_reports,
            open_pid=open_pid,
            topology=topology,
        )
        self._connect = connect
        self._discover = discover
        self.export_dir = export_dir or export_folder()
        self._view = "sockets"  # the tab shown: only it is redrawn on refresh
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
        self.sockets_view = SocketsView(id="sockets-view")
        self.table = self.sockets_view.table
        self.threads_view = ThreadsView(id="threads-view")
        self.shutdown_view = ShutdownView(id="shutdown-view")
        self.topology_view = TopologyView(id="topology-view")
        yield self.header
        yield self.banner
        with TabbedContent(initial="sockets", id="views"):
            with TabPane("Sockets [1]", id="sockets"):
                yield self.sockets_view
            with TabPane("Threads [2]", id="threads"):
                yield self.threads_view
            with TabPane("Shutdown [3]", id="shutdown"):
                yield self.shutdown_view
            with TabPane("Topology [4]", id="topology"):
                yield self.topology_view
        # Compact, and without the palette's hint: at 80 columns every key shown fits.
        yield Footer(compact=True, show_command_palette=False)

    def on_mount(self) -> None:
        self.header.interval = self.interval
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
            self.notify(visible(str(error)), severity="error", markup=False)
            self.push_screen(PickerScreen(self._discover or list), self._picked)
            return
        self._own.append(client)
        self.start(client)

    def start(self, client: Client) -> None:
        """Show ``client``'s target: fetch now, then every interval if it is live."""
        self.client = client
        self.header.connection = "live" if client.live else "offline"
        self._focus_view(self._view)
        self.fetch()
        self.start_topology(client)
        if client.live and not self._timer_started:
            self._timer_started = True
            self.set_interval(self.interval, self._tick)

    # -- the topology, drawn --------------------------------------------------------

    @property
    def topology_shown(self) -> bool:
        return self._view == "topology"

    def show_topology(self, drawing: Drawing) -> None:
        self.topology_view.show(drawing)

    def show_topology_failure(self, message: str) -> None:
        self.topology_view.failed(message)

    def marks_changed(self) -> None:
        self.sockets_view.show_status()

    def _draw_topology(self) -> None:
        drawing = self.drawing_now()
        if drawing is not None:
            self.topology_view.show(drawing)

    @on(TopologyView.Chosen)
    def topology_chosen(self, event: TopologyView.Chosen) -> None:
        action = event.action
        if isinstance(action, Jump):
            self.jump_to(action.pid)
        elif isinstance(action, OpenSocket):
            self.open_detail(action.socket_id)

    # -- drawing ----------------------------------------------------------------

    def redraw(self) -> None:
        """Draw the views other than the table (that one is updated in place) anew."""
        now = self._drawn_at = self._now()
        self.header.show(now)
        snapshot = self.current.snapshot if self.current else None
        self.banner.show(snapshot, now, ended=self._past)
        if snapshot is None:
            return
        self.mark_diagnosed()
        self.sockets_view.show_status()
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
        elif view == "topology":
            self._draw_topology()

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
            if self._view == "topology":
                self.topology_due()

    def _focus_view(self, view: str) -> None:
        # Focus follows the view (keys and mouse alike): a hidden table kept
        # the focus, so enter and the arrows did nothing after "2" then "1".
        # set_focus, not focus(): the latter waits for the next idle, and keys
        # typed meanwhile would go to the widget that had the focus before.
        widget = {
            "sockets": self.table,
            "threads": self.threads_view,
            "shutdown": self.shutdown_view,
            "topology": self.topology_view.entries,
        }[view]
        self.home.set_focus(widget)

    def action_filter(self) -> None:
        self.action_view("sockets")
        self.sockets_view.open_filter(self._rows)

    def action_clear_filter(self) -> None:
        self.sockets_view.clear_filter()

    def action_sort(self) -> None:
        self.sockets_view.cycle_sort()

    def action_reverse_sort(self) -> None:
        self.sockets_view.reverse_sort()

    def action_toggle_closed(self) -> None:
        self.sockets_view.toggle_closed()

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
            self.gather_topology()
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
        self.open_detail(event.socket_id)

    def open_detail(self, socket_id: str) -> None:
        """Show the detail of ``socket_id``, a socket of the process attached to."""
        if self.current is None:
            return
        snapshot = self.current.snapshot
        record = snapshot.socket(socket_id)
        if record is None:
            return
        peers = self.current.stats.peers if self.current.stats else ()
        # A saved report's paths are not opened; nor, once shown, the exit report's.
        live = self.client_live and self.final_report is None
        pid = snapshot.process.pid
        self.push_screen(
            SocketDetailScreen(
                record,
                self.events,
                peers,
                snapshot.warnings,
                read_sources=live,
                elsewhere=peers_elsewhere(self.topology, pid, socket_id),
                diagnoses=diagnoses_of(self.topology, pid, socket_id),
            )
        )

    @on(SocketDetailScreen.AttachPeer)
    def attach_peer(self, event: SocketDetailScreen.AttachPeer) -> None:
        self.jump_to(event.pid)

    @on(ShutdownBanner.Clicked)
    def banner_clicked(self) -> None:
        self.action_view("shutdown")


_TABLE_ACTIONS = frozenset({"sort", "reverse_sort", "toggle_closed"})
