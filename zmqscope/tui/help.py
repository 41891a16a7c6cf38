"""The help screen: every key and what each view shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from zmqscope._shown import shown

VIEWS = (
    ("1", "Sockets ", "every socket: type, state, endpoints, owner thread, age, creation site"),
    ("2", "Threads ", "every thread, where it is now, and the sockets it owns"),
    ("3", "Shutdown", "while term() is blocked: the sockets it waits for, and what to do"),
)

KEYS = (
    ("enter", "details of the socket under the cursor (stacks, peers, timeline)"),
    ("/", "filter by type, thread, file or endpoint text, or 'leak' (escape clears)"),
    ("s", "sort by the next column (or click a column's header)"),
    ("S", "reverse the order (or click the sorted column's header again)"),
    ("c", "show or hide closed sockets (leaks are always shown, marked 'leak')"),
    ("p", "pause or resume live updates"),
    ("r", "refresh now"),
    ("e", "export the current snapshot as report JSON"),
    ("?", "this help"),
    ("q", "quit, as ctrl+c does (escape closes a detail or this help)"),
)


def help_text(extra_keys: Sequence[tuple[str, str]] = (), export_dir: str | None = None) -> Text:
    """The help's text: views, then keys (``extra_keys`` after the others)."""
    text = Text()
    text.append("zmqscope attach", style="bold")
    text.append(": a live view of a running pyzmq application\n\n")
    text.append("Views\n", style="bold")
    for key, name, what in VIEWS:
        text.append(f"  {key}  {name}   {what}\n")
    text.append("\nKeys\n", style="bold")
    for key, what in (*KEYS, *extra_keys):
        text.append(f"  {key:<5}  {what}\n")
    text.append("\nThe mouse works too: click a tab, a row, a column's header, the red banner.\n")
    if export_dir is not None:
        text.append_text(shown(f"Exports (e) go to {export_dir}"))
    text.rstrip()  # no blank line at the bottom of the box
    return text


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

    def __init__(
        self, extra_keys: Sequence[tuple[str, str]] = (), export_dir: str | None = None
    ) -> None:
        super().__init__()
        self._text = help_text(extra_keys, export_dir)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._text)
