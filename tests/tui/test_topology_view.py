"""The Topology view, its diagnoses marked in the sockets table, and a socket's peers in
other processes with the jump to attach to one.

Pilot over two FakeClients, the process attached to (pid 4242) and a worker
(pid 5151) that talks to it over tcp; the topology is built by the real
model from their snapshots (tests/helpers/tui.py: topology_of_clients).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

from textual.widgets import OptionList

from tests.helpers.fake_client import (
    NOW,
    PEER_PID,
    FakeClient,
    clock,
    connected,
    make_socket,
    peer_sockets,
)
from tests.helpers.tui import (
    QUIET,
    SIZE,
    RecordingScopeApp,
    detail_text,
    header,
    make_app,
    open_detail,
    settle,
    status,
    table,
    text_of,
    topology_of_clients,
    view,
)
from zmqscope.model.topology import (
    HostFacts,
    HostProcess,
    HostSocket,
    ProcessSeen,
    Reach,
    Topology,
    build_topology,
)
from zmqscope.remote.client import Client, ReportClient
from zmqscope.reporting import build_report
from zmqscope.tui._topology import Jump, topology_lines, topology_of
from zmqscope.tui.detail import PeerChooser
from zmqscope.tui.sockets import DIAGNOSIS_MARKER
from zmqscope.tui.topology import WAITING


def two_processes() -> tuple[FakeClient, FakeClient, RecordingScopeApp]:
    """The app attached to pid 4242; its worker, pid 5151, can be jumped to."""
    main = FakeClient()
    peer = FakeClient(pid=PEER_PID, sockets=peer_sockets())
    opened = {PEER_PID: peer, main.pid: main}

    def open_pid(pid: int) -> Client:
        return opened[pid]

    app = make_app(main, open_pid=open_pid, topology=topology_of_clients(main, peer))
    return main, peer, app


def line_texts(app: RecordingScopeApp) -> list[str]:
    return [line.text.plain for line in app.topology_view.lines]


async def highlight(app: RecordingScopeApp, starts: str) -> None:
    """Put the Topology view's cursor on the first line whose text (stripped) starts so."""
    keys = [line.key for line in app.topology_view.lines]
    texts = [text.strip() for text in line_texts(app)]
    index = next(i for i, text in enumerate(texts) if text.startswith(starts))
    entries = app.topology_view.query_one(OptionList)
    entries.highlighted = index
    assert entries.highlighted_option is not None
    assert entries.highlighted_option.id == keys[index]


async def test_t_shows_processes_sockets_peers_and_diagnoses() -> None:
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        shown_view = view(app)
        summary = text_of(app.topology_view.summary_line)
        lines = [text.strip() for text in line_texts(app)]
    assert shown_view == "topology"
    assert summary.startswith("2 process")
    assert lines[0] == "diagnoses (4)"
    assert lines[1].startswith("! connect-to-nothing  DEALER s5 of pid 4242 (stubborn.py:12")
    assert "pid 4242 · /srv/app/main.py --workers 2 · live  (attached)" in lines
    assert "pid 5151 · /srv/app/main.py --workers 2 · live" in lines
    # The ROUTER's peer in the worker, and the worker's DEALER's end in this process.
    router = lines.index(
        "s8 ROUTER  thread ?, made at an unknown line\n       bind tcp://0.0.0.0:6000"
    )
    assert lines[router + 1] == "← pid 5151 DEALER s1 at tcp://127.0.0.1:6000"
    assert "→ pid 4242 ROUTER s8 at tcp://0.0.0.0:6000" in lines
    # localhost reaches the PUSH's 127.0.0.1 bind: two pullers, one in each process.
    assert "← pid 5151 PULL s2 at tcp://localhost:5557" in lines
    assert "← pid 4242 PULL s2 at tcp://127.0.0.1:5557" in lines


async def test_diagnosed_sockets_are_marked_in_the_sockets_table() -> None:
    """s3 (a bind nobody connects to) and s5 (a connect to nothing) carry the marker."""
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        ids = table(app).row_ids
        lines = {sid: table(app).render_line(ids.index(sid) + 1).text for sid in ids}
        status_text = status(app)
        diagnosed = table(app).diagnosed
    assert diagnosed == {"s3", "s5"}
    assert {sid for sid, line in lines.items() if line.startswith(DIAGNOSIS_MARKER)} == {
        "s3",
        "s5",
    }
    assert lines["s1"].startswith(" s1 ")  # the others keep their margin
    assert "2 diagnosed: ! (t)" in status_text


