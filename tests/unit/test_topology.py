"""The topology model: which connect reaches which bind, and each diagnosis."""

from __future__ import annotations

import json

import pytest

from tests.helpers.topology import TAKEN_AT, bind, connect, process, silent, socket
from zmqscope.model import SchemaError, SocketRecord, SocketState, Traffic
from zmqscope.model.topology import (
    DiagnosisKind,
    HostFacts,
    HostProcess,
    HostSocket,
    Topology,
    build_topology,
    compatible,
    parse,
    reaches,
)


def edges_between(topology: Topology) -> set[tuple[str | None, str | None]]:
    return {(e.source.socket, e.target.socket) for e in topology.edges}


def kinds(topology: Topology) -> list[DiagnosisKind]:
    return [d.kind for d in topology.diagnoses]


# -- tcp addresses, as the kernel routes them -------------------------------------


@pytest.mark.parametrize(
    ("connect_to", "bound_at", "expected"),
    [
        ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5555", True),
        ("tcp://localhost:5555", "tcp://127.0.0.1:5555", True),
        ("tcp://127.0.0.1:5555", "tcp://0.0.0.0:5555", True),
        ("tcp://localhost:5555", "tcp://0.0.0.0:5555", True),
        ("tcp://127.0.0.1:5555", "tcp://[::]:5555", True),  # libzmq's IPv6 wildcard is dual-stack
        ("tcp://[::1]:5555", "tcp://[::]:5555", True),
        ("tcp://[::1]:5555", "tcp://[::1]:5555", True),
        ("tcp://localhost:5555", "tcp://[::1]:5555", True),
        ("tcp://[::1]:5555", "tcp://0.0.0.0:5555", False),  # an IPv4 wildcard takes no IPv6
        ("tcp://[::1]:5555", "tcp://127.0.0.1:5555", False),
        ("tcp://127.0.0.1:5555", "tcp://[::1]:5555", False),
        ("tcp://127.0.0.1:5555", "tcp://127.0.0.1:5556", False),
        ("tcp://127.0.0.2:5555", "tcp://127.0.0.1:5555", False),
        ("tcp://eth0;127.0.0.1:5555", "tcp://0.0.0.0:5555", True),  # a source named first
        ("tcp://10.1.2.3:5555", "tcp://0.0.0.0:5555", True),
        ("tcp://10.1.2.3:5555", "tcp://127.0.0.1:5555", False),
        ("ipc:///tmp/a", "ipc:///tmp/a", True),
        ("ipc:///tmp/a", "ipc:///tmp/b", False),
        ("ipc:///tmp/a", "tcp://0.0.0.0:5555", False),
    ],
)
def test_a_connect_reaches_the_binds_the_kernel_would_route_it_to(
    connect_to: str, bound_at: str, expected: bool
) -> None:
    dest, bound = parse(connect_to), parse(bound_at)
    assert dest is not None and bound is not None
    assert reaches(dest, bound) is expected


def test_a_relative_ipc_path_is_resolved_against_the_working_directory() -> None:
    assert parse("ipc://run/x.sock", "/srv/app") == parse("ipc:///srv/app/run/x.sock")
    assert parse("ipc://./x.sock", "/srv/app") == parse("ipc:///srv/app/x.sock")
    assert parse("ipc://@abstract", "/srv/app") == parse("ipc://@abstract")


def test_one_relative_ipc_path_asked_again_from_other_directories_is_resolved_afresh() -> None:
    # Parsed ipc endpoints are remembered (addresses._ipc): by path and directory both.
    for _ in range(2):
        assert parse("ipc://x.sock", "/srv/a") == parse("ipc:///srv/a/x.sock")
        assert parse("ipc://x.sock", "/srv/b") == parse("ipc:///srv/b/x.sock")
        assert parse("ipc://x.sock") == parse("ipc://x.sock", None)
        address = parse("ipc://x.sock")
        assert address is not None and address.path == "x.sock"
        assert parse("ipc://") is None


# -- edges --------------------------------------------------------------------------


