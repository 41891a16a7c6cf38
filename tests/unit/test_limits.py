"""MAX_SOCKETS and file-descriptor limits: what the hooks record, when zmqscope warns.

libzmq (4.3.5, measured) refuses ``socket()`` with EMFILE, "Too many open
files", both when a context holds MAX_SOCKETS sockets and when the process
is out of file descriptors; a MAX_SOCKETS set after a context's first socket
changes what ``ctx.get`` says, not the limit. These tests use real libzmq.
"""

from __future__ import annotations

import errno

import pytest
import zmq

import zmqscope
from tests.helpers.call_site import here
from zmqscope.model import (
    CallSite,
    ContextRecord,
    ContextState,
    Frame,
    LimitWarning,
    SocketFailure,
    SocketRecord,
    SocketState,
    ThreadRef,
    check_limits,
    snapshot_limits,
)
from zmqscope.model._limits import FDS, MAX_SOCKETS
from zmqscope.model._records import refusal_limit

Ctx = zmq.Context[zmq.Socket[bytes]]
MAIN = ThreadRef(1, "MainThread")
LEAKY = Frame("/srv/app/leaky.py", 7, "handle")
OTHER = Frame("/srv/app/other.py", 3, "setup")


def context(
    max_sockets: int | None = 20,
    *,
    max_sockets_ignored: int | None = None,
    socket_failures: tuple[SocketFailure, ...] = (),
    failures_total: int = 0,
) -> ContextRecord:
    return ContextRecord(
        "c1",
        ContextState.OPEN,
        max_sockets=max_sockets,
        max_sockets_ignored=max_sockets_ignored,
        socket_failures=socket_failures,
        failures_total=failures_total,
    )


def open_sockets(count: int, site: Frame = LEAKY, start: int = 1) -> list[SocketRecord]:
    return [
        SocketRecord(f"s{n}", "c1", "PUSH", SocketState.OPEN, CallSite(100.0 + n, MAIN, (site,)))
        for n in range(start, start + count)
    ]


def refusal(open_then: int, max_then: int | None = 20, limit: str = "") -> SocketFailure:
    limit = limit or refusal_limit(open_then, max_then)
    site = CallSite(500.0, MAIN, (LEAKY,))
    return SocketFailure(site, 24, "Too many open files", open_then, max_then, limit)


# -- when a warning is due --------------------------------------------------------------


def test_no_warning_below_four_fifths_of_max_sockets() -> None:
    assert snapshot_limits([context()], open_sockets(15)) == ()


def test_a_context_at_four_fifths_of_max_sockets_is_warned_about_naming_its_top_sites() -> None:
    sockets = open_sockets(14) + open_sockets(2, OTHER, start=15)
    (warning,) = snapshot_limits([context()], sockets)
    assert (warning.kind, warning.context, warning.used, warning.limit) == (
        MAX_SOCKETS,
        "c1",
        16,
        20,
    )
    assert not warning.reached
    assert [(s.site, s.count) for s in warning.sites] == [(LEAKY, 14), (OTHER, 2)]
    assert warning.headline() == (
        "context c1 holds 16 of its 20 sockets (libzmq's MAX_SOCKETS):"
        " past it socket() fails with 'Too many open files'"
    )
    assert (
        warning.brief()
        == "c1: 16/20 sockets (MAX_SOCKETS), most from /srv/app/leaky.py:7 in handle() (14)"
    )


def test_a_terminated_context_is_not_warned_about() -> None:
    done = ContextRecord("c1", ContextState.TERMINATED, max_sockets=20)
    assert check_limits([done], {"c1": 20}) == ()


def test_a_max_sockets_set_too_late_is_named() -> None:
    (warning,) = snapshot_limits([context(max_sockets_ignored=4096)], open_sockets(18))
    assert "MAX_SOCKETS 4096 was set after its first socket, which libzmq ignores" in (
        warning.headline()
    )


def test_file_descriptors_near_the_soft_limit() -> None:
    assert check_limits([], {}, fds=818, fd_limit=1024) == ()
    (warning,) = snapshot_limits([], open_sockets(3), fds=820, fd_limit=1024)
    assert (warning.kind, warning.used, warning.limit, warning.context) == (FDS, 820, 1024, None)
    assert warning.sites[0].count == 3
    assert warning.headline().startswith("820 of 1024 file descriptors open")


def test_a_refused_socket_is_blamed_on_the_limit_that_was_full() -> None:
    by_max = context(socket_failures=(refusal(20),), failures_total=3)
    (warning,) = snapshot_limits([by_max], open_sockets(20))
    assert warning.kind == MAX_SOCKETS and warning.reached
    assert warning.refused_total == 3
    assert "socket() was refused 3 times with 'Too many open files'" in warning.headline()

    # Eight open of 20 when refused: the context was not full, the process was.
    by_fds = context(socket_failures=(refusal(8),), failures_total=1)
    (warning,) = snapshot_limits([by_fds], open_sockets(8), fds=64, fd_limit=64)
    assert warning.kind == FDS and warning.reached and warning.refused is not None


