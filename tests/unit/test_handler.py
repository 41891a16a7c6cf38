"""One request in, one reply out: answered, from the cache, refused busy, or an error.

The handler is what both of the server's transports call for every request;
it must never raise, whatever the bytes.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zmqscope.instrument.answers import ProcessAnswers as Answers
from zmqscope.remote.budget import CpuBudget
from zmqscope.remote.handler import CACHE_MAX_AGE, ReplyCache, RequestHandler
from zmqscope.remote.protocol import ErrorCode, RequestType, decode_reply, encode_request
from zmqscope.remote.zmq_server import split_request

Ctx = zmq.Context[zmq.Socket[bytes]]


class CountingAnswers(Answers):
    """Real answers, counted: what the cache saves is answers not made."""

    def __init__(self) -> None:
        super().__init__("ipc://test", time.time())
        self.made: list[RequestType] = []

    def answer(self, request: Any) -> Any:
        self.made.append(request.type)
        return super().answer(request)


@pytest.fixture
def handler(scope: None) -> RequestHandler:
    return RequestHandler(CountingAnswers(), CpuBudget(share=1.0, burst=60.0))


def made(handler: RequestHandler) -> list[RequestType]:
    answers = handler.answers
    assert isinstance(answers, CountingAnswers)
    return answers.made


def test_asked_again_while_nothing_changed_the_answer_comes_from_the_cache(
    handler: RequestHandler, ctx: Ctx
) -> None:
    sock = ctx.socket(zmq.PUSH)
    # The socket's record waits to be built: the first answer builds it, and
    # is not kept (what it saw is not known); the second is kept.
    handler.reply(encode_request(RequestType.HELLO, 1))
    first = decode_reply(handler.reply(encode_request(RequestType.HELLO, 2)))
    second = decode_reply(handler.reply(encode_request(RequestType.HELLO, 3)))
    third = decode_reply(handler.reply(encode_request(RequestType.HELLO, 4)))
    assert (first.id, second.id, third.id) == (2, 3, 4)  # each its own request's id
    assert first.data == second.data == third.data
    assert made(handler) == [RequestType.HELLO, RequestType.HELLO]
    assert handler.cached == 2
    sock.close()


def test_a_change_in_the_registry_makes_the_next_answer_fresh(
    handler: RequestHandler, ctx: Ctx
) -> None:
    before = decode_reply(handler.reply(encode_request(RequestType.HELLO, 1))).data
    sock = ctx.socket(zmq.PUSH)  # a new socket: the registry changed
    after = decode_reply(handler.reply(encode_request(RequestType.HELLO, 2))).data
    assert (before["open_sockets"], after["open_sockets"]) == (0, 1)
    assert made(handler) == [RequestType.HELLO, RequestType.HELLO]
    sock.close()


def test_requests_differing_only_in_their_cursor_are_answered_each(
    handler: RequestHandler,
) -> None:
    handler.reply(encode_request(RequestType.SNAPSHOT, 1))
    handler.reply(encode_request(RequestType.SNAPSHOT, 2, since=1))
    handler.reply(encode_request(RequestType.SNAPSHOT, 3, since=1))
    assert made(handler) == [RequestType.SNAPSHOT, RequestType.SNAPSHOT]


def test_cached_answers_age_out() -> None:
    now = [0.0]
    cache = ReplyCache(clock=lambda: now[0])
    cache.put("key", "v1", b"[1]")
    assert cache.get("key", "v1") == b"[1]"
    assert cache.get("key", "v2") is None  # another version: a miss, and forgotten
    assert cache.get("key", "v1") is None
    cache.put("key", "v1", b"[1]")
    now[0] += CACHE_MAX_AGE
    assert cache.get("key", "v1") is None
    assert cache.size == 0


def test_the_cache_holds_a_bounded_number_of_bytes() -> None:
    cache = ReplyCache()
    for n in range(1_000):
        cache.put(n, "v", b"x" * 1_000_000)
    assert cache.size <= 32 * 1_000_000


def test_past_the_budget_requests_are_refused_busy_with_when_to_ask_again(
    handler: RequestHandler,
) -> None:
    cpu = [0.0]
    handler.budget = CpuBudget(share=0.1, burst=0.01, cpu_clock=lambda: cpu[0])
    handler.budget.charge()
    cpu[0] += 0.5  # half a second of CPU spent
    handler.budget.charge()
    reply = decode_reply(handler.reply(encode_request(RequestType.REPORT, 4)))
    assert reply.id == 4 and reply.error is not None
    assert reply.error.code is ErrorCode.BUSY
    assert reply.error.retry_after == pytest.approx(4.9, abs=0.1)
    assert "busy" in str(reply.error) and "ask again in" in str(reply.error)
    assert made(handler) == []  # refused before any work
    assert handler.refused == 1


def test_an_answer_that_fails_is_an_internal_error_never_an_exception(
    handler: RequestHandler, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(request: Any) -> Any:
        raise RuntimeError("boom")

    monkeypatch.setattr(handler.answers, "answer", broken)
    reply = decode_reply(handler.reply(encode_request(RequestType.THREADS, 9)))
    assert reply.id == 9 and reply.error is not None
    assert reply.error.code is ErrorCode.INTERNAL and "boom" in str(reply.error)
    assert handler.errors == 1


FUZZ = settings(
    deadline=None, database=None, max_examples=500, suppress_health_check=[HealthCheck.too_slow]
)


_values = st.integers(-2, 2) | st.sampled_from([k.value for k in RequestType])
_objects = st.dictionaries(st.sampled_from(["v", "id", "type", "since", "x"]), _values)
_payloads = st.binary(max_size=300) | _objects.map(lambda o: json.dumps(o).encode())


@settings(FUZZ)
@given(payload=_payloads)
def test_fuzz_any_payload_gets_one_decodable_reply(payload: bytes) -> None:
    handler = RequestHandler(Answers("ipc://test", time.time()), CpuBudget(1.0, 60.0))
    reply = decode_reply(handler.reply(payload))
    assert reply.type == "error" or reply.type.endswith(".reply")


_frames = st.lists(st.binary(max_size=20), max_size=6)


@settings(FUZZ)
@given(frames=_frames)
def test_fuzz_every_multipart_shape_is_split_or_refused(frames: list[bytes]) -> None:
    """What a ROUTER receives: the routing id, then the client's frames, in any shape."""
    split = split_request(frames)
    if split is None:
        assert not (len(frames) == 2 or (len(frames) == 3 and frames[1] == b""))
        return
    envelope, payload = split
    assert [*envelope, payload] == frames  # nothing lost, nothing added
    assert envelope[0] == frames[0]
    assert len(envelope) == 1 or envelope[1] == b""


def test_a_report_counts_the_descriptors_open_now_not_at_the_last_poll(scope: None) -> None:
    """A poll's reading is reused for half a second; a report, or a first snapshot, reads again.

    (An application that took its last descriptors right after a poll got a
    report saying it had 13 of 128 open, and no warning: `zmqscope report
    PID` makes its report from a first snapshot.)
    """
    answers = Answers("ipc://test", time.time())
    polled = answers.stats().fds
    assert polled is not None
    opened = [os.open(os.devnull, os.O_RDONLY) for _ in range(20)]
    try:
        first = answers.snapshot(0)
        poll = answers.snapshot(first["generation"])
        report = answers.report()
    finally:
        for descriptor in opened:
            os.close(descriptor)
    assert report["limits"]["fds"] >= polled + 20
    assert first["stats"]["fds"] >= polled + 20
    assert poll["stats"]["fds"] == first["stats"]["fds"]  # a poll shares the reading
