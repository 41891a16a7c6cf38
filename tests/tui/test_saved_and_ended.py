"""Time on screen is the time of the state shown: a saved report's, a process's last.

A saved report is read minutes or days after it was made: its ages and how
long its ``term()`` had been blocked are counted to when it was made, and
the header names the file and that time. A process that exits leaves its
last snapshot on screen, said to be that, or its exit report in its place.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import Static

from tests.helpers.fake_client import NOW, FakeClient
from tests.helpers.tui import (
    SIZE,
    RecordingScopeApp,
    dead_pid,
    header,
    make_app,
    row_ids,
    settle,
    table,
    text_of,
)
from zmqscope.remote.client import ReportClient
from zmqscope.reporting import build_report
from zmqscope.tui.shutdown import ShutdownBanner

LATER = NOW + 300  # five minutes after the report was made


class Clock:
    """A clock the test moves on."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def full_header(app: RecordingScopeApp) -> str:
    """The header's second line, whole (a long path would be cut on screen)."""
    return app.header.describe(NOW).plain.splitlines()[1]


def banner(app: RecordingScopeApp) -> str:
    return text_of(app.home.query_one(ShutdownBanner))


def shutdown_text(app: RecordingScopeApp) -> str:
    return text_of(app.home.query_one("#shutdown-body", Static))


# -- a saved report -------------------------------------------------------------------


async def test_a_saved_report_counts_ages_to_when_it_was_made() -> None:
    """Opened five minutes later: the term() blocked for 12 s then, not 5m12s."""
    app = make_app(FakeClient(live=False, term_blocked=True), now=lambda: LATER)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ages = {socket_id: table(app).get_row(socket_id)[5] for socket_id in row_ids(app)}
        second = header(app).splitlines()[1]
        said = banner(app)
        await pilot.press("3")
        shutdown = shutdown_text(app)
    assert ages["s1"] == "1h00m" and ages["s8"] == "2h00m"  # as made at NOW
    assert said.startswith("term() of c1 blocked for 12s")
    assert "term() of c1 blocked for 12s" in shutdown
    assert second == "offline  5 leaks  /srv/reports/report.json, made 2025-11-28 10:00:00 UTC"


async def test_a_report_file_read_back_keeps_its_ages(tmp_path: Path) -> None:
    """The real reader: a report saved at NOW and opened at LATER shows the ages of NOW."""
    client = FakeClient(term_blocked=True)
    path = tmp_path / "saved.json"
    path.write_text(build_report(client.snapshot().snapshot, live=True).to_json(), "utf-8")
    app = RecordingScopeApp(ReportClient(path), clock=lambda: LATER, interval=3600)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        age = table(app).get_row("s1")[5]
        second = full_header(app)
        said = banner(app)
    assert age == "1h00m"
    assert said.startswith("term() of c1 blocked for 12s")
    assert second == f"offline  5 leaks  {path}, made 2025-11-28 10:00:00 UTC"


# -- a process that exits ---------------------------------------------------------------


async def test_an_exit_says_how_old_the_last_snapshot_is_and_speaks_of_it_in_the_past() -> None:
    clock = Clock()
    client = FakeClient(pid=dead_pid(), term_blocked=True)
    app = make_app(client, now=clock)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ages = [table(app).get_row(socket_id)[5] for socket_id in row_ids(app)]
        client.disconnect()
        clock.now = NOW + 4
        await pilot.press("r")
        await settle(pilot)
        second = header(app).splitlines()[1]
        said = banner(app)
        clock.now = NOW + 600  # ten minutes on: nothing on screen grows older
        await pilot.press("3")
        shutdown = shutdown_text(app)
        await pilot.press("r")
        await settle(pilot)
        later_banner = banner(app)
        ages_after = [table(app).get_row(socket_id)[5] for socket_id in row_ids(app)]
    assert second.startswith(
        "process exited  5 leaks  last snapshot 10:00:00, at most 4s before the exit  up"
    )
    assert " ".join(said.split()) == (
        "at the last snapshot, term() of c1 had been blocked for 12s: 1 socket kept it "
        "waiting, and 1 closed socket may have too - press 3 or click"
    )
    assert later_banner == said
    assert (
        "at the last snapshot before the process exited, term() of c1 had been blocked for 12s"
        in (shutdown)
    )
    assert ages_after == ages
    assert app.notes[-1] == "the process has exited: nothing to refresh"


def _exit_report(tmp_path: Path, client: FakeClient, made: float, pid: int | None = None) -> Path:
    """What ``zmqscope run --json`` writes as the process exits: every open socket a leak."""
    snapshot = client.snapshot().snapshot
    if pid is not None:
        snapshot = dataclasses.replace(
            snapshot, process=dataclasses.replace(snapshot.process, pid=pid)
        )
    report = build_report(snapshot, at_exit=True, generated_at=made)
    path = tmp_path / "exit.json"
    path.write_text(report.to_json(), encoding="utf-8")
    return path


async def test_the_exit_report_takes_the_place_of_the_last_snapshot(tmp_path: Path) -> None:
    clock = Clock()
    pid = dead_pid()
    client = FakeClient(pid=pid)
    path = tmp_path / "exit.json"
    app = make_app(client, now=clock, exit_reports=(path,))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        before = header(app).splitlines()[1]
        client.close_socket("s2")  # its last moments: s2 closed, then the exit
        _exit_report(tmp_path, client, made=NOW + 5)
        client.disconnect()
        clock.now = NOW + 7
        await pilot.press("r")
        await settle(pilot)
        second = full_header(app)
        rows = {socket_id: table(app).get_row(socket_id)[2] for socket_id in row_ids(app)}
        await pilot.press("2")
        threads = text_of(app.home.query_one("#threads-body", Static))
    assert before.startswith("live every 3600s  1 leak")
    assert second == f"process exited  5 leaks  exit report {path}, made 10:00:05"
    # At exit every open socket is a leak, and the collected one still is.
    assert rows == {
        "s1": "open (leak)",
        "s3": "open (leak)",
        "s5": "open (leak)",
        "s7": "collected (leak)",
        "s8": "open (leak)",
    }
    assert "only known while the process runs (it has exited)" in threads
    assert app.notes[-1] == f"the process has exited: its exit report {path}"


async def test_an_exit_report_of_an_earlier_run_or_another_process_is_not_shown(
    tmp_path: Path,
) -> None:
    for made, pid_offset in ((NOW - 60, 0), (NOW + 5, 1)):
        clock = Clock()
        pid = dead_pid()
        client = FakeClient(pid=pid)
        path = _exit_report(tmp_path, client, made=made, pid=pid - pid_offset)
        app = make_app(client, now=clock, exit_reports=(path,))
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            client.disconnect()
            clock.now = NOW + 7
            await pilot.press("r")
            await settle(pilot)
            second = header(app).splitlines()[1]
        assert "last snapshot 10:00:00, at most 7s before the exit" in second, (made, second)
        assert app.final_report is None
