"""A saved report read the way a live target is (:class:`ReportClient`), and the
report a process wrote as it exited."""

from __future__ import annotations

import stat
from pathlib import Path

from zmqscope.model import SchemaError, ThreadInfo
from zmqscope.remote.client.interface import ClientError, EventPage, Hello, LiveSnapshot
from zmqscope.remote.protocol import MAX_REPLY_BYTES
from zmqscope.reporting import Report


class ReportClient:
    """The same interface over a saved report JSON: no threads, no events."""

    live = False

    def __init__(self, path: Path, pid: int | None = None) -> None:
        """The report at ``path``; with ``pid``, that process's in the file.

        A ``zmqscope run`` report holds its child processes' reports too
        (``processes``): ``pid`` picks one of them (or the run's own).
        """
        self.description = str(path)
        self.path = path
        try:
            with path.open("rb") as handle:
                # Read no more than a report can be: a huge file is not one.
                data = handle.read(MAX_REPLY_BYTES + 1)
            if len(data) > MAX_REPLY_BYTES:
                limit = MAX_REPLY_BYTES >> 20
                raise ClientError(f"{path}: not a zmqscope report (larger than {limit} MB)")
            text = data.decode("utf-8")
        except (OSError, UnicodeDecodeError) as error:
            reason = getattr(error, "strerror", None) or str(error)
            raise ClientError(f"cannot read {path}: {reason}") from None
        try:
            self._report = Report.from_json(text)
        except SchemaError as error:
            raise ClientError(f"{path}: {error}") from None
        # As read: a pytest plugin's file has keys a Report does not keep.
        self.text = text
        self._root = self._report
        if pid is not None:
            self._report = self._process(pid)

    @property
    def pids(self) -> tuple[int, ...]:
        """The processes this file has a report of: the run's, then its children's."""
        return tuple(report.snapshot.process.pid for report in self._reports())

    def _reports(self) -> tuple[Report, ...]:
        return (self._root, *self._root.processes)

    def _process(self, pid: int) -> Report:
        for report in self._reports():
            if report.snapshot.process.pid == pid:
                return report
        raise ClientError(f"{self.description} holds no report of process {pid}")

    def sibling(self, pid: int) -> ReportClient:
        """A client of process ``pid``'s report in the same file (read again)."""
        return ReportClient(self.path, pid)

    def hello(self) -> Hello:
        snapshot = self._report.snapshot
        return Hello(
            process=snapshot.process,
            endpoint=self.description,
            started=None,
            open_sockets=len(snapshot.open_sockets),
            term_blocked=bool(snapshot.culprits),
            stats=None,
            limits=self._report.limit_warnings,
        )

    def snapshot(self) -> LiveSnapshot:
        return LiveSnapshot(self._report.snapshot, None, self._report)

    def report(self) -> Report:
        return self._report

    def threads(self) -> tuple[ThreadInfo, ...]:
        return ()

    def events(self, since: int = 0) -> EventPage:
        return EventPage((), since, 0)

    def close(self) -> None:
        pass


def read_exit_report(path: Path, pid: int, since: float) -> Report | None:
    """The report process ``pid`` wrote at ``path`` as it exited, if it is there.

    Only a regular file (never a FIFO, which would block) holding a valid
    exit report of that process made at ``since`` or later (not a file left
    by an earlier run, nor the report written while its ``term()`` hung)
    counts; anything else is None.
    """
    try:
        if not stat.S_ISREG(path.stat().st_mode):
            return None
        report = ReportClient(path).report()
    except (OSError, ClientError):
        return None
    made_after = report.generated_at >= int(since)  # whole seconds in the file
    if report.snapshot.process.pid != pid or not report.at_exit or not made_after:
        return None
    return report
