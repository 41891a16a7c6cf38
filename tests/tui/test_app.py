"""The TUI driven like a user would, with Pilot, over a FakeClient.

Every test starts the app at 120x40 on the fixed data of ``fake_client`` and
checks what the user sees: header text, table rows and cells, the views'
contents, the notifications.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil
import pytest
from textual.pilot import Pilot
from textual.widgets import Input, OptionList, Static, TabbedContent

from tests.tui.conftest import (
    QUIET,
    SIZE,
    RecordingDemoApp,
    RecordingScopeApp,
    make_app,
    settle,
    text_of,
)
from tests.tui.fake_client import (
    ARGV,
    MAIN,
    NOW,
    FakeClient,
    clock,
    make_socket,
)
from zmqscope.model import (
    SCHEMA,
    CallSite,
    Endpoint,
    EndpointOp,
    Frame,
    SocketRecord,
    SocketState,
    ThreadRef,
)
from zmqscope.remote.client import ClientError, Discovered, ReportClient
from zmqscope.reporting import Report
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.header import ProcessHeader
from zmqscope.tui.help import HelpScreen
from zmqscope.tui.picker import PickerScreen
from zmqscope.tui.shutdown import ShutdownBanner, ShutdownView
from zmqscope.tui.sockets import SocketTable
from zmqscope.tui.threads import ThreadsView

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


# -- header ---------------------------------------------------------------------------


async def test_header_shows_the_process_its_vital_signs_and_live() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first, second = header(app).splitlines()[:2]
    assert first == "pid 4242  /srv/app/main.py --workers 2"
    # The connection first (a narrow terminal cuts the end), then the leaks.
    assert second == (
        "live every 3600s  1 leak  up 1h02m  CPU 12%  RSS 48.3 MB  fds 37/1024  threads 5"
    )


# -- sockets table --------------------------------------------------------------------


async def test_table_lists_open_sockets_with_every_column() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert labels(app) == [
            "ID",
            "TYPE",
            "STATE",
            "ENDPOINTS",
            "OWNER",
            "AGE",
            "CREATED AT",
            "MSGS IN",
            "MSGS OUT",
            "BYTES IN",
            "BYTES OUT",
        ]
        assert row_ids(app) == SHOWN_IDS
        row = table(app).get_row("s1")
        s8 = table(app).get_row("s8")
        status_line = status(app)
    assert row == (
        "s1",
        "PUSH",
        "open",
        "tcp://127.0.0.1:5557",
        "ventilator",
        "1h00m",
        "pipeline.py:21",
        "0",
        "1520",
        "0 B",
        "152.0 KB",
    )
    assert s8[4:7] == ("?", "2h00m", "(adopted)")  # made before zmqscope looked
    assert s8[7:] == ("-", "-", "-", "-")  # no counters for this one
    assert "6 shown" in status_line and "2 closed hidden (c)" in status_line


async def test_traffic_columns_only_when_traffic_is_counted() -> None:
    app = make_app(FakeClient(traffic=False))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert labels(app) == ["ID", "TYPE", "STATE", "ENDPOINTS", "OWNER", "AGE", "CREATED AT"]


async def test_s_cycles_through_every_column_named_as_on_screen() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert row_ids(app) == SHOWN_IDS
        await pilot.press("s")
        assert "sorted by type, ascending (s, S)" in status(app)
        assert row_ids(app) == ["s5", "s3", "s2", "s1", "s7", "s8"]  # DEALER PUB PULL PUSH ...
        seen = {}
        statuses = []
        for _ in range(10):  # every other column, then back to id
            await pilot.press("s")
            seen[table(app).sort_column] = row_ids(app)
            statuses.append(status(app))
        assert "sorted by id, ascending" in status(app)
    assert list(seen) == [
        "state",
        "endpoints",
        "owner",
        "age",
        "created",
        "msgs_in",
        "msgs_out",
        "bytes_in",
        "bytes_out",
        "id",
    ]
    # The status names a column as its header does, not by an internal key.
    assert "sorted by msgs in, descending" in statuses[5]
    assert "sorted by created at, ascending" in statuses[4]
    assert not any("msgs_in" in line or "bytes_out" in line for line in statuses)
    assert seen["endpoints"] == ["s7", "s3", "s8", "s1", "s2", "s5"]  # as text: inproc, tcp
    assert seen["owner"][:3] == ["s8", "s7", "s3"]  # ?, MainThread, reporter
    assert seen["age"][:3] == ["s7", "s5", "s2"]  # youngest first
    assert seen["msgs_out"][0] == "s1"  # the busiest sender first
    assert seen["bytes_in"][0] == "s2"  # the busiest receiver first
    assert seen["id"] == SHOWN_IDS


async def test_shift_s_reverses_the_order_and_a_second_click_on_a_header_too() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("S")
        assert row_ids(app) == SHOWN_IDS[::-1]
        assert "sorted by id, descending (s, S)" in status(app)
        await pilot.press("S")
        assert row_ids(app) == SHOWN_IDS
        await pilot.click(SocketTable, offset=(6, 0))  # the TYPE header: by type
        await pilot.pause()
        by_type = row_ids(app)
        await pilot.click(SocketTable, offset=(6, 0))  # again: the other way round
        await pilot.pause()
        assert row_ids(app) == by_type[::-1]
        assert "sorted by type, descending" in status(app)


async def test_sort_and_closed_keys_act_only_on_the_sockets_view() -> None:
    """The footers of Threads and Shutdown offer no s, S or c: they would change a hidden table."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        footer_keys = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
        assert {"s", "c"} <= footer_keys
        for tab in ("2", "3"):
            await pilot.press(tab)
            await pilot.press("s", "S", "c")
            await pilot.pause()
            shown = {b.binding.key for b in app.active_bindings.values() if b.binding.show}
            assert not {"s", "c"} & shown, shown
            assert not app.check_action("sort", ())
            assert not app.check_action("reverse_sort", ())
        assert table(app).sort_column == "id" and not table(app).sort_reverse
        assert not table(app).show_closed
        await pilot.press("1", "s")
        assert table(app).sort_column == "type"


