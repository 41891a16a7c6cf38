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
  says: an ipc socket file inside the folder, or a tcp port it listens
  on. A file cannot claim another process's server. (On Linux the
  kernel's table is read once for all the files, see
  :mod:`~zmqscope.remote.proc_sockets`; elsewhere psutil is asked.)

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

from zmqscope._errors import ZmqscopeError
from zmqscope.remote.proc_sockets import SocketTables, holds_any, read_tables
from zmqscope.remote.runtime import (
    RuntimeDirError,
    RuntimeDirMissing,
    RuntimeFolder,
    runtime_dir_of,
    runtime_dirs,
)

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


class NotServing(ZmqscopeError, LookupError):
    """No server of the process was found; the message says why, and where it looked."""


def find_server(pid: int) -> Discovered:
    """The server of this user's process ``pid``, in whichever runtime folder it is.

    Looks in every folder a server of this user may use (see
    :func:`~zmqscope.remote.runtime.runtime_dirs`) and in the one the process
    itself chose (from its environment, which the kernel keeps), each
    checked before it is read. :class:`NotServing` says what was searched,
    and whether the process is instrumented but serves nothing yet.
    """
    process = _own_process(pid)
    folders = runtime_dirs()
    if process is not None:
        with contextlib.suppress(psutil.Error, OSError):
            folders = list(dict.fromkeys([*folders, runtime_dir_of(process.environ())]))
    looked: list[str] = []
    refused: list[str] = []
    for index, path in enumerate(folders):
        try:
            folder = RuntimeFolder.open(path)
        except RuntimeDirMissing:
            looked.append(f"{path} (does not exist)")
            continue
        except RuntimeDirError as error:
            looked.append(f"{path} (refused)")
            if index == 0:
                refused.append(str(error))
            continue
        with folder:
            entry = _entry_of(folder, pid)
        if entry is not None:
            return entry
        looked.append(str(path))
    if refused:
        raise NotServing(f"{refused[0]} (where process {pid} would be listed)")
    raise NotServing(_why_not_serving(pid, process, "; ".join(looked)))


def _own_process(pid: int) -> psutil.Process | None:
    """The running process ``pid`` if it is this user's."""
    try:
        process = psutil.Process(pid)
        uids = process.uids()
    except (psutil.Error, OSError, OverflowError, ValueError):
        return None
    if os.getuid() not in (uids.real, uids.effective):
        return None
    return process


def _entry_of(folder: RuntimeFolder, pid: int) -> Discovered | None:
    """``pid``'s entry in ``folder``, believed as :func:`discover` believes one."""
    name = f"{pid}.json"
    if name not in folder.names():
        return None
    entry = _read(folder, name, pid)
    if entry is None or not _alive(entry) or not _serves(entry, folder.path, read_tables()):
        return None
    return entry


def _why_not_serving(pid: int, process: psutil.Process | None, looked: str) -> str:
    if process is None:
        if _running(pid):
            return f"process {pid} is not yours: zmqscope reaches only your own processes"
        return f"no process with pid {pid}"
    how = _instrumented_by(process)
    if how is None:
        return (
            f"process {pid} is not instrumented by zmqscope (start it with 'zmqscope run' "
            f"or ZMQSCOPE=1); no server of it in {looked}"
        )
    if _serving_off(process, how):
        return (
            f"process {pid} is instrumented ({how}) but was told not to serve "
            "(--no-serve or ZMQSCOPE_SERVE=0): it has no server"
        )
    return (
        f"process {pid} is instrumented ({how}) but has made no ZeroMQ context yet: its "
        f"server starts with the first one (no server of it in {looked})"
    )


_ON = {"1", "true", "yes", "on"}


def _instrumented_by(process: psutil.Process) -> str | None:
    """``zmqscope run`` or ``ZMQSCOPE=1``, as the process was started; None if neither."""
    with contextlib.suppress(psutil.Error, OSError):
        argv = process.cmdline()
        for index, arg in enumerate(argv[:-1]):
            if os.path.basename(arg) == "zmqscope" and argv[index + 1] == "run":
                return "zmqscope run"
    with contextlib.suppress(psutil.Error, OSError):
        value = process.environ().get("ZMQSCOPE")
        if value is not None and value.strip().lower() in _ON:
            return f"ZMQSCOPE={value}"
    return None


_RUN_VALUED = frozenset({"--json", "--markdown", "--grace", "--stack-depth"})


def _serving_off(process: psutil.Process, how: str) -> bool:
    """Started with ``run --no-serve``, or with ``ZMQSCOPE_SERVE=0`` beside ``ZMQSCOPE=1``."""
    try:
        argv = process.cmdline() if how == "zmqscope run" else []
        environ = process.environ() if how != "zmqscope run" else {}
    except (psutil.Error, OSError):
        return False
    names = [os.path.basename(arg) for arg in argv]
    if "zmqscope" in names:
        own = iter(argv[names.index("zmqscope") + 2 :])  # run's options, then the script
        for arg in own:
            if arg == "--no-serve":
                return True
            if arg in _RUN_VALUED:
                next(own, None)
            elif not arg.startswith("-") or arg in ("-m", "--"):
                break
    value = environ.get("ZMQSCOPE_SERVE")
    return value is not None and value.strip().lower() in {"", "0", "false", "no", "off"}


def _entries(folder: RuntimeFolder) -> list[Discovered]:
    alive = []
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
        if entry is not None:  # unreadable, but its process lives: not ours to judge
            alive.append(entry)
    # The kernel's tables are read once for all, after the files: a server
    # writes its file once it has bound its endpoint.
    tables = read_tables()
    return [entry for entry in alive if _serves(entry, folder.path, tables)]


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


def _serves(entry: Discovered, folder: Path, tables: SocketTables | None) -> bool:
    """The kernel says this process has bound the entry's endpoint (see the module's doc).

    ``tables``: the kernel's socket tables, shared by the entries of one
    discovery; None where there is no ``/proc`` (psutil is asked instead).
    """
    endpoint = entry.endpoint
    try:
        if endpoint.startswith("ipc://"):
            path = endpoint[len("ipc://") :]
            if not path.startswith("@") and os.path.dirname(path) != str(folder):
                return False  # elsewhere, where others may swap the socket
            if tables is not None:
                return holds_any(entry.pid, tables.unix_inodes(path))
            # A unix socket's local address is its path (psutil types it as inet's).
            bound = psutil.Process(entry.pid).net_connections(kind="unix")
            return any(str(c.laddr) == path for c in bound if isinstance(c.laddr, str))
        if endpoint.startswith("tcp://"):
            host, _, port = endpoint[len("tcp://") :].rpartition(":")
            address = ipaddress.ip_address(host.strip("[]"))
            if tables is not None:
                inodes = [
                    inode
                    for bound_address, inode in tables.listening_inodes(int(port))
                    if bound_address == address or bound_address.is_unspecified
                ]
                return holds_any(entry.pid, inodes)
            listening = psutil.Process(entry.pid).net_connections(kind="tcp")
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
