"""A running process's report (open sockets are its inventory), leaks grouped by line,
and limit warnings, in text, Markdown and JSON."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Sequence

from rich.console import Console

from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Endpoint,
    EndpointOp,
    Frame,
    LeakKind,
    ProcessInfo,
    Snapshot,
    SocketRecord,
    SocketState,
    ThreadRef,
)
from zmqscope.reporting import Report, build_report, render_exit, render_markdown

WORKER = ThreadRef(140000, "worker-1")
MAIN = ThreadRef(1, "MainThread")
START = Frame("/srv/project/app.py", 12, "start")
SERVE = Frame("/srv/project/serve.py", 30, "serve")
CALLER = Frame("/srv/project/main.py", 40, "main")
BIND = Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555")


def sock(
    socket_id: str,
    *,
    state: SocketState = SocketState.OPEN,
    site: Frame = START,
    type_name: str = "PULL",
    thread: ThreadRef = WORKER,
    endpoints: Sequence[Endpoint] = (),
) -> SocketRecord:
    return SocketRecord(
        id=socket_id,
        context="c1",
        type=type_name,
        state=state,
        created=CallSite(100.0, thread, (site, CALLER)),
        endpoints=tuple(endpoints),
    )


def snap(
    sockets: Sequence[SocketRecord],
    *,
    context_state: ContextState = ContextState.OPEN,
    max_sockets: int | None = 1023,
) -> Snapshot:
    return Snapshot(
        taken_at=1_764_324_000.0,
        process=ProcessInfo(123, ("app.py",), "3.11.7", "27.3.0", "4.3.5"),
        contexts=(ContextRecord("c1", context_state, max_sockets=max_sockets),),
        sockets=tuple(sockets),
        created_total=len(sockets),
    )


def render(report: Report, width: int = 100) -> str:
    """As ``zmqscope report`` prints it: lines longer than the width are not cropped."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None).print(report, crop=False)
    return out.getvalue()


def panels(text: str) -> list[str]:
    """The title line of every panel."""
    return [line for line in text.splitlines() if line.startswith("╭")]


def flat(text: str) -> str:
    """The words of ``text`` on one line, panel borders left out."""
    return " ".join(text.replace("│", " ").split())


def kernel_like() -> list[SocketRecord]:
    """A healthy process: two sockets from one line, one from another."""
    return [
        sock("s1", endpoints=[BIND]),
        sock("s2"),
        sock("s3", site=SERVE, type_name="ROUTER", thread=MAIN),
    ]


# -- a running process: inventory, not leaks -----------------------------------------


def test_a_live_report_lists_open_sockets_as_its_inventory_not_as_leaks() -> None:
    report = build_report(snap(kernel_like()), live=True)
    assert report.leaks == ()
    assert [s.id for s in report.inventory] == ["s1", "s2", "s3"]
    assert report.summary_line() == "zmqscope: 3 sockets created, 3 open, no leaks"
    data = json.loads(report.to_json())
    assert data["leaks"] == []
    assert data["at_exit"] is False
    assert data["summary"]["open"] == 3 and data["summary"]["leaks"] == 0
    assert data["summary"]["inventory"] == 3
    assert data["inventory"] == [
        {"site": START.to_dict(), "via": None, "sockets": ["s1", "s2"]},
        {"site": SERVE.to_dict(), "via": None, "sockets": ["s3"]},
    ]
    assert len(data["sockets"]) == 3  # every socket, as ever


def test_a_live_report_shows_one_table_by_creation_site() -> None:
    text = render(build_report(snap(kernel_like()), live=True))
    assert panels(text) == []  # no leak panels
    assert "Open sockets: 3 in use, by creation site (not leaks):" in text
    header = next(line for line in text.splitlines() if "CREATED AT" in line)
    assert header.split() == ["CREATED", "AT", "ID", "TYPE", "ENDPOINTS", "OWNER"]
    first = next(line for line in text.splitlines() if " s1 " in line)
    assert first.split() == [
        "/srv/project/app.py:12",
        "in",
        "start()",
        "(2",
        "sockets)",
        "s1",
        "PULL",
        "bind",
        "tcp://127.0.0.1:5555",
        "worker-1",
    ]
    second = next(line for line in text.splitlines() if " s2 " in line)
    assert second.split() == ["s2", "PULL", "-", "worker-1"]  # the site is not repeated
    assert re.search(r"/srv/project/serve\.py:30 in serve\(\)\s+s3\s+ROUTER\s+-\s+MainThread", text)