@pytest.mark.parametrize(
    ("typed", "shown"),
    [
        ("work", ["s2"]),  # thread name and file
        ("dealer", ["s5"]),  # type, any case
        ("status.py", ["s3"]),  # file
        ("reporter", ["s3"]),  # a thread that used it
        ("5557", ["s1", "s2"]),  # endpoint
        ("leak", ["s7"]),  # the leaks
        ("zzz", []),
    ],
)
async def test_slash_filters_by_type_thread_file_or_endpoint(typed: str, shown: list[str]) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *typed)
        box = app.home.query_one("#filter", Input)
        assert box.display and box.has_focus and box.value == typed
        assert row_ids(app) == shown
        assert f"filter '{typed}'" in status(app)
        await pilot.press("escape")
        assert row_ids(app) == SHOWN_IDS
        assert not box.display and box.value == ""
        assert table(app).has_focus


async def test_enter_in_the_filter_keeps_it_and_returns_to_the_table() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("slash", *"tcp", "enter")
        assert table(app).has_focus
        assert row_ids(app) == ["s1", "s2", "s5", "s8"]
        await pilot.press("enter")  # now opens the socket under the cursor
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        assert app.screen.record.id == "s1"


async def test_c_shows_and_hides_closed_and_collected_sockets() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        assert row_ids(app) == ALL_IDS
        assert table(app).get_row("s4")[2] == "closed"
        assert table(app).get_row("s7")[2] == "collected (leak)"
        assert "closed hidden" not in status(app)
        await pilot.press("c")
        assert row_ids(app) == SHOWN_IDS  # the collected s7 is a leak: never hidden


