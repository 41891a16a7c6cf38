"""The introspection server: what a client sees of this process, and who may see it.

Most tests serve from the test process itself (``zmqscope.serve()`` on a
private ``XDG_RUNTIME_DIR``) and ask through a real :class:`LiveClient` over
ipc or loopback tcp. The files' life at exit is checked on real subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import zmq

import zmqscope
from tests.helpers.call_site import here
from tests.helpers.processes import describe, line_of, write_app, zmqscope_cli
from tests.helpers.serving import (
    CLIENT_TIMEOUT,
    SERVING_APP,
    serving,
    short_folder,
    wait_until,
)
from zmqscope import _own_context
from zmqscope.instrument import hooks
from zmqscope.instrument.answers import STATS_MAX_AGE
from zmqscope.instrument.answers import ProcessServer as Server
from zmqscope.instrument.registry import events as _events
from zmqscope.model import EndpointOp, ThreadInfo
from zmqscope.remote.client import ClientError, LiveClient, connect
from zmqscope.remote.server import ServerError

Ctx = zmq.Context[zmq.Socket[bytes]]
pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def client(server: Server) -> Iterator[LiveClient]:
    live = LiveClient(server.endpoint, timeout=CLIENT_TIMEOUT)
    try:
        yield live
    finally:
        live.close()


# -- what the answers contain ----------------------------------------------------------


def test_hello_names_this_process_and_its_vital_signs(
    server: Server, client: LiveClient, ctx: Ctx
) -> None:
    sockets = [ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)]
    hello = client.hello()
    assert hello.process.pid == os.getpid()
    assert hello.process.argv == tuple(sys.argv)
    assert hello.process.pyzmq == zmq.__version__
    assert hello.endpoint == server.endpoint
    assert hello.open_sockets == 2
    assert hello.term_blocked is False
    assert hello.stats is not None
    assert hello.stats.rss > 0
    assert hello.stats.threads >= 2  # this one and the server's
    assert hello.stats.fds is not None and hello.stats.fd_limit is not None
    assert 0 < hello.stats.fds <= hello.stats.fd_limit
    for sock in sockets:
        sock.close()


def test_snapshot_shows_each_socket_with_its_type_line_and_endpoint(
    client: LiveClient, ctx: Ctx
) -> None:
    line = here() + 1
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    url = pull.get_string(zmq.LAST_ENDPOINT)
    push = ctx.socket(zmq.PUSH)
    push.connect(url)
    push.send(b"hello")
    assert pull.poll(5_000) and pull.recv() == b"hello"  # the tcp connection is up

    live = client.snapshot()
    sockets = {s.type: s for s in live.report.snapshot.sockets}
    assert sorted(sockets) == ["PULL", "PUSH"]
    created = sockets["PULL"].created.stack[0]
    assert (created.file, created.line) == (__file__, line)
    assert [(e.op, e.url) for e in sockets["PULL"].endpoints] == [(EndpointOp.BIND, url)]
    assert [(e.op, e.url) for e in sockets["PUSH"].endpoints] == [(EndpointOp.CONNECT, url)]
    # The OS connection behind the bind, as psutil sees it.
    assert live.stats is not None
    peers = [p for p in live.stats.peers if p.socket == sockets["PULL"].id]
    assert peers and peers[0].endpoint == url and peers[0].status == "ESTABLISHED"
    push.close()
    pull.close()


def _connected(ctx: Ctx) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
    """A PULL and a PUSH over loopback tcp, a message through: the connection is up."""
    pull = ctx.socket(zmq.PULL)
    pull.bind("tcp://127.0.0.1:*")
    push = ctx.socket(zmq.PUSH)
    push.connect(pull.get_string(zmq.LAST_ENDPOINT))
    push.send(b"hello")
    assert pull.poll(5_000) and pull.recv() == b"hello"
    return pull, push


def test_a_snapshot_without_peers_spares_the_server_reading_the_os_connections(
    server: Server, ctx: Ctx
) -> None:
    pull, push = _connected(ctx)
    clients = [LiveClient(server.endpoint, timeout=10) for _ in range(3)]
    try:
        clients[0].snapshot()  # every record built: the next answers can be cached
        # Asked after the server's last reading of its vital signs went stale.
        time.sleep(STATS_MAX_AGE)
        bare = clients[1].snapshot(peers=False)
        # Nor is that answer, cached, given to a client that wants the peers.
        full = clients[2].snapshot()
    finally:
        for client in clients:
            client.close()
    assert bare.stats is not None and bare.stats.peers == ()
    assert len(bare.snapshot.sockets) == 2  # the records are all there
    assert full.stats is not None and full.stats.peers
    push.close()
    pull.close()


def test_a_hello_without_peers_spares_the_server_reading_the_os_connections(
    server: Server, ctx: Ctx
) -> None:
    """zmqscope ls asks so: its hello to every process no longer reads the host's tcp table."""
    pull, push = _connected(ctx)
    clients = [LiveClient(server.endpoint, timeout=10) for _ in range(2)]
    try:
        # Asked after any reading of the vital signs (which a bare answer may reuse) went stale.
        time.sleep(STATS_MAX_AGE)
        bare = clients[0].hello(peers=False)
        full = clients[1].hello()  # the cached bare answer is not given to it
    finally:
        for client in clients:
            client.close()
    assert bare.stats is not None and bare.stats.peers == ()
    assert bare.open_sockets == 2
    assert full.stats is not None and full.stats.peers
    push.close()
    pull.close()


