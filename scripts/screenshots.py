"""Take the README's screenshots of the TUI from the bundled demo application.

Run it from anywhere (``make screenshots`` does):

    .venv/bin/python scripts/screenshots.py [--out screenshots]

It starts the demo the way ``zmqscope demo`` does, under instrumentation with
traffic counting, in a private ``$XDG_RUNTIME_DIR``::

    python -m zmqscope run --traffic --grace 2 -m zmqscope.examples.demo_app \\
        --shutdown-after 6 --hold 30

attaches the TUI (``ScopeApp`` with a ``LiveClient``) headless at 120x36, and
saves one SVG per view: ``sockets.svg``, ``detail.svg`` (the socket two
threads share, with its warning), ``threads.svg``, then, once the demo's
``ctx.term()`` has blocked on its stubborn worker, ``shutdown.svg``, and
``help.svg``. Then ``topology.svg``: a second demo (that does not shut down
on its own) and a small peer process (``PEER``, under ``ZMQSCOPE=1``) that
feeds the demo's sink and pings its service, and connects a PUB to the sink
(a pair ZeroMQ refuses). The demo is stopped at the end, whatever happens.
The pictures show live processes, so numbers (ages, counters, ports, pids)
differ from run to run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from zmqscope.cli.demo import demo_command
from zmqscope.remote.client import LiveClient, discover
from zmqscope.tui import ScopeApp

ROOT = Path(__file__).resolve().parent.parent
SIZE = (120, 36)
DEMO = demo_command(shutdown_after=6, hold=30)
# For the topology: up long enough to be looked at, then gone at once.
STEADY_DEMO = demo_command(shutdown_after=120, hold=0)
TOPOLOGY_TIMEOUT = 20.0  # seconds for the peer's connects to be matched

# A process of another team's, talking to the demo: sink and service endpoints in argv.
PEER = """\
import sys, time
import zmq

sink, service = sys.argv[1], sys.argv[2]
ctx = zmq.Context()
results = ctx.socket(zmq.PUSH)
results.connect(sink)
ping = ctx.socket(zmq.REQ)
ping.connect(service)
status = ctx.socket(zmq.PUB)  # a PUB cannot talk to the sink's PULL
status.connect(sink)
time.sleep(120)
"""
START_TIMEOUT = 20.0  # seconds for the demo to start serving
BLOCK_TIMEOUT = 30.0  # seconds for its term() to be reported blocked


@contextlib.contextmanager
def running_demo(
    command: list[str] = DEMO,
) -> Iterator[tuple[subprocess.Popen[bytes], LiveClient]]:
    """The demo in a private runtime folder, and a client attached to it; both stopped after."""
    runtime = Path(tempfile.mkdtemp(prefix="zmqscope-screenshots-"))
    os.chmod(runtime, 0o700)
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)  # for discover() in this process too
    child = subprocess.Popen(
        command,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client: LiveClient | None = None
    try:
        client = attach(child)
        yield child, client
    finally:
        if client is not None:
            client.close()
        child.kill()
        child.wait(timeout=10)
        shutil.rmtree(runtime, ignore_errors=True)


def attach(child: subprocess.Popen[bytes]) -> LiveClient:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise SystemExit(f"the demo exited early (status {child.returncode})")
        for entry in discover():
            if entry.pid == child.pid:
                return LiveClient(entry.endpoint)
        time.sleep(0.1)
    raise SystemExit(f"the demo did not start serving within {START_TIMEOUT:g} s")


async def wait_until(
    pilot: Pilot[Any], ready: Callable[[], bool], timeout: float, what: str
) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        await pilot.pause(0.2)
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


async def take(app: ScopeApp, out: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:

        def save(name: str) -> None:
            app.save_screenshot(filename=name, path=str(out))
            print(f"saved {out / name}")

        def lively() -> bool:
            # Every part is up, messages are flowing, and the reporter thread
            # has used the main thread's PUB (the warning the detail shows).
            table, current = app.table, app.current
            if current is None or not current.snapshot.warnings:
                return False
            sent = [table.get_row(sid)[8] for sid in table.row_ids]
            return table.row_count >= 10 and max(int(n) for n in sent if n.isdigit()) >= 20

        await wait_until(pilot, lively, START_TIMEOUT, "the demo's sockets")
        save("sockets.svg")

        current = app.current
        assert current is not None
        warnings = current.snapshot.warnings
        shared = warnings[0].socket if warnings else app.table.row_ids[0]
        app.table.move_to(shared)
        await pilot.press("enter")
        await pilot.pause(0.3)
        save("detail.svg")
        await pilot.press("escape", "2")
        await pilot.pause(0.3)
        save("threads.svg")

        await wait_until(pilot, lambda: bool(app.banner.display), BLOCK_TIMEOUT, "term() to block")
        await pilot.press("3")
        await pilot.pause(0.3)
        save("shutdown.svg")
        await pilot.press("1", "question_mark")
        await pilot.pause(0.3)
        save("help.svg")


@contextlib.contextmanager
def running_peer(client: LiveClient) -> Iterator[subprocess.Popen[bytes]]:
    """The peer process, connected to the demo's tcp sink and service; stopped after."""
    snapshot = client.snapshot().snapshot
    bound = {
        record.type: endpoint.url
        for record in snapshot.sockets
        for endpoint in record.active_endpoints
        if endpoint.op.value == "bind" and endpoint.url.startswith("tcp://")
    }
    folder = Path(os.environ["XDG_RUNTIME_DIR"])
    script = folder / "peer.py"
    script.write_text(PEER, encoding="utf-8")
    child = subprocess.Popen(
        [sys.executable, str(script), bound["PULL"], bound["REP"]],
        cwd=folder,
        env={**os.environ, "ZMQSCOPE": "1"},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield child
    finally:
        child.kill()
        child.wait(timeout=10)


async def take_topology(app: ScopeApp, peer: int, out: Path) -> None:
    async with app.run_test(size=SIZE) as pilot:

        def wired() -> bool:
            topology = app.topology
            if topology is None:
                return False
            ends = [e for edge in topology.edges for e in (edge.source, edge.target)]
            return sum(1 for end in ends if end.process == str(peer)) >= 3

        await wait_until(pilot, wired, TOPOLOGY_TIMEOUT, "the peer's connects")
        await pilot.press("t")
        await pilot.pause(0.3)
        app.save_screenshot(filename="topology.svg", path=str(out))
        print(f"saved {out / 'topology.svg'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--out", type=Path, default=ROOT / "screenshots", help="output folder")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    # Frame locations are shown relative to the working directory when under it:
    # from the repository they read zmqscope/examples/demo_app.py, wherever it is.
    os.chdir(ROOT)
    with running_demo() as (_child, client):
        app = ScopeApp(client, interval=1.0)
        app.animation_level = "none"
        asyncio.run(take(app, out))
    with running_demo(STEADY_DEMO) as (_child, client), running_peer(client) as peer:
        app = ScopeApp(client, interval=1.0)
        app.animation_level = "none"
        asyncio.run(take_topology(app, peer.pid, out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
