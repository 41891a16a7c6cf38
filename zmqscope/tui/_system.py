"""The app's view of the other processes: the topology, gathered on its own timer, and
jumps to another process (a peer's) and back.

:class:`SystemApp` adds to :class:`~zmqscope.tui._feed.FeedApp` what does not
depend on the views: when the topology is asked for (never two at once, a
slow one less often), which of the process's sockets a diagnosis names, and
switching the app's client to another process's and back, closing the
clients it opened. :class:`~zmqscope.tui.app.ScopeApp` draws it.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from textual import work
from textual.worker import get_current_worker

from zmqscope._defaults import DEFAULT_INTERVAL
from zmqscope._shown import visible
from zmqscope.model.topology import Topology
from zmqscope.remote.client import (
    DEFAULT_TIMEOUT,
    Client,
    ClientError,
    ReportClient,
    connect,
    exit_report_paths,
)
from zmqscope.tui._feed import FeedApp
from zmqscope.tui._topology import Drawing, TopologySource, diagnosed_sockets, draw, topology_of
from zmqscope.tui.picker import PickerScreen

# A topology asks every process of this user: not more often than this (seconds)
# while the Topology view is shown, and for the sockets table's marks only
# every TOPOLOGY_HIDDEN_INTERVAL while it is not.
TOPOLOGY_INTERVAL = 2.0
TOPOLOGY_HIDDEN_INTERVAL = 10.0
# A gathering's CPU is the TUI's own (the snapshots are decoded here): a slow
# one (20 processes of 1,000 sockets take about 2 s) waits this many times its
# own length before the next, so that the keys stay quick.
TOPOLOGY_PAUSE_FACTOR = 4.0


class SystemApp(FeedApp):
    """The topology around the process shown, and the way to another process and back."""

    def __init__(
        self,
        client: Client | None = None,
        *,
        interval: float = DEFAULT_INTERVAL,
        clock: Callable[[], float] = time.time,
        exit_reports: Callable[[int], tuple[Path, ...]] = exit_report_paths,
        open_pid: Callable[[int], Client] | None = None,
        topology: TopologySource = topology_of,
    ) -> None:
        """``open_pid``: a client of the process of a pid, for a jump to a peer's
        process (default: as ``zmqscope attach PID`` finds it). ``topology``:
        the topology around a client's process, asked in a worker (default:
        every process of this user live, a saved report's processes offline)."""
        super().__init__(client, interval=interval, clock=clock, exit_reports=exit_reports)
        self._open_pid = open_pid or _attach_pid
        # The clients this app opened (the picker's choice, the peers jumped
        # to): closed when left or at exit. The first one is the caller's.
        self._own: list[Client] = []
        # The clients jumped from, the latest last: b goes back to it.
        self._trail: list[Client] = []
        self._gather = topology
        self.topology: Topology | None = None
        self._drawing: Drawing | None = None
        self._gathering = threading.Lock()
        self._gathered_at = -math.inf  # when the last gathering started (monotonic)
        self._gathering_took = 0.0  # how long it took (seconds)
        self._topology_timer = False

    # What the subclass shows --------------------------------------------------------

    def start(self, client: Client) -> None:
        """Show ``client``'s process: the subclass's views, and :meth:`start_topology`."""
        raise NotImplementedError

    @property
    def topology_shown(self) -> bool:
        """True while the Topology view is the one on screen."""
        raise NotImplementedError

    def show_topology(self, drawing: Drawing) -> None:
        """Draw the Topology view (only called while it is shown)."""
        raise NotImplementedError

    def show_topology_failure(self, message: str) -> None:
        """Say why the topology could not be gathered."""
        raise NotImplementedError

    def marks_changed(self) -> None:
        """The sockets a diagnosis names changed (the table's status counts them)."""

    # -- the topology -------------------------------------------------------------

    def start_topology(self, client: Client) -> None:
        """Gather now, then on a timer if ``client`` is live."""
        self.gather_topology()
        if client.live and not self._topology_timer:
            self._topology_timer = True
            self.set_interval(max(self.interval, TOPOLOGY_INTERVAL), self._topology_tick)

    def _topology_tick(self) -> None:
        if self._views_gone or self.paused or self.ended:
            return
        since = time.monotonic() - self._gathered_at
        due = TOPOLOGY_INTERVAL if self.topology_shown else TOPOLOGY_HIDDEN_INTERVAL
        # Half a second of slack: the timer's ticks come every TOPOLOGY_INTERVAL, not later.
        if since + 0.5 >= max(due, TOPOLOGY_PAUSE_FACTOR * self._gathering_took):
            self.gather_topology()

    def topology_due(self) -> None:
        """The Topology view has just been shown: gather now if the last one is old."""
        stale = time.monotonic() - self._gathered_at >= TOPOLOGY_INTERVAL
        if stale and self.showing_live and not self.paused:
            self.gather_topology()  # marks-only gatherings may be 10 s old

    @work(thread=True, group="topology")
    def gather_topology(self) -> None:
        """Ask for the topology around the client's process (never two at once)."""
        client = self.client
        if client is None or not self._gathering.acquire(blocking=False):
            return  # the last one is still out: a hung process costs one timeout
        started = self._gathered_at = time.monotonic()
        try:
            topology = self._gather(client)
            self._gathering_took = time.monotonic() - started
            # The view's lines too, off the UI thread: 20 processes of 1,000
            # sockets make thousands of them.
            drawing = draw(topology, self.attached_pid, self.can_attach)
        except (ClientError, OSError) as error:
            self.call_from_thread(self._answered, client, self._topology_failed, str(error))
        else:
            self.call_from_thread(self._answered, client, self._topology_arrived, drawing)
        finally:
            self._gathering.release()

    def _topology_arrived(self, drawing: Drawing) -> None:
        if self._views_gone:
            return
        self.topology = drawing.topology
        self._drawing = drawing
        self.mark_diagnosed()
        shown = self.drawing_now(drawing)
        if shown is not None and self.topology_shown:
            self.show_topology(shown)

    def _topology_failed(self, message: str) -> None:
        if not self._views_gone:
            self.show_topology_failure(visible(message))

    @property
    def can_attach(self) -> bool:
        """Processes can be attached to from here: live ones, or the other processes
        of a saved report that holds its run's children."""
        if isinstance(self.client, ReportClient):
            return len(self.client.pids) > 1
        return self.client_live and not self.ended

    @property
    def attached_pid(self) -> int | None:
        """The pid of the process the Sockets, Threads and Shutdown views show."""
        if self.current is not None:
            return self.current.snapshot.process.pid
        return self.hello.process.pid if self.hello else None

    def mark_diagnosed(self) -> None:
        """Mark the table's sockets that a diagnosis of the last topology names."""
        diagnosed = diagnosed_sockets(self.topology, self.attached_pid)
        if diagnosed != self.table.diagnosed:
            self.table.mark(diagnosed)
            self.marks_changed()

    def drawing_now(self, drawing: Drawing | None = None) -> Drawing | None:
        """The last topology's lines, made again if a jump (or the process's end)
        changed what enter on them does."""
        drawing = drawing or self._drawing
        if drawing is None:
            return None
        attached, live = self.attached_pid, self.can_attach
        if (drawing.attached, drawing.live) != (attached, live):
            drawing = self._drawing = draw(drawing.topology, attached, live)
        return drawing

    # -- another process: a peer's, and back -------------------------------------

    def jump_to(self, pid: int) -> None:
        """Attach to process ``pid`` (a peer's), as ``zmqscope attach PID`` would; ``b`` returns."""
        if self.hello is not None and self.hello.process.pid == pid:
            self.notify(f"already attached to pid {pid}", timeout=2)
            return
        self.notify(f"attaching to pid {pid}...", timeout=2)
        self._open(pid)

    @work(thread=True, group="jump", exclusive=True)
    def _open(self, pid: int) -> None:
        # Off the UI thread: finding and greeting a server can take its timeout.
        try:
            current = self.client
            if isinstance(current, ReportClient):  # another process's report in its file
                client: Client = current.sibling(pid)
            else:
                client = self._open_pid(pid)
        except ClientError as error:
            self.call_from_thread(self._not_opened, str(error))
            return
        if get_current_worker().is_cancelled:  # another jump was asked for since
            client.close()
            return
        self.call_from_thread(self._jumped, client)

    def _not_opened(self, message: str) -> None:
        self.notify(visible(message), severity="error", markup=False)

    def _jumped(self, client: Client) -> None:
        self._own.append(client)
        if self._views_gone:
            return  # closed with the others at exit
        if self.client is not None:
            self._trail.append(self.client)
        self._switch(client)

    def action_previous_process(self) -> None:
        if not self._trail:
            self.notify("no process to go back to: b returns after a jump to a peer", timeout=3)
            return
        left = self.client
        self._switch(self._trail.pop())
        if left is not None and left in self._own:
            self._own.remove(left)
            self._retire(left)

    def _switch(self, client: Client) -> None:
        """Show ``client``'s process from now on, starting afresh."""
        while not isinstance(self.screen, PickerScreen) and len(self.screen_stack) > 1:
            self.pop_screen()  # a detail of the other process's socket is no longer true
        self.forget()
        self.header.show(self._now())
        self.start(client)

    @work(thread=True, group="retire")
    def _retire(self, client: Client) -> None:
        """Close ``client`` once no request of it is out (a client is one thread's at a time)."""
        with self.lock_of(client):
            client.close()
        self._locks.pop(id(client), None)

    def on_unmount(self) -> None:
        for client in self._own:
            # A fetch still out at exit ends within the client's timeout.
            busy = self.lock_of(client)
            if busy.acquire(timeout=DEFAULT_TIMEOUT):
                try:
                    client.close()
                finally:
                    busy.release()


def _attach_pid(pid: int) -> Client:
    """A client of process ``pid``, found as ``zmqscope attach PID`` finds it."""
    return connect(str(pid))
