"""The keys that act on the whole app: pause, refresh, export, help, quit, tabs, the demo's x.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

import json
from pathlib import Path

from textual.widgets import Static

from tests.helpers.fake_client import (
    ARGV,
    FakeClient,
    clock,
)
from tests.helpers.tui import (
    ALL_IDS,
    QUIET,
    SIZE,
    RecordingDemoApp,
    header,
    make_app,
    settle,
    table,
    text_of,
    view,
)
from zmqscope.model import (
    SCHEMA,
)
from zmqscope.reporting import Report
from zmqscope.tui.detail import SocketDetailScreen
from zmqscope.tui.help import HelpScreen
from zmqscope.tui.threads import ThreadsView

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
    keys = [line[:6].strip() for line in lines[lines.index("Keys") + 1 : lines.index("Keys") + 10]]
    assert keys == ["enter", "a  b", "/", "s  S", "c", "!", "p  r", "e", "?  q"]
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
