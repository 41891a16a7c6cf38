"""The lazy path (docs/lazy-records.md): raw records built when the registry is read.

The busy hooks record a socket's creation and close without the registry's
lock; the next locked reader builds the entries, in order. Records created
and closed before anyone looked are counted, not built, when their context
terminates or the raw records pass their bound.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import os
import re
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from typing import Any, cast

import pytest
import zmq
from rich.console import Console

import zmqscope
import zmqscope.reporting
from tests.helpers.call_site import here
from zmqscope.instrument import hooks, state
from zmqscope.instrument.registry import journal
from zmqscope.instrument.registry import store as registry
from zmqscope.model import SocketState

Ctx = zmq.Context[zmq.Socket[bytes]]


@pytest.fixture
def fresh(scope: None) -> registry.Registry:
    return hooks.registry()


# Set in the process ran_in_a_fresh_process() starts.
_FRESH = "ZMQSCOPE_TESTS_IN_A_FRESH_PROCESS"


def ran_in_a_fresh_process(request: pytest.FixtureRequest) -> bool:
    """Run the calling test again in a new interpreter; True once it passed there.

    Tests of a socket given a freed socket's handle need libzmq to reuse an
    address, which is malloc's choice: in a fresh process it does so most
    times, while in a worker that ran hundreds of tests its heap may never
    hand the address back (a CI run saw no reuse in 500 tries). So these
    tests run in a process of their own; in it, this returns False and the
    test's body runs.
    """
    if os.environ.get(_FRESH):
        return False
    command = [sys.executable, "-m", "pytest", request.node.nodeid, "-q"]
    command += ["-p", "no:randomly", "-p", "no:cacheprovider", "-p", "no:xdist"]
    result = subprocess.run(
        command,
        cwd=request.config.rootpath,
        env={**os.environ, _FRESH: "1"},
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert result.returncode == 0 and "1 passed" in result.stdout, result.stdout + result.stderr
    return True


def test_a_raw_socket_reads_as_if_recorded_at_once(fresh: registry.Registry, ctx: Ctx) -> None:
    made = here() + 1
    sock = ctx.socket(zmq.PUSH)
    closed = here() + 1
    sock.close()
    assert len(fresh.journal) == 2  # recorded, nothing built yet
    (record,) = fresh.snapshot(hooks.process_info()).sockets
    assert not fresh.journal
    assert record.state is SocketState.CLOSED
    assert record.created.stack[0].line == made
    assert record.created.thread is not None and record.created.thread.name == "MainThread"
    assert record.closed is not None and record.closed.stack[0].line == closed
    assert record.closed.time >= record.created.time
    events, _, _ = fresh.events_since(0)
    kinds = [(e.kind, e.socket) for e in events if e.socket == record.id]
    assert kinds == [("created", record.id), ("closed", record.id)]
    assert [e.time for e in events if e.socket == record.id] == [
        record.created.time,
        record.closed.time,
    ]


def test_calls_of_an_unbuilt_socket_are_recorded_raw_and_applied_in_order(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    first = ctx.socket(zmq.PULL)
    second = ctx.socket(zmq.PUSH)
    bound_at = here() + 1
    first.bind("tcp://127.0.0.1:*")
    port = int(cast(bytes, first.last_endpoint).rsplit(b":", 1)[1])
    second.connect("inproc://lazy-calls")
    first.setsockopt(zmq.LINGER, 0)
    first.setsockopt(zmq.SNDHWM, 5)
    first.unbind(f"tcp://127.0.0.1:{port}")
    assert not fresh.by_handle and len(fresh.journal) == 7  # nothing built yet
    second.close()
    records = {s.type: s for s in fresh.snapshot(hooks.process_info()).sockets}
    pull = records["PULL"]
    (endpoint,) = pull.endpoints
    assert (endpoint.url, endpoint.requested) == (f"tcp://127.0.0.1:{port}", "tcp://127.0.0.1:*")
    assert endpoint.active is False
    assert endpoint.site is not None and endpoint.site.line == bound_at
    assert (pull.linger, pull.linger_source) == (0, "setsockopt")
    assert dict(pull.options) == {"SNDHWM": "5"}
    assert [e.url for e in records["PUSH"].endpoints] == ["inproc://lazy-calls"]
    assert records["PUSH"].state is SocketState.CLOSED
    # The event log is in the order the calls were made, across sockets.
    events, _, _ = fresh.events_since(0)
    pull_id, push_id = pull.id, records["PUSH"].id
    assert [(e.kind, e.socket) for e in events] == [
        ("created", pull_id),
        ("created", push_id),
        ("bound", pull_id),
        ("connected", push_id),
        ("unbound", pull_id),
        ("closed", push_id),
    ]
    assert [t.name for t in pull.threads_used] == ["MainThread"]
    first.close()


def test_calls_recorded_raw_keep_the_time_they_were_made(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    sock = ctx.socket(zmq.PULL)
    before = time.time()
    sock.bind("inproc://lazy-time")
    sock.unbind("inproc://lazy-time")
    after = time.time()
    time.sleep(0.05)
    sock.close()
    time.sleep(0.05)  # read well after the calls
    (record,) = fresh.snapshot(hooks.process_info()).sockets
    assert before <= record.endpoints[0].time <= after
    events, _, _ = fresh.events_since(0)
    times = {e.kind: e.time for e in events}
    assert before <= times["bound"] <= times["unbound"] <= after < times["closed"]


def test_a_creators_call_applied_after_another_thread_took_the_socket(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    sock = ctx.socket(zmq.PUSH)
    rec = fresh.raw[sock.underlying]
    taker = threading.Thread(target=lambda: sock.connect("inproc://taken"), name="taker")
    taker.start()
    taker.join()
    entry = fresh.by_handle[sock.underlying]
    taken_at = entry.owner_site
    # A call the creator made as the taker built the entry, queued just after.
    fresh.call_seen((rec, journal.CALL_OPTION, time.time(), (), "SNDHWM", "5"))
    fresh.settle()
    assert entry.owner is not None and entry.owner[1] == "taker"
    assert entry.owner_site is taken_at  # the taker's, not the late call's
    assert entry.options == {"SNDHWM": "5"}
    sock.close()


def test_a_call_from_another_thread_builds_the_entry(fresh: registry.Registry, ctx: Ctx) -> None:
    sock = ctx.socket(zmq.PUSH)
    worker = threading.Thread(target=lambda: sock.connect("inproc://handed"), name="taker")
    worker.start()
    worker.join()
    assert sock.underlying in fresh.by_handle  # built: a hand-off is judged at once
    (record,) = fresh.snapshot(hooks.process_info()).sockets
    assert [t.name for t in record.threads_used] == ["MainThread", "taker"]
    sock.close()


def test_term_counts_unread_closed_sockets_without_building_them(
    fresh: registry.Registry,
) -> None:
    ctx: Ctx = zmq.Context()
    bound = ctx.socket(zmq.PULL)
    bound.bind("inproc://lazy-term")  # a bind cannot keep term() waiting
    for _ in range(5):
        ctx.socket(zmq.PUSH).close()
    bound.close()
    ctx.term()
    assert fresh.skipped == 6
    assert fresh.created_total == 6
    # Closed records of a terminated context are forgotten either way.
    assert fresh.snapshot(hooks.process_info()).sockets == ()


@pytest.mark.parametrize(
    ("linger", "close_linger", "address", "skipped"),
    [
        (None, None, "tcp://127.0.0.1:{port}", False),  # libzmq's default: waits for ever
        (0, None, "tcp://127.0.0.1:{port}", True),
        (None, 0, "tcp://127.0.0.1:{port}", True),
        (0, 100, "tcp://127.0.0.1:{port}", False),  # close(linger=) has the last word
        (None, None, "inproc://lazy-may-block", True),  # inproc pipes hold nothing
    ],
)
def test_term_builds_unread_sockets_whose_close_may_keep_it_waiting(
    fresh: registry.Registry,
    linger: int | None,
    close_linger: int | None,
    address: str,
    skipped: bool,
) -> None:
    ctx: Ctx = zmq.Context()
    listener = ctx.socket(zmq.PULL)
    listener.setsockopt(zmq.LINGER, 0)
    port = listener.bind_to_random_port("tcp://127.0.0.1")
    listener.bind("inproc://lazy-may-block")
    sock = ctx.socket(zmq.PUSH)
    if linger is not None:
        sock.setsockopt(zmq.LINGER, linger)
    sock.connect(address.format(port=port))
    sock.close(linger=close_linger)
    listener.close()
    ctx.term()
    # The listener (bound, LINGER 0) is skipped either way.
    assert fresh.skipped == (2 if skipped else 1)
    assert fresh.created_total == 2


@pytest.mark.zmqscope(allow_leaks=True)  # the collected one, on purpose
def test_open_and_collected_sockets_are_never_skipped(fresh: registry.Registry) -> None:
    ctx: Ctx = zmq.Context()
    kept = ctx.socket(zmq.PUSH)

    def leak() -> None:
        ctx.socket(zmq.PUB)

    with pytest.warns(ResourceWarning):
        leak()
        gc.collect()
    states = sorted(s.state.value for s in fresh.snapshot(hooks.process_info()).sockets)
    assert states == ["collected", "open"]
    kept.close()
    ctx.term()
    assert fresh.skipped == 0


def test_past_their_bound_the_oldest_unread_closed_records_are_dropped(
    fresh: registry.Registry, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_UNREAD", 10)
    held = ctx.socket(zmq.PUSH)  # open: built, never dropped
    for _ in range(50):
        ctx.socket(zmq.PUSH).close()
    assert len(fresh.journal) <= 2 * 10
    assert fresh.dropped > 0
    assert fresh.created_total == 51
    snapshot = fresh.snapshot(hooks.process_info())
    assert snapshot.dropped == fresh.dropped
    assert len(snapshot.sockets) == 51 - fresh.dropped
    assert any(s.state is SocketState.OPEN for s in snapshot.sockets)
    held.close()


def test_the_bound_counts_sockets_not_the_calls_they_make(
    fresh: registry.Registry, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_UNREAD", 10)
    for n in range(10):
        sock = ctx.socket(zmq.PUSH)
        sock.setsockopt(zmq.SNDHWM, 10)
        sock.setsockopt(zmq.RCVHWM, 10)
        sock.bind(f"inproc://bound-{n}")
        sock.close()
    assert len(fresh.journal) == 10 * 5  # all waiting: ten sockets are within the bound
    assert fresh.dropped == 0
    assert len(fresh.snapshot(hooks.process_info()).sockets) == 10


def test_calls_without_end_on_an_unread_socket_stay_bounded(
    fresh: registry.Registry, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(journal, "MAX_JOURNAL", 40)
    sock = ctx.socket(zmq.PUSH)
    for hwm in range(200):
        sock.setsockopt(zmq.SNDHWM, hwm)
    assert len(fresh.journal) <= 40  # built on the way: its later calls were applied at once
    (record,) = fresh.snapshot(hooks.process_info()).sockets
    assert dict(record.options) == {"SNDHWM": "199"}
    sock.close()


class _Quiet(zmq.Socket[bytes]):
    """A socket whose finalizer does not close it (as a careless subclass might)."""

    def __del__(self) -> None:
        pass


@pytest.mark.zmqscope(allow_leaks=True)  # on purpose
def test_a_socket_gone_without_any_close_is_marked_collected(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    sock = _Quiet(ctx, zmq.PUSH)
    handle = sock.underlying
    del sock
    gc.collect()
    (record,) = fresh.snapshot(hooks.process_info()).sockets
    assert record.state is SocketState.COLLECTED
    zmq.Socket.shadow(handle).close()  # libzmq's socket, closed for term()


def test_many_threads_recording_while_another_reads_lose_nothing(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    ctx.set(zmq.MAX_SOCKETS, 4096)
    start = threading.Barrier(5)
    errors: list[BaseException] = []

    def churn() -> None:
        try:
            start.wait()
            for _ in range(150):
                ctx.socket(zmq.PUSH).close()
        except BaseException as error:  # reported below
            errors.append(error)

    workers = [threading.Thread(target=churn, name=f"churn-{n}") for n in range(4)]
    for worker in workers:
        worker.start()
    start.wait()
    while any(w.is_alive() for w in workers):
        fresh.snapshot(hooks.process_info())
    for worker in workers:
        worker.join()
    assert not errors
    snapshot = fresh.snapshot(hooks.process_info())
    assert fresh.created_total == 600
    assert len(snapshot.sockets) == 600
    assert all(s.state is SocketState.CLOSED for s in snapshot.sockets)
    assert {s.created.thread.name for s in snapshot.sockets if s.created.thread} == {
        f"churn-{n}" for n in range(4)
    }
    events, _, _ = fresh.events_since(0)
    seqs = [e.seq for e in events]
    assert seqs == sorted(seqs)
    first: dict[Any, str] = {}
    for event in events:
        first.setdefault(event.socket, event.kind)
    assert set(first.values()) == {"created"}  # no socket closed before it was made


def test_a_new_socket_on_a_closed_ones_handle_is_its_own(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    # libzmq hands the next socket the address of the one just closed; the
    # closed one's entry, built by a reader, has its close still unapplied.
    old = ctx.socket(zmq.PULL)
    old.bind("inproc://lazy-reuse")
    fresh.settle()  # built, as any reader would
    old.close()
    new = ctx.socket(zmq.PUSH)
    sockets = fresh.snapshot(hooks.process_info()).sockets
    assert [(s.type, s.state) for s in sockets] == [
        ("PULL", SocketState.CLOSED),
        ("PUSH", SocketState.OPEN),
    ]
    new.close()


def test_a_socket_on_a_built_ones_handle_is_recorded_raw_too(
    fresh: registry.Registry, ctx: Ctx, request: pytest.FixtureRequest
) -> None:
    if ran_in_a_fresh_process(request):
        return
    # The entry built by a reader still holds the handle (its close
    # unapplied) when libzmq gives it to the next socket. That socket is no
    # shadow: the cheap path records it.
    raw_on_reuse = []
    for n in range(200):
        old = ctx.socket(zmq.PULL)
        old.bind(f"inproc://built-reuse-{n}")
        fresh.settle()  # built, as any reader would
        old.close()
        held = set(fresh.by_handle)  # built entries, their closes not yet applied
        time.sleep(0.003)  # libzmq's reaper frees the closed socket: its address is free
        new = ctx.socket(zmq.PUSH)
        if new.underlying in held:
            raw_on_reuse.append(new.underlying in fresh.raw)
        new.close()
        if len(raw_on_reuse) == 3:
            break
    assert raw_on_reuse == [True] * 3  # (and libzmq did reuse handles)
    sockets = fresh.snapshot(hooks.process_info()).sockets
    assert {s.state for s in sockets} == {SocketState.CLOSED}


def test_the_plugins_window_skips_what_it_would_only_forget(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    mark = fresh.created_total
    ctx.socket(zmq.PUSH).close()  # made and closed unseen: counted, not built
    kept = ctx.socket(zmq.PULL)
    found = fresh.created_since(mark, skip_closed=True)
    assert [e.type_name for e in found] == ["PULL"]
    assert fresh.created_total == mark + 2
    assert fresh.skipped == 1
    kept.close()


def test_a_socket_made_before_traffic_mode_gets_no_counters(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    # Built after the switch, it must still read as made before it: nothing
    # counts its messages, so zero counters would call it silent.
    early = ctx.socket(zmq.PUSH)
    zmqscope.install(traffic=True)
    try:
        late = ctx.socket(zmq.PUSH)
        sockets = fresh.snapshot(hooks.process_info()).sockets
        assert [s.traffic is not None for s in sockets] == [False, True]
        late.close()
    finally:
        zmqscope.install(traffic=False)
    early.close()


class _MakesASocketMidClose:
    """A FrameFilter stand-in: the close's walk makes one socket, once armed.

    That socket is made after libzmq freed the closing one and before its
    close is recorded, as another thread could: libzmq gives it the handle
    just freed.
    """

    def __init__(self, real: Any, ctx: Ctx) -> None:
        self.real, self.ctx, self.armed = real, ctx, False
        self.made: list[zmq.Socket[bytes]] = []
        self.pause = 0.002

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def capture(self, depth: int, skip: int = 1) -> Any:
        if self.armed:
            self.armed = False
            time.sleep(self.pause)  # libzmq's reaper frees the closed socket meanwhile
            self.made.append(self.ctx.socket(zmq.PUSH))
        return self.real.capture(depth, skip + 1)


@pytest.mark.parametrize("built", [False, True], ids=["raw", "built-by-a-reader"])
def test_a_socket_made_during_anothers_close_takes_its_handle_cleanly(
    fresh: registry.Registry,
    ctx: Ctx,
    monkeypatch: pytest.MonkeyPatch,
    built: bool,
    request: pytest.FixtureRequest,
) -> None:
    if ran_in_a_fresh_process(request):
        return
    proxy = _MakesASocketMidClose(state.current.frames, ctx)
    monkeypatch.setattr(state.current, "frames", proxy)
    reused = made = 0
    # At least 50 rounds; more, with longer pauses, until libzmq has handed a
    # handle on (its reaper thread may be slow to run on a busy machine).
    for n in range(500):
        if n >= 50 and reused:
            break
        proxy.pause = 0.002 * (1 + n // 50)
        made += 2
        first = ctx.socket(zmq.PULL)
        if built:
            first.bind(f"inproc://mid-close-{n}")
            fresh.settle()
        handle = first.underlying
        proxy.armed = True
        first.close()
        second = proxy.made.pop()
        reused += second.underlying == handle
        second.close()
    assert reused  # libzmq did hand the handle on (else this test proves nothing)
    sockets = fresh.snapshot(hooks.process_info()).sockets
    assert fresh.created_total == made
    # Neither a false leak nor a socket taken for the other's shadow.
    assert [s.state for s in sockets] == [SocketState.CLOSED] * len(sockets)
    assert len(sockets) + fresh.skipped == made


def test_records_waiting_at_uninstall_are_kept_and_built_when_read(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    kept_open = ctx.socket(zmq.PUSH)
    made = here() + 1
    closed = ctx.socket(zmq.PULL)
    closed.close()
    zmqscope.uninstall()
    assert fresh.journal  # nothing read yet
    sockets = {s.type: s for s in fresh.snapshot(hooks.process_info()).sockets}
    assert sockets["PUSH"].state is SocketState.OPEN
    assert sockets["PULL"].state is SocketState.CLOSED
    assert sockets["PULL"].created.stack[0].line == made
    # Installed again, a close of a socket recorded before still lands.
    zmqscope.install()
    kept_open.close()
    (record,) = [s for s in fresh.snapshot(hooks.process_info()).sockets if s.type == "PUSH"]
    assert record.state is SocketState.CLOSED


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork() is POSIX only")
def test_a_forked_child_starts_without_the_parents_waiting_records(
    fresh: registry.Registry, ctx: Ctx
) -> None:
    for _ in range(3):
        ctx.socket(zmq.PUSH).close()
    waiting = len(fresh.journal)
    assert waiting == 6
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it sees, then leave at once
        try:
            child = hooks.registry()
            seen: list[object] = [child is not fresh, len(child.journal)]
            child_ctx: Ctx = zmq.Context()
            child_ctx.socket(zmq.PULL).close()
            seen.append([s.type for s in child.snapshot(hooks.process_info()).sockets])
            child_ctx.term()
            os.write(write_end, json.dumps(seen).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    try:
        ready, _, _ = select.select([read_end], [], [], 30)
        answer = os.read(read_end, 4096) if ready else b""
    finally:
        os.close(read_end)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    assert json.loads(answer) == [True, 0, ["PULL"]]
    assert len(fresh.journal) == waiting  # the parent's records are untouched
    assert [s.type for s in fresh.snapshot(hooks.process_info()).sockets] == ["PUSH"] * 3


def _drop_every(ctx: Ctx, sockets: int, every: int, read: int = 0) -> int:
    """Make ``sockets`` sockets; close all but every ``every``-th, dropped unclosed.

    ``read``: read the registry every that many sockets, as a polling TUI
    does (its records are then built, closed ones kept up to their bound).
    """
    dropped = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        for n in range(sockets):
            sock = ctx.socket(zmq.PUSH)
            if n % every == 0:
                del sock  # garbage-collected without close(): a leak
                dropped += 1
            else:
                sock.close()
            if read and n % read == 0:
                hooks.registry().entries()
        gc.collect()
    return dropped


def test_sockets_dropped_without_close_outlive_the_closed_records_bound(
    scope: None, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Leaks are never forgotten with the closed records (30,000 / 300 dropped, scaled down)."""
    monkeypatch.setattr(journal, "MAX_UNREAD", 20)
    bounded = registry.Registry(max_closed=50)
    monkeypatch.setattr(state.current, "registry", bounded)
    dropped = _drop_every(ctx, 1_000, 100, read=10)
    snapshot = bounded.snapshot(hooks.process_info())
    assert bounded.dropped > 0  # the closed ones went past their bound
    collected = [s for s in snapshot.sockets if s.state is SocketState.COLLECTED]
    assert len(collected) == dropped == 10
    report = zmqscope.reporting.build_report(snapshot, at_exit=True)
    kinds = [leak.kind.value for leak in report.leaks]
    assert kinds == ["collected-unclosed"] * 10
    assert report.to_dict()["summary"]["leaks_dropped"] == 0


