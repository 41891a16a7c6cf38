"""A ``zmqscope run`` tree in one report: the children's reports, combined, saved and read back."""

from __future__ import annotations

import io
import json
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from tests.helpers.hostile import controls
from tests.helpers.records import closed_sock, snap, sock
from zmqscope.cli.ls import process_tree
from zmqscope.model import SchemaError
from zmqscope.reporting import Report, build_report, render_exit
from zmqscope.reporting._processes import MAX_PROCESSES, UnreportedProcess


def _child(pid: int, *sockets: Any, argv: tuple[str, ...] = ("worker.py",)) -> Report:
    snapshot = snap(*sockets)
    process = replace(snapshot.process, pid=pid, ppid=123, argv=argv)
    return build_report(replace(snapshot, process=process), at_exit=True)


def _tree() -> Report:
    root = build_report(snap(closed_sock()), at_exit=True)
    return replace(
        root,
        processes=(_child(201, sock()), _child(202, closed_sock())),
        unreported=(UnreportedProcess(203, 123, ("killed.py",), running=False),),
    )


def _text(report: Report) -> str:
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(render_exit(report))
    return out.getvalue()


def test_the_root_summary_counts_the_childrens_leaks_and_the_unreported() -> None:
    report = _tree()
    assert report.summary_line() == (
        "zmqscope: 1 socket created, no leaks; 3 child processes: 1 leak, 1 without a report"
    )
    assert report.has_leaks  # --fail-on-leak: a child's leak counts


def test_a_root_without_children_keeps_its_summary() -> None:
    report = build_report(snap(closed_sock()), at_exit=True)
    assert report.summary_line() == "zmqscope: 1 socket created, no leaks"
    assert not report.has_leaks


def test_text_puts_each_childs_leaks_under_its_process() -> None:
    output = _text(_tree())
    lines = output.splitlines()
    heading = lines.index("process 201 (worker.py): 1 socket created, 1 leak: 1 open at exit")
    assert "s1 · PULL · open-at-exit" in lines[heading + 1]
    assert "process 202 (worker.py): 1 socket created, no leaks" in lines
    assert "process 203 (killed.py): ended without a report (killed, or os._exit)" in lines


def test_a_clean_tree_is_a_line_per_process() -> None:
    root = build_report(snap(closed_sock()), at_exit=True)
    report = replace(root, processes=(_child(202, closed_sock()),))
    assert _text(report).splitlines() == [
        "zmqscope: 1 socket created, no leaks; 1 child process: no leaks",
        "process 202 (worker.py): 1 socket created, no leaks",
    ]


def test_a_childs_command_is_shown_literally() -> None:
    child = _child(201, sock(), argv=("[bold red]x[/]", "\x1b[2Jcleared"))
    output = _text(replace(build_report(snap(), at_exit=True), processes=(child,)))
    assert "process 201 ([bold red]x[/] \\x1b[2Jcleared)" in output
    assert controls(output) == []


def test_json_round_trip_keeps_every_process() -> None:
    report = _tree()
    document = json.loads(report.to_json())
    assert [(p["pid"], p["ppid"]) for p in document["processes"]] == [(201, 123), (202, 123)]
    assert document["processes"][0]["process"]["ppid"] == 123
    assert document["unreported"] == [
        {"pid": 203, "ppid": 123, "argv": ["killed.py"], "running": False}
    ]
    again = Report.from_json(report.to_json())
    assert [c.snapshot.process.pid for c in again.processes] == [201, 202]
    assert again.unreported == report.unreported
    assert again.summary_line() == report.summary_line()


def test_an_old_report_has_no_processes() -> None:
    document = json.loads(build_report(snap(sock()), at_exit=True).to_json())
    del document["processes"], document["unreported"]
    report = Report.from_dict(document)
    assert report.processes == () and report.unreported == ()


def _document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(_tree().to_json())
    return loaded


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.update(processes={}), "processes is not a list"),
        (lambda d: d["processes"][1].update(schema="other/9"), "processes[1]: unsupported"),
        (lambda d: d["processes"][0]["sockets"].append(7), "processes[0]: invalid"),
        (lambda d: d["processes"][0].update(processes=[d["processes"][1]]), "holds processes"),
        (lambda d: d["unreported"][0].update(running="yes"), "unreported[0]"),
        (lambda d: d["unreported"][0].update(pid=-1), "unreported[0]"),
        (lambda d: d["unreported"][0].update(argv=[1]), "unreported[0]"),
    ],
)
def test_the_loader_refuses_bad_child_entries(change: Any, message: str) -> None:
    document = _document()
    change(document)
    with pytest.raises(SchemaError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Report.from_dict(document)


def test_the_loader_bounds_the_number_of_children() -> None:
    document = _document()
    document["processes"] = [document["processes"][0]] * (MAX_PROCESSES + 1)
    with pytest.raises(SchemaError, match="more than"):
        Report.from_dict(document)


def _row(pid: int) -> dict[str, Any]:
    return {"pid": pid}


def test_ls_puts_a_process_under_its_nearest_listed_ancestor() -> None:
    # This process and its parent are real; 2**22 + 7 is no process (beyond pid_max).
    gone = (1 << 22) + 7
    rows = process_tree([_row(os.getpid()), _row(gone), _row(os.getppid())])
    assert [(r["pid"], r["depth"]) for r in rows] == [
        (os.getppid(), 0),
        (os.getpid(), 1),
        (gone, 0),
    ]
    assert rows[1]["parent"] == os.getppid() and rows[1]["ppid"] == os.getppid()
    assert rows[2]["parent"] is None and rows[2]["ppid"] is None


def test_a_childs_files_are_written_whole_but_not_synced(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from zmqscope import _files

    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", synced.append)
    _files.write_whole(tmp_path / "durable.json", "{}")
    assert len(synced) == 2  # the file, then the folder's rename
    synced.clear()
    _files.write_whole(tmp_path / "7.json", "{}", durable=False)
    assert synced == []
    assert (tmp_path / "7.json").read_text() == "{}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["7.json", "durable.json"]


def test_a_saved_tree_is_read_one_process_at_a_time(tmp_path: Path) -> None:
    """attach FILE, then a child's line: that child's report, from the same file."""
    from zmqscope.remote.client import ClientError, ReportClient

    path = tmp_path / "tree.json"
    path.write_text(_tree().to_json(), encoding="utf-8")
    root = ReportClient(path)
    assert root.pids[0] == _tree().snapshot.process.pid and set(root.pids[1:]) == {201, 202}
    child = root.sibling(202)
    assert child.report().snapshot.process.pid == 202
    assert child.hello().process.argv == ("worker.py",)
    assert child.pids == root.pids  # the whole file, for the way back and the topology
    with pytest.raises(ClientError, match=r"holds no report of process 999$"):
        root.sibling(999)