async def test_a_refresh_updates_rows_in_place_and_the_cursor_stays() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        grid = table(app)
        grid.move_to("s3")
        rows_before = {socket_id: grid.get_row(socket_id) for socket_id in row_ids(app)}
        client.close_socket("s2")
        client.add_socket(
            make_socket("s9", "PAIR", site=Frame("/srv/app/pair.py", 5, "pair"), ago=1)
        )
        await pilot.press("r")
        await settle(pilot)
        assert row_ids(app) == ["s1", "s3", "s5", "s7", "s8", "s9"]
        update = grid.last_update
        assert (update.added, update.removed, update.changed, update.kept) == (1, 1, 0, 5)
        for socket_id in ("s1", "s3", "s5", "s7", "s8"):
            assert grid.get_row(socket_id) is rows_before[socket_id]  # not rebuilt
        assert grid.current_socket == "s3"  # same socket, one row up
        assert grid.cursor_row == 1
        assert grid.get_row("s9")[:3] == ("s9", "PAIR", "open")


async def test_the_cursor_follows_its_socket_when_the_sort_changes() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        table(app).move_to("s5")
        await pilot.press("s")  # by type: the DEALER comes first
        assert table(app).current_socket == "s5"
        assert table(app).cursor_row == 0


async def test_clicks_move_the_cursor_open_a_row_and_sort_by_a_header() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click(SocketTable, offset=(5, 3))  # the third row, under the header
        assert table(app).current_socket == "s3"
        assert app.screen is app.home  # a first click only moves
        await pilot.click(SocketTable, offset=(5, 3))
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        assert app.screen.record.id == "s3"
        await pilot.press("escape")
        await pilot.click(SocketTable, offset=(6, 0))  # the TYPE header
        await pilot.pause()
        assert table(app).sort_column == "type"
        assert "sorted by type" in status(app)
        assert table(app).current_socket == "s3"


async def test_long_tables_scroll_with_the_cursor() -> None:
    sockets = [
        make_socket(f"s{n}", "PUSH", site=Frame("/srv/app/many.py", n, "f")) for n in range(1, 201)
    ]
    app = make_app(FakeClient(sockets=sockets))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        grid = table(app)
        await pilot.press("end")
        assert grid.current_socket == "s200"
        assert grid.scroll_y > 150  # the last row is on screen
        await pilot.press("home", "pagedown")
        assert grid.cursor_row > 20 and grid.scroll_y == 0
        row = grid.cursor_row
        await pilot.press("up")
        assert grid.cursor_row == row - 1
        assert grid.current_socket == f"s{grid.cursor_row + 1}"


