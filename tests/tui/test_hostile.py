"""The TUI shows hostile data literally and never opens a saved report's paths (issue #14).

A thread named ``worker[/x]`` crashed every view (rich markup); an escape
sequence in a name reached the terminal; a saved report whose frames named
/dev/zero grew the TUI to gigabytes and one naming a FIFO froze it. Here the
same names go through every view, live and from a saved report, and frames
point at /dev/zero and at a FIFO whose writer waits for a reader that must
never come.
"""

from __future__ import annotations

import os
import shlex
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static

from tests.helpers.fake_client import clock
from tests.helpers.hostile import ARG, ENDPOINT, NAME, NOW, controls, hostile_snapshot
from tests.helpers.tui import QUIET, SIZE, RecordingScopeApp, found, settle, text_of
from zmqscope.model import (
    CallSite,
    Event,
    Frame,
    ProcessInfo,
    ProcessStats,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadInfo,
    ThreadRef,
    Traffic,
)
from zmqscope.model._base import MAX_INT, MAX_TIME
from zmqscope.model.wording import visible
from zmqscope.remote.client import ClientError, EventPage, Hello, LiveSnapshot, ReportClient
from zmqscope.reporting import Report, build_report
from zmqscope.tui._topology import topology_of_snapshot
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.sockets import SocketTable

pytestmark = pytest.mark.timeout(60)


class SnapshotClient:
    """A :class:`~zmqscope.remote.client.Client` over one snapshot, live or not."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        live: bool = True,
        threads: Sequence[ThreadInfo] = (),
        events: Sequence[Event] = (),
    ) -> None:
        self.live = live
        self.description = "hostile"
        self._snapshot = snapshot
        self._threads = tuple(threads)
        self._events = tuple(events)

    def _stats(self) -> ProcessStats | None:
        return ProcessStats(started=NOW - 60, fds=10, fd_limit=1024) if self.live else None

    def hello(self) -> Hello:
        return Hello(self._snapshot.process, "hostile", None, 2, True, self._stats())

    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(self._snapshot, self._stats())

    def report(self) -> Report:
        return build_report(self._snapshot, live=True)

    def threads(self) -> tuple[ThreadInfo, ...]:
        return self._threads if self.live else ()

    def events(self, since: int = 0) -> EventPage:
        return EventPage(self._events if self.live and not since else (), 1, 0)

    def close(self) -> None:
        pass


def hostile_client() -> SnapshotClient:
    snapshot = hostile_snapshot()
    thread = ThreadInfo(2, NAME, False, snapshot.sockets[0].created.stack, ("s1", "s2"))
    event = Event(1, NOW - 10, f"created{NAME}", "s1", "c1", f"PUSH at {NAME}")
    return SnapshotClient(snapshot, threads=[thread], events=[event])


def saved(tmp_path: Path, snapshot: Snapshot) -> ReportClient:
    path = tmp_path / "report.json"
    path.write_text(build_report(snapshot, generated_at=NOW).to_json(), encoding="utf-8")
    return ReportClient(path)


def app_on(client: Any) -> RecordingScopeApp:
    # The topology of the client's process alone: a SnapshotClient or a saved
    # report can be asked from the gathering worker too.
    return RecordingScopeApp(client, clock=clock, interval=QUIET, topology=topology_of_snapshot)


def screen_text(app: Any) -> str:
    """Every Static of the screen on top, as plain text."""
    return "\n".join(text_of(static) for static in app.screen.query(Static))


def assert_nothing_obeyed(app: Any) -> None:
    """No control character in what the app draws (the whole screen, as exported)."""
    assert controls(app.export_screenshot()) == []
    assert controls(screen_text(app)) == []


async def walk_every_view(pilot: Pilot[Any]) -> dict[str, str]:
    """The text of the header, each view and a socket's detail; checked on the way."""
    app = pilot.app
    assert isinstance(app, RecordingScopeApp)  # app_on's, live or offline
    await settle(pilot)
    texts = {"header": text_of(app.home.query_one(ProcessHeader))}
    table = app.home.query_one(SocketTable)
    texts["row"] = " ".join(table.get_row("s1"))
    assert_nothing_obeyed(app)
    table.move_to("s1")
    await pilot.press("enter")
    await pilot.pause()
    assert isinstance(app.screen, SocketDetailScreen)
    texts["detail"] = screen_text(app)
    assert_nothing_obeyed(app)
    await pilot.press("escape", "2")
    await pilot.pause()
    texts["threads"] = text_of(app.home.query_one("#threads-body", Static))
    assert_nothing_obeyed(app)
    await pilot.press("3")
    await pilot.pause()
    texts["shutdown"] = text_of(app.home.query_one("#shutdown-body", Static))
    texts["banner"] = text_of(app.home.query_one("#banner", Static))
    assert_nothing_obeyed(app)
    await pilot.press("4")
    await settle(pilot)
    lines = [line.text.plain for line in app.topology_view.lines]
    texts["topology"] = "\n".join(lines)
    assert_nothing_obeyed(app)
    assert controls("".join(lines)) == []
    return texts


