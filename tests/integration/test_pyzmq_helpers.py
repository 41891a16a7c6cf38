"""pyzmq's own sockets (the zero-copy tracker's) and C loops (zmq.proxy), under ``zmqscope run``.

Real processes: pyzmq's tracker thread is started by a real
``send(copy=False, track=True)``, and a real ``zmq.proxy()`` forwards
messages in C that traffic mode cannot count.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.hanging import read_json_when_written, running
from tests.helpers.processes import describe, line_of, write_app, zmqscope_cli
from tests.helpers.report_files import read_report
from tests.helpers.serving import runtime_env, serving, short_folder

pytestmark = pytest.mark.timeout(90)

TRACKED = """
import os, sys, time
import zmq

ctx = zmq.Context()
a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)  # app sockets
a.bind("inproc://zero-copy")
b.connect("inproc://zero-copy")
tracker = a.send(b"x" * 100_000, copy=False, track=True)  # tracked send
b.recv()
tracker.wait(10)
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while time.monotonic() < deadline and not os.path.exists("stop"):
    time.sleep(0.05)
a.close()
b.close()
ctx.term()
"""


@pytest.fixture
def base() -> Iterator[Path]:
    with short_folder() as folder:
        yield folder


def test_the_zero_copy_trackers_sockets_are_pyzmqs_live_and_at_exit(
    tmp_path: Path, base: Path
) -> None:
    """A live report and the exit report mark them as pyzmq's, and neither calls them leaks."""
    app = write_app(tmp_path, TRACKED)
    exit_json = tmp_path / "exit.json"
    with serving(app, base, "--json", str(exit_json), cwd=tmp_path) as live:
        result = zmqscope_cli(
            "report", str(live.pid), "--format", "json", cwd=base, env=runtime_env(base)
        )
        assert result.returncode == 0, describe(result)
        now = json.loads(result.stdout)
        (tmp_path / "stop").touch()
        assert live.child.wait_exit() == 0, live.child.stderr

    # Live: pyzmq's PULL (its thread's) and PUSH (the tracked send's) are open.
    internal = {s["type"]: s for s in now["sockets"] if s["internal"]}
    assert set(internal) == {"PULL", "PUSH"}
    assert {s["internal"] for s in internal.values()} == {"zmq.utils.garbage"}
    assert internal["PUSH"]["created"]["stack"][0]["line"] == line_of(app, "tracked send")
    ours = [s for s in now["sockets"] if not s["internal"]]
    assert [s["type"] for s in ours] == ["PAIR", "PAIR"]
    assert {s["created"]["stack"][0]["line"] for s in ours} == {line_of(app, "app sockets")}
    leaked = {leak["socket"] for leak in now["leaks"]}
    assert leaked.isdisjoint(s["id"] for s in internal.values())
    contexts = {c["id"]: c["internal"] for c in now["contexts"]}
    assert sorted(contexts.values(), key=str) == [None, "zmq.utils.garbage"]

    # At exit pyzmq has stopped its tracker (an atexit function) and
    # terminated its context: nothing leaked.
    assert read_report(exit_json)["leaks"] == []


PROXIED = """
import threading
import zmq

ctx = zmq.Context()
front = ctx.socket(zmq.PULL)
front.bind("inproc://front")
back = ctx.socket(zmq.PUSH)  # proxied backend
back.connect("tcp://127.0.0.1:9")  # nobody listens: forwarded messages wait in its queue
capture = ctx.socket(zmq.PUSH)  # a copy of each message, before the proxy sends it on
capture.bind("inproc://capture")

def forward():
    try:
        zmq.proxy(front, back, capture)
    except zmq.ContextTerminated:
        front.close()
        capture.close()
        back.close()  # LINGER -1: libzmq keeps what the proxy forwarded, term() waits

threading.Thread(target=forward, name="proxy-thread", daemon=True).start()
feed = ctx.socket(zmq.PUSH)
feed.connect("inproc://front")
copies = ctx.socket(zmq.PULL)
copies.connect("inproc://capture")
for _ in range(3):
    feed.send(b"job")
for _ in range(3):
    copies.recv()  # the proxy has the messages: at least two are in back's queue
feed.close()
copies.close()
ctx.term()  # term-here
"""


def test_a_socket_a_proxy_sent_for_is_named_as_a_culprit_in_traffic_mode(tmp_path: Path) -> None:
    """Its traffic is not counted, so "it never sent anything" cannot rule it out."""
    app = write_app(tmp_path, PROXIED)
    report_path = tmp_path / "report.json"
    options = ("--traffic", "--grace", "1", "--no-serve", "--json", str(report_path))
    with running(app, *options, cwd=tmp_path) as child:
        stderr = child.wait_for("remedy")
        report = read_json_when_written(report_path)
    assert "may block: closed with LINGER -1" in stderr
    assert "not counted: handed to zmq.proxy()" in stderr
    (culprit,) = report["culprits"]
    socket = next(s for s in report["sockets"] if s["id"] == culprit["socket"])
    assert socket["type"] == "PUSH"
    assert socket["created"]["stack"][0]["line"] == line_of(app, "proxied backend")
    assert socket["proxied_by"] == "zmq.proxy"
    assert socket["traffic"]["msgs_out"] == 0  # what the proxy sent is not counted
    counted = {s["type"]: s["traffic"] for s in report["sockets"] if s["proxied_by"] is None}
    assert counted["PUSH"]["msgs_out"] == 3  # the feeder's own sends are counted
    assert counted["PULL"]["msgs_in"] == 3