def test_connects_are_matched_to_the_binds_they_reach_across_processes() -> None:
    broker = process(10, socket("s1", "ROUTER", bind("tcp://0.0.0.0:5555")))
    worker_a = process(11, socket("s1", "DEALER", connect("tcp://localhost:5555")))
    worker_b = process(12, socket("s1", "DEALER", connect("tcp://127.0.0.1:5555")))
    stranger = process(13, socket("s1", "DEALER", connect("tcp://127.0.0.1:6666")))
    topology = build_topology([broker, worker_a, worker_b, stranger])

    assert edges_between(topology) == {("11/s1", "10/s1"), ("12/s1", "10/s1")}
    assert {p.process for p in topology.peers_of("10/s1")} == {"11", "12"}
    assert all(e.compatible for e in topology.edges)
    assert [e.transport for e in topology.edges] == ["tcp", "tcp"]


def test_relative_ipc_paths_meet_when_they_name_one_file() -> None:
    # Same file from two working directories: /srv/app/run/pub.sock.
    publisher = process(10, socket("s1", "PUB", bind("ipc://run/pub.sock")), cwd="/srv/app")
    subscriber = process(
        11,
        socket("s1", "SUB", connect("ipc://pub.sock"), options=[("SUBSCRIBE", "''")]),
        cwd="/srv/app/run",
    )
    elsewhere = process(
        12, socket("s1", "SUB", connect("ipc://pub.sock"), options=[("SUBSCRIBE", "''")])
    )  # cwd unknown: its snapshot's root, /srv/app
    topology = build_topology([publisher, subscriber, elsewhere])

    assert edges_between(topology) == {("11/s1", "10/s1")}
    assert kinds(topology) == [DiagnosisKind.CONNECT_TO_NOTHING]
    assert topology.diagnoses[0].sockets == ("12/s1",)


def test_inproc_reaches_only_its_own_process_and_context() -> None:
    one = process(
        10,
        socket("s1", "PULL", bind("inproc://jobs")),
        socket("s2", "PUSH", connect("inproc://jobs")),
        socket("s3", "PUSH", connect("inproc://jobs"), context="c2"),
    )
    other = process(11, socket("s1", "PUSH", connect("inproc://jobs")))
    topology = build_topology([one, other])

    assert edges_between(topology) == {("10/s2", "10/s1")}
    unreached = [d for d in topology.diagnoses if d.kind is DiagnosisKind.CONNECT_TO_NOTHING]
    assert [d.sockets for d in unreached] == [("10/s3",), ("11/s1",)]
    assert "no socket of its context binds it" in unreached[0].message


def test_closed_and_pyzmq_internal_sockets_are_not_nodes() -> None:
    seen = process(
        10,
        socket("s1", "PULL", bind("tcp://127.0.0.1:5555"), state=SocketState.CLOSED),
        socket("s2", "PUSH", bind("inproc://gc"), internal="zmq.utils.garbage"),
        socket("s3", "PUSH", connect("tcp://127.0.0.1:5555")),
    )
    topology = build_topology([seen])

    assert [s.key for s in topology.processes[0].sockets] == ["10/s3"]
    assert kinds(topology) == [DiagnosisKind.CONNECT_TO_NOTHING]


def test_a_peer_that_is_not_instrumented_appears_from_the_os_listener_table() -> None:
    client = process(10, socket("s1", "DEALER", connect("tcp://localhost:6379")))
    host = HostFacts(
        sockets=(HostSocket("tcp://127.0.0.1:6379", None, True, 77),),
        processes=(HostProcess(77, ("redis-server", "*:6379")),),
    )
    topology = build_topology([client], host)

    (edge,) = topology.edges
    assert (edge.source.socket, edge.target.process, edge.target.socket) == ("10/s1", "77", None)
    assert edge.compatible is None
    peer = topology.process("77")
    assert peer is not None and not peer.instrumented
    assert peer.argv == ("redis-server", "*:6379")
    assert topology.diagnoses == ()
    assert topology.host_checked


