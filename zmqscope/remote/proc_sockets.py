"""The kernel's socket tables, read from Linux's ``/proc`` once for many questions.

psutil answers "which sockets does process P hold?" by reading P's
descriptors and then parsing the host's whole table (``/proc/net/unix``:
tens of thousands of rows on a busy host), once per question. Discovery
asks it of every process it finds; here the table is read once and each
process's descriptors are read only until the socket sought turns up.

What is believed is what psutil would say: a socket is the process's when
one of its descriptors links to the socket's inode (``socket:[N]``), and
the inode's row in the table gives the socket's path or address.

``None`` from :func:`read_tables` means there is no ``/proc`` to read
(macOS): callers then ask psutil.
"""

from __future__ import annotations

import ipaddress
import marshal
import os
import struct
import subprocess
import sys
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass

_PROC_NET = "/proc/net"
_TCP_LISTEN = "0A"  # the kernel's state number for LISTEN (include/net/tcp_states.h)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(slots=True)
class SocketTables:
    """Inodes by unix path and listening tcp sockets, each table read on first use."""

    _unix: dict[str, set[str]] | None = None
    _listening: list[tuple[IPAddress, int, str]] | None = None

    def unix_inodes(self, path: str) -> set[str]:
        """The inodes of the unix sockets named ``path`` (a listener and its accepted ones)."""
        if self._unix is None:
            self._unix = _unix_table()
        return self._unix.get(path, set())

    def listening_inodes(self, port: int) -> list[tuple[IPAddress, str]]:
        """(address, inode) of each tcp socket listening on ``port``."""
        if self._listening is None:
            self._listening = list(_tcp_listeners())
        return [(address, inode) for address, bound, inode in self._listening if bound == port]


def read_tables() -> SocketTables | None:
    """Empty tables to be filled as asked, or None where the kernel has no ``/proc/net``."""
    if not sys.platform.startswith("linux") or not os.path.isdir(_PROC_NET):
        return None
    return SocketTables()


def holds_any(pid: int, inodes: Collection[str]) -> bool:
    """Whether process ``pid`` has a descriptor on one of the socket ``inodes``.

    Stops at the first one found (a server's socket is among a process's
    first descriptors). Raises OSError when the descriptors cannot be read.
    """
    if not inodes:
        return False
    wanted = {f"socket:[{inode}]" for inode in inodes}
    folder = f"/proc/{pid}/fd"
    with os.scandir(folder) as entries:
        for entry in entries:
            try:
                if os.readlink(entry.path) in wanted:
                    return True
            except OSError:
                continue  # closed meanwhile, or not a link
    return False


# A row as psutil.net_connections gives one: local (ip, port) or (), remote
# likewise, the state (psutil's "LISTEN" for a listener, the kernel's number
# otherwise) and the pid holding the socket (None: another user's).
TcpRow = tuple[tuple[str, int] | tuple[()], tuple[str, int] | tuple[()], str, int | None]


def tcp_rows(listen: str) -> list[TcpRow]:
    """Every tcp socket of the host (IPv4 and IPv6), with its pid where it is visible.

    What psutil.net_connections("tcp") returns, with less work: the pids'
    descriptors are read with plain readlinks, and each address's text is
    decoded once. ``listen``: the state to write for a listener.
    """
    owners = _socket_owners()
    rows: list[TcpRow] = []
    for name, decode in (("tcp", _ipv4), ("tcp6", _ipv6)):
        path = f"{_PROC_NET}/{name}"
        if not os.path.exists(path):
            continue
        hosts: dict[str, str] = {}
        with open(path, encoding="ascii", errors="replace") as table:
            next(table, None)
            for row in table:
                fields = row.split(None, 10)
                if len(fields) < 10:
                    continue
                try:
                    local = _endpoint(fields[1], decode, hosts)
                    remote = _endpoint(fields[2], decode, hosts)
                except ValueError:
                    continue
                state = listen if fields[3] == _TCP_LISTEN else fields[3]
                rows.append((local, remote, state, owners.get(fields[9])))
    return rows


# Seconds the child reading the table may take before this process reads it itself.
APART_TIMEOUT = 10.0


