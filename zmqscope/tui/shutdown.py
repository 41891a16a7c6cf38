"""The shutdown view (a blocked term()'s culprits) and the banner that leads to it."""

from __future__ import annotations

from dataclasses import replace

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
from zmqscope.model.held_terms import (
    EXITED,
    NO_KNOWN_CULPRIT,
    HeldTerm,
    culprit_count_sentence,
    held_terms,
    term_sentence,
    where_then,
)
from zmqscope.model.wording import (
    age,
    call_text,
    callers,
    creation_text,
    endpoint_text,
    endpoints_unknown,
    frame_text,
    linger_text,
    via_frames,
)

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
        term = next(
            (t for t in held_terms(snapshot, snapshot.culprits) if t.context_id == context.id),
            None,
        )
        blocked_for = age(now - since)
        if ended and term is not None:
            # The process exited after this snapshot: what was then, in the past tense.
            term = replace(term, ended=term.ended or EXITED)
        # The same words as the reports: "1 socket keeps it waiting, and 1 closed socket may too".
        waiting = NO_KNOWN_CULPRIT
        if term is not None:
            waiting = culprit_count_sentence(term)
        if ended:
            line = (
                f"at the last snapshot, term() of {context.id} had been blocked for {blocked_for}: "
                f"{waiting} - press 3 or click"
            )
        else:
            line = f"term() of {context.id} blocked for {blocked_for}: {waiting} - press 3 or click"
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
        for term in held_terms(snapshot, snapshot.culprits):
            if ended:
                # The process exited after this snapshot: its culprits, in the past tense.
                term = replace(term, ended=term.ended or EXITED)
            parts.append(self._context_line(term, now, ended))
            parts.extend(self._culprit(snapshot, culprit, term) for culprit in term.culprits)
        body.update(Group(*parts))

    @staticmethod
    def _context_line(term: HeldTerm, now: float, ended: bool) -> Text:
        text = Text(style="bold")
        context = term.context
        since = context.term_blocked_since if context else None
        waiting = since is not None and context is not None
        if since is not None and context is not None:
            blocked_for = age(now - since)
            blocked = (
                f"at the last snapshot before the process exited, term() of {context.id} "
                f"had been blocked for {blocked_for}"
                if ended
                else f"term() of {context.id} blocked for {blocked_for}"
            )
            text.append_text(shown(blocked, "red"))
        else:
            # Over: how long it waited, and what kept it (culprits stay after it returns).
            text.append_text(shown(term_sentence(term)))
        called = call_text(context.term_called) if context and context.term_called else None
        if called is not None:
            text.append_text(shown(f", called at {called}"))
        if not waiting or ended:
            text.append_text(shown(f"; {culprit_count_sentence(term)}"))
        return text

    @staticmethod
    def _culprit(snapshot: Snapshot, culprit: Culprit, term: HeldTerm) -> RenderableType:
        record = snapshot.socket(culprit.socket)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(style="dim", no_wrap=True)
        grid.add_column()
        if term.ended is None:
            grid.add_row("now", shown(culprit.where, style="bold"))
        else:
            grid.add_row("then", shown(where_then(culprit), style="bold"))
        if record is not None:
            # Where it was made, said as the reports say it.
            grid.add_row("created", shown(creation_text(record)))
            via = via_frames(record.created)
            if via:
                grid.add_row("via", shown_lines(frame_text(frame) for frame in via))
            chain = callers(record.created)
            if chain:
                grid.add_row("called from", shown_lines(frame_text(f) for f in chain))
            listed = [endpoint_text(e) for e in record.endpoints]
            unknown = endpoints_unknown(record)
            if unknown is not None:
                listed.append(f"({unknown})" if listed else unknown)
            grid.add_row("endpoints", shown(", ".join(listed) or "none"))
            grid.add_row("linger", shown(linger_text(record)))
        grid.add_row("why", shown(culprit.reason))
        grid.add_row("remedy", shown(culprit.remedy, style="green"))
        if culprit.owner_stack:
            frames = culprit.owner_stack[:_FRAMES_SHOWN]
            grid.add_row("stack", shown_lines(frame_text(frame) for frame in frames))
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