def test_a_live_report_is_shown_at_exit_only_when_something_needs_attention() -> None:
    healthy = build_report(snap(kernel_like()), live=True)
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(render_exit(healthy))
    assert out.getvalue().strip() == "zmqscope: 3 sockets created, 3 open, no leaks"


def test_many_sockets_from_one_line_take_a_few_rows_of_the_inventory() -> None:
    text = render(build_report(snap([sock(f"s{n}") for n in range(1, 13)]), live=True))
    assert "(12 sockets)" in text
    shown = [f"s{n}" for n in range(1, 13) if re.search(rf"\bs{n}\b", text)]
    assert shown == ["s1", "s2", "s3", "s4"]
    assert re.search(r"… 8 more\s+PULL", text)


def test_a_live_report_keeps_leak_for_what_leaked() -> None:
    collected = sock("s4", state=SocketState.COLLECTED, site=SERVE, type_name="PUSH")
    report = build_report(snap([*kernel_like(), collected]), live=True)
    assert [(leak.socket, leak.kind) for leak in report.leaks] == [
        ("s4", LeakKind.COLLECTED_UNCLOSED)
    ]
    assert report.summary_line() == (
        "zmqscope: 4 sockets created, 3 open, 1 leak: 1 collected without close()"
    )
    text = render(report)
    assert panels(text) == [next(t for t in panels(text) if "s4 · PUSH · collected-unclosed" in t)]


def test_a_live_open_socket_that_keeps_term_waiting_is_a_leak() -> None:
    report = build_report(snap(kernel_like(), context_state=ContextState.TERMINATING), live=True)
    assert {leak.kind for leak in report.leaks} == {LeakKind.BLOCKS_TERM}
    assert report.inventory == ()
    message = report.leaks[0].message
    assert "is still open" in message and "term() of context c1 waits until it is closed" in message


def test_at_exit_open_sockets_are_leaks_as_before() -> None:
    report = build_report(snap(kernel_like()), at_exit=True)
    assert [leak.kind for leak in report.leaks] == [LeakKind.OPEN_AT_EXIT] * 3
    assert report.inventory == ()
    assert json.loads(report.to_json())["inventory"] == []
    assert "Open sockets" not in render(report)


def test_the_markdown_of_a_live_report_has_the_inventory_table_and_no_leak_table() -> None:
    markdown = render_markdown(build_report(snap(kernel_like()), live=True))
    assert "**zmqscope: 3 sockets created, 3 open, no leaks**" in markdown
    assert "### Open sockets (3, not leaks)" in markdown
    assert "| Created at | Socket | Type | Endpoints | Owner |" in markdown
    assert (
        "| `/srv/project/app.py:12 in start() (2 sockets)` | `s1` | PULL"
        " | `bind tcp://127.0.0.1:5555` | worker-1 |"
    ) in markdown
    assert "|  | `s2` | PULL | `-` | worker-1 |" in markdown
    assert "| Socket | Type | Kind |" not in markdown


def test_inventory_strings_are_shown_literally() -> None:
    hostile = sock(
        "s1",
        site=Frame("/srv/[red]x[/red]/a*b_.py", 1, "<lambda>"),
        thread=ThreadRef(7, "[bold]t|1[/bold]"),
    )
    report = build_report(snap([hostile]), live=True)
    text = render(report, width=200)
    assert "/srv/[red]x[/red]/a*b_.py:1 in <lambda>" in text
    assert "[bold]t|1[/bold]" in text
    markdown = render_markdown(report)
    assert "`/srv/[red]x[/red]/a*b_.py:1 in <lambda>`" in markdown
    assert r"\[bold\]t\|1\[/bold\]" in markdown


def test_control_characters_in_the_inventory_and_limits_are_made_visible() -> None:
    site = Frame("/srv/evil\x1b[2J.py", 3, "f\nake")
    sockets = [sock(f"s{n}", site=site, thread=ThreadRef(7, "t\rx")) for n in range(1, 19)]
    report = build_report(snap(sockets, max_sockets=20), live=True)
    out = io.StringIO()
    Console(file=out, width=200, force_terminal=True, color_system="standard").print(report)
    text = out.getvalue()
    assert "\x1b[2J" not in text  # the escape never reaches the terminal
    assert "/srv/evil\\x1b[2J.py:3 in f\\nake() (18 sockets)" in text
    assert "/srv/evil\\x1b[2J.py:3 in f\\nake() (18)" in text  # the limit's top site
    assert "t\\rx" in text
    markdown = render_markdown(report)
    assert (
        "\x1b" not in markdown and "`/srv/evil\\x1b[2J.py:3 in f\\nake() (18 sockets)`" in markdown
    )