async def test_every_view_of_a_live_process_shows_hostile_names_literally() -> None:
    app = app_on(hostile_client())
    async with app.run_test(size=SIZE) as pilot:
        texts = await walk_every_view(pilot)
    name = visible(NAME)
    assert visible(ARG) in texts["header"]
    assert texts["row"].startswith("s1 PUSHworker[/x]\\x1b]0;")  # cut to the column's width
    assert f"created at 09:59:50 by {name}" in texts["detail"]
    assert "value worker[/x]\\x1b]0;pwned\\x07`\\n# HEAD" in texts["detail"]  # an option's value
    assert "09:59:50 createdworker[/x]\\x1b]0;pwned\\x07`\\n# HEAD" in texts["detail"]  # timeline
    assert f"{name} · 2" in texts["threads"]
    assert f"remedy {name}" in texts["shutdown"]
    assert "term() of c1 blocked" in texts["banner"]
    # The topology's process, socket type, endpoint and diagnosis, as written.
    command = visible(shlex.join((f"/srv/{NAME}/main.py", ARG)))
    assert f"pid 4242 · {command} · live" in texts["topology"]
    assert f"PUSH{name}  thread {name}" in texts["topology"]
    assert f"binds {visible(ENDPOINT)}: nothing connects to it" in texts["topology"]
    assert app.notes == []


async def test_every_view_of_a_saved_report_shows_hostile_names_literally(
    tmp_path: Path,
) -> None:
    app = app_on(saved(tmp_path, hostile_snapshot()))
    async with app.run_test(size=SIZE) as pilot:
        texts = await walk_every_view(pilot)
    assert visible(ARG) in texts["header"]
    assert f"by {visible(NAME)}" in texts["detail"]
    assert f"reason {visible(NAME)}" in texts["shutdown"]


async def test_a_filter_holding_markup_is_shown_as_typed() -> None:
    """The status line quotes the filter: ``[/x]`` there crashed the app."""
    app = app_on(hostile_client())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        app.home.query_one("#filter", Input).value = "[/x]"
        await pilot.pause()
        status = text_of(app.home.query_one("#table-status", Static))
        rows = app.home.query_one(SocketTable).row_ids
    assert "filter '[/x]'" in status
    assert rows == ["s1", "s2"]  # both made by the thread named worker[/x]...


# -- frames that name /dev/zero and a FIFO ----------------------------------------------


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[tuple[Path, threading.Event]]:
    """A FIFO with a writer waiting in open() for a reader; set once a reader came.

    Nothing of zmqscope's may ever open it: a reader would be what the writer
    waits for (and reading it blocks until the writer closes, which it never
    does). The writer is let go at the end by a reader of the test's own.
    """
    path = tmp_path / "pipe.py"
    os.mkfifo(path)
    opened = threading.Event()

    def writer() -> None:
        descriptor = os.open(path, os.O_WRONLY)  # blocks until a reader opens it
        opened.set()
        os.close(descriptor)

    thread = threading.Thread(target=writer, name="fifo-writer", daemon=True)
    thread.start()
    try:
        yield path, opened
    finally:
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        thread.join(timeout=10)
        os.close(reader)


def special_files_snapshot(fifo: Path, regular: Path) -> Snapshot:
    """One socket made where its frames name /dev/zero, the FIFO and a regular file."""
    thread = ThreadRef(2, "worker")
    frames = (
        Frame("/dev/zero", 1, "zeros", "user"),
        Frame(str(fifo), 1, "piped", "user"),
        Frame(str(regular), 2, "real", "user"),
    )
    record = SocketRecord(
        "s1", "c1", "PUSH", SocketState.OPEN, CallSite(NOW - 5, thread, frames, 0)
    )
    return Snapshot(NOW, ProcessInfo(4242, ("app.py",), "3.11", "27", "4.3"), sockets=(record,))


