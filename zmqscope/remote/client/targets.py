"""Turning what the user typed (a pid, an endpoint, a report file, or nothing)
into a :class:`~zmqscope.remote.client.interface.Client`, with this user's
CURVE keys where a server wants them."""

from __future__ import annotations

from pathlib import Path

import psutil

from zmqscope._bounds import PID_MAX
from zmqscope.remote.access import needs_authentication
from zmqscope.remote.client.interface import DEFAULT_TIMEOUT, Client, ClientError
from zmqscope.remote.client.live import LiveClient
from zmqscope.remote.client.saved import ReportClient
from zmqscope.remote.curve import existing_user_keys
from zmqscope.remote.discovery import Discovered, NotServing, discover, find_server


def process_exited(pid: int) -> bool:
    """True once ``pid`` has ended, even if its parent has not reaped it yet.

    ``zmqscope demo`` is the demo's parent: its exited child stays a zombie
    until the TUI quits, and ``psutil.pid_exists`` still says yes.
    """
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def connect(target: str | None, timeout: float = DEFAULT_TIMEOUT) -> Client:
    """A client for a pid, an endpoint or a report file (None: the only process)."""
    if target is None:
        refused: list[str] = []
        running = discover(refused.append)
        if refused:
            raise ClientError(refused[0])
        if len(running) != 1:
            count = "no instrumented process" if not running else f"{len(running)} processes"
            raise ClientError(f"{count} found: name a PID, an ENDPOINT or a REPORT.json")
        return client_for(running[0], timeout)
    if target.isdigit():
        pid = int(target)
        if pid > PID_MAX:  # no system hands out such a pid, and psutil cannot take it
            raise ClientError(f"no process with pid {target}")
        return _connect_pid(pid, timeout)
    if target.startswith(("ipc://", "tcp://")):
        return _connect_endpoint(target, timeout)
    path = Path(target)
    if path.is_file():
        return ReportClient(path)
    if path.exists():
        raise ClientError(f"{target} is not a file")
    raise ClientError(
        f"cannot read {target}: no such file "
        "(TARGET is a pid, an ipc:// or tcp:// endpoint, or a report file)"
    )


def client_for(entry: Discovered, timeout: float = DEFAULT_TIMEOUT) -> LiveClient:
    """A client of a discovered server, with this user's CURVE keys if it wants them."""
    # The keys are those of the runtime folder the server was found in.
    return _client(entry.endpoint, timeout, curve=entry.curve, keys_in=entry.path.parent)


def _connect_endpoint(endpoint: str, timeout: float) -> LiveClient:
    """An endpoint the user typed: CURVE with this user's keys where a server of theirs uses it.

    A server this user's ``ls`` lists says whether it does; another (a tcp
    server whose runtime folder is elsewhere, say) is asked with CURVE if
    this user has keys.
    """
    if not needs_authentication(endpoint):
        return LiveClient(endpoint, timeout)
    for entry in discover():
        if entry.endpoint == endpoint:
            return client_for(entry, timeout)
    return _client(endpoint, timeout, curve=True)


def _client(endpoint: str, timeout: float, curve: bool, keys_in: Path | None = None) -> LiveClient:
    keys = existing_user_keys(keys_in) if curve else None
    if keys is None:
        return LiveClient(endpoint, timeout)
    return LiveClient(
        endpoint,
        timeout,
        curve_server_key=keys.server_public,
        curve_client_secret=keys.client_secret,
    )


def _connect_pid(pid: int, timeout: float) -> Client:
    # Looked for in every runtime folder this user's servers may use, not
    # only in this shell's (as ls and the picker list them).
    try:
        entry = find_server(pid)
    except NotServing as error:
        raise ClientError(str(error)) from None
    return client_for(entry, timeout)
