"""pyzmq's own sockets and sockets handed to C loops: recorded, marked, never misjudged."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import zmq
from rich.console import Console

import zmqscope
from tests.helpers.records import CONNECT, closed_sock, snap, sock
from zmqscope.instrument import hooks
from zmqscope.instrument.registry.entries import EndpointEntry, Site, SocketEntry, new_counters
from zmqscope.model import (
    ContextRecord,
    ContextState,
    Culprit,
    EndpointOp,
    SocketRecord,
    SocketState,
)
from zmqscope.remote.wire import Decoder, FrameTable, encode_socket
from zmqscope.reporting import Report, build_report
from zmqscope.tui._rows import row_cells
from zmqscope.tui.detail import SocketDetailScreen


@pytest.fixture
def scope() -> Iterator[None]:
    """zmqscope in traffic mode, on a fresh registry."""
    hooks.reset_registry()
    zmqscope.install(traffic=True)
    try:
        yield
    finally:
        zmqscope.uninstall()
        hooks.reset_registry()


def test_a_pyzmq_helpers_socket_is_never_a_leak() -> None:
    mine = sock("s1")
    pyzmqs = dataclasses.replace(sock("s2"), internal="zmq.utils.garbage")
    report = build_report(snap(mine, pyzmqs))
    assert [leak.socket for leak in report.leaks] == ["s1"]


def test_a_closed_socket_a_proxy_sent_for_is_not_ruled_out_by_its_zero_count() -> None:
    """In traffic mode a closed socket that sent nothing is ruled out, unless a C loop sent.

    The watchdog decides which closed sockets may block (SocketEntry.may_block_term);
    the report counts the culprits it names.
    """

    def closed_connected(proxied_by: str | None) -> SocketEntry:
        entry = SocketEntry("s1", 1, "c1", "PUSH", Site(1.0, None), adopted=False)
        entry.endpoints = (EndpointEntry(EndpointOp.CONNECT, "tcp://127.0.0.1:5556", None, None),)
        entry.state = SocketState.CLOSED
        entry.traffic = new_counters(0)  # traffic mode: nothing sent through Python
        entry.proxied_by = proxied_by
        return entry

    assert not closed_connected(None).may_block_term
    assert closed_connected("zmq.proxy").may_block_term
    # Named by the watchdog, the report counts it (no open socket of c1 is left).
    proxied = dataclasses.replace(
        closed_sock("s2", endpoints=[CONNECT]),
        traffic=zmqscope.model.Traffic(),
        proxied_by="zmq.proxy",
    )
    culprit = Culprit("s2", "may block: ...", context="c1", certain=False)
    snapshot = snap(proxied, context_state=ContextState.TERMINATING)
    report = build_report(snapshot, culprits=[culprit])
    assert [leak.socket for leak in report.leaks] == ["s2"]


def test_the_new_fields_round_trip_and_old_reports_still_load() -> None:
    record = dataclasses.replace(sock("s1"), internal="zmq.utils.garbage", proxied_by="zmq.proxy")
    report = build_report(snap(record))
    data = report.to_dict()
    assert data["sockets"][0]["internal"] == "zmq.utils.garbage"
    assert data["sockets"][0]["proxied_by"] == "zmq.proxy"
    assert data["contexts"][0]["internal"] is None
    assert Report.from_dict(data).snapshot.sockets == (record,)
    # A report written before these keys existed reads as the application's.
    for key in ("internal", "proxied_by"):
        del data["sockets"][0][key]
    del data["contexts"][0]["internal"]
    old = Report.from_dict(json.loads(json.dumps(data)))
    assert (old.snapshot.sockets[0].internal, old.snapshot.sockets[0].proxied_by) == (None, None)
    assert old.snapshot.contexts[0].internal is None
    marked = ContextRecord("c9", ContextState.OPEN, internal="zmq.utils.garbage")
    assert ContextRecord.from_dict(marked.to_dict()) == marked


def test_the_compact_form_carries_the_new_fields_and_reads_an_older_servers() -> None:
    record = dataclasses.replace(sock("s1"), internal="zmq.utils.garbage", proxied_by="zmq.proxy")
    table = FrameTable()
    item = encode_socket(record, table)
    assert Decoder(table.rows).socket(item) == record
    older: list[Any] = item[:12]  # what a server of the previous version sends
    assert Decoder(table.rows).socket(older) == dataclasses.replace(
        record, internal=None, proxied_by=None
    )


def rows_of(record: SocketRecord) -> dict[str, str]:
    keys: tuple[str, ...] = ("id", "type", "state", "endpoints", "owner", "age", "created")
    keys += ("msgs_in", "msgs_out", "bytes_in", "bytes_out")
    return dict(zip(keys, row_cells(record, 100.0, traffic=True), strict=True))


def test_the_sockets_table_marks_pyzmqs_sockets_and_uncounted_traffic() -> None:
    counted = dataclasses.replace(sock("s1"), traffic=zmqscope.model.Traffic())
    assert rows_of(counted)["state"] == "open"
    assert rows_of(counted)["msgs_out"] == "0"
    pyzmqs = dataclasses.replace(counted, internal="zmq.utils.garbage")
    assert rows_of(pyzmqs)["state"] == "open (pyzmq)"
    proxied = dataclasses.replace(counted, proxied_by="zmq.proxy")
    assert {rows_of(proxied)[k] for k in ("msgs_in", "msgs_out", "bytes_in", "bytes_out")} == {
        "(proxy)"
    }


def test_the_socket_detail_says_whose_socket_it_is_and_why_traffic_is_not_counted() -> None:
    record = dataclasses.replace(
        sock("s1"),
        internal="zmq.utils.garbage",
        proxied_by="zmq.proxy",
        traffic=zmqscope.model.Traffic(),
    )
    console = Console(width=200, record=True)
    console.print(SocketDetailScreen(record)._summary())
    text = console.export_text()
    assert "pyzmq's own (zmq.utils.garbage), not the application's: never a leak" in text
    assert "not counted: handed to zmq.proxy(), which moves its messages in C" in text


def test_the_zero_copy_trackers_context_and_sockets_are_marked(scope: None) -> None:
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    try:
        a.bind("inproc://unit-zero-copy")
        b.connect("inproc://unit-zero-copy")
        tracker = a.send(b"x" * 100_000, copy=False, track=True)
        b.recv()
        tracker.wait(10)
        snapshot = zmqscope.snapshot()
    finally:
        a.close()
        b.close()
        ctx.term()
    marked = {s.type for s in snapshot.sockets if s.internal == "zmq.utils.garbage"}
    assert marked == {"PULL", "PUSH"}
    assert [s.internal for s in snapshot.sockets if s.type == "PAIR"] == [None, None]
    helpers = [c for c in snapshot.contexts if c.internal == "zmq.utils.garbage"]
    assert len(helpers) == 1
    assert not [leak for leak in build_report(snapshot).leaks if leak.socket in marked]


def test_sockets_handed_to_zmq_proxy_are_marked_in_traffic_mode(scope: None) -> None:
    ctx = zmq.Context()
    front, back = ctx.socket(zmq.PULL), ctx.socket(zmq.PUSH)
    front.bind("inproc://unit-front")
    back.bind("inproc://unit-back")
    thread = threading.Thread(target=_proxy, args=(front, back), daemon=True)
    thread.start()
    try:
        feed, sink = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
        feed.connect("inproc://unit-front")
        sink.connect("inproc://unit-back")
        feed.send(b"through the proxy")
        assert sink.recv() == b"through the proxy"
        records = {s.type + ("-fed" if s.proxied_by is None else ""): s for s in _sockets()}
    finally:
        feed.close()
        sink.close()
        ctx.term()
        thread.join(10)
    assert records["PULL"].proxied_by == records["PUSH"].proxied_by == "zmq.proxy"
    traffic = records["PUSH"].traffic
    assert traffic is not None and traffic.msgs_out == 0  # measured: the C loop is not counted
    fed = records["PUSH-fed"].traffic
    assert fed is not None and fed.msgs_out == 1


def _proxy(front: zmq.Socket[bytes], back: zmq.Socket[bytes]) -> None:
    try:
        zmq.proxy(front, back)
    except zmq.ContextTerminated:
        front.close()
        back.close()


def _sockets() -> tuple[SocketRecord, ...]:
    return zmqscope.snapshot().sockets
