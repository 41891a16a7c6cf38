"""A polling client receives only what changed, and still sees the whole picture."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import zmq

import zmqscope
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.model import SocketState
from zmqscope.remote.client import LiveClient
from zmqscope.remote.protocol import RequestType
from zmqscope.remote.wire import Decoder

Ctx = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def client(server: Server) -> Iterator[LiveClient]:
    live = LiveClient(server.endpoint, timeout=10)
    try:
        yield live
    finally:
        live.close()


def raw_snapshot(client: LiveClient, since: int) -> Any:
    return client.request(RequestType.SNAPSHOT, since=since)


def test_second_poll_carries_only_the_changes(client: LiveClient, ctx: Ctx) -> None:
    keep = [ctx.socket(zmq.PUSH) for _ in range(5)]
    first = raw_snapshot(client, 0)
    assert first["full"] and len(first["sockets"]) == 5
    keep[0].bind("inproc://delta")
    keep[1].close()
    newcomer = ctx.socket(zmq.PULL)
    second = raw_snapshot(client, first["generation"])
    assert not second["full"]
    decoder = Decoder(second["frames"])
    changed = {r.id: r for r in map(decoder.socket, second["sockets"])}
    assert len(changed) == 3  # the bound one, the closed one, the new one
    assert [e.url for e in changed["s1"].endpoints] == ["inproc://delta"]
    assert changed["s2"].state is SocketState.CLOSED
    assert changed["s6"].type == "PULL"
    quiet = raw_snapshot(client, second["generation"])
    assert quiet["sockets"] == [] and quiet["removed"] == []
    for sock in [*keep, newcomer]:
        sock.close()


def test_merged_snapshots_match_a_fresh_one(client: LiveClient, ctx: Ctx) -> None:
    socks = [ctx.socket(zmq.DEALER) for _ in range(4)]
    client.snapshot()
    socks[2].connect("tcp://127.0.0.1:9")
    socks[3].close()
    merged = client.snapshot().snapshot
    fresh = LiveClient(client.endpoint, timeout=10)
    try:
        whole = fresh.snapshot().snapshot
    finally:
        fresh.close()
    assert merged.sockets == whole.sockets
    assert [s.state for s in merged.sockets] == [SocketState.OPEN] * 3 + [SocketState.CLOSED]
    for sock in socks[:3]:
        sock.close(linger=0)


def test_removed_records_leave_the_client_view(client: LiveClient, scope: None) -> None:
    ctx: Ctx = zmq.Context()
    ctx.socket(zmq.PAIR).close()
    assert len(client.snapshot().snapshot.sockets) == 1
    ctx.term()  # closed records of a terminated context are forgotten
    assert client.snapshot().snapshot.sockets == ()


def test_traffic_counters_travel_every_poll(client: LiveClient) -> None:
    zmqscope.install(traffic=True)
    ctx: Ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.bind("inproc://counted")
    pull = ctx.socket(zmq.PULL)
    pull.connect("inproc://counted")
    client.snapshot()
    push.send_multipart([b"a", b"bb"])
    pull.recv_multipart()
    by_type = {s.type: s for s in client.snapshot().snapshot.sockets}
    assert by_type["PUSH"].traffic is not None and by_type["PUSH"].traffic.msgs_out == 1
    assert by_type["PULL"].traffic is not None and by_type["PULL"].traffic.frames_in == 2
    push.close()
    pull.close()
    ctx.term()
