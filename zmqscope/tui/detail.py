"""One socket in full: stacks with source lines, endpoints and peers, timeline, warnings,
its peers in other processes (``a`` attaches to one) and the topology's diagnoses of it."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import ClassVar

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen, Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

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
from zmqscope.tui._topology import PeerProcess


class SocketDetailScreen(Screen[None]):
    """Everything zmqscope knows about one socket; escape goes back.

    Every name, path and value in it is shown literally (:func:`shown`).
    ``read_sources`` is False for a saved report: its frames' source lines
    are the ones it carries, and no path from it is opened.
    """

    BINDINGS: ClassVar = [
        ("escape", "app.pop_screen", "Back"),
        ("q", "app.pop_screen", "Back"),
        Binding("a", "attach_peer", "Attach to peer"),
    ]

    class AttachPeer(Message):
        """The user wants to attach to the process of ``pid``, a peer's."""

        def __init__(self, pid: int) -> None:
            super().__init__()
            self.pid = pid

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
        elsewhere: Sequence[PeerProcess] = (),
        diagnoses: Sequence[str] = (),
    ) -> None:
        """``elsewhere``: the socket's peers in other processes; ``diagnoses``: the
        topology's messages that name it."""
        super().__init__()
        self.record = record
        self.read_sources = read_sources
        self.elsewhere = tuple(elsewhere)
        self.diagnoses = tuple(diagnoses)
        self.events = tuple(e for e in events if e.socket == record.id)
        self.peers = tuple(p for p in peers if p.socket == record.id)
        self.warnings = tuple(w for w in warnings if w.socket == record.id)

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._summary(), id="detail-summary")
            if self.diagnoses:
                yield Static(self._diagnoses(), id="detail-diagnoses")
            if self.elsewhere:
                yield Static(self._elsewhere(), id="detail-elsewhere")
            yield Static(self._stack("created", self.record.created), id="detail-created")
            if self.record.closed is not None:
                yield Static(self._stack("closed", self.record.closed), id="detail-closed")
            yield Static(self._timeline(), id="detail-timeline")
            if self.warnings:
                yield Static(self._warnings(), id="detail-warnings")
        yield Footer(compact=True, show_command_palette=False)  # as the main screen's

    @property
    def attachable(self) -> list[int]:
        """The pids of the peers' processes that can be attached to, each once."""
        pids = (p.pid for p in self.elsewhere if p.attachable and p.pid is not None)
        return list(dict.fromkeys(pids))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """``a`` only where a peer's process can be attached to (and only then in the footer)."""
        return bool(self.attachable) if action == "attach_peer" else True

    def action_attach_peer(self) -> None:
        pids = self.attachable
        if len(pids) == 1:
            self.post_message(self.AttachPeer(pids[0]))
        elif pids:
            choices = [p for p in self.elsewhere if p.attachable]
            self.app.push_screen(PeerChooser(choices), self._chosen)

    def _chosen(self, pid: int | None) -> None:
        if pid is not None:
            self.post_message(self.AttachPeer(pid))

    def _diagnoses(self) -> RenderableType:
        lines = [Text("topology diagnoses (Topology [4] shows them all)", style="bold red")]
        lines.extend(shown(f"! {message}") for message in self.diagnoses)
        return Group(*lines)

    def _elsewhere(self) -> RenderableType:
        hint = " (a: attach to one)" if self.attachable else ""
        lines = [Text(f"peers in other processes{hint}", style="bold")]
        for peer in self.elsewhere:
            note = "" if peer.attachable else " (cannot attach)"
            lines.append(shown(f"  {peer.text}{note}", style="cyan" if peer.attachable else "dim"))
        return Group(*lines)

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


class PeerChooser(ModalScreen[int | None]):
    """Which peer's process to attach to, when a socket has peers in several."""

    BINDINGS: ClassVar = [("escape", "dismiss_none", "Cancel"), ("q", "dismiss_none", "Cancel")]

    DEFAULT_CSS = """
    PeerChooser { align: center middle; }
    PeerChooser > OptionList {
        width: 90;
        max-width: 100%;
        height: auto;
        max-height: 80%;
        border: round $accent;
    }
    """

    def __init__(self, peers: Sequence[PeerProcess]) -> None:
        super().__init__()
        self.peers = tuple(peers)

    def compose(self) -> ComposeResult:
        choices = OptionList(
            *(Option(shown(peer.text), id=str(peer.pid)) for peer in self.peers),
            id="peer-choices",
        )
        choices.border_title = "attach to which peer's process? (escape: none)"
        yield choices

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0) or None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
