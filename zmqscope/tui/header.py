"""The header: which process, how it is doing, and how we are connected."""

from __future__ import annotations

import shlex
import time
from typing import Any

from rich.text import Text
from textual.widgets import Static

from zmqscope._shown import shown
from zmqscope.model import LimitWarning, ProcessStats
from zmqscope.model.wording import age, byte_size, display_path, plural
from zmqscope.remote.client import Hello


class ProcessHeader(Static):
    """Two lines: pid and command; the connection, the leaks and the vital signs.

    The connection and the leaks come first (a narrow terminal cuts the end
    of a line): ``live every 1s``, ``paused``, ``connection lost``,
    ``offline`` (a saved report: its file and when it was made follow),
    ``process exited`` (then which exit report is shown, or how old the
    last snapshot on screen is).
    A third line, in red (reached) or yellow (near), when a context nears
    libzmq's MAX_SOCKETS or the process its file-descriptor limit.
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
        self.leaks: int | None = None  # None: no snapshot yet
        self.children_leaks = 0  # a saved run's report: its child processes' leaks
        # What is on screen when it is not the live process: a saved report
        # or the exit report (its path as given), and the time of that state.
        self.source: str | None = None
        self.as_of: float | None = None
        self.exit_seen: float | None = None  # when the process was found gone

    def forget(self) -> None:
        """Back to "connecting": the app is switching to another process."""
        self.hello = self.stats = self.source = self.as_of = self.exit_seen = None
        self.leaks = None
        self.children_leaks = 0
        self.limits = ()
        self.connection = "connecting"

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
        text.append_text(self._connection())
        if self.leaks is not None:
            text.append("  ")
            text.append_text(_leaks(self.leaks))
            if self.children_leaks:
                text.append(f" (children: {plural(self.children_leaks, 'leak')})", style="bold red")
        shown_state = self._shown_state()
        if shown_state:
            text.append("  ")
            text.append_text(shown(shown_state))
        stats = self.stats
        if stats is not None:
            text.append(f"  up {age(now - stats.started)}")
            text.append(f"  CPU {stats.cpu_percent:.0f}%  RSS {byte_size(stats.rss)}  ")
            text.append_text(self._fds(stats))
            text.append(f"  threads {stats.threads}")
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

    def _shown_state(self) -> str | None:
        """What is on screen when it is not the live process, and from when."""
        if self.connection == "offline" and self.source is not None:
            made = f", made {_stamp(self.as_of)}" if self.as_of is not None else ""
            return f"{self.source}{made}"
        if self.connection != "process exited" or self.as_of is None:
            return None
        when = time.strftime("%H:%M:%S", time.localtime(self.as_of))
        if self.source is not None:
            return f"exit report {self.source}, made {when}"
        if self.exit_seen is None:
            return None
        after = self.exit_seen - self.as_of
        within = "less than 1s" if after < 1 else f"at most {age(after)}"
        return f"last snapshot {when}, {within} before the exit"


def _leaks(count: int) -> Text:
    if not count:
        return Text("no leaks", style="green")
    return Text(plural(count, "leak"), style="bold red")


def _stamp(moment: float) -> str:
    """``2025-11-28 10:00:00 UTC``: a saved report may come from another day (and zone)."""
    return time.strftime("%Y-%m-%d %H:%M:%S %Z", time.localtime(moment))
