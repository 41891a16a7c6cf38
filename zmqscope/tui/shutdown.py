"""The shutdown view (a blocked term()'s culprits) and the banner that leads to it."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static

from zmqscope._shown import shown, shown_lines
from zmqscope.model import ContextRecord, Culprit, Snapshot
from zmqscope.model._text import call_text, callers, via_frames
from zmqscope.tui import _format

_FRAMES_SHOWN = 6


def blocked_contexts(snapshot: Snapshot) -> list[ContextRecord]:
    return [c for c in snapshot.contexts if c.term_blocked_since is not None]


class ShutdownBanner(Static):
    """Shown on every view while a term() is blocked; a click opens the Shutdown view."""

    DEFAULT_CSS = """
    ShutdownBanner {
        display: none;
        height: 1;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        padding: 0 1;
        background: $error;
        color: $text;
        text-style: bold;
    }
    ShutdownBanner.-blocked {
        display: block;
    }
    """

    class Clicked(Message):
        """The user wants the Shutdown view."""

    def show(self, snapshot: Snapshot | None, now: float, ended: bool = False) -> None:
        """``ended``: the process has exited since ``snapshot`` (taken at ``now``)."""
        blocked = blocked_contexts(snapshot) if snapshot else []
        self.set_class(bool(blocked), "-blocked")
        if not blocked or snapshot is None:
            return
        context = blocked[0]
        since = context.term_blocked_since or now
        mine = [c for c in snapshot.culprits if c.context in (None, context.id)]
        count = sum(1 for c in mine if c.certain)
        sockets = f"{count} socket{'s' if count != 1 else ''}"
        age = _format.age(now - since)
        if ended:
            maybe = f" ({len(mine) - count} more might)" if len(mine) > count else ""
            line = (
                f"at the last snapshot, term() of {context.id} had been blocked for {age}: "
                f"{sockets} kept it waiting{maybe} - press 3 or click"
            )
        else:
            maybe = f" ({len(mine) - count} more may)" if len(mine) > count else ""
            keeps = "keeps" if count == 1 else "keep"
            line = (
                f"term() of {context.id} blocked for {age}: {sockets} {keeps} "
                f"it waiting{maybe} - press 3 or click"
            )
        self.update(shown(line))

    def on_click(self) -> None:
        self.post_message(self.Clicked())


class ShutdownView(VerticalScroll):
    """Since when term() waits, each culprit with its reason, owner stack and remedy."""

    DEFAULT_CSS = """
    ShutdownView > Static {
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("", id="shutdown-body")

    def show(self, snapshot: Snapshot | None, now: float, ended: bool = False) -> None:
        """``ended``: the process has exited since ``snapshot`` (taken at ``now``)."""
        body = self.query_one("#shutdown-body", Static)
        if snapshot is None:
            return
        if not snapshot.culprits:
            body.update(
                "No term() is blocked. When a Context.term() or destroy() waits longer than "
                "the grace period, the sockets it waits for are shown here."
            )
            return
        parts: list[RenderableType] = []
        for context in snapshot.contexts:
            culprits = [c for c in snapshot.culprits if c.context in (None, context.id)]
            if culprits:
                parts.append(self._context_line(context, now, ended))
                parts.extend(self._culprit(snapshot, culprit) for culprit in culprits)
        body.update(Group(*parts))

    @staticmethod
    def _context_line(context: ContextRecord, now: float, ended: bool) -> Text:
        text = Text(style="bold")
        since = context.term_blocked_since
        if since is not None:
            age = _format.age(now - since)
            blocked = (
                f"at the last snapshot before the process exited, term() of {context.id} "
                f"had been blocked for {age}"
                if ended
                else f"term() of {context.id} blocked for {age}"
            )
            text.append_text(shown(blocked, "red"))
        else:
            state = context.state.value
            text.append_text(shown(f"term() of {context.id} was blocked ({state} now)"))
        called = call_text(context.term_called) if context.term_called else None
        if called is not None:
            text.append_text(shown(f", called at {called}"))
        return text

    @staticmethod
    def _culprit(snapshot: Snapshot, culprit: Culprit) -> RenderableType:
        record = snapshot.socket(culprit.socket)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        grid.add_row("now", shown(culprit.where, style="bold"))
        if record is not None:
            # Where it was made, said as the reports say it.
            grid.add_row("created", shown(call_text(record.created) or "(adopted)"))
            via = via_frames(record.created)
            if via:
                grid.add_row("via", shown_lines(_format.location(frame) for frame in via))
            chain = callers(record.created)
            if chain:
                grid.add_row("called from", shown_lines(_format.location(f) for f in chain))
            endpoints = ", ".join(_format.endpoint(e) for e in record.endpoints)
            grid.add_row("endpoints", shown(endpoints))
            grid.add_row("linger", shown(_format.linger(record)))
        grid.add_row("why", shown(culprit.reason))
        grid.add_row("remedy", shown(culprit.remedy, style="green"))
        if culprit.owner_stack:
            frames = culprit.owner_stack[:_FRAMES_SHOWN]
            grid.add_row("stack", shown_lines(_format.location(frame) for frame in frames))
        title = f"{culprit.socket} {record.type if record else '?'}"
        if not culprit.certain:
            # A closed socket may still hold queued messages: a suspect, not a sure culprit.
            state = record.state.value if record else "closed"
            title += f" ({state}: may block)"
        return Panel(
            grid,
            title=shown(title),
            title_align="left",
            border_style="red" if culprit.certain else "yellow",
        )
