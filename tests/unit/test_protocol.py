"""The wire protocol: what a client sends decodes to what it meant; anything else
is a :class:`ProtocolError` with a code the client can show, never a crash.

The fuzz tests here run 10,500 generated inputs through ``decode_request``, and
2,500 cut streams through ``StreamReader``.
"""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zmqscope.remote.protocol import (
    HEADER,
    MAX_REQUEST_BYTES,
    MAX_RETRY_AFTER,
    VERSION,
    ErrorCode,
    ProtocolError,
    Request,
    RequestType,
    StreamReader,
    decode_reply,
    decode_request,
    encode_error,
    encode_reply,
    encode_request,
)

FUZZ = settings(
    deadline=None,
    database=None,  # nothing written to the working tree
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def raw(message: Any) -> bytes:
    return json.dumps(message).encode()


def code_of(payload: bytes) -> ErrorCode:
    with pytest.raises(ProtocolError) as caught:
        decode_request(payload)
    return caught.value.code


# -- round trips -----------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(RequestType))
def test_every_request_type_round_trips(kind: RequestType) -> None:
    request = decode_request(encode_request(kind, 7))
    assert request == Request(kind, 7, {})


def test_request_parameters_round_trip() -> None:
    request = decode_request(encode_request(RequestType.EVENTS, 3, since=41))
    assert request.params == {"since": 41}
    assert request.cursor == 41


@pytest.mark.parametrize("since", [None, -5, True, "12", 1.5, [3]])
def test_an_events_cursor_that_is_not_a_positive_integer_reads_as_zero(since: Any) -> None:
    """A bad cursor asks for every event kept, it does not invent missed ones."""
    request = decode_request(raw({"v": VERSION, "type": "events", "id": 1, "since": since}))
    assert request.cursor == 0


def test_a_reply_round_trips_with_its_request_id_and_type() -> None:
    request = Request(RequestType.SNAPSHOT, 12)
    reply = decode_reply(encode_reply(request, {"answer": [1, 2, 3]}))
    assert reply.ok
    assert (reply.id, reply.type, reply.data) == (12, "snapshot.reply", {"answer": [1, 2, 3]})


@pytest.mark.parametrize("code", list(ErrorCode))
def test_an_error_reply_round_trips_with_its_code_and_message(code: ErrorCode) -> None:
    reply = decode_reply(encode_error(ProtocolError(code, "what went wrong", 9)))
    assert not reply.ok
    assert reply.error is not None
    assert (reply.id, reply.type, reply.error.code) == (9, "error", code)
    assert str(reply.error) == "what went wrong"


def test_busy_carries_when_to_ask_again() -> None:
    reply = decode_reply(encode_error(ProtocolError(ErrorCode.BUSY, "busy", 3, retry_after=1.25)))
    assert reply.error is not None
    assert (reply.id, reply.error.code, reply.error.retry_after) == (3, ErrorCode.BUSY, 1.25)


@pytest.mark.parametrize(
    ("value", "read"),
    [
        (None, None),
        ("soon", None),
        (True, None),
        (-3, 0.0),
        (1e308, MAX_RETRY_AFTER),
        (2, 2.0),
    ],
)
def test_a_servers_retry_after_is_read_bounded(value: Any, read: float | None) -> None:
    """A hostile server cannot make a client wait for ever (or a negative time)."""
    error = {"code": "busy", "message": "m", "retry_after": value}
    payload = json.dumps({"v": VERSION, "type": "error", "id": 1, "error": error}).encode()
    reply = decode_reply(payload)
    assert reply.error is not None and reply.error.retry_after == read


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_a_reply_with_a_non_finite_retry_after_is_refused_whole(value: float) -> None:
    """JSON has no NaN or Infinity: a reply that holds one is not a zmqscope server's."""
    error = {"code": "busy", "message": "m", "retry_after": value}
    payload = json.dumps({"v": VERSION, "type": "error", "id": 1, "error": error}).encode()
    with pytest.raises(ProtocolError):
        decode_reply(payload)


def test_an_error_about_a_request_without_id_has_a_null_id() -> None:
    reply = decode_reply(encode_error(ProtocolError(ErrorCode.BAD_JSON, "no")))
    assert reply.id is None


# -- every error path of decode_request --------------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [b"", b"not json", b"{", b"\xff\xfe\xfd", b"{'v': 1}", b"[" * 60_000],
    ids=["empty", "text", "truncated", "not utf-8", "python repr", "nested too deep"],
)
def test_non_json_is_bad_json(payload: bytes) -> None:
    assert code_of(payload) is ErrorCode.BAD_JSON