def test_report_is_the_report_of_the_live_process(client: LiveClient, ctx: Ctx) -> None:
    line = here() + 1
    dealer = ctx.socket(zmq.DEALER)
    report = client.report()
    assert report.snapshot.process.pid == os.getpid()
    # Running: its open socket is in use (the inventory), not a leak.
    assert report.leaks == () and not report.at_exit
    (record,) = report.inventory
    assert record.created.site is not None
    assert (Path(record.created.site.file).name, record.created.site.line) == (
        Path(__file__).name,
        line,
    )
    assert report.fds is not None and report.fds > 0
    assert report.to_dict()["schema"] == "zmqscope.report/1"
    dealer.close()


def test_threads_show_every_stack_and_the_sockets_each_thread_owns(
    client: LiveClient, ctx: Ctx
) -> None:
    main_socket = ctx.socket(zmq.PUSH)
    made = threading.Event()
    release = threading.Event()
    owned: list[zmq.Socket[bytes]] = []

    def work() -> None:
        owned.append(ctx.socket(zmq.PULL))
        made.set()
        release.wait(30)  # worker-waits

    worker = threading.Thread(target=work, name="worker-7")
    worker.start()
    waiting_at = (__file__, line_of(Path(__file__), "worker-waits"))
    threads: dict[str, ThreadInfo] = {}

    def worker_is_waiting() -> bool:
        # made.set() returns to the caller before the worker reaches its wait.
        threads.update((t.name, t) for t in client.threads())
        top = threads["worker-7"].stack[0]  # threading's own frames are left out
        return (top.file, top.line) == waiting_at

    try:
        assert made.wait(10)
        wait_until(worker_is_waiting, "worker-7's stack at its release.wait() line")
    finally:
        release.set()
        worker.join(10)
    ids = {s.type: s.id for s in zmqscope.snapshot().sockets}
    assert threads["worker-7"].sockets == (ids["PULL"],)
    assert ids["PUSH"] in threads["MainThread"].sockets
    own = [t for name, t in threads.items() if name.startswith("zmqscope-")]
    assert all(t.sockets == () for t in own)
    assert not main_socket.closed
    # Closed here, not left to the fixture's destroy(): the server's look at
    # every thread's frames can keep this test's frame, and so its sockets,
    # alive until a garbage collection, which may come first.
    main_socket.close()
    owned[0].close()


def test_events_follow_a_cursor(client: LiveClient, ctx: Ctx) -> None:
    push = ctx.socket(zmq.PUSH)
    push.bind("inproc://events")
    first = client.events(0)
    assert [e.kind for e in first.events] == ["created", "bound"]
    assert first.events[1].detail == "inproc://events"
    assert first.cursor == first.events[-1].seq
    assert first.missed == 0

    push.close()
    second = client.events(first.cursor)
    assert [(e.kind, e.socket) for e in second.events] == [("closed", first.events[0].socket)]
    assert second.events[0].seq == first.cursor + 1

    idle = client.events(second.cursor)
    assert (idle.events, idle.cursor, idle.missed) == ((), second.cursor, 0)


def test_events_lost_to_the_bounded_log_are_counted_as_missed(
    monkeypatch: pytest.MonkeyPatch, client: LiveClient, ctx: Ctx
) -> None:
    monkeypatch.setattr(_events, "MAX_EVENTS", 4)
    hooks.reset_registry()  # a registry with a 4-event log
    for _ in range(5):
        ctx.socket(zmq.PAIR).close()  # 10 events: created, closed
    page = client.events(0)
    assert [e.seq for e in page.events] == [7, 8, 9, 10]
    assert (page.cursor, page.missed) == (10, 6)
    assert client.events(3).missed == 3  # saw 1-3, 4-6 are gone
    assert client.events(8).missed == 0


def test_the_servers_own_context_and_sockets_never_appear(
    server: Server, client: LiveClient, ctx: Ctx
) -> None:
    push = ctx.socket(zmq.PUSH)
    client.hello()
    client.snapshot()
    for snapshot in (client.snapshot().report.snapshot, zmqscope.snapshot()):
        assert [s.type for s in snapshot.sockets] == ["PUSH"]
        assert len(snapshot.contexts) == 1
    assert client.hello().open_sockets == 1
    push.close()


