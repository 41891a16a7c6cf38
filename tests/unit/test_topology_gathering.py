"""Gathering a topology: the OS's rows as host sockets, and when the unix table is needed."""

from __future__ import annotations

from collections import namedtuple

import psutil

from tests.helpers.topology import bind, connect, process, socket
from zmqscope.model.topology import HostSocket, unmatched_ipc
from zmqscope.remote.client.topology import _host_socket

Address = namedtuple("Address", "ip port")


def test_the_os_rows_become_host_sockets_written_as_endpoints() -> None:
    listen = (Address("0.0.0.0", 5555), (), psutil.CONN_LISTEN, 10)
    v6 = (Address("::1", 5556), (), psutil.CONN_LISTEN, None)
    established = (Address("127.0.0.1", 40000), Address("127.0.0.1", 5555), "ESTABLISHED", 11)
    assert _host_socket(listen) == HostSocket("tcp://0.0.0.0:5555", None, True, 10)
    assert _host_socket(v6) == HostSocket("tcp://[::1]:5556", None, True, None)
    assert _host_socket(established) == HostSocket(
        "tcp://127.0.0.1:40000", "tcp://127.0.0.1:5555", False, 11
    )
    # Neither listening nor connected (a socket being set up): nothing to match.
    assert _host_socket((Address("127.0.0.1", 1), (), "CLOSE", 12)) is None
    # Unix sockets: by path, an abstract name as ZeroMQ writes it, unnamed ones left out.
    assert _host_socket(("/run/app.sock", "", psutil.CONN_NONE, 13)) == HostSocket(
        "ipc:///run/app.sock", None, True, 13
    )
    assert _host_socket(("@bus", "", psutil.CONN_NONE, 14)) == HostSocket(
        "ipc://@bus", None, True, 14
    )
    assert _host_socket(("\0bus", "", psutil.CONN_NONE, 14)) == HostSocket(
        "ipc://@bus", None, True, 14
    )
    assert _host_socket(("", "", psutil.CONN_NONE, 15)) is None


def test_the_unix_table_is_needed_only_for_an_ipc_connect_no_record_binds() -> None:
    bound = process(10, socket("s1", "PULL", bind("ipc://jobs.sock")), cwd="/srv/app")
    matched = process(11, socket("s1", "PUSH", connect("ipc:///srv/app/jobs.sock")))
    assert not unmatched_ipc([bound, matched])
    tcp_only = process(12, socket("s1", "PUSH", connect("tcp://127.0.0.1:5555")))
    assert not unmatched_ipc([bound, tcp_only])
    elsewhere = process(13, socket("s1", "PUSH", connect("ipc:///run/other.sock")))
    assert unmatched_ipc([bound, elsewhere])