def test_leaks_past_their_own_bound_are_counted_and_said(
    scope: None, ctx: Ctx, monkeypatch: pytest.MonkeyPatch
) -> None:
    bounded = registry.Registry(max_leaks=4)
    monkeypatch.setattr(state.current, "registry", bounded)
    assert _drop_every(ctx, 7, 1) == 7
    snapshot = bounded.snapshot(hooks.process_info())
    assert snapshot.leaks_dropped == 3
    kept = [s.id for s in snapshot.sockets if s.state is SocketState.COLLECTED]
    assert kept == ["s4", "s5", "s6", "s7"]  # the newest
    report = zmqscope.reporting.build_report(snapshot, at_exit=True)
    summary = report.to_dict()["summary"]
    assert (summary["leaks"], summary["leaks_dropped"]) == (4, 3)
    assert report.summary_line().endswith(
        "4 leaks: 4 collected without close() (and 3 more collected, not kept)"
    )
    console = Console(width=200, record=True, file=io.StringIO())
    console.print(zmqscope.reporting.render_text(report))
    assert (
        "(3 more sockets collected without close() not listed: past the number of such leaks"
        " zmqscope keeps, the oldest are counted, not kept)" in console.export_text()
    )
    again = zmqscope.reporting.Report.from_json(report.to_json())
    assert again.snapshot.leaks_dropped == 3


def test_only_the_journal_reads_a_raw_record() -> None:
    # A raw record is a list indexed by the journal's R_* constants; any
    # other module indexing one would break when its layout changes.
    package = os.path.dirname(zmqscope.__file__)
    home = os.path.abspath(journal.__file__)
    field = re.compile(r"\b[RC]_[A-Z]+\b")
    readers = []
    for folder, _, names in os.walk(package):
        for name in names:
            path = os.path.join(folder, name)
            if not name.endswith(".py") or os.path.abspath(path) == home:
                continue
            with open(path, encoding="utf-8") as file:
                for number, line in enumerate(file, 1):
                    if field.search(line):
                        readers.append(f"{os.path.relpath(path, package)}:{number}: {line.strip()}")
    assert field.search("rec[R_THREAD]") and field.search("closing[C_LINGER]")  # the check can fail
    assert readers == []