def tcp_rows_apart(listen: str, timeout: float = APART_TIMEOUT) -> list[TcpRow]:
    """:func:`tcp_rows`, read by a child Python: on another core, beside this process.

    Reading the table is mostly Python work (50,000 descriptors' links with
    20 busy processes); in this process it would share one GIL with the
    threads decoding the processes' snapshots meanwhile. The child runs this
    file alone (no site, no environment: no zmqscope in it) and writes the
    rows with marshal. Where it cannot, the rows are read here.
    """
    try:
        child = subprocess.run(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), listen],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=True,
        )
        rows = marshal.loads(child.stdout)
    except (OSError, ValueError, EOFError, TypeError, subprocess.SubprocessError):
        return tcp_rows(listen)
    return rows if _are_rows(rows) else tcp_rows(listen)


def _are_rows(rows: object) -> bool:
    return isinstance(rows, list) and all(isinstance(row, tuple) and len(row) == 4 for row in rows)


def _endpoint(
    text: str, decode: Callable[[str], IPAddress], hosts: dict[str, str]
) -> tuple[str, int] | tuple[()]:
    host, _, port_text = text.partition(":")
    port = int(port_text, 16)
    if not port:
        return ()  # as psutil: a listener's remote end, an unbound socket
    if host not in hosts:
        hosts[host] = str(decode(host))
    return hosts[host], port


def _socket_owners() -> dict[str, int]:
    """Socket inode -> pid, from every process's descriptors that can be read.

    Where several processes share a socket the highest pid is named, as psutil does.
    """
    owners: dict[str, int] = {}
    for name in sorted((n for n in os.listdir("/proc") if n.isdigit()), key=int):
        # Each link is read relative to the open folder: the kernel then walks
        # one name, not /proc/PID/fd/N (a tenth less time over 50,000 links).
        try:
            folder = os.open(f"/proc/{name}/fd", os.O_RDONLY | os.O_DIRECTORY)
        except OSError:
            continue  # another user's, or gone
        try:
            _add_owned(owners, folder, int(name))
        finally:
            os.close(folder)
    return owners


def _add_owned(owners: dict[str, int], folder: int, pid: int) -> None:
    try:
        descriptors = os.listdir(folder)
    except OSError:
        return  # gone meanwhile
    for fd in descriptors:
        try:
            target = os.readlink(fd, dir_fd=folder)
        except OSError:
            continue
        if target.startswith("socket:["):
            owners[target[8:-1]] = pid


def _unix_table() -> dict[str, set[str]]:
    # Rows: Num RefCount Protocol Flags Type St Inode [Path]; the path is the
    # rest of the line, spaces and all (psutil drops a path with a space).
    table: dict[str, set[str]] = defaultdict(set)
    with open(f"{_PROC_NET}/unix", encoding="utf-8", errors="surrogateescape") as rows:
        next(rows, None)
        for row in rows:
            fields = row.rstrip("\n").split(None, 7)
            if len(fields) == 8:
                table[fields[7]].add(fields[6])
    return table


def _tcp_listeners() -> Iterable[tuple[IPAddress, int, str]]:
    for name, decode in (("tcp", _ipv4), ("tcp6", _ipv6)):
        path = f"{_PROC_NET}/{name}"
        if not os.path.exists(path):
            continue  # no IPv6 in this kernel
        with open(path, encoding="ascii", errors="replace") as rows:
            next(rows, None)
            for row in rows:
                fields = row.split(None, 10)
                if len(fields) < 10 or fields[3] != _TCP_LISTEN:
                    continue
                host, _, port = fields[1].partition(":")
                try:
                    yield decode(host), int(port, 16), fields[9]
                except ValueError:
                    continue


def _ipv4(text: str) -> IPAddress:
    # The kernel prints the address as one host-order word.
    return ipaddress.IPv4Address(struct.pack("=I", int(text, 16)))


def _ipv6(text: str) -> IPAddress:
    # Four host-order words.
    words = [int(text[i : i + 8], 16) for i in range(0, 32, 8)]
    return ipaddress.IPv6Address(struct.pack("=4I", *words))


if __name__ == "__main__":
    # The child of tcp_rows_apart: its rows, marshalled, on stdout.
    sys.stdout.buffer.write(marshal.dumps(tcp_rows(sys.argv[1])))