def test_contexts_made_after_the_server_stopped_are_recorded(runtime: Path, scope: None) -> None:
    """libzmq reuses a freed context's address; the app's new context is not the server's."""
    for _ in range(3):
        zmqscope.serve().stop()
        app_ctx: Ctx = zmq.Context()
        app_ctx.socket(zmq.PUSH).close()
        app_ctx.term()
    assert zmqscope.snapshot().created_total == 3


def test_a_client_closed_in_this_process_does_not_hide_later_contexts(
    server: Server, scope: None
) -> None:
    for _ in range(3):
        LiveClient(server.endpoint, timeout=CLIENT_TIMEOUT).close()
        app_ctx: Ctx = zmq.Context()
        app_ctx.socket(zmq.PUSH).close()
        app_ctx.term()
    assert zmqscope.snapshot().created_total == 3


# -- files and permissions ----------------------------------------------------------------


def test_socket_file_is_0600_in_a_0700_folder_beside_the_discovery_file(
    runtime: Path, server: Server
) -> None:
    pid = os.getpid()
    socket_file = runtime / f"{pid}.ipc"
    assert server.endpoint == f"ipc://{socket_file}"
    assert stat.S_IMODE(runtime.stat().st_mode) == 0o700
    assert stat.S_ISSOCK(socket_file.stat().st_mode)
    assert stat.S_IMODE(socket_file.stat().st_mode) == 0o600
    discovery = runtime / f"{pid}.json"
    assert stat.S_IMODE(discovery.stat().st_mode) == 0o600
    document = json.loads(discovery.read_text(encoding="utf-8"))
    assert document["pid"] == pid
    assert document["argv"] == sys.argv
    assert document["endpoint"] == server.endpoint
    assert document["started"] == server.started
    assert document["versions"] == {
        "zmqscope": zmqscope.__version__,
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "python": sys.version.split()[0],
    }
    server.stop()
    assert sorted(runtime.iterdir()) == []


def test_a_folder_others_can_use_is_refused_in_one_line(runtime: Path, scope: None) -> None:
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o777)
    with pytest.raises(ServerError) as caught:
        zmqscope.serve()
    message = str(caught.value)
    assert "\n" not in message
    assert str(runtime) in message and "0777" in message and "chmod 700" in message
    assert list(runtime.iterdir()) == []  # nothing written into it


@pytest.mark.parametrize("kind", ["file", "symlink"])
def test_a_runtime_path_that_is_not_a_real_folder_is_refused(
    runtime: Path, scope: None, kind: str
) -> None:
    if kind == "file":
        runtime.write_text("")
    else:
        target = runtime.parent / "elsewhere"
        target.mkdir(mode=0o700)
        runtime.symlink_to(target)
    with pytest.raises(ServerError, match="it is not a folder"):
        zmqscope.serve()


def test_run_says_why_it_does_not_serve_and_runs_the_app_anyway(tmp_path: Path) -> None:
    # The server starts with the first context: an app that makes one.
    app = write_app(tmp_path, "import zmq\nzmq.Context().term()\nprint('app ran')\n")
    with short_folder() as base:
        (base / "zmqscope").mkdir(mode=0o755)
        result = zmqscope_cli("run", str(app), cwd=tmp_path, env={"XDG_RUNTIME_DIR": str(base)})
    assert result.returncode == 0, describe(result)
    assert result.stdout == "app ran\n"
    (line,) = [x for x in result.stderr.splitlines() if "not serving" in x]
    assert line.startswith("zmqscope: not serving introspection: refusing ")
    assert "0755" in line


# -- tcp, loopback and CURVE ------------------------------------------------------------


@pytest.mark.parametrize("insecure", [False, True])
@pytest.mark.parametrize("endpoint", ["tcp://0.0.0.0:0", "tcp://*:0", "tcp://[::]:0"])
def test_endpoints_beyond_loopback_are_refused_without_a_curve_key(
    runtime: Path, scope: None, endpoint: str, insecure: bool
) -> None:
    with pytest.raises(ServerError, match="refusing to serve") as caught:
        zmqscope.serve(endpoint, insecure=insecure)
    assert "curve_secret_key" in str(caught.value)


def test_loopback_tcp_serves_and_is_discoverable(runtime: Path, scope: None) -> None:
    served = zmqscope.serve("tcp://127.0.0.1:0")
    try:
        assert served.endpoint.startswith("tcp://127.0.0.1:")
        assert not served.endpoint.endswith(":0")
        document = json.loads((runtime / f"{os.getpid()}.json").read_text(encoding="utf-8"))
        assert document["endpoint"] == served.endpoint
        assert document["curve"] is True  # clients of this user need no setup
        live = connect(served.endpoint, timeout=CLIENT_TIMEOUT)
        try:
            assert live.hello().process.pid == os.getpid()
        finally:
            live.close()
    finally:
        served.stop()
    assert sorted(p.name for p in runtime.iterdir()) == ["curve-keys.json"]


