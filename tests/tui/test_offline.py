"""A saved report opened offline, a lost connection, a busy server, a process that exited.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from textual.widgets import Static

from tests.helpers.fake_client import (
    FakeClient,
    clock,
)
from tests.helpers.tui import (
    ALL_IDS,
    QUIET,
    SHOWN_IDS,
    SIZE,
    RecordingScopeApp,
    dead_pid,
    header,
    make_app,
    row_ids,
    settle,
    table,
    text_of,
    view,
)
from zmqscope.remote.client import ReportClient

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
