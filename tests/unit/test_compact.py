"""The compact snapshot form round-trips records and rejects what is not one."""

from __future__ import annotations

import json

import pytest

from zmqscope.model import (
    CallSite,
    Endpoint,
    EndpointOp,
    Frame,
    SchemaError,
    SocketRecord,
    SocketState,
    ThreadRef,
)
from zmqscope.remote.wire import Decoder, FrameTable, encode_socket

SITE = Frame("/srv/app/worker.py", 40, "run")
OUTER = Frame("/srv/app/main.py", 12, "<module>")
WORKER = ThreadRef(7, "worker-1")


def record(socket_id: str, state: SocketState = SocketState.OPEN) -> SocketRecord:
    return SocketRecord(
        id=socket_id,
        context="c1",
        type="PULL",
        state=state,
        created=CallSite(1.5, WORKER, (SITE, OUTER)),
        closed=CallSite(2.5, WORKER, (SITE,)) if state is SocketState.CLOSED else None,
        endpoints=(
            Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555", True, "tcp://127.0.0.1:*", 1.6, SITE),
            Endpoint(EndpointOp.CONNECT, "inproc://x", False, None, 1.7, None),
        ),
        linger=0,
        linger_source="close",
        options=(("SNDHWM", "10"),),
        threads_used=(WORKER, ThreadRef(8, "[pool] 2")),
    )


def round_trip(records: list[SocketRecord]) -> tuple[list[SocketRecord], int]:
    table = FrameTable()
    encoded = [encode_socket(r, table) for r in records]
    wire = json.loads(json.dumps({"frames": table.rows, "sockets": encoded}))
    decoder = Decoder(wire["frames"])
    return [decoder.socket(item) for item in wire["sockets"]], len(table.rows)


def test_records_round_trip_and_frames_travel_once() -> None:
    records = [record("s1"), record("s2", SocketState.CLOSED), record("s3")]
    decoded, frames = round_trip(records)
    assert decoded == records
    assert frames == 2  # SITE and OUTER, however many records use them
    assert decoded[0].created.stack[0] is decoded[2].created.stack[0]  # shared, not copied


@pytest.mark.parametrize(
    "item",
    [
        [],
        ["s1"],
        [
            "s1",
            "c1",
            "PULL",
            "bogus-state",
            [1.0, None, []],
            None,
            [],
            -1,
            "default",
            [],
            [],
            False,
        ],
        ["s1", "c1", "PULL", "open", [1.0, None, [99]], None, [], -1, "default", [], [], False],
        ["s1", "c1", "PULL", "open", None, None, [], -1, "default", [], [], False],
        ["s1", "c1", "PULL", "open", [1.0, None, []], None, [["sideways"]], -1, "d", [], [], 0],
    ],
)
def test_malformed_records_are_schema_errors(item: list[object]) -> None:
    with pytest.raises(SchemaError):
        Decoder([["/a.py", 1, "f"]]).socket(item)


def test_a_malformed_frame_table_is_a_schema_error() -> None:
    with pytest.raises(SchemaError, match="frame table"):
        Decoder([["/a.py", "not a line", "f"]])


def test_every_state_and_op_decodes_to_its_member() -> None:
    # The decoder looks members up by value (wire._op, wire._state): each must come back.
    for state in SocketState:
        decoded, _ = round_trip([record("s1", state)])
        assert decoded[0].state is state
    decoded, _ = round_trip([record("s1")])
    assert [e.op for e in decoded[0].endpoints] == [EndpointOp.BIND, EndpointOp.CONNECT]


@pytest.mark.parametrize("value", ["listen", "OPEN", "", 1, None, ["open"], {"open": 1}])
def test_a_state_or_op_that_is_not_one_is_refused_with_the_enums_words(value: object) -> None:
    # The same SchemaError, word for word, as when the Enum itself was called.
    site: list[object] = [1.0, None, []]
    state_item = ["s1", "c1", "PULL", value, site, None, [], -1, "default", [], [], False]
    endpoint = [value, "tcp://127.0.0.1:5555", True, None, 0, None]
    op_item = ["s1", "c1", "PULL", "open", site, None, [endpoint], -1, "default", [], [], False]
    for item, enum in ((state_item, SocketState), (op_item, EndpointOp)):
        try:
            enum(value)
        except (TypeError, ValueError) as error:
            expected = f"bad socket record ({error})"
        with pytest.raises(SchemaError) as refused:
            Decoder([["/a.py", 1, "f"]]).socket(item)
        assert str(refused.value) == expected