async def test_enter_on_a_peer_in_another_process_attaches_to_it_and_b_returns() -> None:
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        await highlight(app, "← pid 5151 DEALER s1")
        await pilot.press("enter")
        await settle(pilot)
        there = header(app).splitlines()[0], table(app).row_ids, view(app)
        attached = [text.strip() for text in line_texts(app) if text.endswith("(attached)")]
        diagnosed_there = table(app).diagnosed
        await pilot.press("b")
        await settle(pilot)
        back = header(app).splitlines()[0]
    assert there == ("pid 5151  /srv/app/main.py --workers 2", ["s1", "s2", "s3"], "topology")
    assert attached == ["pid 5151 · /srv/app/main.py --workers 2 · live  (attached)"]
    assert diagnosed_there == {"s3"}  # the worker's SUB: connects to nothing, no subscription
    assert back.startswith("pid 4242")


async def test_enter_on_a_socket_of_the_process_attached_opens_its_detail() -> None:
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("4")
        await settle(pilot)
        await highlight(app, "s8 ROUTER")
        await pilot.press("enter")
        await pilot.pause()
        text = detail_text(app)
    assert text.startswith("socket    s8 ROUTER (open)")


async def test_detail_lists_peers_in_other_processes_and_a_attaches() -> None:
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s8")
        text = detail_text(app)
        await pilot.press("a")
        await settle(pilot)
        there = header(app).splitlines()[0]
    assert "peers in other processes (a: attach to one)" in text
    assert "  pid 5151 DEALER s1 at tcp://127.0.0.1:6000" in text
    assert there.startswith(f"pid {PEER_PID}")


async def test_detail_of_a_diagnosed_socket_says_what_is_wrong() -> None:
    _main, _peer, app = two_processes()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s5")
        text = detail_text(app)
        await pilot.press("a")  # no peer elsewhere: a does nothing
        await pilot.pause()
        still = header(app).splitlines()[0]
    assert "topology diagnoses (Topology [4] shows them all)" in text
    assert "! DEALER s5 of pid 4242 (stubborn.py:12 in hold_on()) connects to " in text
    assert "peers in other processes" not in text
    assert still.startswith("pid 4242")


async def test_a_with_peers_in_two_processes_asks_which() -> None:
    """The PUSH s1 has pullers in pid 5151 and pid 6161: a lists both, enter picks one."""
    main = FakeClient()
    first = FakeClient(pid=PEER_PID, sockets=peer_sockets())
    second = FakeClient(pid=6161, sockets=peer_sockets())
    opened = {PEER_PID: first, 6161: second}
    app = make_app(
        main, open_pid=opened.__getitem__, topology=topology_of_clients(main, first, second)
    )
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        await pilot.press("a")
        await pilot.pause()
        chooser = app.screen
        assert isinstance(chooser, PeerChooser)
        choices = [peer.text for peer in chooser.peers]
        await pilot.press("down", "enter")
        await settle(pilot)
        there = header(app).splitlines()[0]
    assert choices == [
        "pid 5151 PULL s2 at tcp://localhost:5557",
        "pid 6161 PULL s2 at tcp://localhost:5557",
    ]
    assert there.startswith("pid 6161")


async def test_a_topology_that_does_not_come_never_blocks_the_keys() -> None:
    """A hung gathering: the view says it is looking, the other views work meanwhile."""
    release = threading.Event()
    main = FakeClient()
    built = topology_of_clients(main)

    def hung(client: Client) -> Topology:
        release.wait(timeout=30)
        return built(client)

    app = make_app(main, topology=hung)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("t")
        await pilot.pause()
        waiting = text_of(app.topology_view.summary_line).strip()
        await pilot.press("1")
        await pilot.pause()
        during = view(app), table(app).row_count
        release.set()
        await settle(pilot)
        marked = table(app).diagnosed
    assert waiting == WAITING
    assert during == ("sockets", 6)
    assert marked == {"s3", "s5", "s8"}  # alone, the ROUTER's bind has no peer either


