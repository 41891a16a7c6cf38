"""A socket's detail (enter): endpoints, peers, options, traffic, stacks and their sources.

Pilot over a FakeClient at 120x40 (tests/helpers/tui.py), checking what the user sees.
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.fake_client import (
    MAIN,
    NOW,
    FakeClient,
    make_socket,
)
from tests.helpers.tui import (
    SIZE,
    detail_text,
    make_app,
    open_detail,
    row_ids,
    settle,
    table,
    view,
)
from zmqscope.model import (
    CallSite,
    Frame,
    SocketRecord,
    SocketState,
    ThreadRef,
)
from zmqscope.tui.detail import SocketDetailScreen

# -- socket detail ------------------------------------------------------------------


async def test_enter_opens_the_detail_of_the_socket_and_escape_returns() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s3")
        text = detail_text(app)
        await pilot.press("escape")
        await pilot.pause()
        assert app.screen is app.home
        assert table(app).has_focus
    assert "s3 PUB (open)" in text
    assert "threads   MainThread, reporter" in text
    assert "linger    -1 (wait forever), source: default" in text
    assert "bind inproc://status" in text
    assert "created at 09:00:05 by MainThread" in text  # 10:00:00 UTC less 3595 s
    assert "/srv/app/status.py:9 in open_status()" in text
    assert "/srv/app/main.py:120 in main()" in text
    assert "timeline" in text and "09:00:05 created PUB at status.py:9" in text
    assert "09:01:40 warning PUB s3 used by MainThread then reporter" in text
    assert "PULL at worker.py:14" not in text  # another socket's events
    assert "thread-sharing warnings" in text
    assert "was used by MainThread, then by reporter" in text


async def test_detail_shows_endpoints_with_their_peers_options_and_traffic() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        text = detail_text(app)
    assert "bind tcp://127.0.0.1:5557 (asked tcp://127.0.0.1:*)" in text
    assert "peer 127.0.0.1:40412 (established)" in text
    assert "sndhwm    1000" in text
    assert "traffic   1,520 msgs out (1,520 frames, 152.0 KB) · 0 in (0 frames, 0 B)" in text
    assert "thread-sharing" not in text


async def test_detail_of_a_closed_socket_shows_where_it_was_closed() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("c")
        await open_detail(pilot, "s4")
        text = detail_text(app)
    assert "s4 SUB (closed)" in text
    assert "closed at 09:58:20 by ticker" in text
    assert "/srv/app/ticks.py:44 in stop_ticker()" in text
    assert "connect inproc://ticks [inactive: disconnected]" in text


async def test_detail_shows_each_frames_source_line_when_the_file_is_readable(
    tmp_path: Path,
) -> None:
    source = tmp_path / "service.py"
    source.write_text("import zmq\n\nsock = ctx.socket(zmq.REP)  # the call\n", encoding="utf-8")
    record = make_socket("s1", "REP", site=Frame(str(source), 3, "<module>"))
    app = make_app(FakeClient(sockets=[record]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        text = detail_text(app)
    # Worded as Python's tracebacks and zmqscope's reports say it.
    assert "service.py:3 in <module>\n" in text
    assert "<module>()" not in text
    assert "sock = ctx.socket(zmq.REP)  # the call" in text


def _library_made(socket_id: str, thread: ThreadRef) -> SocketRecord:
    """A socket jupyter_client made for /srv/app/main.py, in a thread it started."""
    lib = "/venv/lib/python3.12/site-packages"
    made = Frame(
        f"{lib}/jupyter_client/connect.py", 697, "_create", "library", "jupyter_client/connect.py"
    )
    wrapper = Frame(
        f"{lib}/jupyter_client/client.py", 300, "start", "library", "jupyter_client/client.py"
    )
    app_line = Frame("/srv/app/main.py", 7, "main", "user", "main.py")
    started = CallSite(NOW - 700, MAIN, (wrapper, app_line), 1)
    by = ThreadRef(thread.id, thread.name, started)
    created = CallSite(NOW - 600, by, (made, wrapper, app_line), 2)
    return SocketRecord(socket_id, "c1", "DEALER", SocketState.OPEN, created, threads_used=(by,))


async def test_a_library_made_socket_is_named_by_the_applications_line() -> None:
    """Detail and table name main.py's line, via jupyter_client, and the thread's start."""
    record = _library_made("s1", ThreadRef(2001, "heartbeat"))
    app = make_app(FakeClient(sockets=[record]))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        cells = table(app).get_row("s1")
        await open_detail(pilot, "s1")
        text = detail_text(app)
    assert "main.py:7 (via jupyter_client)" in cells
    assert (
        "created at 09:50:00 by heartbeat, started at main.py:7 in main(),"
        " via jupyter_client/client.py:300" in text
    )
    assert "main.py:7 in main(), via jupyter_client/connect.py:697" in text
    assert "jupyter_client/connect.py:697 in _create()" in text


async def test_an_adopted_socket_says_its_creation_site_is_unknown() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s8")
        text = detail_text(app)
    assert "created at 08:00:00 by an unknown thread" in text
    assert "not recorded: adopted by watch()" in text
    assert "linger    unknown" in text


async def test_an_adopted_socket_says_its_endpoints_before_watch_are_unknown() -> None:
    client = FakeClient()
    client.add_socket(make_socket("s9", "DEALER", thread=None, site=None, context="c2"))
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        assert table(app).get_row("s9")[3] == "?"  # not "-": unknown, not none
        await open_detail(pilot, "s9")
        unbound = detail_text(app)
        await pilot.press("escape")
        await pilot.pause()
        await open_detail(pilot, "s8")  # bound after watch() adopted it
        bound = detail_text(app)
    assert "endpoints unknown (made before watch())" in unbound
    assert "bind tcp://0.0.0.0:6000" in bound
    assert "any from before watch(): unknown" in bound


async def test_a_refresh_while_the_detail_is_open_lands_on_the_table() -> None:
    client = FakeClient()
    app = make_app(client)
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        client.add_socket(make_socket("s9", "PAIR", site=Frame("/srv/app/pair.py", 5, "p")))
        await pilot.press("r")
        await settle(pilot)
        assert isinstance(app.screen, SocketDetailScreen)  # still open, nothing crashed
        await pilot.press("escape")
        await pilot.pause()
        assert "s9" in row_ids(app)


async def test_view_keys_close_the_detail_first() -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await open_detail(pilot, "s1")
        await pilot.press("2")
        await pilot.pause()
        assert app.screen is app.home and view(app) == "threads"