@pytest.mark.parametrize("document", [[], [1, 2], "hello", 1, None, True])
def test_json_that_is_not_an_object_is_a_bad_request(document: Any) -> None:
    assert code_of(raw(document)) is ErrorCode.BAD_REQUEST


@pytest.mark.parametrize("request_id", ["missing", None, True, False, "1", 1.0, [1], {}])
def test_a_missing_or_non_integer_id_is_a_bad_request(request_id: Any) -> None:
    message: dict[str, Any] = {"v": VERSION, "type": "hello"}
    if request_id != "missing":
        message["id"] = request_id
    with pytest.raises(ProtocolError) as caught:
        decode_request(raw(message))
    assert caught.value.code is ErrorCode.BAD_REQUEST
    assert caught.value.request_id is None  # nothing to answer to
    assert "id" in str(caught.value)


@pytest.mark.parametrize("version", ["missing", None, 0, 2, -1, "1", True, 1.0, [1]])
def test_a_wrong_version_is_refused_with_the_request_id(version: Any) -> None:
    message: dict[str, Any] = {"type": "hello", "id": 5}
    if version != "missing":
        message["v"] = version
    with pytest.raises(ProtocolError) as caught:
        decode_request(raw(message))
    assert caught.value.code is ErrorCode.BAD_VERSION
    assert caught.value.request_id == 5  # so the client can match the refusal
    assert f"speaks {VERSION}" in str(caught.value)


@pytest.mark.parametrize(
    "kind", ["missing", None, "HELLO", "shutdown", "exec", "", 1, ["hello"], {}]
)
def test_an_unknown_type_is_refused_with_the_request_id(kind: Any) -> None:
    message: dict[str, Any] = {"v": VERSION, "id": 6}
    if kind != "missing":
        message["type"] = kind
    with pytest.raises(ProtocolError) as caught:
        decode_request(raw(message))
    assert caught.value.code is ErrorCode.UNKNOWN_TYPE
    assert caught.value.request_id == 6


def test_a_request_over_the_size_limit_is_too_large_even_if_valid() -> None:
    padding = "x" * MAX_REQUEST_BYTES
    payload = raw({"v": VERSION, "type": "hello", "id": 1, "pad": padding})
    assert code_of(payload) is ErrorCode.TOO_LARGE
    fits = encode_request(RequestType.HELLO, 1, pad="x" * (MAX_REQUEST_BYTES - 100))
    assert len(fits) <= MAX_REQUEST_BYTES
    assert decode_request(fits).type is RequestType.HELLO


# -- decode_reply refuses what no zmqscope server sends -------------------------------------


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        (b"not json", ErrorCode.BAD_JSON),
        (b"[]", ErrorCode.BAD_VERSION),
        (raw({"v": 2, "type": "hello.reply", "id": 1}), ErrorCode.BAD_VERSION),
    ],
)
def test_a_reply_from_something_else_is_a_protocol_error(payload: bytes, code: ErrorCode) -> None:
    with pytest.raises(ProtocolError) as caught:
        decode_reply(payload)
    assert caught.value.code is code


def test_an_error_reply_with_an_unknown_code_reads_as_internal() -> None:
    payload = raw(
        {"v": VERSION, "type": "error", "id": 2, "error": {"code": "new", "message": "m"}}
    )
    reply = decode_reply(payload)
    assert reply.error is not None
    assert reply.error.code is ErrorCode.INTERNAL


# -- fuzz: decode_request returns a Request or raises ProtocolError, nothing else ---------

