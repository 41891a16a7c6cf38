"""The hung-term diagnosis, thread-sharing warnings and traffic counters in reports."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
import zmq
from rich.console import Console, RenderableType

from tests.helpers.records import (
    CONNECT,
    GENERATED_AT,
    MAIN,
    ROOT,
    WORKER,
    closed_sock,
    snap,
    sock,
)
from zmqscope.instrument import culprits as shutdown
from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Culprit,
    Endpoint,
    EndpointOp,
    Frame,
    SchemaError,
    Snapshot,
    SocketRecord,
    ThreadRef,
    Traffic,
    UsageWarning,
)
from zmqscope.model.held_terms import where_then
from zmqscope.reporting import Report, build_report, render_blocked, render_exit

SVC = ThreadRef(140001, "svc-thread")
TRAFFIC = Traffic(
    msgs_out=12,
    msgs_in=3,
    frames_out=14,
    frames_in=3,
    bytes_out=1229,
    bytes_in=300,
    last_send=GENERATED_AT - 2.0,
    last_recv=GENERATED_AT - 3.0,
)
BIND = Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working directory holding the application, so its paths show relative."""
    monkeypatch.chdir(tmp_path)
    return str(tmp_path)


def show(renderable: RenderableType | Report, *, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(renderable)
    return out.getvalue()


def has_row(output: str, label: str, value: str) -> bool:
    """True when a panel row shows ``value`` against ``label`` (any column spacing)."""
    return re.search(rf"{re.escape(label)} +{re.escape(value)}", output) is not None


def sharing(root: str = ROOT, *, first_site: bool = True) -> UsageWarning:
    """worker-1 used s1 at app.py:20, then MainThread used it at app.py:40."""
    return UsageWarning(
        kind="cross-thread",
        socket="s1",
        message="PULL socket s1 used by MainThread at app.py:40 while worker-1 still uses it",
        time=GENERATED_AT - 1.0,
        first=WORKER,
        first_site=Frame(f"{root}/app.py", 20, "loop") if first_site else None,
        second=MAIN,
        second_site=Frame(f"{root}/app.py", 40, "main"),
    )


def sleeping_culprit(
    root: str = ROOT, *, socket: str = "s1", context: str | None = "c1"
) -> Culprit:
    """svc-thread owns ``socket`` and sleeps in app.py:17, eight frames deep."""
    stack = tuple(Frame(f"{root}/app.py", 17 + i, f"level{i}") for i in range(8))
    return Culprit(
        socket=socket,
        reason="still open: term() waits until every socket of its context is closed",
        owner_stack=stack,
        owner=SVC,
        owner_alive=True,
        remedy="close it in svc-thread before term()",
        where="svc-thread is in time.sleep(3600) at app.py:17",
        context=context,
    )


def exited_culprit(socket: str = "s2", context: str | None = "c1") -> Culprit:
    return Culprit(
        socket=socket,
        reason="closed with LINGER -1 while its connects hold unsent messages",
        owner=WORKER,
        owner_alive=False,
        remedy="sock.close(linger=0)",
        where="worker-1 has exited without closing it",
        context=context,
    )


def hung(*sockets: SocketRecord, culprits: tuple[Culprit, ...] = (), root: str = ROOT) -> Snapshot:
    """A snapshot taken while term() of c1, called 5.1 s earlier, is blocked."""
    called = CallSite(GENERATED_AT - 5.1, MAIN, (Frame(f"{root}/app.py", 30, "main"),))
    context = ContextRecord(
        "c1", ContextState.TERMINATING, term_called=called, term_blocked_since=GENERATED_AT
    )
    return replace(snap(*sockets), contexts=(context,), culprits=culprits)


def diagnosis_report(root: str = ROOT) -> Report:
    """A hung term() with two culprits, a thread-sharing warning and traffic counters."""
    site = (Frame(f"{root}/app.py", 12, "start"),)
    snapshot = hung(
        replace(sock("s1", stack=site, endpoints=[BIND]), traffic=TRAFFIC),
        closed_sock("s2", endpoints=[CONNECT], root=root),
        culprits=(sleeping_culprit(root), exited_culprit()),
        root=root,
    )
    return build_report(replace(snapshot, warnings=(sharing(root),)))


def culprit_section(output: str) -> str:
    """The part of the text report after the culprits' heading."""
    heading = "term() of context c1 has been blocked for 5.1 s"
    assert heading in output
    # The heading ends "... keep it waiting:", wrapped at the terminal's width.
    return output.split(heading, 1)[1].split("waiting:\n", 1)[1]


# -- building the report ---------------------------------------------------------


def test_culprits_come_from_the_snapshot_by_default() -> None:
    report = diagnosis_report()
    assert [c.socket for c in report.culprits] == ["s1", "s2"]
    assert report.warnings == (sharing(),)


def test_explicit_culprits_replace_the_snapshots() -> None:
    report = build_report(diagnosis_report().snapshot, culprits=[])
    assert report.culprits == ()
    assert "term() blocked" not in report.summary_line()


@pytest.mark.parametrize(
    ("warnings", "culprits", "tail"),
    [
        (2, 3, "; 2 thread-sharing warnings; term() blocked: 3 culprits"),
        (1, 0, "; 1 thread-sharing warning"),
        (0, 1, "; term() blocked: 1 culprit"),
    ],
)
def test_summary_line_counts_warnings_and_culprits(warnings: int, culprits: int, tail: str) -> None:
    snapshot = replace(
        hung(closed_sock()),
        warnings=(sharing(),) * warnings,
        culprits=(exited_culprit(),) * culprits,
    )
    assert build_report(snapshot).summary_line() == "zmqscope: 1 socket created, no leaks" + tail


# -- JSON ----------------------------------------------------------------------------


def test_json_warnings_name_both_threads_and_their_sites() -> None:
    (warning,) = json.loads(diagnosis_report().to_json())["warnings"]
    assert warning["socket"] == "s1"
    assert warning["kind"] == "cross-thread"
    assert warning["threads"] == [
        {"id": 140000, "name": "worker-1"},
        {"id": 1, "name": "MainThread"},
    ]
    assert warning["sites"] == [
        {"file": f"{ROOT}/app.py", "line": 20, "function": "loop"},
        {"file": f"{ROOT}/app.py", "line": 40, "function": "main"},
    ]


def test_json_culprits_say_where_the_owner_is_and_how_to_fix_it() -> None:
    culprit = json.loads(diagnosis_report().to_json())["culprits"][0]
    assert culprit["where"] == "svc-thread is in time.sleep(3600) at app.py:17"
    assert culprit["remedy"] == "close it in svc-thread before term()"
    assert culprit["owner"] == {"id": 140001, "name": "svc-thread"}
    assert culprit["context"] == "c1"


def test_report_with_culprits_warnings_and_traffic_survives_a_round_trip() -> None:
    report = diagnosis_report()
    again = Report.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert again.warnings == report.warnings
    assert again.culprits == report.culprits
    # The snapshot carries them too, for consumers that only look there.
    assert again.snapshot.culprits == report.culprits
    assert again.snapshot.warnings == report.warnings
    assert again.snapshot.sockets[0].traffic == TRAFFIC
    assert again.summary_line() == report.summary_line()


def test_reports_written_before_warnings_existed_still_read() -> None:
    data = diagnosis_report().to_dict()
    del data["warnings"]
    assert Report.from_dict(data).warnings == ()


def test_a_broken_warning_is_located_in_the_error() -> None:
    data = diagnosis_report().to_dict()
    data["warnings"][0]["threads"] = data["warnings"][0]["threads"][:1]
    with pytest.raises(SchemaError, match=r"warnings\[0\]: a warning names two threads"):
        Report.from_dict(data)


# -- text: culprits, warnings, traffic -------------------------------------------------


def test_culprit_panel_leads_with_where_the_owner_is_now(project: str) -> None:
    culprits = culprit_section(show(diagnosis_report(project)))
    assert "s1 · PULL · context c1" in culprits
    assert has_row(culprits, "now", "svc-thread is in time.sleep(3600) at app.py:17")
    # "now" is the first thing the panel says.
    first_row = culprits.splitlines()[1]
    assert "now" in first_row


def test_culprit_panel_describes_the_socket_and_the_fix(project: str) -> None:
    culprits = culprit_section(show(diagnosis_report(project), width=120))
    s1_panel = culprits.split("s2 · PUSH", 1)[0]
    assert has_row(s1_panel, "owner", "svc-thread (id 140001)")
    assert has_row(s1_panel, "created", "app.py:12 in start()")
    assert has_row(s1_panel, "endpoints", "bind tcp://127.0.0.1:5555")
    assert has_row(s1_panel, "linger", "-1 (wait forever), source: default")
    assert has_row(s1_panel, "traffic", "12 msgs out (14 frames, 1.2 KB)")
    reason = "still open: term() waits until every socket of its context is closed"
    assert has_row(s1_panel, "why", reason)
    assert has_row(s1_panel, "remedy", "close it in svc-thread before term()")


def test_culprit_panel_shows_the_innermost_owner_frames_first(project: str) -> None:
    culprits = culprit_section(show(diagnosis_report(project)))
    shown = re.findall(r"app\.py:(\d+) in level\d\(\)", culprits)
    assert shown == ["17", "18", "19", "20", "21"]
    assert "… 3 more frames" in culprits


def test_culprit_panel_marks_an_owner_that_has_exited(project: str) -> None:
    culprits = culprit_section(show(diagnosis_report(project)))
    assert "worker-1 (id 140000) (exited)" in culprits
    assert "worker-1 has exited without closing it" in culprits
    assert "svc-thread (id 140001) (exited)" not in culprits


def test_text_lists_thread_sharing_warnings_with_both_threads(project: str) -> None:
    output = show(diagnosis_report(project))
    assert "Thread-sharing warnings:" in output
    assert "s1 · PULL · cross-thread" in output
    assert "PULL socket s1 used by MainThread at app.py:40 while worker-1" in output
    assert has_row(output, "first", "worker-1 (id 140000) at app.py:20 in loop()")
    assert has_row(output, "then", "MainThread (id 1) at app.py:40 in main()")


def test_a_warning_without_the_first_site_says_so() -> None:
    snapshot = replace(snap(sock()), warnings=(sharing(first_site=False),))
    assert "worker-1 (id 140000) at an unknown site" in show(build_report(snapshot))


def test_leak_panel_shows_traffic_counters(project: str) -> None:
    output = show(diagnosis_report(project))
    leak_panel = output.split("s2 · PUSH · blocks-term", 1)[0]
    counts = "12 msgs out (14 frames, 1.2 KB) · 3 in (3 frames, 300 B)"
    assert has_row(leak_panel, "traffic", counts)


@pytest.mark.parametrize(
    ("traffic", "shown"),
    [
        (Traffic(1, 1, 1, 1, 5, 999), "1 msg out (1 frame, 5 B) · 1 in (1 frame, 999 B)"),
        (Traffic(2, 0, 4, 0, 999_960, 0), "2 msgs out (4 frames, 1.0 MB) · 0 in (0 frames, 0 B)"),
        (Traffic(0, 5, 0, 5, 0, 3_400_000), "0 msgs out (0 frames, 0 B) · 5 in (5 frames, 3.4 MB)"),
        (Traffic(), "no messages sent or received"),
    ],
)
def test_traffic_counts_read_naturally(traffic: Traffic, shown: str) -> None:
    output = show(build_report(snap(replace(sock(), traffic=traffic))))
    assert has_row(output, "traffic", shown)


def test_sockets_without_traffic_mode_have_no_traffic_row() -> None:
    assert not re.search(r"│ traffic ", show(build_report(snap(sock()))))


def test_everything_fits_an_80_column_terminal(project: str) -> None:
    lines = show(diagnosis_report(project)).splitlines()
    assert max(len(line) for line in lines) <= 80


def test_exit_prints_the_full_report_for_warnings_alone() -> None:
    snapshot = replace(snap(closed_sock()), warnings=(sharing(),))
    output = show(render_exit(build_report(snapshot)))
    assert "zmqscope: 1 socket created, no leaks; 1 thread-sharing warning" in output
    assert has_row(output, "first", "worker-1 (id 140000) at")


# -- render_blocked ------------------------------------------------------------------


def test_blocked_notice_names_the_wait_the_caller_and_the_culprits(project: str) -> None:
    output = show(render_blocked(diagnosis_report(project), "c1", GENERATED_AT - 5.1), width=200)
    assert output.splitlines()[0] == (
        "zmqscope: term() of context c1 has been blocked for 5.1 s (called at app.py:30 in"
        " main() by MainThread); 2 sockets keep it waiting:"
    )
    assert "svc-thread is in time.sleep(3600) at app.py:17" in output
    assert "worker-1 has exited without closing it" in output
    # The notice is about the hang: no leak panels, no summary line.
    assert "open-at-exit" not in output
    assert "sockets created" not in output


def test_blocked_notice_shows_only_that_contexts_culprits() -> None:
    other = replace(sock("s9"), context="c2")
    snapshot = hung(
        sock("s1"),
        other,
        culprits=(sleeping_culprit(), exited_culprit("s9", context="c2")),
    )
    report = build_report(snapshot)
    output = show(render_blocked(report, "c1", GENERATED_AT - 5.1), width=200)
    assert "1 socket keeps it waiting:" in output
    assert "s1 · PULL · context c1" in output
    assert "s9" not in output
    assert "s9 · PULL · context c2" in show(render_blocked(report, "c2", GENERATED_AT))


def test_blocked_notice_finds_the_context_of_culprits_that_do_not_name_it() -> None:
    # Reports written before culprits named their context.
    report = build_report(hung(sock("s1"), culprits=(sleeping_culprit(context=None),)))
    output = show(render_blocked(report, "c1", GENERATED_AT - 1.0), width=200)
    assert "1 socket keeps it waiting:" in output
    assert "svc-thread is in time.sleep(3600)" in output


def test_blocked_notice_without_known_culprits_explains_and_suggests_destroy() -> None:
    report = build_report(hung(closed_sock()))
    output = show(render_blocked(report, "c1", GENERATED_AT - 12.0), width=200)
    assert output.splitlines()[0].startswith(
        "zmqscope: term() of context c1 has been blocked for 12.0 s (called at"
    )
    assert "No socket zmqscope knows of keeps it waiting" in output
    assert "made by C extensions, are invisible to it" in output
    assert "ctx.destroy(linger=0)" in output
    assert "╭" not in output


def test_blocked_notice_leaves_out_an_unknown_term_call() -> None:
    report = build_report(snap(sock()))  # c1 has no term_called recorded
    output = show(render_blocked(report, "c1", GENERATED_AT - 5.0), width=200)
    assert output.splitlines()[0] == "zmqscope: term() of context c1 has been blocked for 5.0 s."


# -- Markdown --------------------------------------------------------------------------


def test_markdown_culprits_have_a_where_column(project: str) -> None:
    markdown = diagnosis_report(project).to_markdown()
    assert "| Socket | Where | Reason | Owner thread | Remedy |" in markdown
    assert "| `s1` | svc-thread is in time.sleep(3600) at app.py:17 |" in markdown
    assert "| `s2` | worker-1 has exited without closing it |" in markdown
    assert "| worker-1 (id 140000) (exited) |" in markdown


def test_markdown_where_is_escaped() -> None:
    odd = replace(sleeping_culprit(), where="t|1 is at app.py:3 `poll()` <b>")
    markdown = build_report(hung(sock(), culprits=(odd,))).to_markdown()
    row = next(line for line in markdown.splitlines() if line.startswith("| `s1` | t"))
    assert r"t\|1 is at app.py:3 \`poll()\` \<b\>" in row
    # Five columns means six unescaped pipes.
    assert len(re.findall(r"(?<!\\)\|", row)) == 6


def test_markdown_has_a_thread_sharing_section(project: str) -> None:
    markdown = diagnosis_report(project).to_markdown()
    assert "### Thread-sharing warnings" in markdown
    assert "| Socket | Threads | Sites | Message |" in markdown
    assert (
        "| `s1` | worker-1 (id 140000)<br>MainThread (id 1) | `app.py:20`<br>`app.py:40` |"
        " PULL socket s1 used by MainThread at app.py:40 while worker-1 still uses it |"
    ) in markdown


def test_markdown_warning_with_an_unknown_site_and_odd_names(project: str) -> None:
    warning = replace(sharing(project, first_site=False), first=ThreadRef(7, "pool|<i>"))
    markdown = build_report(replace(snap(sock()), warnings=(warning,))).to_markdown()
    row = next(line for line in markdown.splitlines() if line.startswith("| `s1` | pool"))
    assert r"pool\|\<i\> (id 7)<br>MainThread (id 1)" in row
    assert "| unknown<br>`app.py:40` |" in row
    assert len(re.findall(r"(?<!\\)\|", row)) == 5


def test_markdown_without_warnings_has_no_warnings_section() -> None:
    assert "Thread-sharing" not in build_report(snap(sock())).to_markdown()


# -- after term() returned -------------------------------------------------------------


def returned(
    root: str = ROOT,
    *,
    blocked_for: float | None = 12.3,
    state: ContextState = ContextState.TERMINATED,
) -> Report:
    """term() of c1, called at app.py:30, was reported blocked by s1 and has ended since."""
    called = CallSite(GENERATED_AT - 20.0, MAIN, (Frame(f"{root}/app.py", 30, "main"),))
    ended = GENERATED_AT - 20.0 + 12.3
    context = ContextRecord(
        "c1",
        state,
        term_called=called,
        terminated_at=ended if state is ContextState.TERMINATED else None,
        term_blocked_for=blocked_for,
    )
    culprit = replace(
        sleeping_culprit(root), where="svc-thread is at app.py:17 in serve() `time.sleep(60)`"
    )
    snapshot = replace(snap(closed_sock("s1", root=root)), contexts=(context,), culprits=(culprit,))
    return build_report(snapshot, at_exit=True)


def test_after_term_returned_the_report_says_what_blocked_it_in_the_past_tense(
    project: str,
) -> None:
    report = returned(project)
    assert report.summary_line().endswith("; term() was blocked: 1 culprit")
    output = show(report, width=200)
    assert (
        "term() of context c1 was blocked for 12.3 s until it returned (called at"
        " app.py:30 in main() by MainThread); 1 socket kept it waiting:" in output
    )
    # Where the owner was when the watchdog looked, in the past tense.
    assert has_row(output, "then", "svc-thread was at app.py:17 in serve() `time.sleep(60)`")
    assert "has been blocked" not in output and "keeps it waiting" not in output
    assert not re.search(r"│ now ", output)
    markdown = report.to_markdown()
    assert "### term() of context c1 was blocked for 12.3 s until it returned" in markdown
    assert "1 socket kept it waiting." in markdown
    assert "| `s1` | svc-thread was at app.py:17 in serve() \\`time.sleep(60)\\` |" in markdown
    assert "s1: where svc-thread (id 140001) was stuck" in markdown


def test_json_says_how_long_the_term_was_blocked_and_older_reports_work_it_out() -> None:
    data = returned().to_dict()
    assert data["contexts"][0]["term_blocked_for"] == 12.3
    assert Report.from_dict(data).snapshot.contexts[0].term_blocked_for == 12.3
    del data["contexts"][0]["term_blocked_for"]  # written before the key existed
    output = show(Report.from_dict(data), width=200)
    assert "was blocked for 12.3 s until it returned" in output  # terminated_at - term_called


def test_a_term_interrupted_while_blocked_says_so() -> None:
    # Ctrl-C, or the pytest plugin's signal: term() raised, the context is open again.
    output = show(returned(state=ContextState.OPEN), width=200)
    assert "term() of context c1 was blocked for 12.3 s until it was interrupted" in output


def test_no_cut_sentence_when_only_closed_sockets_may_block() -> None:
    maybe = replace(exited_culprit("s2"), certain=False)
    report = build_report(hung(closed_sock("s2", endpoints=[CONNECT]), culprits=(maybe,)))
    output = show(render_blocked(report, "c1", GENERATED_AT - 5.1), width=200)
    assert output.splitlines()[0].endswith("; 1 closed socket may keep it waiting:")
    both = build_report(hung(sock("s1"), culprits=(sleeping_culprit(), maybe)))
    output = show(render_blocked(both, "c1", GENERATED_AT - 5.1), width=200)
    assert output.splitlines()[0].endswith(
        "; 1 socket keeps it waiting, and 1 closed socket may too:"
    )


@pytest.mark.parametrize(
    ("name", "alive", "inner", "then"),
    [
        ("svc", True, "app", "svc was at app.py:5 in serve()"),
        ("svc", True, "pyzmq", "svc was blocked in pyzmq's recv() at app.py:5"),
        ("svc", True, None, "svc was running outside Python code"),
        ("svc", False, None, "svc had exited without closing it"),
        ("is at has exited", True, "app", "is at has exited was at app.py:5 in serve()"),
    ],
)
def test_every_sentence_the_watchdog_says_has_a_past_tense(
    tmp_path: Path, name: str, alive: bool, inner: str | None, then: str
) -> None:
    """The ``then`` row turns shutdown's own ``now`` sentences, whatever the thread's name."""
    app = Frame(str(tmp_path / "app.py"), 5, "serve", origin="user", display="app.py")
    pyzmq = Frame(str(Path(zmq.__file__).parent / "sugar" / "socket.py"), 800, "recv")
    stack = {"app": (app,), "pyzmq": (pyzmq, app), None: ()}[inner]
    owner = ThreadRef(7, name)
    now = shutdown._where(owner, alive, stack)
    assert now != then
    assert where_then(Culprit("s1", "still open", owner=owner, where=now)) == then
