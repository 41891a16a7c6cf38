"""Leaks are never hidden; Ctrl-C quits; an 80x24 footer shows the keys that matter;
exports go to the user's state folder, and the toast and help say where."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.containers import VerticalScroll
from textual.widgets import Static
from textual.widgets._footer import FooterKey

from tests.helpers.fake_client import FakeClient, clock
from tests.helpers.tui import (
    QUIET,
    SIZE,
    RecordingDemoApp,
    header,
    make_app,
    row_ids,
    settle,
    status,
    table,
    text_of,
)
from zmqscope.tui._export import export_folder
from zmqscope.tui.help import HelpScreen
from zmqscope.tui.picker import PickerScreen

SMALL = (80, 24)


# -- leaks ------------------------------------------------------------------------------


async def test_a_collected_socket_is_a_leak_shown_marked_and_counted() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        shown_ids = row_ids(app)
        cell = table(app).get_row("s7")[2]
        line = status(app)
        second = header(app).splitlines()[1]
        await pilot.press("c", "c")  # closed sockets shown, then hidden again
        again = row_ids(app)
    assert "s7" in shown_ids and "s7" in again  # collected without close(): never hidden
    assert cell == "collected (leak)"
    assert "2 closed hidden (c)" in line  # s4 and s6, which are no leaks
    assert second.startswith("live every 3600s  1 leak  ")


async def test_sockets_that_keep_a_blocked_term_waiting_are_leaks_too() -> None:
    """c1's open sockets keep its blocked term() waiting: they are the leaks.

    The closed REQ the watchdog also named only may keep it waiting: while
    open sockets surely do, it is a suspect (the Shutdown view lists it), not a leak.
    """
    app = make_app(FakeClient(term_blocked=True))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        states = {socket_id: table(app).get_row(socket_id)[2] for socket_id in row_ids(app)}
        second = header(app).splitlines()[1]
    assert states == {
        "s1": "open (leak)",
        "s2": "open (leak)",
        "s3": "open (leak)",
        "s5": "open (leak)",
        # s6 (closed, not a leak) is hidden with the other closed sockets.
        "s7": "collected (leak)",
        "s8": "open",  # context c2 is not terminating
    }
    assert "5 leaks" in second


async def test_a_healthy_process_says_no_leaks() -> None:
    sockets = [s for s in FakeClient().sockets if s.id != "s7"]
    app = make_app(FakeClient(sockets=sockets))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        second = header(app).splitlines()[1]
        assert not any("(leak)" in table(app).get_row(i)[2] for i in row_ids(app))
    assert second.startswith("live every 3600s  no leaks  ")


# -- Ctrl-C ---------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["table", "filter", "help", "threads"])
async def test_ctrl_c_quits_wherever_the_focus_is(where: str) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        keys = {"table": [], "filter": ["slash", "a"], "help": ["question_mark"], "threads": ["2"]}
        await pilot.press(*keys[where])
        await pilot.pause()
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running
    assert not any("quit" in note.lower() for note in app.notes)  # no "press ctrl+q" toast


async def test_ctrl_c_quits_the_picker() -> None:
    app = make_app()
    app.client = None
    app._discover = list
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert isinstance(app.screen, PickerScreen)
        await pilot.press("ctrl+c")
        await pilot.pause()
        assert not app.is_running


# -- the demo at 80x24 ----------------------------------------------------------------


def demo_app() -> RecordingDemoApp:
    return RecordingDemoApp(
        FakeClient(), shutdown=lambda: None, clock=clock, interval=QUIET, exit_reports=lambda p: ()
    )


async def test_an_80x24_footer_shows_quit_help_shutdown_and_export() -> None:
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        on_screen = {
            key.key
            for key in app.screen.query(FooterKey)
            if key.region.width and key.region.right <= SMALL[0]
        }
    assert {"q", "question_mark", "x", "e", "slash", "s", "c"} <= on_screen


async def test_the_demos_help_lists_x() -> None:
    app = demo_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        text = text_of(app.screen.query_one(Static))
    lines = [line.strip() for line in text.splitlines()]
    keys = lines[lines.index("Keys") + 1 :]
    assert keys[0].startswith("x     shut the demo down")  # first: it is the demo's own
    assert "?  q  this help; q: quit (or ctrl+c); escape closes a detail or this help" in keys


async def test_the_whole_help_fits_in_80x24_even_the_demos() -> None:
    """Every view and key (the demo's x too), with nothing to scroll."""
    app = demo_app()
    async with app.run_test(size=SMALL) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        scroll = app.screen.query_one(VerticalScroll)
        hidden = scroll.max_scroll_y
    assert hidden == 0


# -- where exports go -----------------------------------------------------------------


async def test_e_writes_to_the_state_folder_and_says_where(state_home: Path) -> None:
    app = make_app()  # no export_dir: the default
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("e")
        await pilot.press("question_mark")
        await pilot.pause()
        help_text = text_of(app.screen.query_one(Static))
    folder = state_home / "zmqscope"
    path = folder / "zmqscope-4242-20251128-100000.json"
    assert path.is_file()
    assert app.notes[-1] == f"snapshot saved to {path}"
    assert f"Exports go to {folder}" in help_text
    assert oct(folder.stat().st_mode & 0o777) == "0o700"
    assert not list(Path.cwd().glob("zmqscope-4242-*.json"))  # never the current folder


@pytest.mark.parametrize("state", [None, "", "relative/state"])
def test_without_an_absolute_xdg_state_home_exports_go_to_local_state(
    state: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    if state is None:
        monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    else:
        monkeypatch.setenv("XDG_STATE_HOME", state)
    assert export_folder() == tmp_path / ".local" / "state" / "zmqscope"
    assert os.path.isabs(export_folder())