def test_a_client_that_is_not_instrumented_appears_from_the_os_connection_table() -> None:
    server = process(10, socket("s1", "ROUTER", bind("tcp://0.0.0.0:5555")))
    host = HostFacts(
        sockets=(
            HostSocket("tcp://0.0.0.0:5555", None, True, 10),
            # The accepted side (the server's), and the client's side.
            HostSocket("tcp://127.0.0.1:5555", "tcp://127.0.0.1:40000", False, 10),
            HostSocket("tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555", False, 88),
            # Another user's client: the kernel hides its pid.
            HostSocket("tcp://127.0.0.1:5555", "tcp://127.0.0.1:40001", False, 10),
            HostSocket("tcp://127.0.0.1:40001", "tcp://127.0.0.1:5555", False, None),
        ),
        processes=(HostProcess(88, ("curl", "localhost:5555")),),
    )
    topology = build_topology([server], host)

    assert edges_between(topology) == {(None, "10/s1")}
    assert sorted(e.source.process for e in topology.edges) == ["88", "?1"]
    hidden = topology.process("?1")
    assert hidden is not None and hidden.pid is None
    assert topology.diagnoses == ()


def test_the_os_connection_of_an_instrumented_connect_is_not_shown_twice() -> None:
    server = process(10, socket("s1", "PULL", bind("tcp://127.0.0.1:5555")))
    client = process(11, socket("s1", "PUSH", connect("tcp://127.0.0.1:5555")))
    host = HostFacts(
        sockets=(
            HostSocket("tcp://127.0.0.1:5555", None, True, 10),
            HostSocket("tcp://127.0.0.1:5555", "tcp://127.0.0.1:40000", False, 10),
            HostSocket("tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555", False, 11),
        )
    )
    topology = build_topology([server, client], host)

    assert edges_between(topology) == {("11/s1", "10/s1")}
    assert [p.key for p in topology.processes] == ["10", "11"]


# -- diagnoses ----------------------------------------------------------------------


def test_a_connect_to_an_endpoint_nothing_binds_names_the_socket_and_its_line() -> None:
    lonely = process(10, socket("s4", "PUSH", connect("tcp://127.0.0.1:5999"), line=42))
    topology = build_topology([lonely], HostFacts())

    (diagnosis,) = topology.diagnoses
    assert diagnosis.kind is DiagnosisKind.CONNECT_TO_NOTHING
    assert diagnosis.sockets == ("10/s4",)
    assert diagnosis.endpoint == "tcp://127.0.0.1:5999"
    assert diagnosis.message == (
        "PUSH s4 of pid 10 (app.py:42 in main()) connects to tcp://127.0.0.1:5999: "
        "nothing on this host binds or listens there"
    )
    # Saved reports: nothing is known of the host.
    saved = build_topology([lonely])
    assert "nothing among the processes read binds" in saved.diagnoses[0].message


def test_a_connect_to_another_host_is_not_judged_but_one_to_this_hosts_address_is() -> None:
    remote = process(10, socket("s1", "PUSH", connect("tcp://192.0.2.7:5555")))
    named = process(11, socket("s1", "PUSH", connect("tcp://db.example:5555")))
    assert build_topology([remote, named], HostFacts()).diagnoses == ()

    ours = HostFacts(addresses=("192.0.2.7",))
    assert kinds(build_topology([remote], ours)) == [DiagnosisKind.CONNECT_TO_NOTHING]


def test_a_wildcard_bind_is_reached_through_this_hosts_addresses_only() -> None:
    server = process(10, socket("s1", "PULL", bind("tcp://0.0.0.0:5555")))
    client = process(11, socket("s1", "PUSH", connect("tcp://192.0.2.7:5555")))
    # Another host's port 5555: not this bind, and not judged.
    elsewhere = build_topology([server, client], HostFacts())
    assert elsewhere.edges == ()
    assert kinds(elsewhere) == [DiagnosisKind.UNUSED_BIND]
    here = build_topology([server, client], HostFacts(addresses=("192.0.2.7",)))
    assert edges_between(here) == {("11/s1", "10/s1")}
    assert here.diagnoses == ()


