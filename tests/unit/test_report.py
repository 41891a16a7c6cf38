"""Leak analysis, the report JSON contract, and the text and Markdown renderers."""

from __future__ import annotations

import dataclasses
import io
import json
import re
from pathlib import Path

import pytest
from rich.console import Console, RenderableType

from tests.helpers.records import (
    CONNECT,
    GENERATED_AT,
    MAIN,
    ROOT,
    WILDCARD_BIND,
    WORKER,
    closed_sock,
    frames,
    snap,
    sock,
)
from zmqscope.model import (
    ContextRecord,
    ContextState,
    Culprit,
    Endpoint,
    EndpointOp,
    Frame,
    LeakKind,
    SchemaError,
    SocketRecord,
    SocketState,
    ThreadRef,
    Traffic,
)
from zmqscope.reporting import Report, build_report, render_exit, render_markdown


def every_kind_report(root: str = ROOT) -> Report:
    """One leak of each kind, a clean socket, and two blocked term() calls.

    c2's term() waits for an open socket (s1, sure); c1's only for a closed
    one that may still hold messages (s2): with no open socket of c1 left,
    it is counted.
    """
    culprit = Culprit(
        "s1",
        "open socket with unsent messages",
        owner_stack=(Frame(f"{root}/app.py", 50, "loop"),),
        owner=WORKER,
        owner_alive=True,
        remedy="close it before term()",
        where="worker-1 is at app.py:50 in loop()",
        context="c2",
    )
    maybe = Culprit(
        "s2",
        "may block: closed with LINGER -1, and libzmq keeps it until its queued messages"
        " reach tcp://127.0.0.1:5556",
        owner=MAIN,
        owner_alive=True,
        remedy="set LINGER 0 before closing it (sock.close(linger=0))",
        where="closed by MainThread at app.py:30 in stop()",
        context="c1",
        certain=False,
    )
    snapshot = snap(
        dataclasses.replace(
            sock("s1", stack=frames(root), endpoints=[WILDCARD_BIND]), context="c2"
        ),
        closed_sock("s2", endpoints=[CONNECT], root=root),
        sock("s3", SocketState.COLLECTED, type_name="SUB", stack=(), thread=None, adopted=True),
        closed_sock("s4", linger=0, endpoints=[CONNECT], root=root),
        created_total=6,
        dropped=2,
    )
    contexts = (
        ContextRecord("c1", ContextState.TERMINATING),
        ContextRecord("c2", ContextState.TERMINATING),
    )
    snapshot = dataclasses.replace(snapshot, contexts=contexts)
    return build_report(snapshot, culprits=[culprit, maybe])


# -- leak analysis -------------------------------------------------------------