# -- many leaks from one line -------------------------------------------------------------


def thousand_leaks() -> Report:
    sockets = [sock(f"s{n}", type_name="PUSH") for n in range(1, 1001)]
    return build_report(snap(sockets, max_sockets=None), at_exit=True)


def test_a_thousand_leaks_from_one_line_make_one_panel() -> None:
    report = thousand_leaks()
    text = render(report)
    assert len(panels(text)) == 1
    assert "1,000 sockets · PUSH · open-at-exit · s1 …" in panels(text)[0]
    body = flat(text)
    assert "1,000 PUSH sockets made at the same line by the same thread leaked the same way" in body
    assert "s1, s2, s3, s4, s5 and 995 more" in body
    assert "PUSH socket created at app.py:12 in start() by worker-1 was never closed" in body
    assert "called from /srv/project/main.py:40 in main()" in body  # the first one's details
    assert len(text.splitlines()) < 30
    assert len(json.loads(report.to_json())["leaks"]) == 1000


def test_a_thousand_leaks_from_one_line_make_one_markdown_row() -> None:
    markdown = render_markdown(thousand_leaks())
    rows = [
        line for line in markdown.splitlines() if "open-at-exit" in line and line.startswith("|")
    ]
    assert rows == [
        "| 1,000 sockets: `s1`, `s2`, `s3`, `s4`, `s5` … | PUSH | open-at-exit"
        " | `/srv/project/app.py:12` | worker-1 | none |"
    ]
    assert markdown.count("<details>") == 1
    assert "<summary>s1, s2, s3, s4, s5 and 995 more (1,000 sockets, the first shown)" in markdown


def test_leaks_are_grouped_by_site_type_thread_and_kind() -> None:
    sockets = [
        sock("s1"),
        sock("s2"),
        sock("s3", thread=MAIN),  # another thread
        sock("s4", type_name="PUSH"),  # another type
        sock("s5", site=SERVE),  # another line
        sock("s6", state=SocketState.COLLECTED),  # another kind
    ]
    text = render(build_report(snap(sockets), at_exit=True))
    titles = [title.strip("╭─ ").split(" ─")[0] for title in panels(text)]
    assert titles == [
        "2 sockets · PULL · open-at-exit · s1 …",
        "s3 · PULL · open-at-exit",
        "s4 · PUSH · open-at-exit",
        "s5 · PULL · open-at-exit",
        "s6 · PULL · collected-unclosed",
    ]


# -- limits in the report -------------------------------------------------------------


def near_max_sockets() -> Report:
    sockets = [sock(f"s{n}", type_name="PUSH") for n in range(1, 19)]
    return build_report(snap(sockets, max_sockets=20), live=True, fds=60, fd_limit=1024)


def test_a_context_near_max_sockets_is_warned_about_in_text() -> None:
    report = near_max_sockets()
    assert report.summary_line() == (
        "zmqscope: 18 sockets created, 18 open, no leaks; 1 limit warning"
    )
    text = render(report)
    assert "limit near · MAX_SOCKETS · context c1" in panels(text)[0]
    body = flat(text)
    assert "context c1 holds 18 of its 20 sockets (libzmq's MAX_SOCKETS)" in body
    assert "top sites /srv/project/app.py:12 in start() (18)" in body
    assert "ctx.set(zmq.MAX_SOCKETS, n)" in body
    out = io.StringIO()
    Console(file=out, width=100, color_system=None).print(render_exit(report))
    assert "limit near" in out.getvalue()  # worth more than the summary line


def test_limits_in_markdown_and_json() -> None:
    report = near_max_sockets()
    markdown = render_markdown(report)
    assert "### Limits" in markdown
    assert "most open sockets made at: `/srv/project/app.py:12 in start() (18)`" in markdown
    data = json.loads(report.to_json())
    assert data["limits"]["fds"] == 60 and data["limits"]["fd_limit"] == 1024
    (warning,) = data["limits"]["warnings"]
    assert warning["kind"] == "max-sockets" and warning["context"] == "c1"
    assert (warning["used"], warning["limit"], warning["reached"]) == (18, 20, False)
    assert warning["sites"] == [{"site": START.to_dict(), "count": 18, "via": None}]
    assert data["contexts"][0]["max_sockets"] == 20