def test_a_bind_nothing_connects_to() -> None:
    used = process(
        10,
        socket("s1", "PULL", bind("tcp://127.0.0.1:5555")),
        socket("s2", "PULL", bind("ipc:///tmp/jobs", time=1.0), line=21),
    )
    feeder = process(11, socket("s1", "PUSH", connect("tcp://127.0.0.1:5555")))
    topology = build_topology([used, feeder])

    (diagnosis,) = topology.diagnoses
    assert diagnosis.kind is DiagnosisKind.UNUSED_BIND
    assert diagnosis.sockets == ("10/s2",)
    assert diagnosis.message == (
        "PULL s2 of pid 10 (app.py:21 in main()) binds ipc:///tmp/jobs: nothing connects to it"
    )


def test_absence_is_qualified_when_a_process_did_not_answer() -> None:
    used = process(10, socket("s1", "PULL", bind("ipc:///tmp/jobs")))
    topology = build_topology([used, silent(11)])

    (diagnosis,) = topology.diagnoses
    assert diagnosis.message.endswith("(unless through pid 11, whose sockets are not known)")
    hung = topology.process("11")
    assert hung is not None and hung.problem == "no answer within 1 s"


@pytest.mark.parametrize(
    ("binder", "connecter"),
    [("PUB", "PULL"), ("REQ", "REQ"), ("REP", "REP"), ("PUSH", "SUB"), ("ROUTER", "PUB")],
)
def test_socket_types_that_cannot_talk(binder: str, connecter: str) -> None:
    server = process(10, socket("s1", binder, bind("tcp://127.0.0.1:5555"), line=5))
    client = process(11, socket("s1", connecter, connect("tcp://127.0.0.1:5555"), line=8))
    topology = build_topology([server, client])

    (edge,) = topology.edges
    assert edge.compatible is False
    diagnosis = next(d for d in topology.diagnoses if d.kind is DiagnosisKind.INCOMPATIBLE_TYPES)
    assert diagnosis.sockets == ("11/s1", "10/s1")
    assert f"{connecter} s1 of pid 11 (app.py:8 in main())" in diagnosis.message
    assert f"{binder} s1 of pid 10 (app.py:5 in main())" in diagnosis.message
    assert f"{connecter} and {binder} cannot talk" in diagnosis.message


def test_the_valid_pairs_of_the_zmtp_specifications() -> None:
    valid = [
        ("PAIR", "PAIR"), ("PUB", "SUB"), ("PUB", "XSUB"), ("XPUB", "SUB"), ("XPUB", "XSUB"),
        ("REQ", "REP"), ("REQ", "ROUTER"), ("DEALER", "REP"), ("DEALER", "ROUTER"),
        ("DEALER", "DEALER"), ("ROUTER", "ROUTER"), ("PUSH", "PULL"), ("CLIENT", "SERVER"),
        ("RADIO", "DISH"), ("SCATTER", "GATHER"), ("PEER", "PEER"), ("CHANNEL", "CHANNEL"),
    ]  # fmt: skip
    for one, other in valid:
        assert compatible(one, other) is True, (one, other)
        assert compatible(other, one) is True, (other, one)
    for one, other in [("PUB", "PULL"), ("REQ", "REQ"), ("PAIR", "PUSH"), ("SUB", "SUB")]:
        assert compatible(one, other) is False
    assert compatible("STREAM", "PUB") is None  # raw tcp: not judged
    assert compatible("PUSH", "WHATEVER") is None


def test_two_binds_of_one_ipc_path_the_last_takes_every_new_connect() -> None:
    # Measured: libzmq unlinks the file and binds again; connects reach the last binder.
    first = process(10, socket("s1", "PULL", bind("ipc:///tmp/jobs", time=100.0), line=3))
    second = process(11, socket("s1", "PULL", bind("ipc:///tmp/jobs", time=200.0), line=4))
    feeder = process(12, socket("s1", "PUSH", connect("ipc:///tmp/jobs")))
    topology = build_topology([second, first, feeder])

    assert edges_between(topology) == {("12/s1", "11/s1")}
    double = next(d for d in topology.diagnoses if d.kind is DiagnosisKind.DOUBLE_BIND)
    assert double.sockets == ("11/s1", "10/s1")
    assert double.message == (
        "ipc:///tmp/jobs is bound 2 times: the last bind, PULL s1 of pid 11 "
        "(app.py:4 in main()), replaced the socket file: new connects reach it alone, "
        "never PULL s1 of pid 10 (app.py:3 in main())"
    )
    # The replaced binder is told once, there, not also as a bind nothing connects to.
    assert [d.kind for d in topology.diagnoses] == [DiagnosisKind.DOUBLE_BIND]