async def detail_lines(client: Any) -> list[str]:
    app = app_on(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        return screen_text(app).splitlines()


def source_under(lines: list[str], frame: str) -> str | None:
    """The source line shown under ``frame``'s line in the detail, if any."""
    index = next(i for i, line in enumerate(lines) if line.strip() == frame)
    after = lines[index + 1] if index + 1 < len(lines) else ""
    return after.strip() if after.startswith("      ") else None


async def test_a_saved_report_s_paths_are_never_opened(
    tmp_path: Path, fifo: tuple[Path, threading.Event]
) -> None:
    """Offline, only the source lines a report carries are shown: no path of it is opened."""
    path, opened = fifo
    regular = tmp_path / "real.py"
    regular.write_text("import zmq\nsock = make()  # the call\n", encoding="utf-8")
    lines = await detail_lines(saved(tmp_path, special_files_snapshot(path, regular)))
    assert source_under(lines, "/dev/zero:1 in zeros()") is None
    assert source_under(lines, f"{path}:1 in piped()") is None
    assert source_under(lines, f"{regular}:2 in real()") is None  # not even a regular file
    path_thread = [t for t in threading.enumerate() if t.name == "fifo-writer"]
    path_thread[0].join(timeout=1)  # a reader, had one come, would have let it go by now
    assert not opened.is_set()


async def test_a_live_process_s_frames_read_only_regular_files(
    tmp_path: Path, fifo: tuple[Path, threading.Event]
) -> None:
    path, opened = fifo
    regular = tmp_path / "real.py"
    regular.write_text("import zmq\nsock = make()  # the call\n", encoding="utf-8")
    lines = await detail_lines(SnapshotClient(special_files_snapshot(path, regular)))
    assert source_under(lines, "/dev/zero:1 in zeros()") is None
    assert source_under(lines, f"{path}:1 in piped()") is None
    assert source_under(lines, f"{regular}:2 in real()") == "sock = make()  # the call"
    path_thread = [t for t in threading.enumerate() if t.name == "fifo-writer"]
    path_thread[0].join(timeout=1)
    assert not opened.is_set()


# -- numbers at the edges of what a report may hold ----------------------------------------


def bounds_snapshot(time: float, count: int) -> Snapshot:
    """Sockets whose times and counts are ``time`` and ``count`` wherever a report has them."""
    far = CallSite(time, ThreadRef(count, "far"), (Frame("/srv/a.py", count, "f"),), 0)
    early = CallSite(0.0, ThreadRef(0, "early"), (Frame("/srv/b.py", 1, "g"),), 0)
    huge = Traffic(count, count, count, count, count, count, time, 0.0)
    sockets = (
        SocketRecord("s1", "c1", "PUSH", SocketState.OPEN, far, traffic=huge, linger=count),
        SocketRecord("s2", "c1", "PULL", SocketState.CLOSED, early, closed=far),
    )
    return Snapshot(time, ProcessInfo(count, ("a.py",), "", "", ""), (), sockets)


async def test_a_report_at_the_bounds_opens_and_one_past_them_is_refused(tmp_path: Path) -> None:
    """The first second of 1970, the last before 3000 and 2**64 - 1 messages: every view
    shows; a second later, or one more, and the report is refused with one line."""
    app = app_on(saved(tmp_path, bounds_snapshot(MAX_TIME, MAX_INT)))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        await pilot.press("escape", "2", "3", "1")
        await pilot.pause()
        assert_nothing_obeyed(app)
    for time, count in ((MAX_TIME + 1, MAX_INT), (MAX_TIME, MAX_INT + 1)):
        with pytest.raises(ClientError) as refused:
            saved(tmp_path, bounds_snapshot(time, count))
        assert "invalid zmqscope report" in str(refused.value)
        assert "\n" not in str(refused.value)


# -- the attach picker ------------------------------------------------------------------


async def test_the_picker_lists_a_process_whose_command_holds_markup_and_escapes() -> None:
    """One process with ``--route=[/api]`` in its argv broke the picker for every process."""
    entries = [found(4242, "/srv/app.py", ARG), found(4343, "/srv/other.py", NAME)]
    app = RecordingScopeApp(discover=lambda: entries, connect=lambda _: hostile_client())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(2)]
        assert_nothing_obeyed(app)
        options.highlighted = 1
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.home
    assert prompts == [
        f"   4242  /srv/app.py {visible(shlex.quote(ARG))}",
        f"   4343  /srv/other.py {visible(shlex.quote(NAME))}",
    ]