def test_a_saved_report_reads_back_its_limits() -> None:
    report = near_max_sockets()
    again = Report.from_json(report.to_json())
    assert (again.fds, again.fd_limit) == (60, 1024)
    assert again.limit_warnings == report.limit_warnings
    assert again.to_dict() == report.to_dict()


# Sockets a library made for the application: named, and grouped, by the
# application's line, through the library's.
LIB_CONNECT = Frame(
    "/venv/lib/python3.11/site-packages/jupyter_client/connect.py",
    697,
    "_create_connected_socket",
    origin="library",
    display="jupyter_client/connect.py",
)
LIB_CHANNELS = Frame(
    "/venv/lib/python3.11/site-packages/jupyter_client/channels.py",
    112,
    "_create_socket",
    origin="library",
    display="jupyter_client/channels.py",
)
USER_MAIN = Frame("/srv/project/app.py", 5, "main", origin="user", display="app.py")
USER_OTHER = Frame("/srv/project/app.py", 9, "other", origin="user", display="app.py")


def via(
    socket_id: str, library: Frame, user: Frame, *, state: SocketState = SocketState.OPEN
) -> SocketRecord:
    return SocketRecord(
        id=socket_id,
        context="c1",
        type="DEALER",
        state=state,
        created=CallSite(100.0, MAIN, (library, user), 1),
    )


def test_the_inventory_groups_library_made_sockets_by_the_applications_line() -> None:
    records = [
        via("s1", LIB_CONNECT, USER_MAIN),
        via("s2", LIB_CONNECT, USER_MAIN),
        via("s3", LIB_CONNECT, USER_OTHER),  # the same library line, another line of yours
        via("s4", LIB_CHANNELS, USER_MAIN),  # your line, another library call
    ]
    report = build_report(snap(records), live=True)
    text = render(report, width=200)
    assert "app.py:5 in main(), via jupyter_client/connect.py:697 (2 sockets)" in text
    assert "app.py:9 in other(), via jupyter_client/connect.py:697" in text
    assert "app.py:5 in main(), via jupyter_client/channels.py:112" in text
    groups = json.loads(report.to_json())["inventory"]
    assert [(g["site"]["line"], g["via"]["line"], g["sockets"]) for g in groups] == [
        (5, 697, ["s1", "s2"]),
        (9, 697, ["s3"]),
        (5, 112, ["s4"]),
    ]


def test_leaks_from_one_library_line_called_from_two_lines_of_yours_are_two_groups() -> None:
    records = [via(f"s{n}", LIB_CONNECT, USER_MAIN) for n in range(1, 4)]
    records += [via(f"s{n}", LIB_CONNECT, USER_OTHER) for n in range(4, 7)]
    text = render(build_report(snap(records), at_exit=True), width=200)
    titles = panels(text)
    assert len(titles) == 2, titles
    assert "main(), via jupyter_client/connect.py:697" in text
    assert "other(), via jupyter_client/connect.py:697" in text


def test_an_80_column_inventory_never_cuts_a_path_or_an_endpoint() -> None:
    long_lib = Frame(
        "/venv/lib/python3.11/site-packages/a_rather_long_library_name/with_a_module.py",
        1234,
        "make",
        origin="library",
        display="a_rather_long_library_name/with_a_module.py",
    )
    endpoint = Endpoint(EndpointOp.CONNECT, "ipc:///run/user/1000/a/rather/long/path/to/a.ipc")
    record = SocketRecord(
        id="s1",
        context="c1",
        type="DEALER",
        state=SocketState.OPEN,
        created=CallSite(100.0, MAIN, (long_lib, USER_MAIN), 1),
        endpoints=(endpoint,),
    )
    text = render(build_report(snap([record]), live=True), width=80)
    assert "a_rather_long_library_name/with_a_module.py:1234" in text
    assert endpoint.url in text


def test_limit_warnings_name_the_applications_lines_through_the_library() -> None:
    records = [via(f"s{n}", LIB_CONNECT, USER_MAIN) for n in range(1, 18)]
    report = build_report(snap(records, max_sockets=20), live=True)
    (warning,) = report.limit_warnings
    assert warning.sites[0].text() == "app.py:5 in main(), via jupyter_client/connect.py:697 (17)"
    document = json.loads(report.to_json())
    assert document["limits"]["warnings"][0]["sites"][0]["via"]["line"] == 697