async def test_cells_are_shown_as_written_and_long_ones_are_cut() -> None:
    thread = ThreadRef(77, "[pool] worker 1")  # brackets, not markup
    record = make_socket(
        "s1",
        "PUSH",
        thread=thread,
        site=Frame("/srv/app/a.py", 1, "f"),
        endpoints=[Endpoint(EndpointOp.CONNECT, "ipc:///run/a/very/long/path/" + "x" * 60)],
    )
    app = make_app(FakeClient(sockets=[record]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        header_line = table(app).render_line(0).text
        row_line = table(app).render_line(1).text
    assert "[pool] worker 1" in row_line
    assert "ipc:///run/a/very/long/path/xxxxxxxxxxx…" in row_line
    assert header_line.split() == [
        "ID",
        "TYPE",
        "STATE",
        "ENDPOINTS",
        "OWNER",
        "AGE",
        "CREATED",
        "AT",
    ]


# -- socket detail ------------------------------------------------------------------


async def test_enter_opens_the_detail_of_the_socket_and_escape_returns() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s3")
        text = detail_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.home
        assert table(app).has_focus
    assert "s3 PUB (open)" in text
    assert "threads   MainThread, reporter" in text
    assert "linger    -1 (wait forever), from default" in text
    assert "bind inproc://status" in text
    assert "created at 09:00:05 by MainThread" in text  # 10:00:00 UTC less 3595 s
    assert "/srv/app/status.py:9 in open_status()" in text
    assert "/srv/app/main.py:120 in main()" in text
    assert "timeline" in text and "09:00:05 created PUB at status.py:9" in text
    assert "09:01:40 warning PUB s3 used by MainThread then reporter" in text
    assert "PULL at worker.py:14" not in text  # another socket's events
    assert "thread-sharing warnings" in text
    assert "was used by MainThread, then by reporter" in text


async def test_detail_shows_endpoints_with_their_peers_options_and_traffic() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        text = detail_text(app)
    assert "bind tcp://127.0.0.1:5557 (asked tcp://127.0.0.1:*)" in text
    assert "peer 127.0.0.1:40412 (established)" in text
    assert "sndhwm    1000" in text
    assert "traffic   1520 msgs out (152.0 KB), 0 in (0 B)" in text
    assert "thread-sharing" not in text


async def test_detail_of_a_closed_socket_shows_where_it_was_closed() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await open_detail(pilot, "s4")
        text = detail_text(app)
    assert "s4 SUB (closed)" in text
    assert "closed at 09:58:20 by ticker" in text
    assert "/srv/app/ticks.py:44 in stop_ticker()" in text
    assert "connect inproc://ticks (gone)" in text


async def test_detail_shows_each_frames_source_line_when_the_file_is_readable(
    tmp_path: Path,
) -> None:
    source = tmp_path / "service.py"
    source.write_text("import zmq\n\nsock = ctx.socket(zmq.REP)  # the call\n", encoding="utf-8")
    record = make_socket("s1", "REP", site=Frame(str(source), 3, "<module>"))
    app = make_app(FakeClient(sockets=[record]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        text = detail_text(app)
    # Worded as Python's tracebacks and zmqscope's reports say it.
    assert "service.py:3 in <module>\n" in text
    assert "<module>()" not in text
    assert "sock = ctx.socket(zmq.REP)  # the call" in text


def _library_made(socket_id: str, thread: ThreadRef) -> SocketRecord:
    """A socket jupyter_client made for /srv/app/main.py, in a thread it started."""
    lib = "/venv/lib/python3.12/site-packages"
    made = Frame(
        f"{lib}/jupyter_client/connect.py", 697, "_create", "library", "jupyter_client/connect.py"
    )
    wrapper = Frame(
        f"{lib}/jupyter_client/client.py", 300, "start", "library", "jupyter_client/client.py"
    )
    app_line = Frame("/srv/app/main.py", 7, "main", "user", "main.py")
    started = CallSite(NOW - 700, MAIN, (wrapper, app_line), 1)
    by = ThreadRef(thread.id, thread.name, started)
    created = CallSite(NOW - 600, by, (made, wrapper, app_line), 2)
    return SocketRecord(socket_id, "c1", "DEALER", SocketState.OPEN, created, threads_used=(by,))


async def test_a_library_made_socket_is_named_by_the_applications_line() -> None:
    """Detail and table name main.py's line, via jupyter_client, and the thread's start."""
    record = _library_made("s1", ThreadRef(2001, "heartbeat"))
    app = make_app(FakeClient(sockets=[record]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cells = table(app).get_row("s1")
        await open_detail(pilot, "s1")
        text = detail_text(app)
    assert "main.py:7 (via jupyter_client)" in cells
    assert (
        "created at 09:50:00 by heartbeat, started at main.py:7 in main(),"
        " via jupyter_client/client.py:300" in text
    )
    assert "main.py:7 in main(), via jupyter_client/connect.py:697" in text
    assert "jupyter_client/connect.py:697 in _create()" in text


async def test_an_adopted_socket_says_its_creation_site_is_unknown() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s8")
        text = detail_text(app)
    assert "created at 08:00:00 by an unknown thread" in text
    assert "not recorded: adopted by watch()" in text
    assert "linger    unknown" in text


async def test_an_adopted_socket_says_its_endpoints_before_watch_are_unknown() -> None:
    client = FakeClient()
    client.add_socket(make_socket("s9", "DEALER", thread=None, site=None, context="c2"))
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).get_row("s9")[3] == "?"  # not "-": unknown, not none
        await open_detail(pilot, "s9")
        unbound = detail_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await open_detail(pilot, "s8")  # bound after watch() adopted it
        bound = detail_text(app)
    assert "endpoints unknown (made before watch())" in unbound
    assert "bind tcp://0.0.0.0:6000" in bound
    assert "any from before watch(): unknown" in bound


async def test_a_refresh_while_the_detail_is_open_lands_on_the_table() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        client.add_socket(make_socket("s9", "PAIR", site=Frame("/srv/app/pair.py", 5, "p")))
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, SocketDetailScreen)  # still open, nothing crashed
        await pilot.press("escape")
        await pilot.pause()
        assert "s9" in row_ids(app)


async def test_view_keys_close_the_detail_first() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        await pilot.press("2")
        await pilot.pause()
        assert app.screen is app.home and view(app) == "threads"


# -- threads and shutdown -------------------------------------------------------------


async def test_only_the_view_shown_is_rebuilt_on_refresh(monkeypatch: pytest.MonkeyPatch) -> None:
    drawn: list[str] = []
    show_threads, show_shutdown = ThreadsView.show, ShutdownView.show
    monkeypatch.setattr(
        ThreadsView, "show", lambda self, *a: drawn.append("threads") or show_threads(self, *a)
    )
    monkeypatch.setattr(
        ShutdownView, "show", lambda self, *a: drawn.append("shutdown") or show_shutdown(self, *a)
    )
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")
        await settle(pilot)
        assert drawn == []  # the sockets view is shown: the other two wait
        await pilot.press("2")
        assert drawn == ["threads"]  # drawn when chosen, from the last answer
        await pilot.press("r")
        await settle(pilot)
        assert drawn == ["threads", "threads"]
        assert "MainThread" in text_of(app.home.query_one("#threads-body", Static))


async def test_2_lists_threads_their_stacks_and_the_sockets_they_own() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2")
        assert view(app) == "threads"
        assert app.home.query_one(ThreadsView).has_focus
        text = text_of(app.home.query_one("#threads-body", Static))
    assert "MainThread · 1001" in text
    assert "/srv/app/main.py:88 in shutdown()" in text
    assert "owns: s3 PUB" in text
    assert "ventilator (daemon) · 1002" in text and "owns: s1 PUSH" in text
    assert "reporter (daemon) · 1004" in text and "owns: none" in text
    assert "stubborn · 1005" in text and "owns: s5 DEALER" in text


async def test_3_after_term_returned_says_what_blocked_it_in_the_past() -> None:
    client = FakeClient(term_blocked=True)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        client.return_term()
        await pilot.press("r")
        await settle(pilot)
        text = text_of(app.home.query_one("#shutdown-body", Static))
        banner_shown = app.home.query_one(ShutdownBanner).has_class("-blocked")
    assert (
        "term() of context c1 was blocked for 12.0 s until it returned, called at"
        " /srv/app/main.py:88 in shutdown(); 1 socket kept it waiting, and 1 closed socket"
        " may have too" in " ".join(text.split())
    )
    assert "then        stubborn is in time.sleep(3600) at stubborn.py:16" in text
    assert "now " not in text
    assert not banner_shown


async def test_3_says_so_when_no_term_is_blocked() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        text = text_of(app.home.query_one("#shutdown-body", Static))
    assert text.startswith("No term() is blocked.")


async def test_3_shows_the_culprits_with_where_they_are_and_the_remedy() -> None:
    app = make_app(FakeClient(term_blocked=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        assert view(app) == "shutdown"
        assert app.home.query_one(ShutdownView).has_focus
        text = text_of(app.home.query_one("#shutdown-body", Static))
    assert "term() of c1 blocked for 12s, called at /srv/app/main.py:88 in shutdown()" in text
    assert "s5 DEALER" in text
    assert "now         stubborn is in time.sleep(3600) at stubborn.py:16" in text
    assert "created     /srv/app/stubborn.py:12 in hold_on()" in text
    # The chain that led there, as the reports show it.
    assert "called from /srv/app/main.py:120 in main()" in text
    assert "remedy      close the socket when recv() raises zmq.ContextTerminated" in text
    assert "stack       /srv/app/stubborn.py:16 in hold_on()" in text
    assert "s6 REQ (closed: may block)" in text  # the uncertain culprit says so
    assert "remedy      set LINGER to 0 (or a few seconds) before close()" in text


async def test_the_banner_appears_when_term_blocks_and_a_click_opens_shutdown() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        banner = app.home.query_one(ShutdownBanner)
        assert not banner.display
        client.block_term()
        await pilot.press("r")
        await settle(pilot)
        assert banner.display
        assert text_of(banner) == (
            "term() of c1 blocked for 12s: 1 socket keeps it waiting, and 1 closed socket"
            " may too - press 3 or click\n"
        )
        await pilot.press("2")
        assert banner.display  # on every view
        await pilot.click(ShutdownBanner)
        await pilot.pause()
        assert view(app) == "shutdown"


# -- pause, refresh, export, help, quit -----------------------------------------------


async def test_p_pauses_fetching_and_r_refreshes_now() -> None:
    client = FakeClient()
    app = make_app(client, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)
        assert client.calls["snapshot"] > 1  # the timer fetches
        await pilot.press("p")
        await settle(pilot)
        assert "paused" in header(app)
        client.calls.clear()
        await pilot.pause(0.3)
        assert sum(client.calls.values()) == 0
        await pilot.press("r")
        await settle(pilot)
        assert client.calls["snapshot"] == 1
        assert "paused" in header(app)  # a manual refresh does not resume
        await pilot.press("p")
        await pilot.pause(0.3)
        await settle(pilot)
        assert "live every 0.05s" in header(app)
        assert client.calls["snapshot"] > 2


async def test_e_exports_the_snapshot_as_report_json(tmp_path: Path) -> None:
    app = make_app(FakeClient(term_blocked=True), export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
    path = tmp_path / "zmqscope-4242-20251128-100000.json"
    assert app.notes[-1] == f"snapshot saved to {path}"
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["schema"] == SCHEMA
    assert [s["id"] for s in document["sockets"]] == ALL_IDS  # closed ones too
    assert [c["socket"] for c in document["culprits"]] == ["s5", "s6"]
    assert document["process"]["argv"] == list(ARGV)
    Report.from_json(path.read_text(encoding="utf-8"))  # readable by attach REPORT.json


async def test_e_says_so_when_the_folder_cannot_be_made(tmp_path: Path) -> None:
    (tmp_path / "taken").write_text("a file, not a folder", encoding="utf-8")
    app = make_app(export_dir=tmp_path / "taken" / "exports")
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
    assert app.notes[-1].startswith(f"cannot write {tmp_path / 'taken' / 'exports'}")


async def test_question_mark_opens_help_and_escape_closes_it() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = text_of(app.screen.query_one(Static))
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.home
    lines = [line.strip() for line in text.splitlines()]
    keys = [line.split()[0] for line in lines[lines.index("Keys") + 1 : lines.index("Keys") + 11]]
    assert keys == ["enter", "/", "s", "S", "c", "p", "r", "e", "?", "q"]
    assert "Shutdown" in text


async def test_q_quits() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
        assert not app.is_running


async def test_clicking_a_tab_switches_the_view() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.click("#--content-tab-threads")
        await pilot.pause()
        assert view(app) == "threads"
        assert app.home.query_one(ThreadsView).has_focus
        await pilot.click("#--content-tab-sockets")
        await pilot.pause()
        assert table(app).has_focus
        await pilot.press("down", "enter")  # the keys reach the table again
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        assert app.screen.record.id == "s2"


async def test_keys_reach_the_table_after_a_round_trip_through_other_views() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("2", "3", "1", "down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, SocketDetailScreen)
        assert app.screen.record.id == "s3"


# -- offline --------------------------------------------------------------------------


async def test_offline_header_threads_pause_and_refresh() -> None:
    client = FakeClient(live=False)
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        text = header(app)
        await pilot.press("2")
        threads = text_of(app.home.query_one("#threads-body", Static))
        await pilot.press("p", "r")
        await settle(pilot)
        assert row_ids(app) == SHOWN_IDS  # the same table over a saved report
    assert text.splitlines()[0] == "pid 4242  /srv/app/main.py --workers 2"
    # Which file, and when it was made; no vital signs in a saved report.
    assert text.splitlines()[1] == (
        "offline  1 leak  /srv/reports/report.json, made 2025-11-28 10:00:00 UTC"
    )
    assert "only known while the process runs" in threads
    assert app.notes == [
        "a saved report does not change: nothing to pause",
        "a saved report does not change",
    ]
    assert client.calls["threads"] == client.calls["events"] == 0
    assert client.calls["snapshot"] == 1


async def test_an_exported_report_opens_offline_with_the_same_sockets(tmp_path: Path) -> None:
    app = make_app(export_dir=tmp_path)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c", "e")
        live_rows = [table(app).get_row(key) for key in ALL_IDS]
    (path,) = tmp_path.glob("*.json")
    offline = RecordingScopeApp(ReportClient(path), clock=clock, interval=QUIET)
    async with offline.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        assert [table(offline).get_row(key)[:7] for key in ALL_IDS] == [
            row[:7] for row in live_rows
        ]
        assert "offline" in header(offline)


# -- a lost connection ----------------------------------------------------------------


async def test_a_lost_connection_keeps_the_last_snapshot_on_screen() -> None:
    client = FakeClient(pid=os.getpid())  # alive: the server, not the process, is gone
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        client.fail_next()
        await pilot.press("r")
        await settle(pilot)
        assert header(app).splitlines()[1].startswith("connection lost  1 leak  up 1h02m")
        assert row_ids(app) == SHOWN_IDS
        assert "no answer within 3 s" in app.notes[-1]
        await pilot.press("2")  # the UI still answers
        assert view(app) == "threads"
        await pilot.press("r")  # and comes back when the server does
        await settle(pilot)
        assert "live every" in header(app)


async def test_a_busy_server_keeps_the_view_says_so_and_is_asked_again() -> None:
    client = FakeClient(pid=os.getpid())
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        client.refuse_next(2)
        await pilot.press("r")
        await settle(pilot)
        assert header(app).splitlines()[1].startswith("server busy")
        assert row_ids(app) == SHOWN_IDS
        assert "busy (over its CPU budget): ask again in 2.0 s" in app.notes[-1]
        notes = len(app.notes)
        await pilot.press("r")
        await settle(pilot)
        assert len(app.notes) == notes  # one notice while it stays busy
        await pilot.press("r")  # answered again
        await settle(pilot)
        assert "live every" in header(app)


async def test_a_dead_process_says_process_exited_and_stops_asking() -> None:
    client = FakeClient(pid=dead_pid())
    app = make_app(client, interval=0.05)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        client.disconnect()
        await pilot.pause(0.2)
        await settle(pilot)
        assert (
            header(app)
            .splitlines()[1]
            .startswith(
                "process exited  1 leak  last snapshot 10:00:00, less than 1s before the exit"
            )
        )
        assert row_ids(app) == SHOWN_IDS
        asked = client.calls["snapshot"]
        await pilot.pause(0.3)
        assert client.calls["snapshot"] == asked  # no more requests to a dead process
        assert len(app.notes) == 1  # one notice, not one per tick


async def test_an_exited_child_not_yet_reaped_also_says_process_exited() -> None:
    # zmqscope demo is its demo's parent: the demo stays a zombie until the TUI quits.
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    try:
        deadline = time.monotonic() + 10
        while psutil.Process(child.pid).status() != psutil.STATUS_ZOMBIE:
            assert time.monotonic() < deadline, "the child did not exit"
            time.sleep(0.02)
        client = FakeClient(pid=child.pid)
        app = make_app(client)
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            client.disconnect()
            await pilot.press("r")
            await settle(pilot)
            assert header(app).splitlines()[1].startswith("process exited")
    finally:
        child.wait(timeout=10)


# -- the picker -----------------------------------------------------------------------


def found(pid: int, *argv: str) -> Discovered:
    return Discovered(
        pid=pid,
        argv=argv,
        endpoint=f"ipc:///run/user/1000/zmqscope/{pid}.ipc",
        started=NOW,
        versions={},
        path=Path(f"/run/user/1000/zmqscope/{pid}.json"),
    )


async def test_the_picker_says_how_to_start_a_process_when_none_runs() -> None:
    app = RecordingScopeApp(discover=list, connect=lambda _: FakeClient(), clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PickerScreen)
        text = text_of(app.screen.query_one("#picker-title", Static))
        assert not app.screen.query_one(OptionList).display
    assert "No instrumented process is running." in text
    assert "zmqscope run app.py" in text and "zmqscope attach report.json" in text


async def test_the_picker_lists_processes_and_attaches_to_the_chosen_one() -> None:
    chosen: list[Discovered] = []
    client = FakeClient(pid=4343)

    def connect(entry: Discovered) -> FakeClient:
        chosen.append(entry)
        return client

    entries = [found(4242, "/srv/app/main.py"), found(4343, "/srv/app/other.py", "-v")]
    app = RecordingScopeApp(discover=lambda: entries, connect=connect, clock=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        options = app.screen.query_one(OptionList)
        prompts = [str(options.get_option_at_index(i).prompt) for i in range(2)]
        assert options.option_count == 2
        options.highlighted = 1
        await pilot.press("enter")
        await settle(pilot)
        assert app.screen is app.home
        assert app.client is client
        first = header(app).splitlines()[0]
    assert prompts == ["   4242  /srv/app/main.py", "   4343  /srv/app/other.py -v"]
    assert chosen == [entries[1]]
    assert first.startswith("pid 4343")


async def test_the_picker_comes_back_when_attaching_fails() -> None:
    def connect(entry: Discovered) -> FakeClient:
        raise ClientError(f"no zmqscope server at {entry.endpoint}")

    app = RecordingScopeApp(discover=lambda: [found(4242, "app.py")], connect=connect)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PickerScreen)
    assert app.notes == ["no zmqscope server at ipc:///run/user/1000/zmqscope/4242.ipc"]


async def test_a_rescan_of_the_picker_keeps_the_highlight_on_its_process() -> None:
    entries = [found(4242, "/srv/app/main.py"), found(4343, "/srv/app/other.py")]
    app = RecordingScopeApp(discover=lambda: list(entries), connect=lambda _: FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        picker = app.screen
        assert isinstance(picker, PickerScreen)
        options = picker.query_one(OptionList)
        assert options.highlighted == 0  # enter chooses at once
        options.highlighted = 1
        entries.insert(0, found(4100, "/srv/app/early.py"))
        picker.scan()
        await settle(pilot)
        assert options.option_count == 3
        highlighted = options.highlighted_option
        assert highlighted is not None and highlighted.id == "4343"


async def test_the_picker_offers_only_keys_that_work_there() -> None:
    app = RecordingScopeApp(discover=list, connect=lambda _: FakeClient())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("s", "c", "e", "2")
        assert isinstance(app.screen, PickerScreen)
        assert app.notes == []
        assert app.check_action("sort", ()) is False
        assert app.check_action("quit", ()) is True


# -- zmqscope demo --------------------------------------------------------------------


async def test_x_in_the_demo_asks_the_demo_to_shut_down_once() -> None:
    asked: list[bool] = []
    app = RecordingDemoApp(
        FakeClient(), shutdown=lambda: asked.append(True), clock=clock, interval=QUIET
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("x")
        await pilot.press("x")
    assert asked == [True]
    assert "term() will block" in app.notes[0]
    assert "already shutting down" in app.notes[1]


async def test_rows_show_the_latest_state_of_a_socket() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        client.close_socket("s1")
        await pilot.press("r")
        await settle(pilot)
        row = table(app).get_row("s1")
    assert row[:3] == ("s1", "PUSH", SocketState.CLOSED.value)
