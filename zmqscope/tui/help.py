"""The help screen: every key and what each view shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from zmqscope._shown import shown

VIEWS = (
    ("1", "Sockets", "every socket: state, endpoints, owner, age, where it was made"),
    ("2", "Threads", "every thread, where it is now, and the sockets it owns"),
    ("3", "Shutdown", "while term() is blocked: what it waits for, and what to do"),
    ("4", "Topology", "all your processes, who talks to whom, what is wrong (or t)"),
)

# One line each in an 80-column terminal: the whole help fits in 80x24 (the
# demo's too, with its x), so some lines hold two keys.
KEYS = (
    ("enter", "a socket's details: stacks, endpoints and peers, timeline"),
    ("a  b", "in a detail: attach to a peer's process; b: back to the one before"),
    ("/", "filter by type, thread, file, endpoint or 'leak' (escape clears)"),
    ("s  S", "sort by the next column (or click its header); S: reverse the order"),
    ("c", "show or hide closed sockets (leaks are always shown)"),
    ("!", "(in the table, with italics) a socket a topology diagnosis names"),
    ("p  r", "pause or resume live updates; r: refresh now"),
    ("e", "export the snapshot as report JSON (to the folder below)"),
    ("?  q", "this help; q: quit (or ctrl+c); escape closes a detail or this help"),
)


def help_text(
    extra_keys: Sequence[tuple[str, str]] = (), export_dir: str | None = None
) -> RenderableType:
    """The help: views, then keys (``extra_keys`` first), the mouse, where exports go."""
    views = Table.grid(padding=(0, 1))
    views.add_column(no_wrap=True)
    views.add_column(no_wrap=True)
    views.add_column()
    for key, name, what in VIEWS:
        views.add_row(f" {key}", name, what)
    keys = Table.grid(padding=(0, 1))
    keys.add_column(no_wrap=True, min_width=6)
    keys.add_column()
    for key, what in (*extra_keys, *KEYS):
        keys.add_row(f" {key}", what)
    title = Text.assemble(
        ("zmqscope attach", "bold"), ": a live view of a running pyzmq application"
    )
    parts: list[RenderableType] = [title, Text("Views", style="bold"), views]
    parts += [Text("Keys", style="bold"), keys]
    parts.append(Text("Mouse: click a tab, a row, a column's header, the red banner."))
    if export_dir is not None:
        parts.append(shown(f"Exports go to {export_dir}"))
    return Group(*parts)


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
