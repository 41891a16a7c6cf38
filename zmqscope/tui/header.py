"""The header: which process, how it is doing, and how we are connected."""

from __future__ import annotations

import shlex
from typing import Any

from rich.text import Text
from textual.widgets import Static

from zmqscope._shown import shown
from zmqscope.client import Hello
from zmqscope.model import LimitWarning, ProcessStats
from zmqscope.model._text import byte_size, display_path
from zmqscope.tui import _format


class ProcessHeader(Static):
    """Two lines: pid and command; vital signs, connection state and refresh interval.

    A third, in red (reached) or yellow (near), when a context nears libzmq's
    MAX_SOCKETS or the process its file-descriptor limit.
    """

    DEFAULT_CSS = """
    ProcessHeader {
        height: 2;
        padding: 0 1;
        background: $boost;
        text-wrap: nowrap;
        text-overflow: ellipsis;
    }
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__("", **kwargs)
        self.hello: Hello | None = None
        self.stats: ProcessStats | None = None
        self.connection = "connecting"
        self.interval = 1.0
        # Limits near or reached (MAX_SOCKETS, file descriptors): a third line.
        self.limits: tuple[LimitWarning, ...] = ()

    def show(self, now: float) -> None:
        height = 3 if self.limits else 2
        grown = self.styles.height is None or self.styles.height.value != height
        if grown:
            self.styles.height = height
        # Two lines (three with a limit warning): the layout changes only with the height.
        self.update(self.describe(now), layout=grown)

    def describe(self, now: float) -> Text:
        text = Text(no_wrap=True, overflow="ellipsis")
        hello = self.hello
        if hello is None:
            text.append("zmqscope", style="bold")
            text.append(f"  {self.connection}")
            return text
        text.append(f"pid {hello.process.pid}", style="bold")
        argv = list(hello.process.argv)
        if argv:  # the script as the frames show it: relative to the cwd when under it
            argv[0] = display_path(argv[0])
        text.append_text(shown("  " + shlex.join(argv)))
        text.append("\n")
        stats = self.stats
        if stats is not None:
            text.append(f"up {_format.age(now - stats.started)}  ")
            text.append(f"CPU {stats.cpu_percent:.0f}%  RSS {byte_size(stats.rss)}  ")
            text.append_text(self._fds(stats))
            text.append(f"  threads {stats.threads}  ")
        text.append_text(self._connection())
        if self.limits:
            text.append("\n")
            text.append_text(self._limits())
        return text

    def _limits(self) -> Text:
        """``limit reached: c1: 20/20 sockets (MAX_SOCKETS), most from app.py:7 ...``."""
        reached = any(w.reached for w in self.limits)
        label = "limit reached: " if reached else "near a limit: "
        style = "bold red" if reached else "bold yellow"
        return shown(label + "; ".join(w.brief() for w in self.limits), style=style)

    @staticmethod
    def _fds(stats: ProcessStats) -> Text:
        if stats.fds is None:
            return Text("fds ?")
        limit = stats.fd_limit
        style = "bold red" if limit and stats.fds > 0.8 * limit else ""
        shown = f"fds {stats.fds}/{limit}" if limit else f"fds {stats.fds}"
        return Text(shown, style=style)

    def _connection(self) -> Text:
        styles = {"live": "green", "paused": "yellow", "offline": "cyan", "server busy": "yellow"}
        label = self.connection
        text = Text(label, style=styles.get(label, "bold red"))
        if label == "live":
            text.append(f" every {self.interval:g}s", style="dim")
        return text
