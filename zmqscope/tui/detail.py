"""One socket in full: stacks with source lines, endpoints and peers, timeline, warnings."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from zmqscope._shown import shown, shown_lines
from zmqscope.model import ORIGIN_USER, CallSite, Event, Frame, Peer, SocketRecord, UsageWarning
from zmqscope.model.wording import (
    call_text,
    endpoint_text,
    endpoints_unknown,
    frame_text,
    internal_text,
    linger_text,
    no_user_frame_note,
    shown_stack,
    started_text,
    traffic_text,
)
from zmqscope.tui import _format


class SocketDetailScreen(Screen[None]):
    """Everything zmqscope knows about one socket; escape goes back.

    Every name, path and value in it is shown literally (:func:`shown`).
    ``read_sources`` is False for a saved report: its frames' source lines
    are the ones it carries, and no path from it is opened.
    """

    BINDINGS: ClassVar = [("escape", "app.pop_screen", "Back"), ("q", "app.pop_screen", "Back")]

    DEFAULT_CSS = """
    SocketDetailScreen Static {
        height: auto;
        padding: 0 1;
        margin-bottom: 1;
    }
    """

    def __init__(
        self,
        record: SocketRecord,
        events: Sequence[Event] = (),
        peers: Sequence[Peer] = (),
        warnings: Sequence[UsageWarning] = (),
        *,
        read_sources: bool = True,
    ) -> None:
        super().__init__()
        self.record = record
        self.read_sources = read_sources
        self.events = tuple(e for e in events if e.socket == record.id)
        self.peers = tuple(p for p in peers if p.socket == record.id)
        self.warnings = tuple(w for w in warnings if w.socket == record.id)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._summary(), id="detail-summary")
            yield Static(self._stack("created", self.record.created), id="detail-created")
            if self.record.closed is not None:
                yield Static(self._stack("closed", self.record.closed), id="detail-closed")
            yield Static(self._timeline(), id="detail-timeline")
            if self.warnings:
                yield Static(self._warnings(), id="detail-warnings")
        yield Footer(compact=True, show_command_palette=False)  # as the main screen's

    def _summary(self) -> RenderableType:
        record = self.record
        grid = Table.grid(padding=(0, 1))
        # Labels are ours, but an option's name is the record's: a long one is cut,
        # not given the width the values need.
        grid.add_column(style="bold", no_wrap=True, max_width=24, overflow="ellipsis")
        grid.add_column()
        grid.add_row("socket", shown(f"{record.id} {record.type} ({record.state.value})"))
        if record.internal is not None:
            grid.add_row("made by", shown(internal_text(record)))
        grid.add_row("context", shown(record.context or "?"))
        grid.add_row("threads", shown(", ".join(t.name for t in record.threads_used) or "?"))
        grid.add_row("linger", shown(linger_text(record)))
        for name, value in record.options:
            grid.add_row(shown(name.lower()), shown(value))
        grid.add_row("endpoints", self._endpoints())
        if record.traffic is not None:
            grid.add_row("traffic", shown(traffic_text(record.traffic, record.proxied_by)))
        return grid

    def _endpoints(self) -> Text:
        unknown = endpoints_unknown(self.record)
        if not self.record.endpoints:
            return Text(unknown or "none", style="dim")
        lines = []
        for endpoint in self.record.endpoints:
            lines.append(shown(endpoint_text(endpoint), style="" if endpoint.active else "dim"))
            lines.extend(
                shown(f"    peer {peer.remote} ({peer.status.lower()})", style="cyan")
                for peer in self.peers
                if peer.endpoint == endpoint.url
            )
        if unknown is not None:
            lines.append(Text(f"({unknown})", style="dim"))
        return Text("\n").join(lines)

    def _stack(self, title: str, call: CallSite) -> RenderableType:
        """Who and where, as the reports say it; then the frames, each with its source line.

        The application's line heads the list when a library made the call
        (``app.py:7 in main(), via jupyter_client/connect.py:697``); the
        library's frames are dimmed, and test runners' frames outward of the
        application's are left out.
        """
        thread = call.thread.name if call.thread else "an unknown thread"
        when = time.strftime("%H:%M:%S", time.localtime(call.time))
        head = shown(f"{title} at {when} by {thread}", style="bold")
        started = started_text(call.thread)
        if started is not None:
            head.append_text(shown(f", {started}"))
        if not call.stack:
            unknown = "(not recorded: adopted by watch(), or closed by the garbage collector)"
            return Group(head, Text(unknown, style="dim"))
        lines: list[RenderableType] = [head]
        if call.user_frame or no_user_frame_note(call):
            lines.append(shown(f"  {call_text(call)}", style="bold"))
        lines.extend(_frame_lines(frame, self.read_sources) for frame in shown_stack(call))
        return Group(*lines)

    def _timeline(self) -> RenderableType:
        head = Text("timeline", style="bold")
        if not self.events:
            return Group(head, Text("no events seen yet (live processes only)", style="dim"))
        table = Table.grid(padding=(0, 1))
        for event in self.events:
            when = time.strftime("%H:%M:%S", time.localtime(event.time))
            table.add_row(when, shown(event.kind), shown(event.detail))
        return Group(head, table)

    def _warnings(self) -> RenderableType:
        lines = [Text("thread-sharing warnings", style="bold yellow")]
        lines.extend(shown(w.message) for w in self.warnings)
        return Group(*lines)


def _frame_lines(frame: Frame, read_sources: bool) -> Text:
    theirs = frame.origin is not None and frame.origin != ORIGIN_USER
    text = shown(f"  {frame_text(frame)}", style="dim" if theirs else "")
    code = _format.source(frame, read_files=read_sources)
    if code:
        text.append_text(shown_lines(["", f"      {code}"], style="dim"))
    return text