def test_a_tcp_server_writes_no_discovery_file_into_a_refused_folder(
    runtime: Path, scope: None
) -> None:
    runtime.mkdir(mode=0o700)
    runtime.chmod(0o777)
    # It serves: the user asked for tcp without authentication.
    served = zmqscope.serve("tcp://127.0.0.1:0", insecure=True)
    try:
        assert list(runtime.iterdir()) == []  # but nothing goes where others can write
        live = LiveClient(served.endpoint, timeout=CLIENT_TIMEOUT)
        try:
            assert live.hello().process.pid == os.getpid()
        finally:
            live.close()
    finally:
        served.stop()


@pytest.mark.skipif(not zmq.has("curve"), reason="libzmq built without CURVE")
def test_curve_serves_only_clients_that_know_the_server_key(runtime: Path, scope: None) -> None:
    public, secret = zmq.curve_keypair()
    served = zmqscope.serve("tcp://127.0.0.1:0", curve_secret_key=secret)
    clients = [
        LiveClient(served.endpoint, timeout=CLIENT_TIMEOUT, curve_server_key=public),
        LiveClient(served.endpoint, timeout=1.0),
        LiveClient(served.endpoint, timeout=1.0, curve_server_key=zmq.curve_keypair()[0]),
    ]
    try:
        trusted, plain, wrong_key = clients
        assert trusted.hello().process.pid == os.getpid()
        assert len(trusted.snapshot().report.snapshot.sockets) == 0
        for stranger in (plain, wrong_key):
            with pytest.raises(ClientError, match=r"no answer from .* within 1 s"):
                stranger.hello()
    finally:
        for live in clients:
            live.close()
        served.stop()


# -- the files at exit -------------------------------------------------------------------


@pytest.mark.parametrize("launch", ["run", "ZMQSCOPE=1"])
@pytest.mark.parametrize("ending", ["normal exit", "SIGTERM"])
def test_files_are_removed_when_the_app_exits(tmp_path: Path, launch: str, ending: str) -> None:
    app = write_app(tmp_path, SERVING_APP)
    python_env = {"ZMQSCOPE": "1"} if launch == "ZMQSCOPE=1" else None
    with short_folder() as base, serving(app, base, cwd=tmp_path, python_env=python_env) as live:
        assert [p.suffix for p in live.files()] == [".ipc", ".json"]
        if ending == "SIGTERM":
            live.child.process.send_signal(signal.SIGTERM)
        else:
            (tmp_path / "stop").touch()
        assert live.child.wait_exit() == 0, live.child.stderr
        assert live.files() == [], live.child.stderr


def test_files_of_a_killed_app_are_cleaned_by_ls(tmp_path: Path) -> None:
    app = write_app(tmp_path, SERVING_APP)
    with short_folder() as base, serving(app, base, cwd=tmp_path) as live:
        live.child.process.kill()
        live.child.wait_exit()
        assert len(live.files()) == 2  # SIGKILL: no Python code ran
        result = zmqscope_cli("ls", "--json", cwd=tmp_path, env={"XDG_RUNTIME_DIR": str(base)})
        assert result.returncode == 0, describe(result)
        assert json.loads(result.stdout) == []
        assert live.files() == []


# -- the client's patience -------------------------------------------------------------


def test_a_peer_that_keeps_answering_other_requests_cannot_hold_a_client(
    runtime: Path,
) -> None:
    """Stale replies (other ids) arriving all the time do not extend the timeout."""
    ctx = _own_context.private_context()
    peer = ctx.socket(zmq.ROUTER)
    peer.linger = 0
    port = peer.bind_to_random_port("tcp://127.0.0.1")
    done = threading.Event()

    def answer_with_other_ids() -> None:
        identity = peer.recv_multipart()[0] if peer.poll(10_000) else None
        stale = b'{"v":1,"type":"hello.reply","id":999999,"data":{}}'
        while identity is not None and not done.wait(0.01):
            peer.send_multipart([identity, stale])

    flood = threading.Thread(target=answer_with_other_ids, name="stale-peer")
    flood.start()
    client = LiveClient(f"tcp://127.0.0.1:{port}", timeout=1.0)
    try:
        with pytest.raises(ClientError, match=r"no answer from .* within 1 s"):
            client.hello()
        # The client gave up while stale replies were still arriving (before
        # the fix it waited until the flood ended: here, never).
        assert flood.is_alive()
    finally:
        done.set()
        flood.join(10)
        client.close()
        peer.close()
        _own_context.term_private_context(ctx)
