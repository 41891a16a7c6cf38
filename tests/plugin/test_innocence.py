"""A test fails only for sockets its own code made: not pyzmq's, not another test's thread's."""

from __future__ import annotations

import pytest

from tests.helpers.pytester_runs import line_of, read_json, run, write_tests

ZERO_COPY = """
import zmq

def test_tracked_zero_copy_send():
    ctx = zmq.Context.instance()
    with ctx.socket(zmq.PAIR) as a, ctx.socket(zmq.PAIR) as b:
        a.bind("inproc://zero-copy")
        b.connect("inproc://zero-copy")
        # Starts pyzmq's zero-copy tracker: a thread with a PULL, and a PUSH.
        tracker = a.send(b"x" * 100_000, copy=False, track=True)
        b.recv()
        tracker.wait(10)

def test_tracked_again():
    ctx = zmq.Context.instance()
    with ctx.socket(zmq.PUSH) as push, ctx.socket(zmq.PULL) as pull:
        push.bind("inproc://again")
        pull.connect("inproc://again")
        tracker = push.send(b"y" * 100_000, copy=False, track=True)
        pull.recv()
        tracker.wait(10)

def test_a_real_leak_still_fails():
    test_a_real_leak_still_fails.kept = zmq.Context.instance().socket(zmq.PULL)  # real leak
"""


def test_pyzmq_zero_copy_tracker_sockets_fail_no_test(pytester: pytest.Pytester) -> None:
    """send(copy=False, track=True) starts pyzmq's tracker; its sockets are pyzmq's, not leaks."""
    write_tests(pytester, "test_zero_copy", ZERO_COPY)
    result = run(pytester, "--zmqscope", "--zmqscope-json=out.json")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*1 leak in 1 test*"])
    result.stdout.no_fnmatch_line("*pyzmq.gc*")
    result.stdout.fnmatch_lines(
        ["FAILED test_zero_copy.py::test_a_real_leak_still_fails - zmqscope: leaked PULL*"]
    )
    document = read_json(pytester.path / "out.json")
    assert [leak["test"] for leak in document["leaks"]] == [
        "test_zero_copy.py::test_a_real_leak_still_fails"
    ]
    assert document["pytest"]["tests_failed"] == ["test_zero_copy.py::test_a_real_leak_still_fails"]
    (socket,) = document["sockets"]
    assert socket["created"]["stack"][0]["line"] == line_of(ZERO_COPY, "real leak")
    assert socket["internal"] is None


THREADS = """
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import zmq

STATE = {}

def heartbeat(go, made, stop):
    go.wait(30)
    STATE["beat"] = zmq.Context.instance().socket(zmq.REQ)  # heartbeat socket
    made.set()
    stop.wait(30)

def leaky_task():
    STATE["task"] = zmq.Context.instance().socket(zmq.DEALER)  # task socket

@pytest.fixture(scope="module")
def server():
    go, made = threading.Event(), threading.Event()
    def serve():
        go.wait(30)
        STATE["served"] = zmq.Context.instance().socket(zmq.ROUTER)  # server socket
        made.set()
        STATE["stop"].wait(30)
    threading.Thread(target=serve, name="server-thread", daemon=True).start()  # server started
    return go, made

def test_a_starts_threads():
    STATE["go"], STATE["made"], STATE["stop"] = (threading.Event() for _ in range(3))
    threading.Thread(
        target=heartbeat,
        args=(STATE["go"], STATE["made"], STATE["stop"]),
        name="heartbeat",
        daemon=True,
    ).start()  # heartbeat started
    STATE["pool"] = ThreadPoolExecutor(1)
    STATE["pool"].submit(lambda: None).result()  # its worker thread starts now

def test_b_is_innocent():
    STATE["go"].set()
    assert STATE["made"].wait(30)

def test_c_leaks_through_the_pool():
    # A pool's worker runs what this test submitted: the socket is this test's.
    STATE["pool"].submit(leaky_task).result()

def test_d_uses_the_server(server):
    go, made = server
    go.set()
    assert made.wait(30)
    STATE["stop"].set()
"""