_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_json_values = st.recursive(
    _json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
_type_names = [kind.value for kind in RequestType]


def _outcome(payload: bytes) -> Request | ProtocolError:
    try:
        request = decode_request(payload)
    except ProtocolError as error:
        assert isinstance(error.code, ErrorCode)
        assert str(error)  # a message the client can show
        return error
    assert isinstance(request, Request)
    assert isinstance(request.type, RequestType)
    assert isinstance(request.id, int) and not isinstance(request.id, bool)
    assert isinstance(request.cursor, int) and request.cursor >= 0
    return request


@settings(FUZZ, max_examples=3_000)
@given(st.binary(max_size=512))
def test_fuzz_arbitrary_bytes(payload: bytes) -> None:
    _outcome(payload)


@settings(FUZZ, max_examples=2_500)
@given(_json_values)
def test_fuzz_arbitrary_json(document: Any) -> None:
    _outcome(json.dumps(document).encode())


# Flat values keep 4,000 examples quick; nesting is covered by the test above.
_flat = _json_scalars | st.lists(_json_scalars, max_size=2)
_field = st.one_of(st.just("<missing>"), _flat)


@settings(FUZZ, max_examples=4_000)
@given(
    version=st.one_of(st.just(VERSION), _field),
    request_id=st.one_of(st.integers(), _field),
    kind=st.one_of(st.sampled_from(_type_names), _field),
    extra=st.dictionaries(st.text(max_size=8), _flat, max_size=3),
)
def test_fuzz_request_shaped_objects_decode_exactly_as_specified(
    version: Any, request_id: Any, kind: Any, extra: dict[str, Any]
) -> None:
    """The checks run in order: object, then id, then version, then type."""
    message = {k: v for k, v in extra.items() if k not in ("v", "id", "type")}
    for key, value in (("v", version), ("id", request_id), ("type", kind)):
        if value != "<missing>":
            message[key] = value
    outcome = _outcome(json.dumps(message).encode())
    id_ok = type(message.get("id")) is int
    version_ok = type(message.get("v")) is int and message.get("v") == VERSION
    type_ok = isinstance(message.get("type"), str) and message.get("type") in _type_names
    if not id_ok:
        assert isinstance(outcome, ProtocolError) and outcome.code is ErrorCode.BAD_REQUEST
    elif not version_ok:
        assert isinstance(outcome, ProtocolError) and outcome.code is ErrorCode.BAD_VERSION
        assert outcome.request_id == message["id"]
    elif not type_ok:
        assert isinstance(outcome, ProtocolError) and outcome.code is ErrorCode.UNKNOWN_TYPE
        assert outcome.request_id == message["id"]
    else:
        assert isinstance(outcome, Request)
        assert (outcome.type.value, outcome.id) == (message["type"], message["id"])
        params = {k: v for k, v in message.items() if k not in ("v", "id", "type")}
        assert json.dumps(outcome.params) == json.dumps(params)  # NaN != NaN, "NaN" == "NaN"


@settings(FUZZ, max_examples=1_000)
@given(st.binary(min_size=1, max_size=64), st.integers(0, 2_000))
def test_fuzz_oversized_payloads_are_too_large(chunk: bytes, extra: int) -> None:
    payload = (chunk * (MAX_REQUEST_BYTES // len(chunk) + 1))[: MAX_REQUEST_BYTES + 1 + extra]
    outcome = _outcome(payload)
    assert isinstance(outcome, ProtocolError) and outcome.code is ErrorCode.TOO_LARGE


# -- the ipc stream: length, then message -------------------------------------------------

_messages = st.lists(st.binary(max_size=300), max_size=12)


def _chunks(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@settings(FUZZ, max_examples=1_500)
@given(_messages, st.lists(st.integers(0, 10_000), max_size=30))
def test_fuzz_a_stream_cut_anywhere_gives_back_its_messages_in_order(
    messages: list[bytes], cuts: list[int]
) -> None:
    stream = b"".join(HEADER.pack(len(m)) + m for m in messages)
    reader = StreamReader(limit=300)
    got = []
    for chunk in _chunks(stream, cuts):
        reader.feed(chunk)
        # Never more held than one message being read and the chunk just fed.
        assert reader.partial <= HEADER.size + 300 + len(chunk)
        while (message := reader.next()) is not None:
            got.append(message)
    assert got == messages
    assert reader.partial == 0 and reader.buffered == 0


@settings(FUZZ, max_examples=1_000)
@given(
    _messages,
    st.integers(301, 2**32 - 1),
    st.binary(max_size=2_000),
    st.lists(st.integers(0, 10_000), max_size=10),
)
def test_fuzz_a_length_over_the_limit_is_refused_before_its_bytes_are_kept(
    before: list[bytes], length: int, body: bytes, cuts: list[int]
) -> None:
    stream = b"".join(HEADER.pack(len(m)) + m for m in before) + HEADER.pack(length) + body
    reader = StreamReader(limit=300)
    got: list[bytes] = []
    with pytest.raises(ProtocolError) as caught:
        for chunk in _chunks(stream, cuts):
            reader.feed(chunk)
            while (message := reader.next()) is not None:
                got.append(message)
    assert caught.value.code is ErrorCode.TOO_LARGE
    assert reader.partial == 0  # nothing of it kept
    while (message := reader.next()) is not None:
        got.append(message)
    assert got == before  # those complete before it were taken
