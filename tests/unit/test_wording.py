"""The words every view shares (zmqscope.model.wording): each fact is said one way.

The reports, the TUI and ``zmqscope ls`` read these functions; a phrase
that changes here changes everywhere, and only here.
"""

from __future__ import annotations

from typing import Any

import pytest

from zmqscope.cli import ls
from zmqscope.model import CallSite, Endpoint, EndpointOp, SocketRecord, SocketState
from zmqscope.model.wording import (
    age,
    duration,
    endpoint_text,
    linger_text,
    plural,
)
from zmqscope.reporting.by_test import run_summary


def record(**fields: Any) -> SocketRecord:
    return SocketRecord("s1", "c1", "PUSH", SocketState.OPEN, CallSite(0.0, None, ()), **fields)


@pytest.mark.parametrize(
    ("endpoint", "text"),
    [
        (Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555"), "bind tcp://127.0.0.1:5555"),
        # What was asked is said only when it is not what libzmq used.
        (
            Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555", requested="tcp://127.0.0.1:5555"),
            "bind tcp://127.0.0.1:5555",
        ),
        (
            Endpoint(EndpointOp.BIND, "tcp://127.0.0.1:5555", False, "tcp://127.0.0.1:*"),
            "bind tcp://127.0.0.1:5555 (asked tcp://127.0.0.1:*) [inactive: unbound]",
        ),
        (
            Endpoint(EndpointOp.CONNECT, "inproc://ticks", active=False),
            "connect inproc://ticks [inactive: disconnected]",
        ),
    ],
)
def test_an_endpoint_says_what_was_asked_and_what_was_undone(endpoint: Endpoint, text: str) -> None:
    assert endpoint_text(endpoint) == text


@pytest.mark.parametrize(
    ("fields", "text"),
    [
        ({}, "-1 (wait forever), source: default"),
        (
            {"linger": 0, "linger_source": "setsockopt"},
            "0 (drop unsent messages), source: setsockopt",
        ),
        ({"linger": 250, "linger_source": "close"}, "250 ms, source: close"),
        # watch() adopted it: nothing is known, and no source is named for nothing.
        ({"linger": None, "linger_source": "unknown", "adopted": True}, "unknown"),
    ],
)
def test_linger_says_what_it_means_for_term_and_who_set_it(
    fields: dict[str, object], text: str
) -> None:
    assert linger_text(record(**fields)) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(-1, "0s"), (59.9, "59s"), (185, "3m"), (3725, "1h02m"), (183_600, "2d03h")],
)
def test_an_age_is_coarse(seconds: float, text: str) -> None:
    assert age(seconds) == text


def test_a_wait_is_said_to_a_tenth_of_a_second() -> None:
    assert duration(5.06) == "5.1 s"


@pytest.mark.parametrize(
    ("count", "text"),
    [(0, "0 sockets"), (1, "1 socket"), (2, "2 sockets"), (12_000, "12,000 sockets")],
)
def test_a_count_is_said_with_thousands_separators(count: int, text: str) -> None:
    assert plural(count, "socket") == text


def test_the_tests_summary_says_each_part_once_in_one_order() -> None:
    line = run_summary(1_200, 3, leaks=2, leaky_tests=1, other_threads=1, blocked_tests=2)
    assert line == (
        "zmqscope: 1,200 tests checked, 3 sockets created, 2 leaks in 1 test;"
        " 1 socket left by threads the tests did not start; term() blocked in 2 tests"
    )
    assert run_summary(1, 0, leaks=0, leaky_tests=0, failed_tests=1) == (
        "zmqscope: 1 test checked, 0 sockets created, no leaks; 1 test failed for them"
    )


def test_ls_says_uptime_as_the_tui_says_an_age(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    row = {
        "pid": 7,
        "command": "app.py",
        "uptime": 183_600.0,
        "endpoint": "ipc:///run/7.ipc",
        "open_sockets": 2,
        "state": "running",
        "limits": [],
    }
    ls._print_table([row])
    assert capsys.readouterr().out.splitlines()[1].split()[:2] == ["7", age(183_600.0)]