def test_a_sub_without_subscription() -> None:
    deaf = socket("s1", "SUB", connect("tcp://127.0.0.1:5555"), line=7)
    unsubscribed = socket("s2", "SUB", connect("tcp://127.0.0.1:5555"), options=[("SUBSCRIBE", "")])
    listening = socket("s3", "SUB", connect("tcp://127.0.0.1:5555"), options=[("SUBSCRIBE", "''")])
    publisher = process(10, socket("s1", "PUB", bind("tcp://127.0.0.1:5555")))
    topology = build_topology([publisher, process(11, deaf, unsubscribed, listening)])

    found = [d for d in topology.diagnoses if d.kind is DiagnosisKind.NO_SUBSCRIPTION]
    assert [d.sockets for d in found] == [("11/s1",), ("11/s2",)]
    assert found[0].message.startswith("SUB s1 of pid 11 (app.py:7 in main()) has no subscription")


def test_a_req_waiting_for_its_reply_longer_than_the_grace() -> None:
    def req(
        socket_id: str, sent: float, received: float | None, relaxed: bool = False
    ) -> SocketRecord:
        traffic = Traffic(msgs_out=1, last_send=TAKEN_AT - sent, last_recv=received)
        options = [("REQ_RELAXED", "1")] if relaxed else []
        endpoint = connect("tcp://127.0.0.1:5555")
        return socket(socket_id, "REQ", endpoint, traffic=traffic, options=options)

    waiting = req("s1", 9.0, None)
    answered = req("s2", 9.0, TAKEN_AT - 8.0)
    recent = req("s3", 2.0, None)
    relaxed = req("s4", 9.0, None, relaxed=True)
    untracked = socket("s5", "REQ", connect("tcp://127.0.0.1:5555"))  # no traffic mode
    server = process(10, socket("s1", "REP", bind("tcp://127.0.0.1:5555")))
    client = process(11, waiting, answered, recent, relaxed, untracked)
    topology = build_topology([server, client], grace=5.0)

    found = [d for d in topology.diagnoses if d.kind is DiagnosisKind.REQ_WAITING]
    assert [d.sockets for d in found] == [("11/s1",)]
    assert "sent a request 9.0 s ago and has had no reply" in found[0].message
    assert not [
        d for d in build_topology([server, client], grace=10.0).diagnoses
        if d.kind is DiagnosisKind.REQ_WAITING
    ]  # fmt: skip


# -- look-ups and JSON --------------------------------------------------------------


def test_look_ups_by_socket_key() -> None:
    server = process(10, socket("s1", "PULL", bind("tcp://127.0.0.1:5555")))
    client = process(11, socket("s1", "PUB", connect("tcp://127.0.0.1:5555")))
    topology = build_topology([server, client])

    node = topology.socket("11/s1")
    assert node is not None and node.pid == 11 and node.type == "PUB"
    assert [e.target.socket for e in topology.edges_of("11/s1")] == ["10/s1"]
    assert [d.kind for d in topology.diagnoses_of("10/s1")] == [DiagnosisKind.INCOMPATIBLE_TYPES]
    assert topology.socket("11/s9") is None and topology.edges_of("11/s9") == ()


def test_the_json_form_reads_back_equal() -> None:
    server = process(10, socket("s1", "PULL", bind("tcp://0.0.0.0:5555")))
    client = process(11, socket("s1", "PUSH", connect("tcp://localhost:5555")))
    host = HostFacts((HostSocket("tcp://127.0.0.1:6379", None, True, 77),), (), ())
    extra = process(12, socket("s1", "DEALER", connect("tcp://127.0.0.1:6379")))
    topology = build_topology([server, client, extra, silent(13)], host, now=TAKEN_AT)

    document = json.loads(json.dumps(topology.to_dict()))
    assert document["schema"] == "zmqscope.topology/1"
    assert Topology.from_dict(document) == topology
    with pytest.raises(SchemaError, match="unsupported topology schema"):
        Topology.from_dict({**document, "schema": "zmqscope.report/1"})
