"""The kernel's socket tables read from /proc say what psutil says, for real sockets."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

import psutil
import pytest

from zmqscope.remote import proc_sockets
from zmqscope.remote.proc_sockets import holds_any, read_tables, tcp_rows, tcp_rows_apart

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="/proc is Linux's; psutil answers elsewhere"
)


def _own_psutil_rows() -> set[tuple[object, ...]]:
    rows: set[tuple[object, ...]] = set()
    for row in psutil.net_connections("tcp"):
        if row.pid == os.getpid():
            local = (row.laddr.ip, row.laddr.port) if row.laddr else ()
            remote = (row.raddr.ip, row.raddr.port) if row.raddr else ()
            rows.add((local, remote, row.status == psutil.CONN_LISTEN))
    return rows


def test_tcp_rows_are_psutils_rows_for_listeners_and_connections_on_both_loopbacks() -> None:
    sockets = []
    try:
        for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
            listener = socket.socket(family)
            listener.bind((host, 0))
            listener.listen()
            client = socket.create_connection(listener.getsockname()[:2])
            accepted, _ = listener.accept()
            sockets += [listener, client, accepted]
        mine = {
            (local, remote, state == psutil.CONN_LISTEN)
            for local, remote, state, pid in tcp_rows(psutil.CONN_LISTEN)
            if pid == os.getpid()
        }
        assert mine == _own_psutil_rows()
        assert len(mine) == 6  # a listener, a client and an accepted socket per family
    finally:
        for sock in sockets:
            sock.close()


def _own_rows(rows: list[proc_sockets.TcpRow]) -> set[tuple[object, ...]]:
    return {(local, remote, state) for local, remote, state, pid in rows if pid == os.getpid()}


def test_the_rows_read_by_a_child_process_are_the_rows_read_here(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        with socket.create_connection(listener.getsockname()), listener.accept()[0]:
            here = _own_rows(tcp_rows(psutil.CONN_LISTEN))
            assert len(here) == 3
            # The child runs the module's file afresh: this process's function is not used.
            monkeypatch.setattr(proc_sockets, "tcp_rows", _not_here)
            assert _own_rows(tcp_rows_apart(psutil.CONN_LISTEN)) == here


def _not_here(listen: str) -> list[proc_sockets.TcpRow]:
    raise AssertionError("read in this process")


@pytest.mark.parametrize("executable", ["/nonexistent/python", "/bin/echo", "/bin/false"])
def test_where_the_child_gives_no_rows_they_are_read_here(
    monkeypatch: pytest.MonkeyPatch, executable: str
) -> None:
    # No such program; one that prints something else; one that fails.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        expected = _own_rows(tcp_rows(psutil.CONN_LISTEN))
        monkeypatch.setattr(sys, "executable", executable)
        assert _own_rows(tcp_rows_apart(psutil.CONN_LISTEN)) == expected
        assert len(expected) == 1


def test_a_unix_socket_path_with_a_space_is_found_and_its_holder_told(tmp_path: Path) -> None:
    path = tmp_path / "a b.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))
        listener.listen()
        tables = read_tables()
        assert tables is not None
        inodes = tables.unix_inodes(str(path))
        assert inodes
        assert holds_any(os.getpid(), inodes)
        assert not holds_any(os.getppid(), inodes)
