"""The Sockets view (1): the table, its columns, sorting, filtering and the cursor.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.helpers.fake_client import (
    FakeClient,
    make_socket,
)
from tests.helpers.tui import (
    ALL_IDS,
    SHOWN_IDS,
    SIZE,
    labels,
    make_app,
    row_ids,
    settle,
    status,
    table,
)
from zmqscope.model import (
    Endpoint,
    EndpointOp,
    Frame,
    SocketState,
    ThreadRef,
)
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.sockets import SocketTable

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
