"""Every creation path and lifecycle call is recorded, with the app's call site."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
import weakref

import pytest
import zmq
import zmq.asyncio

import zmqscope
from tests.helpers.call_site import here
from zmqscope.instrument import hooks
from zmqscope.instrument.registry.entries import Site
from zmqscope.instrument.registry.store import Registry
from zmqscope.model import ContextState, Culprit, EndpointOp, SocketRecord, SocketState

Ctx = zmq.Context[zmq.Socket[bytes]]


def record_of(sock: zmq.Socket[bytes]) -> SocketRecord:
    """The one open record whose socket type matches (tests make few sockets)."""
    snap = zmqscope.snapshot()
    matches = [s for s in snap.sockets if s.state is SocketState.OPEN]
    assert matches, "no open socket recorded"
    return matches[-1]


def only_socket() -> SocketRecord:
    (record,) = zmqscope.snapshot().sockets
    return record


def test_ctx_socket_records_type_site_and_thread(ctx: Ctx) -> None:
    line = here() + 1
    sock = ctx.socket(zmq.PULL)
    record = only_socket()
    assert record.type == "PULL"
    assert record.state is SocketState.OPEN
    assert record.created.site is not None
    assert record.created.site.file == __file__
    assert record.created.site.line == line
    assert record.created.site.function == "test_ctx_socket_records_type_site_and_thread"
    assert record.created.thread is not None
    assert record.created.thread.name == threading.current_thread().name
    assert record.context == zmqscope.snapshot().contexts[0].id
    sock.close()


def test_socket_constructor_is_recorded(ctx: Ctx) -> None:
    line = here() + 1
    sock = zmq.Socket(ctx, zmq.DEALER)
    record = only_socket()
    assert (record.type, record.created.site and record.created.site.line) == ("DEALER", line)
    assert sock not in ctx._sockets  # invisible to pyzmq's own bookkeeping, seen by us
    sock.close()
    assert only_socket().state is SocketState.CLOSED


def test_context_instance_sockets_are_recorded(scope: None) -> None:
    ctx: Ctx = zmq.Context.instance()
    try:
        sock = ctx.socket(zmq.REP)
        assert only_socket().type == "REP"
        sock.close()
    finally:
        ctx.term()
        zmq.Context._instance = None
    assert zmqscope.snapshot().contexts[0].state.value == "terminated"


def test_asyncio_socket_and_its_internal_shadow_are_one_record(scope: None) -> None:
    actx = zmq.asyncio.Context()

    async def make() -> int:
        line = here() + 1
        sock = actx.socket(zmq.ROUTER)
        sock.close()
        return line

    line = asyncio.run(make())
    record = only_socket()
    assert record.type == "ROUTER"
    assert record.created.site is not None and record.created.site.line == line
    assert record.created.site.function == "make"  # not asyncio's event loop
    assert record.state is SocketState.CLOSED
    actx.term()


def test_shadow_context_sockets_belong_to_the_same_context(ctx: Ctx) -> None:
    shadow = zmq.asyncio.Context(ctx)
    sock = shadow.socket(zmq.PUB)
    snap = zmqscope.snapshot()
    assert len(snap.contexts) == 1
    assert snap.sockets[0].context == snap.contexts[0].id
    sock.close()


def test_socket_shadow_collapses_onto_one_record(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PAIR)
    shadow: zmq.Socket[bytes] = zmq.Socket.shadow(sock.underlying)
    shadow.bind("inproc://shadowed")
    record = only_socket()
    assert [e.url for e in record.endpoints] == ["inproc://shadowed"]
    sock.close()
    assert only_socket().state is SocketState.CLOSED


def test_wildcard_bind_records_the_resolved_port(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUSH)
    port = sock.bind_to_random_port("tcp://127.0.0.1")
    (endpoint,) = only_socket().endpoints
    assert endpoint.op is EndpointOp.BIND
    assert endpoint.url == f"tcp://127.0.0.1:{port}"
    assert endpoint.requested == "tcp://127.0.0.1:*"
    sock.close()


def test_bind_to_random_port_with_a_range(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUSH)
    port = sock.bind_to_random_port("tcp://127.0.0.1", min_port=20000, max_port=60000)
    (endpoint,) = only_socket().endpoints
    assert endpoint.url == f"tcp://127.0.0.1:{port}"
    sock.close()


def test_connect_unbind_disconnect(ctx: Ctx) -> None:
    server = ctx.socket(zmq.REP)
    server.bind("inproc://svc")
    client = ctx.socket(zmq.REQ)
    client.connect("inproc://svc")
    client.disconnect("inproc://svc")
    server.unbind("inproc://svc")
    by_type = {s.type: s for s in zmqscope.snapshot().sockets}
    assert [(e.op, e.url, e.active) for e in by_type["REQ"].endpoints] == [
        (EndpointOp.CONNECT, "inproc://svc", False)
    ]
    assert [(e.op, e.active) for e in by_type["REP"].endpoints] == [(EndpointOp.BIND, False)]
    server.close()
    client.close()


def test_bind_context_manager_unbinds_the_resolved_endpoint(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PULL)
    with sock.bind("tcp://127.0.0.1:0"):
        assert only_socket().endpoints[0].active
    (endpoint,) = only_socket().endpoints
    assert not endpoint.active
    assert endpoint.url.startswith("tcp://127.0.0.1:") and not endpoint.url.endswith(":0")
    sock.close()


def test_with_statement_closes_and_records_the_close_site(ctx: Ctx) -> None:
    line = here() + 1
    with ctx.socket(zmq.SUB) as sock:
        sock.subscribe(b"topic")
    record = only_socket()
    assert record.state is SocketState.CLOSED
    # Python attributes __exit__ to the ``with`` line.
    assert record.closed is not None and record.closed.site is not None
    assert record.closed.site.line == line
    assert dict(record.options)["SUBSCRIBE"] == "'topic'"


def test_linger_sources(ctx: Ctx) -> None:
    default = ctx.socket(zmq.PUSH)
    by_option = ctx.socket(zmq.PUSH)
    by_option.setsockopt(zmq.LINGER, 100)
    by_attribute = ctx.socket(zmq.PUSH)
    by_attribute.linger = 200
    by_close = ctx.socket(zmq.PUSH)
    by_close.close(linger=0)
    ctx.setsockopt(zmq.LINGER, 300)
    from_context = ctx.socket(zmq.PUSH)
    records = zmqscope.snapshot().sockets
    assert [(r.linger, r.linger_source) for r in records] == [
        (-1, "default"),
        (100, "setsockopt"),
        (200, "setsockopt"),
        (0, "close"),
        (300, "context"),
    ]
    for sock in (default, by_option, by_attribute, from_context):
        sock.close(linger=0)


def test_destroy_with_linger_is_recorded(scope: None) -> None:
    seen: list[SocketRecord] = []

    class Spy(zmq.Socket[bytes]):
        def close(self, linger: int | None = None) -> None:
            super().close(linger)
            seen.append(only_socket())  # before term() forgets closed records

    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER, socket_class=Spy)
    sock.connect("tcp://127.0.0.1:1")
    ctx.destroy(linger=0)
    (record,) = seen
    assert (record.linger, record.linger_source) == (0, "destroy")
    assert record.state is SocketState.CLOSED  # destroy() is an explicit close


@pytest.mark.zmqscope(allow_leaks=True)  # the leak is the point
def test_socket_collected_without_close_is_marked_collected(ctx: Ctx) -> None:
    def leak() -> None:
        ctx.socket(zmq.PUB)

    with pytest.warns(ResourceWarning):
        leak()
        gc.collect()
    assert only_socket().state is SocketState.COLLECTED


def test_registry_holds_sockets_weakly(ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PAIR)
    ref = weakref.ref(sock)
    sock.close()
    del sock
    gc.collect()
    assert ref() is None


def test_creation_in_a_named_thread(ctx: Ctx) -> None:
    lines: list[int] = []

    def work() -> None:
        lines.append(here() + 1)
        ctx.socket(zmq.PUSH).close()

    thread = threading.Thread(target=work, name="svc-thread")
    thread.start()
    thread.join()
    record = only_socket()
    assert record.created.thread is not None and record.created.thread.name == "svc-thread"
    assert record.created.site is not None
    assert (record.created.site.line, record.created.site.function) == (lines[0], "work")
    # threading's own frames are plumbing: the chain ends at the target.
    assert all("threading" not in f.file for f in record.created.stack)


def test_concurrent_creation_from_many_threads(ctx: Ctx) -> None:
    def work() -> None:
        for _ in range(100):
            ctx.socket(zmq.PUSH).close(linger=0)

    threads = [threading.Thread(target=work) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    snap = zmqscope.snapshot()
    assert snap.created_total == 800
    assert len({s.id for s in snap.sockets}) == len(snap.sockets) == 800
    assert all(s.state is SocketState.CLOSED for s in snap.sockets)


def test_stack_depth_is_respected(scope: None) -> None:
    zmqscope.install(stack_depth=3)
    ctx = zmq.Context()

    def nest(n: int) -> None:
        if n:
            nest(n - 1)
        else:
            ctx.socket(zmq.PAIR).close()

    nest(10)
    stack = zmqscope.snapshot().sockets[0].created.stack
    ctx.term()
    assert [f.function for f in stack] == ["nest", "nest", "nest"]


def test_closed_records_are_dropped_when_their_context_terminates(scope: None) -> None:
    ctx = zmq.Context()
    ctx.socket(zmq.PUSH).close()
    assert len(zmqscope.snapshot().sockets) == 1
    ctx.term()
    snap = zmqscope.snapshot()
    assert snap.sockets == ()
    assert snap.contexts[0].state.value == "terminated"
    assert snap.created_total == 1


def test_install_twice_and_install_rejects_bad_depth(scope: None) -> None:
    zmqscope.install()
    wrapped = zmq.Socket.close
    zmqscope.install()
    assert zmq.Socket.close is wrapped  # the hooks are put on once, not wrapped again
    with pytest.raises(ValueError, match="stack_depth"):
        zmqscope.install(stack_depth=0)


def test_report_function_is_not_shadowed_by_a_subpackage(ctx: Ctx) -> None:
    import zmqscope.reporting

    ctx.socket(zmq.PAIR).close()
    assert zmqscope.report().snapshot.created_total == 1


def test_a_term_that_returned_is_not_reported_blocked_afterwards() -> None:
    # The watchdog's grace can run out just as term() returns: then there is
    # nothing to report (and listeners, told TermDone already, hear no more).
    registry = Registry()
    entry = registry.context_created(1, None, adopted=False)
    assert registry.term_blocked(entry, ()) is False  # no term() called
    assert registry.term_called(entry, Site(time.time(), None))
    registry.term_returned(entry)
    assert registry.term_blocked(entry, ()) is False
    assert entry.term_blocked_since is None


def test_a_term_that_ended_after_blocking_says_how_long_and_a_new_term_starts_clean() -> None:
    """term_blocked_for once a blocked term() ends; an interrupted one's culprits go with it."""
    registry = Registry()
    entry = registry.context_created(1, None, adopted=False)
    called = time.time() - 7.0
    assert registry.term_called(entry, Site(called, None))
    culprit = Culprit("s1", "still open", context=entry.id)
    assert registry.term_blocked(entry, (culprit,))
    registry.term_failed(entry)  # interrupted: Ctrl-C, the pytest plugin's signal
    (context,) = registry.snapshot(hooks.process_info()).contexts
    assert context.state is ContextState.OPEN
    assert context.term_blocked_since is None
    assert context.term_blocked_for is not None and context.term_blocked_for >= 7.0
    assert registry.snapshot(hooks.process_info()).culprits == (culprit,)  # kept: they explain it
    # Another term() of the same context: the earlier one's culprits do not describe it.
    assert registry.term_called(entry, Site(time.time(), None))
    snapshot = registry.snapshot(hooks.process_info())
    assert snapshot.culprits == ()
    assert snapshot.contexts[0].term_blocked_for is None
    registry.term_returned(entry)  # it was never reported blocked
    assert registry.snapshot(hooks.process_info()).contexts[0].term_blocked_for is None