def test_which_limit_refused_a_socket() -> None:
    assert refusal_limit(20, 20) == MAX_SOCKETS  # full by the count
    assert refusal_limit(8, 20, fds_exhausted=True) == FDS
    # Not full by the count, yet a descriptor was free: closed sockets still
    # held their slots (libzmq's reaper had not let go of them).
    assert refusal_limit(18, 20, fds_exhausted=False) == MAX_SOCKETS
    # A context's first socket needs five descriptors: one free is not enough.
    assert refusal_limit(0, 20, fds_exhausted=False, started=False) == FDS
    assert refusal_limit(3, None) == FDS


def test_a_refusal_is_reported_even_after_the_sockets_were_closed() -> None:
    closed = context(socket_failures=(refusal(20),), failures_total=1)
    (warning,) = snapshot_limits([closed], [])
    assert (warning.used, warning.limit, warning.reached) == (20, 20, True)


def test_warnings_survive_the_wire() -> None:
    (warning,) = snapshot_limits(
        [context(socket_failures=(refusal(20),), failures_total=1)], open_sockets(20)
    )
    assert LimitWarning.from_dict(warning.to_dict()) == warning


# -- what the hooks record (real libzmq) -----------------------------------------------


def test_max_sockets_is_read_when_the_context_is_made(scope: None) -> None:
    ctx: Ctx = zmq.Context()
    try:
        (record,) = zmqscope.snapshot().contexts
        assert record.max_sockets == ctx.get(zmq.MAX_SOCKETS) == 1023
    finally:
        ctx.term()


@pytest.mark.parametrize("how", ["set", "attribute"])
def test_max_sockets_set_before_the_first_socket_is_the_limit(scope: None, how: str) -> None:
    ctx: Ctx = zmq.Context()
    try:
        if how == "set":
            ctx.set(zmq.MAX_SOCKETS, 5)
        else:
            ctx.max_sockets = 5
        sockets = [ctx.socket(zmq.PAIR) for _ in range(5)]
        with pytest.raises(zmq.ZMQError):
            ctx.socket(zmq.PAIR)
        (record,) = zmqscope.snapshot().contexts
        assert (record.max_sockets, record.max_sockets_ignored) == (5, None)
    finally:
        ctx.destroy(linger=0)
    assert len(sockets) == 5


def test_max_sockets_set_after_the_first_socket_is_ignored_by_libzmq(scope: None) -> None:
    ctx: Ctx = zmq.Context()
    try:
        ctx.max_sockets = 3
        sockets = [ctx.socket(zmq.PAIR)]
        ctx.max_sockets = 10  # too late: libzmq sized its tables at the first socket
        sockets += [ctx.socket(zmq.PAIR) for _ in range(2)]
        with pytest.raises(zmq.ZMQError):
            ctx.socket(zmq.PAIR)
        assert ctx.get(zmq.MAX_SOCKETS) == 10  # what pyzmq reports; not the limit
        (record,) = zmqscope.snapshot().contexts
        assert (record.max_sockets, record.max_sockets_ignored) == (3, 10)
    finally:
        ctx.destroy(linger=0)
    assert len(sockets) == 3


def test_a_socket_refused_at_max_sockets_is_recorded_with_its_site(scope: None) -> None:
    ctx: Ctx = zmq.Context()
    try:
        ctx.max_sockets = 4
        sockets = [ctx.socket(zmq.PUSH) for _ in range(4)]
        line = here() + 2
        with pytest.raises(zmq.ZMQError) as raised:
            ctx.socket(zmq.PUSH)
        assert raised.value.errno == errno.EMFILE  # the application's error is pyzmq's
        snap = zmqscope.snapshot()
        (record,) = snap.contexts
        (failure,) = record.socket_failures
        assert failure.site.site is not None
        assert (failure.site.site.file, failure.site.site.line) == (__file__, line)
        assert (failure.errno, failure.open_sockets, failure.max_sockets) == (errno.EMFILE, 4, 4)
        assert record.failures_total == 1
        (warning,) = snapshot_limits(snap.contexts, snap.sockets)
        assert warning.kind == MAX_SOCKETS and warning.reached
        assert warning.sites[0].count == 4
    finally:
        for sock in sockets:
            sock.close()
        ctx.term()


@pytest.mark.timeout(30)
def test_a_closed_socket_still_lingering_holds_its_slot(scope: None) -> None:
    """Three open of four, yet refused: the fourth was closed with a message queued."""
    ctx: Ctx = zmq.Context()
    try:
        ctx.max_sockets = 4
        sockets = [ctx.socket(zmq.PAIR) for _ in range(3)]
        stuck = ctx.socket(zmq.PUSH)
        stuck.connect("tcp://127.0.0.1:9")  # nobody there: the message waits
        stuck.send(b"never delivered", zmq.NOBLOCK)
        # libzmq keeps it, and its slot, while LINGER lets the message wait
        # (2 s: the refusal comes at once; term() then waits them out).
        stuck.close(linger=2000)
        with pytest.raises(zmq.ZMQError):
            ctx.socket(zmq.PAIR)
        (record,) = zmqscope.snapshot().contexts
        (failure,) = record.socket_failures
        assert (failure.open_sockets, failure.max_sockets) == (3, 4)
        assert failure.limit == MAX_SOCKETS
        (warning,) = snapshot_limits(zmqscope.snapshot().contexts, [])
        assert "closed sockets held the other slots" in warning.headline()
    finally:
        ctx.destroy(linger=0)
    assert len(sockets) == 3
