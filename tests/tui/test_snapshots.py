"""What each view looks like, compared with SVG baselines (pytest-textual-snapshot).

Fixed data (``fake_client``), a fixed clock, local time in UTC and a 120x40
terminal make the pictures the same on every machine. After an intended
change of the look, regenerate them and review the SVGs:

    .venv/bin/pytest tests/tui/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from tests.helpers.fake_client import PEER_PID, FakeClient, clock, peer_sockets
from tests.helpers.tui import SIZE, RecordingScopeApp, make_app, settle, topology_of_clients

Compare = Callable[..., bool]
# A tick now and then fetches the same data again: the picture does not change.
INTERVAL = 5.0


# The help names the folder exports go to: the same in every picture.
EXPORTS = Path("/home/user/.local/state/zmqscope")


def app(client: FakeClient | None = None) -> RecordingScopeApp:
    return make_app(client, interval=INTERVAL, export_dir=EXPORTS)


def on_row(socket_id: str) -> Callable[[Pilot[Any]], Any]:
    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        scope = pilot.app
        assert isinstance(scope, RecordingScopeApp)
        scope.table.move_to(socket_id)

    return run_before


def test_sockets_view(snap_compare: Compare) -> None:
    """The header, the open sockets with traffic columns, the status line and the footer."""
    assert snap_compare(app(), terminal_size=SIZE, run_before=settle)


def test_sockets_view_filtered(snap_compare: Compare) -> None:
    """Only the tcp sockets, the filter box below the table and the filter in the status."""
    assert snap_compare(
        app(), press=["slash", *"tcp", "enter"], terminal_size=SIZE, run_before=settle
    )


def test_socket_detail(snap_compare: Compare) -> None:
    """The shared PUB: summary, creation stack, timeline and its thread-sharing warning."""
    assert snap_compare(app(), press=["enter"], terminal_size=SIZE, run_before=on_row("s3"))


def test_threads_view(snap_compare: Compare) -> None:
    """One panel per thread with its stack and the sockets it owns."""
    assert snap_compare(app(), press=["2"], terminal_size=SIZE, run_before=settle)


def test_shutdown_view_with_banner(snap_compare: Compare) -> None:
    """The red banner, and both culprits of the blocked term(): one sure, one that may block."""
    client = FakeClient(term_blocked=True)
    assert snap_compare(app(client), press=["3"], terminal_size=SIZE, run_before=settle)


def test_help_screen(snap_compare: Compare) -> None:
    """The help over the sockets view: views and keys."""
    assert snap_compare(app(), press=["question_mark"], terminal_size=SIZE, run_before=settle)


def test_offline_header(snap_compare: Compare) -> None:
    """A saved report: the header says offline and shows no vital signs."""
    assert snap_compare(app(FakeClient(live=False)), terminal_size=SIZE, run_before=settle)


def test_picker_empty_state(snap_compare: Compare) -> None:
    """No instrumented process: how to start one, or open a saved report."""
    picker = RecordingScopeApp(discover=list, connect=lambda _: FakeClient(), clock=clock)
    assert snap_compare(picker, terminal_size=SIZE, run_before=settle)


def test_header_near_a_limit(snap_compare: Compare) -> None:
    """A third header line, in yellow: context c1 holds four of its five sockets."""
    assert snap_compare(app(FakeClient(max_sockets=5)), terminal_size=SIZE, run_before=settle)


def two_processes() -> RecordingScopeApp:
    """Attached to pid 4242; pid 5151 is a worker that talks to it over tcp."""
    main = FakeClient()
    peer = FakeClient(pid=PEER_PID, sockets=peer_sockets())
    return make_app(
        main, interval=INTERVAL, export_dir=EXPORTS, topology=topology_of_clients(main, peer)
    )


def test_sockets_view_with_diagnoses(snap_compare: Compare) -> None:
    """The two sockets a topology diagnosis names carry a ! and italics; the status counts them."""
    assert snap_compare(two_processes(), terminal_size=SIZE, run_before=settle)


def test_topology_view(snap_compare: Compare) -> None:
    """The diagnoses, then each process with its sockets and their peers in the other."""
    assert snap_compare(two_processes(), press=["t"], terminal_size=SIZE, run_before=settle)


def test_socket_detail_with_a_peer_elsewhere(snap_compare: Compare) -> None:
    """The ROUTER's peer in pid 5151, and a in the footer to attach to it."""
    assert snap_compare(
        two_processes(), press=["enter"], terminal_size=SIZE, run_before=on_row("s8")
    )
