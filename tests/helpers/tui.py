"""What the TUI tests share: app factories, waiting for fetches, reading what is shown.

Imported by the test modules (never by a conftest): the conftest only sets up
what every test gets without asking (async tests, UTC, a private state folder).
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

import psutil
from rich.console import Console, RenderableType
from rich.text import Text
from textual._types import AnimationLevel  # the type of App.animation_level
from textual.pilot import Pilot
from textual.widgets import Static, TabbedContent

from tests.helpers.fake_client import NOW, FakeClient, clock
from zmqscope.model.topology import HostFacts, ProcessSeen, Reach, Topology, build_topology
from zmqscope.remote.client import Client, ClientError, Discovered
from zmqscope.tui import ScopeApp
from zmqscope.tui._topology import TopologySource
from zmqscope.tui.demo import DemoApp
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.sockets import SocketTable

SIZE = (120, 40)
# No timer tick during a test unless the test asks for one.
QUIET = 3600.0


class Recording:
    """Keeps the text of every notification (toast) the app shows, in order.

    Animations are off: a tab's sliding underline only slows the tests down.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notes: list[str] = []
        self.animation_level: AnimationLevel = "none"

    def notify(self, message: str, *args: Any, **kwargs: Any) -> None:
        self.notes.append(message)
        super().notify(message, *args, **kwargs)  # type: ignore[misc]  # super() is the App mixed in


class RecordingScopeApp(Recording, ScopeApp):
    """ScopeApp that remembers its notifications.

    Its topology is empty unless a test asks for one (``topology=topology_of``:
    every process of this user, as attach does): never this machine's
    processes by chance, and never a second thread on a live client.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("topology", no_topology)
        super().__init__(*args, **kwargs)


class RecordingDemoApp(Recording, DemoApp):
    """DemoApp that remembers its notifications."""


def make_app(
    client: FakeClient | None = None,
    *,
    interval: float = QUIET,
    export_dir: Path | None = None,
    now: Callable[[], float] = clock,
    exit_reports: tuple[Path, ...] = (),
    open_pid: Callable[[int], Client] | None = None,
    topology: TopologySource | None = None,
) -> RecordingScopeApp:
    """A ScopeApp on ``client`` (a default FakeClient) with the fixed clock (or ``now``).

    The process's exit report is looked for at ``exit_reports`` only (the
    fake pids are not processes of ours to read). ``open_pid`` opens a
    peer's process for a jump (default: none can be opened). ``topology``:
    the topology around the client's process (default: an empty one, never
    this machine's processes).
    """
    return RecordingScopeApp(
        client if client is not None else FakeClient(),
        interval=interval,
        clock=now,
        export_dir=export_dir,
        exit_reports=lambda pid: exit_reports,
        open_pid=open_pid or _no_process,
        topology=topology or no_topology,
    )


def no_topology(client: Client) -> Topology:
    """An empty topology: no process, no diagnosis."""
    return build_topology([], None, now=NOW)


def topology_of_clients(*clients: FakeClient) -> TopologySource:
    """A topology source over ``clients``' snapshots, as if they were every process of the user."""

    def gather(client: Client) -> Topology:
        reach = Reach.LIVE if client.live else Reach.SAVED
        seen = [ProcessSeen.of(c.snapshot().snapshot, reach) for c in clients]
        return build_topology(seen, HostFacts(), now=NOW)

    return gather


def _no_process(pid: int) -> Client:
    raise ClientError(f"no zmqscope server found for pid {pid}")


async def settle(pilot: Pilot[Any]) -> None:
    """Wait until every fetch in flight has been applied and drawn."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def plain(renderable: RenderableType | str, width: int = SIZE[0]) -> str:
    """What a renderable shows, as plain text (markup strings are parsed)."""
    if isinstance(renderable, str):
        renderable = Text.from_markup(renderable)
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def text_of(widget: Static) -> str:
    """What a Static shows, as plain text."""
    return plain(cast(RenderableType, widget.content))


# Shown by default: the open sockets and the leak (s7, collected without close()).
SHOWN_IDS = ["s1", "s2", "s3", "s5", "s7", "s8"]
ALL_IDS = ["s1", "s2", "s3", "s4", "s5", "s6", "s7", "s8"]


def header(app: RecordingScopeApp) -> str:
    return text_of(app.home.query_one(ProcessHeader))


def table(app: RecordingScopeApp) -> SocketTable:
    return app.home.query_one(SocketTable)


def row_ids(app: RecordingScopeApp) -> list[str]:
    return table(app).row_ids


def labels(app: RecordingScopeApp) -> list[str]:
    return [label for _key, label in table(app).columns_shown]


def status(app: RecordingScopeApp) -> str:
    return text_of(app.home.query_one("#table-status", Static))


def view(app: RecordingScopeApp) -> str:
    return app.home.query_one(TabbedContent).active


def detail_text(app: Any) -> str:
    screen = app.screen
    assert isinstance(screen, SocketDetailScreen)
    return "\n".join(text_of(static) for static in screen.query(Static))


async def open_detail(pilot: Pilot[Any], socket_id: str) -> None:
    app = pilot.app
    assert isinstance(app, RecordingScopeApp)
    table(app).move_to(socket_id)
    await pilot.press("enter")
    await pilot.pause()


def dead_pid() -> int:
    """A pid no process has (the 'process exited' case)."""
    pid = 4_000_000
    while psutil.pid_exists(pid):
        pid -= 1
    return pid


def found(pid: int, *argv: str) -> Discovered:
    return Discovered(
        pid=pid,
        argv=argv,
        endpoint=f"ipc:///run/user/1000/zmqscope/{pid}.ipc",
        started=NOW,
        versions={},
        path=Path(f"/run/user/1000/zmqscope/{pid}.json"),
    )