def test_a_socket_made_by_a_thread_an_earlier_test_started_fails_no_test(
    pytester: pytest.Pytester,
) -> None:
    write_tests(pytester, "test_threads", THREADS)
    files = ("--zmqscope-json=out.json", "--zmqscope-markdown=out.md")
    result = run(pytester, "--zmqscope", *files, "-p", "no:randomly")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "zmqscope: 4 tests checked, 3 sockets created, 1 leak in 1 test;"
            " 2 sockets left by threads the tests did not start",
        ]
    )
    beat, task, served = (
        line_of(THREADS, "heartbeat socket"),
        line_of(THREADS, "task socket"),
        line_of(THREADS, "server socket"),
    )
    beat_started, server_started = (
        line_of(THREADS, "heartbeat started"),
        line_of(THREADS, "server started"),
    )
    result.stdout.fnmatch_lines(
        [
            f"test_threads.py::test_b_is_innocent: REQ socket created at test_threads.py:{beat}"
            " in heartbeat() by heartbeat was never closed [not failed: made by heartbeat,"
            " a thread started during test_threads.py::test_a_starts_threads at"
            f" test_threads.py:{beat_started} in test_a_starts_threads(), already running"
            " when this test began]",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            f"test_threads.py::test_d_uses_the_server: ROUTER socket created at"
            f" test_threads.py:{served} in serve() by server-thread was never closed [not failed:"
            f" made by server-thread, a thread started at test_threads.py:{server_started} in"
            " server() by module-scoped fixture 'server'"
            " (set up during test_threads.py::test_d_uses_the_server)]",
        ]
    )
    result.stdout.fnmatch_lines(
        [f"FAILED test_threads.py::test_c_leaks_through_the_pool - zmqscope: leaked DEALER*:{task}"]
    )

    document = read_json(pytester.path / "out.json")
    leaks = {leak["test"].split("::")[1]: leak for leak in document["leaks"]}
    assert {name: leak["verdict"] for name, leak in leaks.items()} == {
        "test_b_is_innocent": "other-thread",
        "test_c_leaks_through_the_pool": "failed",
        "test_d_uses_the_server": "other-thread",
    }
    origin = leaks["test_b_is_innocent"]["thread_origin"]
    assert origin["thread"]["name"] == "heartbeat"
    assert origin["started_in"] == "test_threads.py::test_a_starts_threads"
    assert origin["started_by"] is None
    assert leaks["test_d_uses_the_server"]["thread_origin"]["started_by"] == (
        "module-scoped fixture 'server'"
    )
    assert leaks["test_c_leaks_through_the_pool"]["thread_origin"] is None
    assert document["pytest"]["tests_failed"] == ["test_threads.py::test_c_leaks_through_the_pool"]

    markdown = (pytester.path / "out.md").read_text(encoding="utf-8")
    assert "**1 leak in 1 test** (4 tests checked, 3 sockets created); 2 sockets left by" in (
        markdown
    )
    assert "| other-thread: made by heartbeat, a thread started during" in markdown


UNITTEST = """
import unittest

import zmq

def make():
    return zmq.Context.instance().socket(zmq.PULL)  # made

class Plain(unittest.TestCase):
    def test_leaks(self):
        Plain.kept = make()  # plain call

class Async(unittest.IsolatedAsyncioTestCase):
    async def test_leaks(self):
        Async.kept = make()  # async call
"""


def test_a_unittest_testcase_call_chain_ends_at_the_test_method(
    pytester: pytest.Pytester,
) -> None:
    """unittest's runner frames are the runner's, like pytest's: not in "called from"."""
    write_tests(pytester, "test_unit", UNITTEST)
    result = run(pytester, "--zmqscope", "--zmqscope-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(failed=2)
    made = line_of(UNITTEST, "made")
    for marker in ("plain call", "async call"):
        result.stdout.fnmatch_lines(
            [
                f"    created    test_unit.py:{made} in make()",
                f"    called from test_unit.py:{line_of(UNITTEST, marker)} in test_leaks()",
                "    thread     MainThread*",
            ]
        )
    result.stdout.no_fnmatch_line("*unittest*case.py*")
    document = read_json(pytester.path / "out.json")
    for socket in document["sockets"]:
        stack = [frame["function"] for frame in socket["created"]["stack"]]
        assert stack == ["make", "test_leaks"], stack


HEARTBEAT = """
import queue
import threading

import zmq

ASK, MADE = queue.Queue(), queue.Queue()
KEPT = []

def heartbeat():
    while True:
        ASK.get()
        MADE.put(zmq.Context.instance().socket(zmq.REQ))  # heartbeat socket

def test_a_starts_a_heartbeat():
    threading.Thread(target=heartbeat, name="heartbeat", daemon=True).start()  # started

def beat():
    ASK.put(None)
    KEPT.append(MADE.get(timeout=30))

def test_b():
    beat()

def test_c():
    beat()
    beat()

def test_d():
    beat()
"""


def test_a_thread_that_leaks_during_many_tests_takes_one_summary_line(
    pytester: pytest.Pytester,
) -> None:
    """A client's heartbeat thread outliving its test: one line, not one per later test."""
    write_tests(pytester, "test_heartbeat", HEARTBEAT)
    result = run(pytester, "--zmqscope", "--zmqscope-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=4)
    started = line_of(HEARTBEAT, "started")
    beat = line_of(HEARTBEAT, "heartbeat socket")
    result.stdout.fnmatch_lines(
        [
            "heartbeat, a thread started during test_heartbeat.py::test_a_starts_a_heartbeat"
            f" at test_heartbeat.py:{started} in test_a_starts_a_heartbeat(): 4 sockets left"
            " during 3 tests (the first in test_heartbeat.py::test_b), e.g. REQ socket created"
            f" at test_heartbeat.py:{beat} in heartbeat() by heartbeat was never closed"
            " [not failed]",
        ]
    )
    summary = [line for line in result.stdout.lines if "REQ socket created" in line]
    assert len(summary) == 1, summary
    # The JSON still has every socket, each with its test.
    document = read_json(pytester.path / "out.json")
    tests = [leak["test"].split("::")[1] for leak in document["leaks"]]
    assert tests == ["test_b", "test_c", "test_c", "test_d"]