def test_open_socket_names_site_thread_and_endpoint() -> None:
    report = build_report(snap(sock(endpoints=[Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555")])))
    (leak,) = report.leaks
    assert leak.kind is LeakKind.OPEN_AT_EXIT
    assert leak.message == (
        "PULL socket created at app.py:12 in start() by worker-1 was never closed"
        " (bound tcp://127.0.0.1:5555)"
    )


def test_adopted_socket_says_it_predates_zmqscope() -> None:
    report = build_report(snap(sock(stack=(), thread=None, adopted=True)))
    assert report.leaks[0].message == (
        "PULL socket created before zmqscope was watching was never closed"
    )


def test_endpoints_of_an_adopted_socket_are_unknown_not_none() -> None:
    """A socket watch() adopted may have bound before: its endpoints are not "none"."""
    adopted = build_report(snap(sock(stack=(), thread=None, adopted=True)))
    assert has_row(render(adopted), "endpoints", "unknown (made before watch())")
    assert "| unknown (made before watch()) |" in render_markdown(adopted)
    # Bound after it was adopted: that one is known, the earlier ones still are not.
    later = build_report(snap(sock(stack=(), thread=None, adopted=True, endpoints=[WILDCARD_BIND])))
    output = render(later)
    assert has_row(output, "endpoints", "bind tcp://127.0.0.1:43211 (asked tcp://127.0.0.1:*)")
    assert "any from before watch(): unknown" in output
    assert "any from before watch(): unknown" in render_markdown(later)
    # A socket zmqscope saw made, with no endpoint, has none.
    assert has_row(render(build_report(snap(sock()))), "endpoints", "none")


def test_unknown_thread_is_named_as_such() -> None:
    (leak,) = build_report(snap(sock(thread=None))).leaks
    # No endpoints, so no "(bound ...)" note either.
    assert leak.message.endswith("in start() by an unknown thread was never closed")


def test_collected_socket_is_reported_as_collected_without_close() -> None:
    (leak,) = build_report(snap(sock(state=SocketState.COLLECTED))).leaks
    assert leak.kind is LeakKind.COLLECTED_UNCLOSED
    assert leak.message == (
        "PULL socket created at app.py:12 in start() by worker-1"
        " was garbage-collected without close()"
    )


def may_block(socket_id: str = "s2") -> Culprit:
    """The watchdog's word on a closed socket whose queue may hold messages."""
    return Culprit(
        socket_id,
        "may block: closed with LINGER -1 ...",
        owner=MAIN,
        where="closed by MainThread at app.py:30 in stop()",
        context="c1",
        certain=False,
    )


@pytest.mark.parametrize(("linger", "said"), [(-1, "LINGER -1"), (None, "an unknown LINGER")])
def test_a_closed_culprit_is_a_leak_when_no_open_socket_keeps_term_waiting(
    linger: int | None, said: str
) -> None:
    snapshot = snap(
        closed_sock(linger=linger, endpoints=[CONNECT]), context_state=ContextState.TERMINATING
    )
    (leak,) = build_report(snapshot, culprits=[may_block()]).leaks
    assert leak.kind is LeakKind.BLOCKS_TERM
    assert leak.socket == "s2"
    assert f"was closed with {said} but its connects may still hold unsent messages" in (
        leak.message
    )
    assert leak.message.endswith(
        "with no socket of context c1 left open, it may be what keeps its term() waiting"
    )


def test_a_closed_socket_is_no_leak_before_the_watchdog_names_it() -> None:
    """Within the grace period term() may yet return: nothing says the socket holds it."""
    snapshot = snap(closed_sock(endpoints=[CONNECT]), context_state=ContextState.TERMINATING)
    report = build_report(snapshot)
    assert report.leaks == ()
    assert report.summary_line() == "zmqscope: 1 socket created, no leaks"


@pytest.mark.parametrize("live", [False, True], ids=["at-exit", "running"])
def test_closed_sockets_that_only_may_block_are_not_counted_beside_an_open_culprit(
    live: bool,
) -> None:
    """The demo's case: the open socket keeps term() waiting; the closed ones only may."""
    sure = Culprit(
        "s1",
        "still open",
        owner=WORKER,
        owner_alive=True,
        where="worker-1 is at app.py:50",
        context="c1",
    )
    snapshot = snap(
        sock("s1", endpoints=[CONNECT]),
        closed_sock("s2", endpoints=[CONNECT]),
        closed_sock("s3", endpoints=[CONNECT]),
        context_state=ContextState.TERMINATING,
    )
    report = build_report(snapshot, culprits=[sure, may_block("s2"), may_block("s3")], live=live)
    assert [(leak.socket, leak.kind) for leak in report.leaks] == [
        ("s1", LeakKind.BLOCKS_TERM if live else LeakKind.OPEN_AT_EXIT)
    ]
    assert report.summary_line().endswith("; term() blocked: 1 culprit")
    output = render(report)
    words = " ".join(output.split())
    assert "1 socket keeps it waiting, and 2 closed sockets may too:" in words
    assert "s2 · PUSH · context c1 · may block" in output  # still listed
    assert "s2 · PUSH · blocks-term" not in output


@pytest.mark.parametrize(
    ("record", "context_state"),
    [
        pytest.param(
            closed_sock(linger=0, endpoints=[CONNECT]), ContextState.TERMINATING, id="linger-0"
        ),
        pytest.param(closed_sock(endpoints=[CONNECT]), ContextState.OPEN, id="context-open"),
        pytest.param(closed_sock(endpoints=[CONNECT]), ContextState.TERMINATED, id="context-done"),
        pytest.param(
            closed_sock(endpoints=[WILDCARD_BIND]), ContextState.TERMINATING, id="bind-only"
        ),
        pytest.param(closed_sock(), ContextState.TERMINATING, id="no-endpoints"),
    ],
)
def test_cleanly_closed_socket_is_not_a_leak(
    record: SocketRecord, context_state: ContextState
) -> None:
    report = build_report(snap(record, context_state=context_state))
    assert report.leaks == ()
    assert not report.has_leaks
    assert report.summary_line() == "zmqscope: 1 socket created, no leaks"


def test_leaks_follow_snapshot_order_and_culprits_are_kept() -> None:
    report = every_kind_report()
    assert [(leak.socket, leak.kind) for leak in report.leaks] == [
        ("s1", LeakKind.OPEN_AT_EXIT),
        ("s2", LeakKind.BLOCKS_TERM),
        ("s3", LeakKind.COLLECTED_UNCLOSED),
    ]
    assert [c.socket for c in report.culprits] == ["s1", "s2"]
    assert report.generated_at == GENERATED_AT


def test_summary_line_counts_each_kind() -> None:
    at_exit = dataclasses.replace(every_kind_report(), at_exit=True)
    assert at_exit.summary_line() == (
        "zmqscope: 6 sockets created, 3 leaks: 1 open at exit, 1 collected without close(),"
        " 1 blocking term(); term() blocked: 2 culprits"
    )


def test_a_report_of_a_running_process_says_still_open() -> None:
    live = every_kind_report()  # build_report: a report made now, not at exit
    assert not live.at_exit
    assert "3 leaks: 1 still open, 1 collected without close()" in live.summary_line()
    assert "still open" in live.to_markdown() and "open at exit" not in live.to_markdown()
    # Saved and read back, it says the same; a report saved before the key existed
    # was written at exit.
    data = live.to_dict()
    assert data["at_exit"] is False
    assert Report.from_dict(data).summary_line() == live.summary_line()
    del data["at_exit"]
    assert "1 open at exit" in Report.from_dict(data).summary_line()


# -- JSON contract ---------------------------------------------------------------


def test_json_has_the_documented_shape() -> None:
    data = json.loads(every_kind_report().to_json())
    assert data["schema"] == "zmqscope.report/1"
    assert data["generated_at"] == "2026-11-28T10:00:00Z"
    assert data["process"] == {
        "pid": 123,
        "argv": ["app.py"],
        "python": "3.11.7",
        "pyzmq": "27.0.0",
        "libzmq": "4.3.5",
    }
    assert data["contexts"][0]["state"] == "terminating"
    first = data["sockets"][0]
    assert first["created"]["stack"][0] == {
        "file": f"{ROOT}/app.py",
        "line": 12,
        "function": "start",
    }
    assert first["created"]["thread"] == {"id": 140000, "name": "worker-1"}
    assert first["endpoints"][0]["url"] == "tcp://127.0.0.1:43211"
    assert data["leaks"][0] == {
        "socket": "s1",
        "kind": "open-at-exit",
        "message": every_kind_report().leaks[0].message,
    }
    assert data["culprits"][0]["owner_stack"] == [
        {"file": f"{ROOT}/app.py", "line": 50, "function": "loop"}
    ]
    assert data["summary"] == {
        "sockets_total": 6,
        "open": 1,
        "closed": 2,
        "collected": 1,
        "leaks": 3,
        "dropped": 2,
        "leaks_dropped": 0,
        "inventory": 0,
    }


def test_to_json_without_indent_is_one_line() -> None:
    assert "\n" not in every_kind_report().to_json(indent=None)


def test_report_survives_a_json_round_trip() -> None:
    report = every_kind_report()
    again = Report.from_json(report.to_json())
    assert again.to_dict() == report.to_dict()
    assert Report.from_dict(report.to_dict()).to_dict() == report.to_dict()
    assert again.leaks == report.leaks
    assert again.culprits == report.culprits
    assert (again.snapshot.created_total, again.snapshot.dropped) == (6, 2)
    assert again.summary_line() == report.summary_line()


def test_report_without_summary_counts_its_sockets() -> None:
    data = every_kind_report().to_dict()
    del data["summary"]
    snapshot = Report.from_dict(data).snapshot
    assert (snapshot.created_total, snapshot.dropped) == (4, 0)


def test_minor_schema_versions_are_read() -> None:
    data = every_kind_report().to_dict()
    data["schema"] = "zmqscope.report/1.3"
    assert Report.from_dict(data).has_leaks


@pytest.mark.parametrize("schema", ["zmqscope.report/2", "zmqscope.report/10", "other/1"])
def test_unknown_major_schema_is_rejected_with_a_clear_message(schema: str) -> None:
    data = every_kind_report().to_dict()
    data["schema"] = schema
    with pytest.raises(SchemaError) as caught:
        Report.from_dict(data)
    assert str(caught.value) == (
        f"unsupported report schema '{schema}' (this zmqscope reads zmqscope.report/1)"
    )


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"generated_at": "2026-11-28T10:00:00Z"}', "no 'schema' field"),
        ("[1, 2]", "expected a JSON object, got a list"),
        ("{oops", "not a zmqscope report: invalid JSON"),
        ("", "not a zmqscope report: invalid JSON"),
    ],
)
def test_documents_that_are_not_reports_are_rejected(text: str, expected: str) -> None:
    with pytest.raises(SchemaError) as caught:
        Report.from_json(text)
    assert expected in str(caught.value)
    assert "\n" not in str(caught.value)


def test_a_broken_socket_entry_is_located_in_the_error() -> None:
    data = every_kind_report().to_dict()
    del data["sockets"][1]["id"]
    with pytest.raises(SchemaError, match=r"sockets\[1\]: missing field 'id'"):
        Report.from_dict(data)


# -- text ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A working directory holding the application, so its paths show relative."""
    monkeypatch.chdir(tmp_path)
    return str(tmp_path)


def has_row(output: str, label: str, value: str) -> bool:
    """True when a panel of ``output`` has the row ``label  value`` (any gap between)."""
    return re.search(rf"│ {re.escape(label)} +{re.escape(value)}", output) is not None


def render(report: RenderableType, *, color: bool = False) -> str:
    out = io.StringIO()
    console = Console(
        file=out,
        width=80,
        force_terminal=color,
        color_system="standard" if color else None,
    )
    console.print(report)
    return out.getvalue()


def test_text_shows_where_who_endpoints_linger_and_call_chain(project: str) -> None:
    output = render(every_kind_report(project))
    assert "s1 · PULL · open-at-exit" in output
    assert "app.py:12 in start()" in output
    assert "worker-1 (id 140000)" in output
    assert "bind tcp://127.0.0.1:43211 (asked tcp://127.0.0.1:*)" in output
    assert "-1 (wait forever), source: default" in output
    # The outward chain: relative under the working directory, absolute outside it.
    assert "pkg/main.py:40 in main()" in output
    assert "/opt/elsewhere/runner.py:7 in <module>" in output
    assert f"{project}/app.py" not in output


def test_text_fits_an_80_column_terminal(project: str) -> None:
    lines = render(every_kind_report(project)).splitlines()
    assert max(len(line) for line in lines) <= 80


def test_text_marks_inactive_endpoints() -> None:
    gone = Endpoint(EndpointOp.CONNECT, "ipc:///tmp/feed", active=False)
    output = render(build_report(snap(sock(endpoints=[gone]))))
    assert "connect ipc:///tmp/feed [inactive: disconnected]" in output


def test_text_shows_blocking_close_site_and_culprit(project: str) -> None:
    output = render(every_kind_report(project))
    assert "s2 · PUSH · blocks-term" in output
    assert "closed      app.py:30 in stop() by MainThread (id 1)" in output
    assert "connect tcp://127.0.0.1:5556" in output
    assert "term() of context c2 has been blocked; 1 socket keeps it waiting:" in output
    assert "term() of context c1 has been blocked; 1 closed socket may keep it waiting:" in output
    assert "s2 · PUSH · context c1 · may block" in output
    assert "open socket with unsent messages" in output
    assert "app.py:50 in loop()" in output
    assert "close it before term()" in output


def test_text_without_leaks_is_one_green_line() -> None:
    output = render(build_report(snap(closed_sock())), color=True)
    assert "zmqscope: 1 socket created, no leaks" in output
    assert "\x1b[1;32m" in output  # bold green
    assert "╭" not in output


# -- Markdown ----------------------------------------------------------------------


def test_markdown_has_a_table_row_per_leak(project: str) -> None:
    markdown = every_kind_report(project).to_markdown()
    assert markdown.startswith("## zmqscope report\n")
    assert "| Socket | Type | Kind | Created at | Thread | Endpoints |" in markdown
    assert (
        "| `s1` | PULL | open-at-exit | `app.py:12` | worker-1 |"
        " `bind tcp://127.0.0.1:43211 (asked tcp://127.0.0.1:*)` |"
    ) in markdown
    assert "| `s3` | SUB | collected-unclosed | before zmqscope was watching |" in markdown
    assert "`s4`" not in markdown  # closed with LINGER 0: not a leak


def test_markdown_details_hold_the_call_chain(project: str) -> None:
    markdown = render_markdown(every_kind_report(project))
    assert "<details>" in markdown
    chain = "```text\napp.py:12 in start()\npkg/main.py:40 in main()\n"
    assert chain + "/opt/elsewhere/runner.py:7 in <module>\n```" in markdown


def test_markdown_escapes_pipes_and_html_in_cells() -> None:
    odd = sock(
        thread=ThreadRef(7, "pool|<b>1"),
        endpoints=[Endpoint(EndpointOp.CONNECT, "inproc://a|b")],
    )
    markdown = build_report(snap(odd)).to_markdown()
    row = next(line for line in markdown.splitlines() if line.startswith("| `s1`"))
    assert r"pool\|\<b\>1" in row
    assert r"`connect inproc://a\|b`" in row
    # Six columns means seven unescaped pipes; an unescaped one would add a column.
    assert len(re.findall(r"(?<!\\)\|", row)) == 7


def test_markdown_summary_escapes_function_names() -> None:
    stack = (Frame(f"{ROOT}/app.py", 3, "<module>"),)
    markdown = build_report(snap(sock(stack=stack))).to_markdown()
    assert "<summary>s1 (open-at-exit): PULL socket created at app.py:3 in &lt;module&gt;" in (
        markdown
    )


def test_markdown_without_leaks_has_no_table() -> None:
    markdown = build_report(snap(closed_sock())).to_markdown()
    assert "**zmqscope: 1 socket created, no leaks**" in markdown
    assert "| Socket |" not in markdown


def test_markdown_lists_culprits_with_owner_stack(project: str) -> None:
    markdown = every_kind_report(project).to_markdown()
    assert "### term() of context c2 has been blocked\n\n1 socket keeps it waiting." in markdown
    assert "| `s2` (may block) | closed by MainThread at app.py:30 in stop() |" in markdown
    row = (
        "| `s1` | worker-1 is at app.py:50 in loop() | open socket with unsent messages"
        " | worker-1 (id 140000) | close it before term() |"
    )
    assert row in markdown
    assert "```text\napp.py:50 in loop()\n```" in markdown


def test_a_report_without_traffic_mode_says_send_recv_were_not_checked_for_sharing() -> None:
    """Thread sharing through send/recv is seen only in traffic mode: the report says so."""
    note = "checking send/recv needs traffic mode (--traffic)"
    plain = build_report(snap(sock()))  # a leak: the full report is printed
    assert note in " ".join(render(plain).split())
    assert note in plain.to_markdown()
    counted = build_report(snap(dataclasses.replace(sock(), traffic=Traffic())))
    assert note not in " ".join(render(counted).split())
    assert note not in counted.to_markdown()
    # A clean exit is one line, without it.
    assert note not in " ".join(render(render_exit(build_report(snap(closed_sock())))).split())
