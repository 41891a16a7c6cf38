"""The Topology view: every process of this user, their sockets, who talks to whom, and
what is wrong with the wiring.

A list (one entry per process, socket or peer) so that the cursor can pick
a line: enter on another process's line attaches to it (``b`` comes
back), on a socket of the process attached to opens its detail.
"""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from zmqscope._shown import shown
from zmqscope.tui._topology import Action, Drawing, Line

WAITING = "Looking at every instrumented process of yours..."
FAILED = "The topology could not be gathered: "


class TopologyView(Vertical):
    """A summary line, then the diagnoses and each process's sockets and peers."""

    DEFAULT_CSS = """
    TopologyView > #topology-summary { height: auto; padding: 0 1; color: $text-muted; }
    TopologyView > OptionList, TopologyView > OptionList:focus {
        height: 1fr;
        border: none;
        padding: 0;
    }
    """

    class Chosen(Message):
        """Enter on a line that does something (attach to its process, open a socket)."""

        def __init__(self, action: Action) -> None:
            super().__init__()
            self.action = action

    can_focus = False
    BINDINGS: ClassVar = []

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.summary_line = Static(WAITING, id="topology-summary")
        self.entries = OptionList(id="topology-list")
        self._drawing: Drawing | None = None
        self._actions: dict[str, Action] = {}

    def compose(self) -> ComposeResult:
        yield self.summary_line
        yield self.entries

    @property
    def lines(self) -> list[Line]:
        """The lines shown, top to bottom."""
        return list(self._drawing.lines) if self._drawing else []

    def show(self, drawing: Drawing) -> None:
        """Show a topology's lines (made by :func:`~zmqscope.tui._topology.draw`)."""
        # enter attaches to another process's line, or opens this one's socket.
        hint = " · enter: go there · b: back" if drawing.live else ""
        self.summary_line.update(shown(drawing.summary + hint))
        before = self._drawing
        self._drawing = drawing
        if before is not None and before.signature == drawing.signature:
            return  # the same picture: the list (and its cursor) stays as it is
        lines = drawing.lines
        self._actions = {line.key: line.action for line in lines}
        entries = self.entries
        kept = entries.highlighted_option.id if entries.highlighted_option else None
        entries.clear_options()
        entries.add_options(_options(lines))
        keys = [line.key for line in lines]
        if lines:
            entries.highlighted = keys.index(kept) if kept in keys else 0

    def failed(self, message: str) -> None:
        """The gathering failed: say why (the last topology, if any, stays below)."""
        self.summary_line.update(Text(FAILED, style="bold red").append_text(shown(message)))

    @on(OptionList.OptionSelected, "#topology-list")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        action = self._actions.get(event.option.id or "")
        if action is not None:
            self.post_message(self.Chosen(action))


def _options(lines: tuple[Line, ...]) -> list[Option | None]:
    """An option per line, a rule (None) above each process after the first section."""
    options: list[Option | None] = []
    for line in lines:
        if options and line.key.startswith("p"):
            options.append(None)
        options.append(Option(line.text, id=line.key))
    return options
