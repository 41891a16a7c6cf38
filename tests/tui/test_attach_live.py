"""The TUI attached to a real application under ``zmqscope run``, through a real LiveClient.

The app keeps two sockets open and sleeps; the test finds it the way
``zmqscope attach`` does (discovery files in ``$XDG_RUNTIME_DIR``), checks the
table, then kills the app and waits for the header to say so. Every wait is
bounded and the app is always killed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.processes import clean_env, line_of, write_app
from tests.helpers.tui import SIZE, RecordingScopeApp, settle, text_of
from zmqscope.remote.client import LiveClient, discover
from zmqscope.tui.header import ProcessHeader

START_TIMEOUT = 20.0  # seconds for the app to start serving (a loaded CI machine)
EXIT_TIMEOUT = 10.0  # seconds for the TUI to notice that the app has gone
INTERVAL = 0.2  # refresh interval of the TUI under test

APP = """
    import time
    import zmq

    ctx = zmq.Context()
    results = ctx.socket(zmq.PULL)  # pull-here
    results.bind("tcp://127.0.0.1:*")
    feed = ctx.socket(zmq.PUSH)  # push-here
    feed.connect(results.last_endpoint)
    print("ready", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private runtime folder for the app's server and for discovery here."""
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


@pytest.fixture
def app_process(tmp_path: Path, runtime: Path) -> Iterator[subprocess.Popen[str]]:
    script = write_app(tmp_path, APP)
    child = subprocess.Popen(
        [sys.executable, "-m", "zmqscope", "run", str(script)],
        cwd=tmp_path,
        env=clean_env({"XDG_RUNTIME_DIR": str(runtime)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)
        if child.stdout is not None:
            child.stdout.close()


def attach(child: subprocess.Popen[str]) -> LiveClient:
    """A client of ``child``'s server, found through its discovery file."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        assert child.poll() is None, f"the app exited early with status {child.returncode}"
        for entry in discover():
            if entry.pid == child.pid:
                return LiveClient(entry.endpoint, timeout=0.5)
        time.sleep(0.05)
    raise AssertionError(f"the app did not start serving within {START_TIMEOUT:g} s")


async def test_attach_shows_a_live_app_and_notices_when_it_exits(
    tmp_path: Path, app_process: subprocess.Popen[str]
) -> None:
    script = tmp_path / "app.py"
    client = attach(app_process)
    app = RecordingScopeApp(client, interval=INTERVAL)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await settle(pilot)
            deadline = time.monotonic() + START_TIMEOUT
            while app.table.row_count < 2 and time.monotonic() < deadline:
                await pilot.pause(INTERVAL)
            rows = [app.table.get_row(socket_id) for socket_id in app.table.row_ids]
            header = text_of(app.home.query_one(ProcessHeader))
            assert f"pid {app_process.pid}" in header and "app.py" in header
            assert "live every 0.2s" in header

            app_process.kill()
            app_process.wait(timeout=10)  # reaped: its pid no longer exists
            deadline = time.monotonic() + EXIT_TIMEOUT
            while "process exited" not in header and time.monotonic() < deadline:
                await pilot.pause(INTERVAL)
                header = text_of(app.home.query_one(ProcessHeader))
            assert header.splitlines()[1].startswith("process exited "), header
            assert "before the exit" in header  # killed: it wrote no exit report
            assert app.table.row_count == len(rows)  # the last snapshot stays on screen
    finally:
        client.close()
    by_type = {row[1]: row for row in rows}
    assert set(by_type) == {"PULL", "PUSH"}
    assert by_type["PULL"][6] == f"app.py:{line_of(script, 'pull-here')}"
    assert by_type["PUSH"][6] == f"app.py:{line_of(script, 'push-here')}"
    assert by_type["PULL"][3].startswith("tcp://127.0.0.1:")
    assert by_type["PUSH"][4] == "MainThread"


EXITING_APP = """
    import os, time
    import zmq

    ctx = zmq.Context()
    kept = ctx.socket(zmq.PULL)  # kept-open
    kept.bind("tcp://127.0.0.1:*")
    print("ready", flush=True)
    deadline = time.monotonic() + 60
    while not os.path.exists("stop") and time.monotonic() < deadline:
        time.sleep(0.05)
"""


async def test_when_the_app_exits_its_exit_report_takes_the_last_snapshots_place(
    tmp_path: Path, runtime: Path
) -> None:
    """``zmqscope run --json``: the TUI finds the file from the app's command line."""
    script = write_app(tmp_path, EXITING_APP)
    child = subprocess.Popen(
        [sys.executable, "-m", "zmqscope", "run", "--json", "exit.json", str(script)],
        cwd=tmp_path,
        env=clean_env({"XDG_RUNTIME_DIR": str(runtime)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        client = attach(child)
        app = RecordingScopeApp(client, interval=INTERVAL)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await settle(pilot)
                deadline = time.monotonic() + START_TIMEOUT
                while app.table.row_count < 1 and time.monotonic() < deadline:
                    await pilot.pause(INTERVAL)
                live_state = app.table.get_row(app.table.row_ids[0])[2]
                (tmp_path / "stop").touch()
                deadline = time.monotonic() + EXIT_TIMEOUT + START_TIMEOUT
                while app.final_report is None and time.monotonic() < deadline:
                    await pilot.pause(INTERVAL)
                await settle(pilot)
                line = app.header.describe(time.time()).plain.splitlines()[1]
                rows = [app.table.get_row(socket_id) for socket_id in app.table.row_ids]
        finally:
            client.close()
    finally:
        child.kill()
        child.wait(timeout=10)
    assert live_state == "open"  # in use while the app ran
    assert app.final_report == tmp_path / "exit.json"
    assert line.startswith(f"process exited  1 leak  exit report {tmp_path / 'exit.json'}, made ")
    ((_id, kind, state, *_cells),) = rows
    assert (kind, state) == ("PULL", "open (leak)")  # at exit, an open socket is a leak
