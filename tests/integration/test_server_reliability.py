"""The server keeps answering whatever the app and its clients do.

An app hung in ``term()``, 20 clients at once, a client that never reads, a
client killed mid-request, and 10,000+ malformed messages (over the ipc
stream and, with multipart shapes, over tcp): none of them stops the server,
delays other clients for long, or disturbs the app's own sockets.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

import zmqscope
from tests.helpers import raw_stream
from tests.helpers.processes import clean_env, describe, write_app, zmqscope_cli
from tests.helpers.serving import CLIENT_TIMEOUT, runtime_env, serving, short_folder, wait_until
from zmqscope import _own_context
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.remote.client import LiveClient
from zmqscope.remote.protocol import (
    MAX_REQUEST_BYTES,
    ErrorCode,
    ProtocolError,
    RequestType,
    decode_reply,
    decode_request,
    encode_request,
)

Ctx = zmq.Context[zmq.Socket[bytes]]
Frames = list[bytes]

# What libzmq lets through to the server (see Server._bind): bigger frames
# make it drop the connection before the server sees anything.
MAX_FRAME = MAX_REQUEST_BYTES + 1024


@pytest.fixture
def tcp_server(scope: None) -> Iterator[Server]:
    """A server of this process on loopback tcp (no CURVE: a bare DEALER may talk to it)."""
    started = Server("tcp://127.0.0.1:0", insecure=True)
    started.start()
    try:
        yield started
    finally:
        started.stop(timeout=10)


@pytest.fixture
def raw_dealer(tcp_server: Server) -> Iterator[zmq.Socket[bytes]]:
    """A bare DEALER connected to the tcp server, on a context zmqscope does not record."""
    ctx = _own_context.private_context()
    sock: zmq.Socket[bytes] = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.connect(tcp_server.endpoint)
    try:
        yield sock
    finally:
        sock.close()
        _own_context.term_private_context(ctx)


def app_pair(ctx: Ctx, name: str) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """The application's own PUSH/PULL pair on inproc."""
    pull = ctx.socket(zmq.PULL)
    pull.bind(f"inproc://{name}")
    push = ctx.socket(zmq.PUSH)
    push.connect(f"inproc://{name}")
    return push, pull


def close_all(*sockets: zmq.Socket[bytes]) -> None:
    """Close what a test made (with --zmqscope, sockets left to the collector fail it)."""
    for sock in sockets:
        sock.close()


def assert_pair_works(push: zmq.Socket[bytes], pull: zmq.Socket[bytes], count: int = 100) -> None:
    for n in range(count):
        push.send(b"%d" % n)
    received = [pull.recv() if pull.poll(5_000) else b"lost" for _ in range(count)]
    assert received == [b"%d" % n for n in range(count)]


def generous(server: Server) -> None:
    """A budget a test cannot exhaust: for tests about something else than load."""
    server.handler.budget.set(share=1.0, burst=600.0)


def ask(server: Server) -> int:
    """A fresh client's hello: the pid, or ClientError if the server does not answer."""
    client = LiveClient(server.endpoint, timeout=CLIENT_TIMEOUT)
    try:
        return client.hello().process.pid
    finally:
        client.close()


# -- an app hung in term() --------------------------------------------------------------

HUNG_APP = """
import sys, threading, time
import zmq

ctx = zmq.Context()

def serve():
    sock = ctx.socket(zmq.REP)
    sock.bind("tcp://127.0.0.1:*")
    try:
        sock.recv()
    except zmq.ContextTerminated:
        pass  # the bug: the socket is never closed
    time.sleep(3600)

threading.Thread(target=serve, name="svc-thread", daemon=True).start()
time.sleep(0.3)
print("ready", file=sys.stderr, flush=True)
ctx.term()
"""


