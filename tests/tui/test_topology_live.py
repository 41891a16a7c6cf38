"""The Topology view over real processes: a broker and a worker under ``zmqscope run``.

The TUI is attached to the broker through a real LiveClient and gathers the
topology as ``zmqscope attach`` does (every process of the user, found in a
private ``$XDG_RUNTIME_DIR``, and the OS's connection table). The worker's
DEALER reaches the broker's ROUTER; its PUB connects to that ROUTER too,
which ZeroMQ refuses silently: a diagnosis naming the ROUTER. Enter on the
worker's line attaches to it; ``b`` comes back. Every wait is bounded, and
both processes are always killed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import OptionList

from tests.helpers.processes import clean_env, write_app
from tests.helpers.tui import SIZE, RecordingScopeApp, settle, text_of
from zmqscope.remote.client import LiveClient, discover
from zmqscope.tui._topology import Jump, topology_of
from zmqscope.tui.header import ProcessHeader

pytestmark = pytest.mark.timeout(90)

START_TIMEOUT = 20.0  # seconds for both processes to serve and be seen
INTERVAL = 0.2

BROKER = """
    import sys, time
    import zmq

    ctx = zmq.Context()
    front = ctx.socket(zmq.ROUTER)
    front.bind("tcp://127.0.0.1:*")
    with open("port", "w") as out:
        out.write(front.last_endpoint.decode().rsplit(":", 1)[1])
    time.sleep(120)
"""

WORKER = """
    import sys, time
    import zmq

    endpoint = "tcp://127.0.0.1:" + open("port").read()
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect(endpoint)
    wrong = ctx.socket(zmq.PUB)  # a PUB cannot talk to a ROUTER
    wrong.connect(endpoint)
    time.sleep(120)
"""


@pytest.fixture
def runtime(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(folder))
    return folder


def start(tmp_path: Path, runtime: Path, name: str, source: str) -> subprocess.Popen[bytes]:
    script = write_app(tmp_path, source, name=name)
    return subprocess.Popen(
        [sys.executable, "-m", "zmqscope", "run", str(script)],
        cwd=tmp_path,
        env=clean_env({"XDG_RUNTIME_DIR": str(runtime)}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@pytest.fixture
def system(tmp_path: Path, runtime: Path) -> Iterator[tuple[int, int]]:
    """The broker's and the worker's pids, once both serve."""
    children: list[subprocess.Popen[bytes]] = []
    try:
        children.append(start(tmp_path, runtime, "broker.py", BROKER))
        deadline = time.monotonic() + START_TIMEOUT
        while not (tmp_path / "port").exists():
            assert time.monotonic() < deadline, "the broker did not bind in time"
            assert children[0].poll() is None, "the broker exited early"
            time.sleep(0.05)
        children.append(start(tmp_path, runtime, "worker.py", WORKER))
        pids = {child.pid for child in children}
        while {entry.pid for entry in discover()} != pids:
            assert time.monotonic() < deadline, "the processes did not serve in time"
            time.sleep(0.05)
        yield children[0].pid, children[1].pid
    finally:
        for child in children:
            child.kill()
            child.wait(timeout=10)


async def wait_for(pilot: Pilot[Any], ready: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while not ready():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await pilot.pause(INTERVAL)
    await settle(pilot)


def header_pid(app: RecordingScopeApp) -> str:
    return text_of(app.home.query_one(ProcessHeader)).split()[1]


async def test_the_topology_of_a_broker_and_its_worker_and_the_jump_between_them(
    system: tuple[int, int], tmp_path: Path
) -> None:
    broker, worker = system
    (entry,) = [e for e in discover() if e.pid == broker]
    client = LiveClient(entry.endpoint, timeout=2.0)
    app = RecordingScopeApp(client, interval=INTERVAL, topology=topology_of)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("t")

            def both_wired() -> bool:
                topology = app.topology
                return topology is not None and len(topology.edges) >= 2

            await wait_for(pilot, both_wired, "the worker's two connects to be matched")
            lines = [line.text.plain.strip() for line in app.topology_view.lines]
            marked = app.table.diagnosed
            jumps = [
                index
                for index, line in enumerate(app.topology_view.lines)
                if line.action == Jump(worker) and line.text.plain.strip().startswith("←")
            ]
            app.topology_view.query_one(OptionList).highlighted = jumps[0]
            await pilot.press("enter")
            await wait_for(pilot, lambda: header_pid(app) == str(worker), "the jump")
            worker_rows = sorted(app.table.get_row(sid)[1] for sid in app.table.row_ids)
            await pilot.press("b")
            await wait_for(pilot, lambda: header_pid(app) == str(broker), "the way back")
    finally:
        client.close()
    assert f"pid {broker} · {tmp_path / 'broker.py'} · live  (attached)" in lines
    assert f"pid {worker} · {tmp_path / 'worker.py'} · live" in lines
    assert any(line.startswith(f"← pid {worker} DEALER s1 at tcp://127.0.0.1:") for line in lines)
    assert any(line.startswith("! incompatible-types  PUB s2 of pid") for line in lines)
    assert marked == {"s1"}  # the broker's ROUTER: a PUB connects to it
    assert worker_rows == ["DEALER", "PUB"]
