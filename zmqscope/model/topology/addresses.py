"""Which bound address a connect reaches, as the kernel routes it on this host.

A tcp connect to ``127.0.0.1:P`` reaches a listener on ``127.0.0.1:P``, on
``0.0.0.0:P`` or on ``[::]:P`` (libzmq clears IPV6_V6ONLY, so an IPv6
wildcard takes IPv4 too); one to ``[::1]:P`` reaches ``[::1]:P`` or
``[::]:P``; ``localhost`` is either. An ipc endpoint is its path (a
relative one resolved against the process's working directory); inproc is
a name within one context.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import posixpath
from dataclasses import dataclass

TCP = "tcp"
IPC = "ipc"
INPROC = "inproc"

_V4_ANY = ipaddress.ip_address("0.0.0.0")
_V6_ANY = ipaddress.ip_address("::")
_LOCALHOST = "localhost"


@dataclass(frozen=True, slots=True)
class Address:
    """An endpoint taken apart: ``transport``, then ``host`` and ``port`` (tcp) or ``path``.

    ``host`` is normalized: an IP address as ``ipaddress`` writes it (no
    brackets), ``*`` for a wildcard written as such, ``localhost``, or a
    name as written. ``port`` is text (``*`` until bound).
    """

    transport: str
    host: str = ""
    port: str = ""
    path: str = ""


def parse(url: str, cwd: str | None = None) -> Address | None:
    """``url`` taken apart, or None when it is not an endpoint zmqscope can match."""
    transport, sep, rest = url.partition("://")
    if not sep:
        return None
    transport = transport.lower()
    if transport == TCP:
        return _tcp(rest)
    if transport == IPC:
        return _ipc(rest, cwd) if rest else None
    if transport == INPROC:
        return Address(INPROC, path=rest)
    return Address(transport, path=rest)


# A gathering takes each ipc endpoint apart twice (unmatched_ipc, then the
# matching); the paths' joins and normalizations are most of parse's time.
@functools.lru_cache(maxsize=16_384)
def _ipc(rest: str, cwd: str | None) -> Address:
    # '@name' is Linux's abstract namespace: a name, not a file.
    if not rest.startswith(("/", "@")) and cwd:
        rest = posixpath.join(cwd, rest)
    return Address(IPC, path=posixpath.normpath(rest) if rest[0] != "@" else rest)


def _tcp(rest: str) -> Address | None:
    # A connect may name its source first: 'tcp://eth0:0;192.168.0.1:5555'.
    rest = rest.rpartition(";")[2]
    host, sep, port = rest.rpartition(":")
    if not sep or not port:
        return None
    return Address(TCP, host=_host(host), port=port)


@functools.lru_cache(maxsize=1024)
def _host(host: str) -> str:
    """A tcp host as :class:`Address` holds it (a few hosts recur in thousands of endpoints)."""
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.lower()
    if host not in ("*", _LOCALHOST):
        # A name (or an interface) is kept as written.
        with contextlib.suppress(ValueError):
            host = str(ipaddress.ip_address(host.partition("%")[0]))
    return host


def is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


# Asked of every tcp connect; a system's connects name a few hosts.
@functools.lru_cache(maxsize=1024)
def is_loopback(host: str) -> bool:
    if host == _LOCALHOST:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def stays_here(host: str, addresses: frozenset[str]) -> bool:
    """True when a connect to ``host`` ends on this host (so it can be judged)."""
    if is_loopback(host) or host in addresses or host == "*":
        return True
    try:
        return ipaddress.ip_address(host) in (_V4_ANY, _V6_ANY)  # Linux: connect to self
    except ValueError:
        return False


def reaches(connect: Address, bound: Address) -> bool:
    """True when a connect to ``connect`` would reach a socket bound at ``bound``."""
    if connect.transport != bound.transport:
        return False
    if connect.transport != TCP:
        return connect.path == bound.path
    if connect.port != bound.port or connect.port == "*":
        return False
    return _host_reaches(connect.host, bound.host)


def _host_reaches(dest: str, bound: str) -> bool:
    if dest == bound:
        return True
    return any(_family_reaches(d, bound) for d in _destinations(dest))


def _destinations(dest: str) -> tuple[str, ...]:
    """What a connect's host turns into: ``localhost`` is both loopbacks, a wildcard is local."""
    if dest == _LOCALHOST:
        return ("127.0.0.1", "::1")
    if dest in ("*", str(_V4_ANY)):
        return ("127.0.0.1",)
    if dest == str(_V6_ANY):
        return ("::1",)
    return (dest,)


def _family_reaches(dest: str, bound: str) -> bool:
    try:
        address = ipaddress.ip_address(dest)
    except ValueError:
        return False
    if bound == dest:
        return True
    if bound in ("*", str(_V6_ANY)):
        return True  # dual-stack wildcard: IPv4 and IPv6
    if bound == str(_V4_ANY):
        return address.version == 4
    if bound == _LOCALHOST:
        return address.is_loopback
    return False


def bind_key(address: Address) -> tuple[str, str, str]:
    """What two binds on one endpoint share: ipc path, inproc name, or tcp host and port."""
    return (address.transport, address.host, address.port or address.path)