@pytest.mark.timeout(90)
def test_report_and_ls_answer_while_the_app_is_blocked_in_term(tmp_path: Path) -> None:
    app = write_app(tmp_path, HUNG_APP)
    with short_folder() as base, serving(app, base, "--grace", "1", cwd=tmp_path) as live:
        live.child.wait_for("remedy")  # the watchdog reported the blocked term()
        env = runtime_env(base)
        result = zmqscope_cli("report", str(live.pid), "--format", "json", cwd=tmp_path, env=env)
        assert result.returncode == 0, describe(result)
        report = json.loads(result.stdout)
        (context,) = report["contexts"]
        assert context["state"] == "terminating"
        assert context["term_blocked_since"] is not None
        (culprit,) = report["culprits"]
        (socket,) = [s for s in report["sockets"] if s["id"] == culprit["socket"]]
        assert socket["type"] == "REP"
        assert culprit["owner"]["name"] == "svc-thread"

        text = zmqscope_cli("report", str(live.pid), cwd=tmp_path, env=env)
        assert text.returncode == 0, describe(text)
        words = " ".join(text.stdout.split())
        assert "term() of context c1 has been blocked for" in words
        assert "1 socket keeps it waiting:" in words
        assert "svc-thread" in text.stdout

        listing = zmqscope_cli("ls", "--json", cwd=tmp_path, env=env)
        assert listing.returncode == 0, describe(listing)
        (row,) = json.loads(listing.stdout)
        assert (row["pid"], row["state"], row["open_sockets"]) == (live.pid, "term blocked", 1)


# -- many clients, and clients that misbehave ---------------------------------------------


