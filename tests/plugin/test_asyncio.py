"""Sockets made in pytest-asyncio tests and fixtures are checked like any other."""

from __future__ import annotations

import pytest

from tests.helpers.pytester_runs import line_of, run, write_tests

ASYNC = """
import pytest
import pytest_asyncio
import zmq
import zmq.asyncio

@pytest_asyncio.fixture
async def pair():
    ctx = zmq.asyncio.Context.instance()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://pair")
    b.connect("inproc://pair")
    yield a, b
    a.close()
    b.close()

@pytest_asyncio.fixture
async def forgetful():
    sock = zmq.asyncio.Context.instance().socket(zmq.DEALER)  # fixture leak
    yield sock

@pytest.mark.asyncio
async def test_round_trip(pair):
    a, b = pair
    await a.send(b"ping")
    assert await b.recv() == b"ping"

@pytest.mark.asyncio
async def test_leaks_in_a_coroutine():
    sock = zmq.asyncio.Context.instance().socket(zmq.SUB)  # test leak
    sock.connect("inproc://pair")
    test_leaks_in_a_coroutine.kept = sock

@pytest.mark.asyncio
async def test_uses_forgetful(forgetful):
    assert forgetful.type == zmq.DEALER
"""


def test_async_tests_and_fixtures_are_checked(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_async", ASYNC)
    result = run(pytester, "--zmqscope")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(
        [
            "*_ test_leaks_in_a_coroutine _*",
            f"  s*: SUB socket created at test_async.py:{line_of(ASYNC, 'test leak')}"
            " in test_leaks_in_a_coroutine() by MainThread was never closed"
            " (connected inproc://pair)",
            "*_ test_uses_forgetful _*",
            f"  s*: DEALER socket created at test_async.py:{line_of(ASYNC, 'fixture leak')}"
            " in forgetful() by MainThread was never closed",
        ]
    )
    result.stdout.no_fnmatch_line("*_ test_round_trip _*")
