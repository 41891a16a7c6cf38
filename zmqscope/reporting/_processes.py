"""The other processes of a ``zmqscope run`` tree, as its report holds them.

A child that delivered its report is a whole :class:`~zmqscope.reporting.Report`
in the parent's :attr:`Report.processes`; one that armed zmqscope and left
no report (killed, ``os._exit``, or still running when the parent reported)
is an :class:`UnreportedProcess`, so that nothing is lost in silence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from zmqscope.model import SchemaError, check_count
from zmqscope.model.wording import plural

# Child processes one report holds (each a whole report, bounded as one):
# a run that starts more keeps the first ones and counts the others.
MAX_PROCESSES = 1_000


@dataclass(frozen=True, slots=True)
class UnreportedProcess:
    """A child that used ZeroMQ and delivered no report."""

    pid: int
    ppid: int | None
    argv: tuple[str, ...]
    # Still running when the parent reported; else it ended without a report.
    running: bool

    @property
    def reason(self) -> str:
        if self.running:
            return "still running when the report was made"
        return "ended without a report (killed, or os._exit)"

    def to_dict(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "ppid": self.ppid,
            "argv": list(self.argv),
            "running": self.running,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UnreportedProcess:
        argv = data.get("argv", [])
        if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
            raise SchemaError("'argv' is not a list of strings")
        ppid = data.get("ppid")
        running = data.get("running", False)
        if not isinstance(running, bool):
            raise SchemaError("'running' is not true or false")
        return cls(
            pid=check_count(data.get("pid"), "field 'pid'"),
            ppid=None if ppid is None else check_count(ppid, "field 'ppid'"),
            argv=tuple(argv),
            running=running,
        )


def tree_summary(children: int, leaks: int, unreported: int) -> str:
    """``; 3 child processes: 2 leaks, 1 without a report``: the root line's tail."""
    if not children and not unreported:
        return ""
    count = children + unreported
    text = f"; {count:,} child process{'' if count == 1 else 'es'}: "
    text += plural(leaks, "leak") if leaks else "no leaks"
    if unreported:
        text += f", {unreported:,} without a report"
    return text