@pytest.mark.timeout(60)
def test_twenty_clients_at_once_all_get_answers(server: Server, ctx: Ctx) -> None:
    sockets = [ctx.socket(zmq.PAIR) for _ in range(50)]
    start = threading.Barrier(20)
    results: dict[int, list[int]] = {}
    errors: list[BaseException] = []

    def client_thread(number: int) -> None:
        try:
            client = LiveClient(server.endpoint, timeout=CLIENT_TIMEOUT)
            try:
                start.wait(CLIENT_TIMEOUT)
                counts = [len(client.snapshot().report.snapshot.sockets) for _ in range(5)]
                counts.append(client.hello().open_sockets)
                results[number] = counts
            finally:
                client.close()
        except BaseException as error:
            errors.append(error)

    threads = [
        threading.Thread(target=client_thread, args=(n,), name=f"client-{n}") for n in range(20)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(45)
    assert errors == []
    assert results == {n: [50] * 6 for n in range(20)}
    assert server.errors == 0
    close_all(*sockets)


@pytest.mark.timeout(60)
def test_a_client_that_never_reads_costs_one_reply_and_blocks_nobody(
    server: Server, ctx: Ctx
) -> None:
    """Over ipc: its requests wait unread behind one reply it does not take."""
    generous(server)  # (past the budget, small "busy" replies would fit in the buffers)
    push, pull = app_pair(ctx, "app-while-flooded")
    others = [ctx.socket(zmq.PAIR) for _ in range(300)]  # a snapshot bigger than a socket buffer
    sock = raw_stream.connect(server.endpoint)
    sock.setblocking(False)
    before = server.requests
    requests = [encode_request(RequestType.SNAPSHOT, n) for n in range(3_000)]
    sent = 0
    for payload in requests:
        try:
            sent += sock.send(raw_stream.message(payload))
        except BlockingIOError:
            break  # the server stopped reading: the kernel's buffer is full
    assert sent > 10_000
    # It answers everybody else meanwhile, and the app's sockets work...
    assert ask(server) == zmqscope.snapshot().process.pid
    assert_pair_works(push, pull)

    # ...while it made, for the client that reads none, the replies the
    # kernel's socket buffers took and one more, which waits: not thousands.
    # (A loaded machine may still be making them: wait until it stops.)
    def settled() -> bool:
        seen = server.requests
        time.sleep(0.5)
        return server.queued_bytes > 0 and server.requests == seen

    wait_until(settled, "the server done with a client that reads none")
    answered = server.requests - before - 1  # (ask's hello)
    assert 1 <= answered <= 5
    assert server.queued_bytes < 2 * 1024 * 1024
    assert server.errors == 0
    sock.close()
    close_all(push, pull, *others)


@pytest.mark.timeout(60)
def test_a_tcp_client_that_never_reads_is_not_answered_past_its_queue(
    tcp_server: Server, ctx: Ctx, raw_dealer: zmq.Socket[bytes]
) -> None:
    """Over tcp: a request is dropped, before any work, while its client's last reply waits."""
    push, pull = app_pair(ctx, "app-while-flooded-tcp")
    others = [ctx.socket(zmq.PAIR) for _ in range(300)]
    raw_dealer.rcvhwm = 1
    before = tcp_server.requests
    sent = 0
    for n in range(3_000):
        try:
            raw_dealer.send(encode_request(RequestType.SNAPSHOT, n), zmq.NOBLOCK)
            sent += 1
        except zmq.Again:
            pass  # the client's own queue is full: its problem, not the server's
    assert sent > 100
    wait_until(lambda: tcp_server.dropped > 0, "requests of a client that reads nothing dropped")
    assert tcp_server.requests - before < sent
    assert ask(tcp_server) == zmqscope.snapshot().process.pid
    assert_pair_works(push, pull)
    assert tcp_server.errors == 0
    close_all(push, pull, *others)


KILLED_CLIENT = """
import socket, struct, sys, time

sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
sock.connect(sys.argv[1][len("ipc://"):])
for n in range(4):
    payload = b'{"v":1,"type":"snapshot","id":%d}' % n
    sock.sendall(struct.pack("!I", len(payload)) + payload)
print("sent", flush=True)
time.sleep(60)
"""


@pytest.mark.timeout(60)
def test_a_client_killed_mid_request_does_no_harm(tmp_path: Path, server: Server, ctx: Ctx) -> None:
    push, pull = app_pair(ctx, "app-while-killed")
    others = [ctx.socket(zmq.PAIR) for _ in range(300)]  # each snapshot takes a while
    script = write_app(tmp_path, KILLED_CLIENT, "client.py")
    before = server.requests
    process = subprocess.Popen(
        [sys.executable, str(script), server.endpoint],
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline() == "sent\n"
        wait_until(lambda: server.requests > before, "the server busy with the client")
    finally:
        process.kill()
        process.wait(10)
    assert ask(server) == zmqscope.snapshot().process.pid
    assert_pair_works(push, pull)
    assert server.errors == 0
    close_all(push, pull, *others)


# -- malformed input over the wire ----------------------------------------------------------

FUZZ_SEED = 20261128
FUZZ_INPUTS = 10_000
OVERSIZED_INPUTS = 8  # each costs a reconnect: kept apart, and few
PROBE_IDS = 10**9  # probe n sends hellos with ids from PROBE_IDS * n up: apart from the fuzz ids


def fuzz_inputs(rng: random.Random, count: int) -> Iterator[Frames]:
    """``count`` messages a broken or hostile client might send, as frame lists."""
    makers = [
        (_not_json, 20),
        (_truncated, 10),
        (_not_an_object, 10),
        (_wrong_field_types, 20),
        (_unknown_type, 10),
        (_wrong_version, 10),
        (_nearly_valid, 4),
        (_too_large, 1),
        (_multipart, 15),
    ]
    choices, weights = zip(*makers, strict=True)
    for _ in range(count):
        (maker,) = rng.choices(choices, weights)
        yield maker(rng)


def _valid(rng: random.Random, **fields: Any) -> dict[str, Any]:
    kind = rng.choice([k.value for k in RequestType])
    return {"v": 1, "type": kind, "id": rng.randrange(-(2**40), 2**40), **fields}


def _json_value(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(8 if depth < 2 else 6)
    if pick == 0:
        return None
    if pick == 1:
        return rng.random() < 0.5
    if pick == 2:
        return rng.randrange(-(2**70), 2**70)
    if pick == 3:
        return rng.uniform(-1e9, 1e9)
    if pick == 4:
        return "".join(chr(rng.randrange(32, 0x2FF)) for _ in range(rng.randrange(12)))
    if pick == 5:
        return float("nan")
    if pick == 6:
        return [_json_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    return {str(n): _json_value(rng, depth + 1) for n in range(rng.randrange(4))}


def _not_json(rng: random.Random) -> Frames:
    return [rng.randbytes(rng.randrange(200))]


def _truncated(rng: random.Random) -> Frames:
    text = json.dumps(_valid(rng)).encode()
    return [text[: rng.randrange(len(text))]]


def _not_an_object(rng: random.Random) -> Frames:
    return [json.dumps([_json_value(rng)] if rng.random() < 0.5 else _json_value(rng)).encode()]


def _wrong_field_types(rng: random.Random) -> Frames:
    message = _valid(rng)
    for key in rng.sample(["v", "type", "id"], rng.randrange(1, 4)):
        if rng.random() < 0.3:
            del message[key]
        else:
            message[key] = _json_value(rng)
    return [json.dumps(message).encode()]


def _unknown_type(rng: random.Random) -> Frames:
    kind = rng.choice(["exec", "shutdown", "HELLO", "", "snapshot ", "hello.reply", "error"])
    return [json.dumps(_valid(rng, type=kind)).encode()]


def _wrong_version(rng: random.Random) -> Frames:
    version = rng.choice([0, 2, -1, 99, "1", 1.0, True, None, [1]])
    return [json.dumps(_valid(rng, v=version)).encode()]


def _nearly_valid(rng: random.Random) -> Frames:
    # Valid requests with odd extras: they get real answers.
    extras = {"since": _json_value(rng), "extra": _json_value(rng)}
    return [json.dumps(_valid(rng, **extras)).encode()]


def _too_large(rng: random.Random) -> Frames:
    # Past the request limit but small enough for libzmq to deliver: refused.
    size = rng.randrange(MAX_REQUEST_BYTES + 1, MAX_FRAME + 1)
    head = json.dumps(_valid(rng)).encode()[:-1] + b',"pad":"'
    return [head + b"x" * (size - len(head) - 2) + b'"}']


def _multipart(rng: random.Random) -> Frames:
    frames = [rng.randbytes(rng.randrange(40)) for _ in range(rng.randrange(1, 6))]
    if rng.random() < 0.3:
        frames[0] = b""  # looks like a REQ envelope
    if rng.random() < 0.5:
        frames[-1] = json.dumps(_valid(rng)).encode()
    return frames


def expected_reply(frames: Frames) -> tuple[str, int | None]:
    """(reply type, reply id) the server must send for ``frames``."""
    if len(frames) == 1:
        payload = frames[0]
    elif len(frames) == 2 and frames[0] == b"":
        payload = frames[1]  # a REQ socket's envelope
    else:
        return ("error", None)
    try:
        request = decode_request(payload)
    except ProtocolError as error:
        return ("error", error.request_id)
    return (f"{request.type.value}.reply", request.id)


def exchange(sock: zmq.Socket[bytes], frames: Frames) -> Frames:
    """Send one message and read its reply, as LiveClient does.

    (A client with more than the server's 8 replies outstanding may lose the
    later ones: that is the bound on what a client can make the server queue.)
    """
    sock.send_multipart(frames)
    assert sock.poll(int(CLIENT_TIMEOUT * 1000)), f"no reply to {frames!r:.200}"
    return sock.recv_multipart()


def probe(sock: zmq.Socket[bytes], probe_id: int) -> list[Frames]:
    """Send hellos until one is answered (a dropped connection loses what was in flight).

    Returns the replies that came before it, other than answers to earlier probes.
    """
    seen: list[Frames] = []
    ids = set()
    for attempt in range(20):
        ids.add(probe_id + attempt)
        sock.send(encode_request(RequestType.HELLO, probe_id + attempt))
        while sock.poll(500):
            frames = sock.recv_multipart()
            reply = decode_reply(frames[-1])
            if reply.type == "hello.reply" and reply.id in ids:
                return seen
            late = reply.id is not None and PROBE_IDS <= reply.id < probe_id
            if reply.type == "hello.reply" and late:
                # A busy machine answered an earlier probe's first attempt
                # after its second: that answer arrives now, and is no news.
                continue
            seen.append(frames)
    raise AssertionError("the server stopped answering after an oversized frame")


@pytest.mark.timeout(90)
def test_fuzz_malformed_input_over_tcp_in_every_multipart_shape(
    tcp_server: Server, ctx: Ctx, raw_dealer: zmq.Socket[bytes]
) -> None:
    generous(tcp_server)
    push, pull = app_pair(ctx, "app-under-fuzz")
    try:
        _fuzz(tcp_server, raw_dealer, push, pull)
    finally:
        close_all(push, pull)


def _fuzz(
    server: Server,
    raw_dealer: zmq.Socket[bytes],
    push: zmq.Socket[bytes],
    pull: zmq.Socket[bytes],
) -> None:
    rng = random.Random(FUZZ_SEED)
    inputs = list(fuzz_inputs(rng, FUZZ_INPUTS))
    codes: dict[str, int] = {}
    for frames in inputs:
        reply = decode_reply(exchange(raw_dealer, frames)[-1])
        assert (reply.type, reply.id) == expected_reply(frames), frames
        if reply.error is not None:
            assert str(reply.error)
            codes[reply.error.code.value] = codes.get(reply.error.code.value, 0) + 1
    # Frames libzmq will not deliver: the connection is dropped, no reply.
    for n in range(OVERSIZED_INPUTS):
        size = MAX_FRAME + 1 + rng.randrange(4 * MAX_FRAME)
        raw_dealer.send_multipart([b"", rng.randbytes(size)][n % 2 :])
        assert probe(raw_dealer, PROBE_IDS * (n + 1)) == []

    assert set(codes) == {c.value for c in ErrorCode} - {ErrorCode.INTERNAL.value, "busy"}
    assert server.errors == 0
    assert ask(server) == zmqscope.snapshot().process.pid
    assert_pair_works(push, pull)
    states = {s.type: s.state.value for s in zmqscope.snapshot().sockets}
    assert states == {"PUSH": "open", "PULL": "open"}


@pytest.mark.timeout(90)
def test_fuzz_malformed_input_over_the_ipc_stream(server: Server, ctx: Ctx) -> None:
    """Each frame of the fuzz's shapes is a message; then what only a stream can carry."""
    generous(server)
    push, pull = app_pair(ctx, "app-under-stream-fuzz")
    rng = random.Random(FUZZ_SEED + 1)
    sock = raw_stream.connect(server.endpoint)
    codes: set[str] = set()
    for frames in fuzz_inputs(rng, FUZZ_INPUTS // 2):
        for frame in frames:
            if len(frame) > MAX_REQUEST_BYTES:
                continue  # refused from its length: below, on connections of their own
            reply = raw_stream.exchange(sock, frame)
            assert (reply.type, reply.id) == expected_reply([frame]), frame
            if reply.error is not None:
                codes.add(reply.error.code.value)
    assert codes >= {"bad-json", "bad-request", "unknown-type", "bad-version"}
    # Several messages in one write, one split over many writes: the same replies.
    batch = [encode_request(RequestType.HELLO, 7_000 + n) for n in range(10)]
    sock.sendall(b"".join(raw_stream.message(p) for p in batch))
    whole = raw_stream.message(encode_request(RequestType.EVENTS, 7_777, since=3))
    for n in range(len(whole)):
        sock.sendall(whole[n : n + 1])
    replies = [raw_stream.read_reply(sock) for _ in range(11)]
    assert [r.id for r in replies if r is not None] == [*range(7_000, 7_010), 7_777]
    sock.close()
    # A length over the limit is refused at once (nothing of it is kept), and
    # the connection closed: however much the client goes on to send.
    for _ in range(OVERSIZED_INPUTS):
        sock = raw_stream.connect(server.endpoint)
        size = MAX_REQUEST_BYTES + 1 + rng.randrange(2**32 - MAX_REQUEST_BYTES - 1)
        sock.sendall(raw_stream.HEADER.pack(size) + rng.randbytes(rng.randrange(1000)))
        refusal = raw_stream.read_reply(sock)
        assert refusal is not None and refusal.error is not None
        assert refusal.error.code is ErrorCode.TOO_LARGE
        assert raw_stream.closed_by_server(sock)
        sock.close()
    # A client that leaves mid-message, or mid-header: nothing to answer.
    for cut in (2, 9):
        sock = raw_stream.connect(server.endpoint)
        sock.sendall(raw_stream.message(encode_request(RequestType.HELLO, 1))[:cut])
        sock.close()
    assert server.errors == 0
    assert ask(server) == zmqscope.snapshot().process.pid
    assert_pair_works(push, pull)
    close_all(push, pull)
