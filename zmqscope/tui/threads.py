"""The threads view: every thread, where it is now, and the sockets it owns."""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.panel import Panel
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from zmqscope._shown import shown
from zmqscope.model import Snapshot, ThreadInfo
from zmqscope.model.wording import frame_text, more
from zmqscope.tui import _format

_FRAMES_SHOWN = 8
_SOCKETS_SHOWN = 24  # a pool thread may own thousands: the Sockets view lists them all


class ThreadsView(VerticalScroll):
    """One panel per thread; empty-state text offline (threads need a live process)."""

    DEFAULT_CSS = """
    ThreadsView > Static {
        height: auto;
    }
    """

    def compose(self) -> ComposeResult:
        yield Static("waiting for the first answer...", id="threads-body")

    def show(
        self,
        threads: tuple[ThreadInfo, ...],
        snapshot: Snapshot | None,
        live: bool,
        ended: bool = False,
    ) -> None:
        """``live``: the threads of a running process; else a saved report, or
        (``ended``) the exit report of a process that has exited."""
        body = self.query_one("#threads-body", Static)
        if not live:
            shown_now = "it has exited" if ended else "this is a saved report"
            body.update(f"Threads are only known while the process runs ({shown_now}).")
            return
        body.update(Group(*(self._panel(t, snapshot) for t in threads)))

    @staticmethod
    def _panel(thread: ThreadInfo, snapshot: Snapshot | None) -> RenderableType:
        lines = Text()
        for frame in thread.stack[:_FRAMES_SHOWN]:
            lines.append_text(shown(frame_text(frame)))
            lines.append("\n")
            # Only a live process has threads: its files are read (safely).
            code = _format.source(frame, read_files=True)
            if code:
                lines.append_text(shown(f"    {code}", style="dim"))
                lines.append("\n")
        if len(thread.stack) > _FRAMES_SHOWN:
            lines.append(more(len(thread.stack) - _FRAMES_SHOWN, "frame") + "\n", style="dim")
        if not thread.stack:
            lines.append("(no Python frames)\n", style="dim")
        owned = thread.sockets[:_SOCKETS_SHOWN]
        records = [snapshot.socket(sid) if snapshot else None for sid in owned]
        sockets = [f"{r.id} {r.type}" if r else sid for sid, r in zip(owned, records, strict=True)]
        if len(thread.sockets) > _SOCKETS_SHOWN:
            sockets.append(f"and {len(thread.sockets) - _SOCKETS_SHOWN:,} more")
        listed = ", ".join(sockets) if sockets else "none"
        lines.append_text(shown(f"owns: {listed}", style="bold" if sockets else "dim"))
        kind = " (daemon)" if thread.daemon else ""
        return Panel(lines, title=shown(f"{thread.name}{kind} · {thread.id}"), title_align="left")
