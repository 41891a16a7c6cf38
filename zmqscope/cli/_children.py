"""``zmqscope run``'s side of following children: the tree's folder, made, read, removed.

The folder is ``<runtime folder>/tree-<pid>-<random>``, 0700, this user's:
the children write their reports there (:mod:`zmqscope._tree`), and the run
reads them into its own report at exit (:meth:`ChildFolder.gather`), then
removes the folder. Everything read from it is checked as a saved report
is (a child is an application: its report is hostile input).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from zmqscope._errors import ZmqscopeError
from zmqscope._tree import REPORT_SUFFIX, TREE_VARIABLE

if TYPE_CHECKING:
    from zmqscope.remote.runtime import RuntimeFolder
    from zmqscope.reporting import Report
    from zmqscope.reporting._processes import UnreportedProcess

# A child's report is read whole; one bigger than this is named, not read.
MAX_REPORT_BYTES = 256 * 1024 * 1024
_MAX_MARKER_BYTES = 64 * 1024
_OWN_NAME = re.compile(r"([0-9]+)(\.json|\.armed)")
# What write_whole leaves for a moment (and a child killed meanwhile, for good).
_TEMPORARY = re.compile(r"\.[0-9]+\.(json|armed)\.[0-9a-f]+\.tmp")


class ChildFolderError(ZmqscopeError):
    """The run's folder for its children cannot be made; the message says why."""


@dataclass(frozen=True)
class ChildSettings:
    """The run's settings, handed to its children through the environment."""

    stack_depth: int
    grace: float
    traffic: bool
    serve: bool
    json: Path | None
    markdown: Path | None


class ChildFolder:
    """The folder of one run's tree."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def make(cls) -> ChildFolder:
        """A new private folder in the runtime folder; ChildFolderError if it cannot be made."""
        from zmqscope.remote.runtime import RuntimeDirError, check_runtime_dir, ensure_runtime_dir

        try:
            parent = ensure_runtime_dir()
            path = parent / f"tree-{os.getpid()}-{secrets.token_hex(4)}"
            path.mkdir(mode=0o700)
            check_runtime_dir(path)
        except (RuntimeDirError, OSError) as error:
            raise ChildFolderError(str(error)) from None
        return cls(path)

    def export(self, settings: ChildSettings) -> None:
        """Put ZMQSCOPE=1, this folder and the run's settings into the environment."""
        environ = os.environ
        environ["ZMQSCOPE"] = "1"
        environ[TREE_VARIABLE] = str(self.path)
        environ["ZMQSCOPE_STACK_DEPTH"] = str(settings.stack_depth)
        environ["ZMQSCOPE_GRACE"] = f"{settings.grace:g}"
        environ["ZMQSCOPE_TRAFFIC"] = "1" if settings.traffic else "0"
        environ["ZMQSCOPE_SERVE"] = "1" if settings.serve else "0"
        for variable, path in (
            ("ZMQSCOPE_JSON", settings.json),
            ("ZMQSCOPE_MARKDOWN", settings.markdown),
        ):
            # Only a {pid} path: each child writes its own. Another is the run's.
            if path is not None and "{pid}" in str(path):
                environ[variable] = str(path)
            else:
                environ.pop(variable, None)

    def gather(self, report: Report) -> tuple[Report, list[str]]:
        """``report`` with the children's reports (and those owed), and notes on what failed."""
        from zmqscope.remote.runtime import RuntimeDirError, RuntimeFolder
        from zmqscope.reporting._processes import MAX_PROCESSES

        notes: list[str] = []
        try:
            folder = RuntimeFolder.open(self.path)
        except RuntimeDirError as error:
            return report, [f"zmqscope: the child processes' reports are lost: {error}"]
        with folder:
            names = folder.names()
            reported = {m[1] for m in map(_OWN_NAME.fullmatch, names) if m and m[2] == ".json"}
            children = []
            owed = []
            for name in names:
                match = _OWN_NAME.fullmatch(name)
                if match is None:
                    continue
                pid = match[1]
                if match[2] == REPORT_SUFFIX:
                    child = _read_report(folder, name, notes)
                    if child is not None:
                        children.append(child)
                elif pid not in reported:
                    owed.append(_unreported(folder, name, int(pid)))
        children.sort(key=lambda child: child.snapshot.process.pid)
        owed.sort(key=lambda process: process.pid)
        if len(children) + len(owed) > MAX_PROCESSES:
            notes.append(
                f"zmqscope: {len(children) + len(owed)} child processes; "
                f"the report keeps {MAX_PROCESSES}"
            )
            children = children[:MAX_PROCESSES]
            owed = owed[: MAX_PROCESSES - len(children)]
        return replace(report, processes=tuple(children), unreported=tuple(owed)), notes

    def remove(self) -> None:
        """Remove what the children left, then the folder (never anything else)."""
        from zmqscope.remote.runtime import RuntimeDirError, RuntimeFolder

        try:
            folder = RuntimeFolder.open(self.path)
        except RuntimeDirError:
            return
        with folder:
            for name in folder.names():
                if _OWN_NAME.fullmatch(name) or _TEMPORARY.fullmatch(name):
                    folder.remove_file(name)
        with contextlib.suppress(OSError):
            os.rmdir(self.path)


def _read_report(folder: RuntimeFolder, name: str, notes: list[str]) -> Report | None:
    from zmqscope.model import SchemaError
    from zmqscope.reporting import Report

    try:
        text = folder.read(name, MAX_REPORT_BYTES).decode("utf-8")
        return Report.from_json(text)
    except (OSError, UnicodeDecodeError, SchemaError) as error:
        notes.append(f"zmqscope: the report of child process {name[:-5]} is unreadable: {error}")
        return None


def _unreported(folder: RuntimeFolder, name: str, pid: int) -> UnreportedProcess:
    """What the marker says of a child that delivered no report, and whether it still runs."""
    import psutil

    from zmqscope.reporting._processes import UnreportedProcess

    argv: tuple[str, ...] = ()
    ppid: int | None = None
    with contextlib.suppress(Exception):  # a marker is a child's: hostile, and may be cut
        about = json.loads(folder.read(name, _MAX_MARKER_BYTES))
        marked = UnreportedProcess.from_dict({**about, "running": False})
        if marked.pid == pid:
            argv, ppid = marked.argv, marked.ppid
    try:
        running = psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        running = False
    return UnreportedProcess(pid=pid, ppid=ppid, argv=argv, running=running)
