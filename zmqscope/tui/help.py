"""The help screen: every key and what each view shows."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

HELP = """\
[b]zmqscope attach[/b]: a live view of a running pyzmq application

[b]Views[/b]
  1  Sockets    every socket: type, state, endpoints, owner thread, age, creation site
  2  Threads    every thread, where it is now, and the sockets it owns
  3  Shutdown   while term() is blocked: the sockets it waits for, and what to do

[b]Keys[/b]
  enter  details of the socket under the cursor (stacks, peers, timeline)
  /      filter by type, thread, file or endpoint text (escape clears)
  s      sort by the next column
  c      show or hide closed sockets
  p      pause or resume live updates
  r      refresh now
  e      export the current snapshot as report JSON
  ?      this help
  q      quit (escape closes a detail or this help)

The mouse works too: click a tab, a row, or the red banner.
"""


class HelpScreen(ModalScreen[None]):
    """Keys and views; any of escape, q or ? closes it."""

    BINDINGS: ClassVar = [
        ("escape", "app.pop_screen", "Close"),
        ("q", "app.pop_screen", "Close"),
        ("question_mark", "app.pop_screen", "Close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 90;
        max-width: 100%;
        height: auto;
        max-height: 90%;
        border: round $accent;
        background: $surface;
        padding: 0 1;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(HELP)
