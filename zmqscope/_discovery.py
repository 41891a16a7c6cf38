"""Finding this user's instrumented processes, trusting nothing on the way.

Each server writes ``<pid>.json`` into the runtime folder. A client believes
such a file only if all of these hold:

- the folder passes the server's own check (this user's, 0700, not a
  symlink): otherwise another user could have made it and planted files;
- the file is a regular file of this user, named after the pid it holds,
  and of bounded size (read without following symlinks);
- the process runs, belongs to this user and started no later than the
  file says (pids get reused);
- its endpoint is a socket that *this* process has bound, as the kernel
  says (psutil reads ``/proc``): an ipc socket file inside the folder, or a
  tcp port it listens on. A file cannot claim another process's server.

Files of processes that are gone are removed, and only those: see
:meth:`RuntimeFolder.remove_own`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from zmqscope._runtime import RuntimeDirError, RuntimeDirMissing, RuntimeFolder

# argv can be long; a discovery file never needs more than this.
MAX_DISCOVERY_BYTES = 1 << 20

_DISCOVERY_NAME = re.compile(r"([0-9]+)\.json")


@dataclass(frozen=True, slots=True)
class Discovered:
    """An instrumented process found through its discovery file."""

    pid: int
    argv: tuple[str, ...]
    endpoint: str
    started: float
    versions: dict[str, str]
    path: Path
    curve: bool = False  # the server authenticates clients with the user's CURVE keys


def discover(on_refused: Callable[[str], None] | None = None) -> list[Discovered]:
    """Instrumented processes of this user but the caller; files of dead ones are removed.

    The caller is left out: under ``ZMQSCOPE=1`` ``zmqscope ls`` serves too.
    A runtime folder that fails the check is not read at all; ``on_refused``
    gets the one-line reason.
    """
    try:
        folder = RuntimeFolder.open()
    except RuntimeDirMissing:
        return []
    except RuntimeDirError as error:
        if on_refused is not None:
            on_refused(str(error))
        return []
    with folder:
        found = [entry for entry in _entries(folder) if entry.pid != os.getpid()]
    return sorted(found, key=lambda d: d.pid)


def _entries(folder: RuntimeFolder) -> list[Discovered]:
    found = []
    for name in folder.names():
        match = _DISCOVERY_NAME.fullmatch(name)
        if match is None:
            continue
        pid = int(match[1])
        entry = _read(folder, name, pid)
        # A killed server's files go, whether its pid is free or taken again
        # by another process (only what a server makes is ever removed).
        if (entry is None and not _running(pid)) or (entry is not None and not _alive(entry)):
            folder.remove_own(name)
            folder.remove_own(f"{pid}.ipc")
            continue
        if entry is None:
            continue  # unreadable, but its process lives: not ours to judge
        if _serves(entry, folder.path):
            found.append(entry)
    return found


def _read(folder: RuntimeFolder, name: str, pid: int) -> Discovered | None:
    try:
        data = json.loads(folder.read(name, MAX_DISCOVERY_BYTES))
        entry = Discovered(
            pid=int(data["pid"]),
            argv=tuple(str(a) for a in data["argv"]),
            endpoint=str(data["endpoint"]),
            started=float(data["started"]),
            versions={str(k): str(v) for k, v in data.get("versions", {}).items()},
            path=folder.path / name,
            curve=data.get("curve") is True,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    if entry.pid != pid or not math.isfinite(entry.started):
        return None
    return entry


def _running(pid: int) -> bool:
    try:
        return psutil.pid_exists(pid)
    except (OverflowError, ValueError, OSError):
        return False


def _alive(entry: Discovered) -> bool:
    """The process is running, is this user's and is the one that wrote the file."""
    try:
        process = psutil.Process(entry.pid)
        uids = process.uids()
        return (
            os.getuid() in (uids.real, uids.effective)
            and process.create_time() <= entry.started + 1.0
            and process.is_running()
        )
    except (psutil.Error, OSError, OverflowError, ValueError):
        return False


def _serves(entry: Discovered, folder: Path) -> bool:
    """The kernel says this process has bound the entry's endpoint (see the module's doc)."""
    endpoint = entry.endpoint
    try:
        process = psutil.Process(entry.pid)
        if endpoint.startswith("ipc://"):
            path = endpoint[len("ipc://") :]
            if not path.startswith("@") and os.path.dirname(path) != str(folder):
                return False  # elsewhere, where others may swap the socket
            # A unix socket's local address is its path (psutil types it as inet's).
            bound = process.net_connections(kind="unix")
            return any(str(c.laddr) == path for c in bound if isinstance(c.laddr, str))
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint[len("tcp://") :].rpartition(":")
            address = ipaddress.ip_address(host.strip("[]"))
            listening = process.net_connections(kind="tcp")
            return any(
                c.status == psutil.CONN_LISTEN
                and c.laddr
                and c.laddr.port == int(port)
                and _same_or_any(c.laddr.ip, address)
                for c in listening
            )
    except (psutil.Error, OSError, ValueError):
        return False
    return False


def _same_or_any(bound: str, wanted: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    with contextlib.suppress(ValueError):
        address = ipaddress.ip_address(bound)
        return address == wanted or address.is_unspecified
    return False
