"""Choose a process to attach to, or learn how to start one."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from zmqscope._shown import shown
from zmqscope.remote.client import Discovered

EMPTY = """\
[b]No instrumented process is running.[/b]

Start one in another terminal, then it appears here:

    zmqscope run app.py            [dim]# your script, instrumented[/dim]
    ZMQSCOPE=1 python app.py       [dim]# any Python process[/dim]
    zmqscope demo                  [dim]# a bundled demo application[/dim]

Or open a saved report:  zmqscope attach report.json
"""


class PickerScreen(Screen[Discovered]):
    """Lists what ``zmqscope ls`` finds, refreshed every two seconds."""

    BINDINGS: ClassVar = [("q", "app.quit", "Quit"), ("escape", "app.quit", "Quit")]

    DEFAULT_CSS = """
    PickerScreen Static { padding: 1 2; height: auto; }
    PickerScreen OptionList { height: 1fr; margin: 0 2; }
    """

    def __init__(self, discover: Callable[[], list[Discovered]]) -> None:
        super().__init__()
        self._discover = discover
        self._found: list[Discovered] = []

    def compose(self) -> ComposeResult:
        yield Static("Looking for instrumented processes...", id="picker-title")
        yield OptionList(id="picker-list")
        yield Footer(compact=True, show_command_palette=False)  # as the main screen's

    def on_mount(self) -> None:
        self.scan()
        self.set_interval(2.0, self.scan)

    @work(thread=True, exclusive=True)
    def scan(self) -> None:
        found = self._discover()
        self.app.call_from_thread(self._show, found)

    def _show(self, found: list[Discovered]) -> None:
        title = self.query_one("#picker-title", Static)
        options = self.query_one("#picker-list", OptionList)
        if [d.pid for d in found] == [d.pid for d in self._found] and options.option_count:
            return
        highlighted = options.highlighted_option
        self._found = found
        options.clear_options()
        options.display = bool(found)
        if not found:
            title.update(EMPTY)
            return
        title.update("[b]Attach to which process?[/b] (enter to choose)")
        options.add_options(
            # The command line is the process's own: shown, never read as markup.
            Option(shown(f"{entry.pid:>7}  {shlex.join(entry.argv)}"), id=str(entry.pid))
            for entry in found
        )
        # Enter chooses at once, and a rescan keeps the highlight on its process.
        ids = [str(entry.pid) for entry in found]
        kept = highlighted.id if highlighted is not None else None
        options.highlighted = ids.index(kept) if kept in ids else 0
        options.focus()

    @on(OptionList.OptionSelected)
    def choose(self, event: OptionList.OptionSelected) -> None:
        for entry in self._found:
            if str(entry.pid) == event.option.id:
                self.dismiss(entry)
