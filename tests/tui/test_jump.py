"""Jumping to a peer's process and back (``b``), and a peer that does not answer.

Pilot over FakeClients (tests/helpers/fake_client.py): the app's client is
switched to the peer's, as ``zmqscope attach PID`` would open it.
"""

from __future__ import annotations

import threading

from tests.helpers.fake_client import FakeClient, make_socket
from tests.helpers.tui import SHOWN_IDS, SIZE, header, make_app, row_ids, settle, view
from zmqscope.model import Frame
from zmqscope.remote.client import Client, LiveSnapshot

PEER_PID = 5151


def peer_client() -> FakeClient:
    """A worker process with one DEALER connected to the main app's ROUTER."""
    dealer = make_socket("s1", "DEALER", site=Frame("/srv/app/peer.py", 5, "work"))
    return FakeClient(pid=PEER_PID, sockets=[dealer])


async def test_jump_to_a_peer_process_then_back() -> None:
    """The header and table become the peer's; b brings back the first process and
    closes the peer's client."""
    peer = peer_client()
    asked: list[int] = []

    def open_pid(pid: int) -> Client:
        asked.append(pid)
        return peer

    first = FakeClient()
    app = make_app(first, open_pid=open_pid)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.jump_to(PEER_PID)
        await settle(pilot)
        there = header(app).splitlines()[0], row_ids(app)
        await pilot.press("b")
        await settle(pilot)
        back = header(app).splitlines()[0], row_ids(app)
    assert asked == [PEER_PID]
    assert there == (f"pid {PEER_PID}  /srv/app/main.py --workers 2", ["s1"])
    assert back == ("pid 4242  /srv/app/main.py --workers 2", SHOWN_IDS)
    assert peer.closed  # opened by the app, closed when left
    assert not first.closed  # the caller's: attach closes it


async def test_b_without_a_jump_says_so() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("b")
        await settle(pilot)
    assert app.notes == ["no process to go back to: b returns after a jump to a peer"]


async def test_a_peer_that_cannot_be_attached_to_leaves_the_view() -> None:
    app = make_app()  # open_pid refuses every pid
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.jump_to(PEER_PID)
        await settle(pilot)
        assert header(app).startswith("pid 4242")
        assert row_ids(app) == SHOWN_IDS
    assert app.notes[-1] == f"no zmqscope server found for pid {PEER_PID}"


async def test_a_hung_peer_does_not_freeze_the_tui() -> None:
    """While the peer's server does not answer, keys still work on the first process."""
    release = threading.Event()
    peer = peer_client()

    def open_pid(pid: int) -> Client:
        release.wait(timeout=30)
        return peer

    app = make_app(open_pid=open_pid)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.jump_to(PEER_PID)
        await pilot.press("2")
        await pilot.pause()
        during = view(app), header(app).splitlines()[0]
        release.set()
        await settle(pilot)
        after = header(app).splitlines()[0]
    assert during == ("threads", "pid 4242  /srv/app/main.py --workers 2")
    assert after.startswith(f"pid {PEER_PID}")


async def test_the_last_jump_asked_for_wins_over_a_slower_one() -> None:
    """A peer that answers late, after another jump was asked for: left closed, unseen."""
    release = threading.Event()
    slow = peer_client()
    quick = FakeClient(pid=6161, sockets=[make_socket("s1", "PUSH")])

    def open_pid(pid: int) -> Client:
        if pid == PEER_PID:
            release.wait(timeout=30)
            return slow
        return quick

    app = make_app(open_pid=open_pid)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.jump_to(PEER_PID)
        await pilot.pause()
        app.jump_to(6161)
        for _ in range(200):  # the quick one lands while the slow one still waits
            await pilot.pause(0.05)
            if header(app).startswith("pid 6161"):
                break
        release.set()
        await settle(pilot)
        final = header(app).splitlines()[0]
    assert final.startswith("pid 6161")
    assert slow.closed  # opened too late: closed, never shown
    assert slow.calls["hello"] == 0


class StuckClient(FakeClient):
    """Answers once, then hangs in snapshot() until ``release`` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.release = threading.Event()
        self.answered = 0

    def snapshot(self) -> LiveSnapshot:
        self.answered += 1
        if self.answered > 1:
            self.release.wait(timeout=30)
        return super().snapshot()


async def test_a_jump_away_from_a_hung_process_shows_the_peer_at_once() -> None:
    """The old process's request still hangs: the peer's answers do not wait for it,
    and the old answer, when it comes, is not shown."""
    first = StuckClient()
    peer = peer_client()
    app = make_app(first, open_pid=lambda pid: peer)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.fetch()  # hangs in the first process
        await pilot.pause()
        app.jump_to(PEER_PID)
        for _ in range(200):
            await pilot.pause(0.05)
            if row_ids(app) == ["s1"]:
                break
        during = header(app).splitlines()[0], row_ids(app)
        first.release.set()
        await settle(pilot)
        after = header(app).splitlines()[0], row_ids(app)
    assert during == (f"pid {PEER_PID}  /srv/app/main.py --workers 2", ["s1"])
    assert after == during


async def test_the_clients_the_app_opened_are_closed_when_it_quits() -> None:
    peer = peer_client()
    first = FakeClient()
    app = make_app(first, open_pid=lambda pid: peer)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        app.jump_to(PEER_PID)
        await settle(pilot)
        await pilot.press("q")
        await pilot.pause()
    assert peer.closed  # the app's own
    assert not first.closed  # the caller's: attach closes it
