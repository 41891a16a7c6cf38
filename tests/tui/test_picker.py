"""The picker: attach with no target, when zero or several processes run.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

from textual.widgets import OptionList, Static

from tests.helpers.fake_client import (
    FakeClient,
    clock,
)
from tests.helpers.tui import (
    SIZE,
    RecordingScopeApp,
    found,
    header,
    settle,
    text_of,
)
from zmqscope.remote.client import ClientError, Discovered
from zmqscope.tui.picker import PickerScreen

# -- the picker -----------------------------------------------------------------------


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
