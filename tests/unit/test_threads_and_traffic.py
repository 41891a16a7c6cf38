"""Thread misuse warnings and traffic-mode counters."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator

import pytest
import zmq
import zmq.asyncio

import zmqscope
from tests.helpers.call_site import here
from zmqscope import _own_context
from zmqscope.instrument import hooks
from zmqscope.model import SocketRecord, Traffic

Ctx = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def traffic() -> Iterator[Ctx]:
    """zmqscope in traffic mode, and a context for the test."""
    hooks.reset_registry()
    zmqscope.install(traffic=True)
    ctx: Ctx = zmq.Context()
    try:
        yield ctx
    finally:
        ctx.destroy(linger=0)
        zmqscope.uninstall()
        hooks.reset_registry()


def in_thread(name: str, work: Callable[[], object]) -> None:
    thread = threading.Thread(target=work, name=name)
    thread.start()
    thread.join()


def record(type_name: str) -> SocketRecord:
    (found,) = [s for s in zmqscope.snapshot().sockets if s.type == type_name]
    return found


def counters(type_name: str) -> Traffic:
    found = record(type_name).traffic
    assert found is not None, "traffic mode did not count this socket"
    return found


# -- thread misuse ---------------------------------------------------------------


def test_hand_off_to_another_thread_is_not_a_warning(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUSH)
    in_thread("worker", lambda: sock.connect("inproc://handoff"))
    in_thread("worker-2", lambda: sock.close(linger=0))
    assert zmqscope.snapshot().warnings == ()
    assert [t.name for t in record("PUSH").threads_used] == ["MainThread", "worker", "worker-2"]


def test_handing_back_after_the_thread_ended_is_not_a_warning(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUSH)
    in_thread("worker", lambda: sock.bind("inproc://back"))
    sock.close(linger=0)  # the worker has finished: a clean hand-back
    assert zmqscope.snapshot().warnings == ()
    assert [t.name for t in record("PUSH").threads_used] == ["MainThread", "worker"]


def test_sharing_between_live_threads_warns_once_per_pair(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUB)
    sock.bind("inproc://shared")
    main_line = here() - 1
    used = threading.Event()
    done = threading.Event()
    lines: list[int] = []

    def worker() -> None:
        lines.append(here() + 1)
        sock.setsockopt(zmq.SNDHWM, 10)
        used.set()
        done.wait(5)

    thread = threading.Thread(target=worker, name="intruder")
    thread.start()
    used.wait(5)
    sock.setsockopt(zmq.SNDHWM, 20)  # back in main while the intruder is alive
    back_line = here() - 1
    sock.setsockopt(zmq.SNDHWM, 30)  # same pair again: no second warning
    done.set()
    thread.join()
    (warning,) = zmqscope.snapshot().warnings
    assert warning.kind == "cross-thread"
    assert warning.socket == record("PUB").id
    assert (warning.first.name, warning.second.name) == ("intruder", "MainThread")
    assert warning.first_site is not None and warning.first_site.line == lines[0]
    assert warning.second_site is not None and warning.second_site.line == back_line
    assert "intruder" in warning.message and "MainThread" in warning.message
    assert main_line < back_line
    sock.close()


def test_send_from_a_second_live_thread_warns_in_traffic_mode(traffic: Ctx) -> None:
    push = traffic.socket(zmq.PUSH)
    push.bind("inproc://mixed")
    pull = traffic.socket(zmq.PULL)
    pull.connect("inproc://mixed")
    sent = threading.Event()
    finish = threading.Event()

    def sender() -> None:
        push.send(b"from the thread")
        sent.set()
        finish.wait(5)

    thread = threading.Thread(target=sender, name="sender")
    thread.start()
    sent.wait(5)
    push.send(b"from main")  # main used it before; sender is still alive
    finish.set()
    thread.join()
    warnings = zmqscope.snapshot().warnings
    assert [(w.first.name, w.second.name) for w in warnings] == [("sender", "MainThread")]


# -- traffic mode ----------------------------------------------------------------


def test_traffic_counts_messages_frames_and_bytes(traffic: Ctx) -> None:
    push = traffic.socket(zmq.PUSH)
    push.bind("inproc://count")
    pull = traffic.socket(zmq.PULL)
    pull.connect("inproc://count")
    push.send(b"x" * 100)
    push.send_multipart([b"a" * 10, b"b" * 20, b"c" * 30])
    push.send_string("hé")
    assert pull.recv() == b"x" * 100
    assert pull.recv_multipart() == [b"a" * 10, b"b" * 20, b"c" * 30]
    assert pull.recv_string() == "hé"
    out, into = counters("PUSH"), counters("PULL")
    assert (out.msgs_out, out.frames_out, out.bytes_out) == (3, 5, 163)
    assert (into.msgs_in, into.frames_in, into.bytes_in) == (3, 5, 163)
    assert out.last_send is not None and into.last_recv is not None
    assert (out.msgs_in, into.msgs_out) == (0, 0)


def test_frame_by_frame_multipart_reading_counts_one_message(traffic: Ctx) -> None:
    push = traffic.socket(zmq.PUSH)
    push.bind("inproc://frames")
    pull = traffic.socket(zmq.PULL)
    pull.connect("inproc://frames")
    push.send_multipart([b"1", b"2", b"3"])
    parts = [pull.recv()]
    while pull.rcvmore:
        assert pull.getsockopt(zmq.RCVMORE)  # asked twice for the same frame
        parts.append(pull.recv())
    assert parts == [b"1", b"2", b"3"]
    into = counters("PULL")
    assert (into.msgs_in, into.frames_in) == (1, 3)


def test_zero_copy_frames_are_counted(traffic: Ctx) -> None:
    push = traffic.socket(zmq.PUSH)
    push.bind("inproc://zero")
    pull = traffic.socket(zmq.PULL)
    pull.connect("inproc://zero")
    push.send(memoryview(b"y" * 64), copy=False)
    frame = pull.recv(copy=False)
    assert frame.bytes == b"y" * 64
    assert counters("PULL").bytes_in == 64
    assert counters("PUSH").bytes_out == 64


def test_asyncio_traffic_is_counted_once(traffic: Ctx) -> None:
    actx = zmq.asyncio.Context(traffic)

    async def exchange() -> list[bytes]:
        push = actx.socket(zmq.PUSH)
        push.bind("inproc://async")
        pull = actx.socket(zmq.PULL)
        pull.connect("inproc://async")
        await push.send_multipart([b"head", b"body"])
        received = await pull.recv_multipart()
        push.close()
        pull.close()
        return received

    assert asyncio.run(exchange()) == [b"head", b"body"]
    assert (counters("PUSH").msgs_out, counters("PUSH").frames_out) == (1, 2)
    assert (counters("PULL").msgs_in, counters("PULL").frames_in) == (1, 2)


def test_traffic_is_off_by_default(ctx: Ctx) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind("inproc://quiet")
    pull = ctx.socket(zmq.PULL)
    pull.connect("inproc://quiet")
    push.send(b"m")
    assert pull.recv() == b"m"
    assert record("PUSH").traffic is None
    assert "send" not in zmq.Socket.__dict__ or zmq.Socket.send.__module__ == "zmq.sugar.socket"
    assert "recv" not in zmq.Socket.__dict__
    push.close()
    pull.close()


def test_uninstall_after_traffic_restores_send_and_recv(traffic: Ctx) -> None:
    zmqscope.uninstall()
    assert zmq.Socket.send.__module__ == "zmq.sugar.socket"
    for name in ("recv", "recv_into", "get"):
        assert name not in zmq.Socket.__dict__


def test_uncounted_sockets_work_in_traffic_mode(traffic: Ctx) -> None:
    """Sockets zmqscope does not count (its own, or made before install) still pass data."""
    private = _own_context.private_context()
    push = private.socket(zmq.PUSH)
    push.bind("inproc://uncounted")
    pull = private.socket(zmq.PULL)
    pull.connect("inproc://uncounted")
    push.send_multipart([b"head", b"body"])
    assert pull.recv_multipart() == [b"head", b"body"]
    push.send(b"x")
    buffer = bytearray(4)
    assert pull.recv_into(buffer) == 1 and buffer[:1] == b"x"
    push.close()
    pull.close()
    _own_context.term_private_context(private)
    assert zmqscope.snapshot().sockets == ()


def _send_outcomes(ctx: Ctx, address: str) -> list[str]:
    """What each kind of send() returns or raises, as text."""
    push = ctx.socket(zmq.PUSH)
    push.bind(address)
    pull = ctx.socket(zmq.PULL)
    pull.connect(address)
    attempts: list[Callable[[], object]] = [
        lambda: push.send(b"bytes"),
        lambda: push.send(b"more", zmq.SNDMORE),
        lambda: push.send(b"last", flags=0, copy=False),
        lambda: push.send(b"tracked", copy=False, track=True),
        lambda: push.send(zmq.Frame(b"frame")),
        lambda: push.send(memoryview(b"view")),
        lambda: push.send("text"),  # type: ignore[call-overload]  # a str on purpose: pyzmq's TypeError
        lambda: push.send(b"late", track=True, copy=True),
        lambda: push.send(b"draft", routing_id=1),  # pyzmq's own path: builds a Frame
        lambda: push.send(b"draft", group="g"),
    ]
    outcomes = []
    for attempt in attempts:
        try:
            result = attempt()
            outcomes.append(f"returned {type(result).__name__}")
        except Exception as error:
            outcomes.append(f"raised {type(error).__name__}: {error}")
    received = []
    while pull.poll(100):
        received.append(pull.recv())
    outcomes.append(repr(received))
    push.close(linger=0)
    pull.close(linger=0)
    return outcomes


def test_send_in_traffic_mode_behaves_as_pyzmq_does(traffic: Ctx) -> None:
    """The wrapper calls pyzmq's backend directly for plain sends: nothing may change."""
    counted = _send_outcomes(traffic, "inproc://send-counted")
    zmqscope.uninstall()
    plain = _send_outcomes(traffic, "inproc://send-plain")
    assert counted == plain
    assert "returned MessageTracker" in plain and any("TypeError" in o for o in plain)


def test_watch_in_traffic_mode_counts_the_sockets_it_adopts() -> None:
    zmqscope.uninstall()  # under --zmqscope the plugin would record them at once
    hooks.reset_registry()
    ctx: Ctx = zmq.Context()
    try:
        # Made before zmqscope looked: adopted by watch(), then counted.
        pull = ctx.socket(zmq.PULL)
        pull.bind("inproc://adopted")
        push = ctx.socket(zmq.PUSH)
        push.connect("inproc://adopted")
        zmqscope.install(traffic=True)
        zmqscope.watch(ctx)
        push.send(b"hello")
        assert pull.recv() == b"hello"
        assert (counters("PUSH").msgs_out, counters("PULL").msgs_in) == (1, 1)
        push.close()
        pull.close()
    finally:
        ctx.destroy(linger=0)
        zmqscope.uninstall()
        hooks.reset_registry()