async def test_a_saved_report_with_its_children_shows_their_topology(tmp_path: Path) -> None:
    """attach REPORT.json: the report's ``processes`` (its children's reports) are drawn,
    and enter on a child's line shows that child's report from the same file; b returns."""
    main = FakeClient(live=False)
    peer = FakeClient(live=False, pid=PEER_PID, sockets=peer_sockets())
    data = build_report(main.snapshot().snapshot, generated_at=NOW).to_dict()
    # As zmqscope run writes a child's report into its own (docs/report-json.md).
    child = build_report(peer.snapshot().snapshot, generated_at=NOW).to_dict()
    data["processes"] = [{"pid": PEER_PID, "ppid": main.pid, **child}]
    path = tmp_path / "report.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    app = RecordingScopeApp(ReportClient(path), clock=clock, interval=QUIET, topology=topology_of)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        first = header(app)
        await pilot.press("t")
        await settle(pilot)
        summary = text_of(app.topology_view.summary_line).strip()
        lines = [text.strip() for text in line_texts(app)]
        actions = {line.action for line in app.topology_view.lines}
        marked = table(app).diagnosed
        await highlight(app, "← pid 5151 DEALER s1")
        await pilot.press("enter")
        await settle(pilot)
        jumped = header(app).splitlines()[0]
        child_rows = table(app).row_count
        await pilot.press("b")
        await settle(pilot)
        back = header(app).splitlines()[0]
    assert summary.startswith("2 process") and "enter: go there" in summary
    assert "pid 5151 · /srv/app/main.py --workers 2 · saved report" in lines
    assert "← pid 5151 DEALER s1 at tcp://127.0.0.1:6000" in lines
    assert Jump(PEER_PID) in actions
    assert marked == {"s3", "s5"}
    assert jumped.startswith(f"pid {PEER_PID}")
    assert child_rows == len(peer_sockets())
    assert back.startswith("pid 4242")
    # The run's own line counts its children's leaks too.
    child_leaks = len(child["leaks"])
    assert child_leaks and f"(children: {child_leaks} leak" in first
    # The run's own line counts its children's leaks too.
    child_leaks = len(child["leaks"])
    assert child_leaks and f"(children: {child_leaks} leak" in first


def test_long_lists_are_cut_and_say_how_much_is_left_out() -> None:
    """A ROUTER with 25 DEALERs lists 20 of them; a process of 60 sockets lists 50."""
    main = FakeClient()
    dealers = [
        make_socket(f"s{n}", "DEALER", endpoints=[connected("tcp://127.0.0.1:6000")])
        for n in range(1, 26)
    ] + [make_socket(f"s{n}", "PAIR") for n in range(26, 61)]
    peer = FakeClient(pid=PEER_PID, sockets=dealers)
    topology = topology_of_clients(main, peer)(main)
    lines = [line.text.plain.strip() for line in topology_lines(topology, main.pid, True)]
    router = next(i for i, line in enumerate(lines) if line.startswith("s8 ROUTER"))
    under = lines[router + 1 : router + 23]
    assert [line.split(" at ")[0] for line in under[:20]] == [
        f"← pid {PEER_PID} DEALER s{n}" for n in range(1, 21)
    ]
    assert under[20] == "and 5 more peers"
    assert lines[-1] == "and 10 more sockets with no peer"


async def test_a_peer_zmqscope_does_not_instrument_is_shown_with_its_command() -> None:
    """The DEALER s5 connects to a port another program listens on: that program, by
    pid and command from the OS, with nothing to attach to."""
    main = FakeClient()
    listener = HostSocket("tcp://127.0.0.1:9", None, True, 777)

    def gather(client: Client) -> Topology:
        seen = [ProcessSeen.of(main.snapshot().snapshot, Reach.LIVE)]
        host = HostFacts((listener,), (HostProcess(777, ("/usr/sbin/discard", "-p", "9")),))
        return build_topology(seen, host, now=NOW)

    app = make_app(main, topology=gather)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await settle(pilot)
        lines = {line.text.plain.strip(): line.action for line in app.topology_view.lines}
        marked = table(app).diagnosed
    peer = "→ pid 777 (/usr/sbin/discard -p 9) at tcp://127.0.0.1:9 · not instrumented"
    assert peer in lines
    assert lines[peer] is None  # not instrumented: no server to attach to
    assert "pid 777 · /usr/sbin/discard -p 9 · not instrumented" in lines
    assert "s5" not in marked  # its connect reaches something now
