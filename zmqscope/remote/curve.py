"""CURVE for servers that file permissions cannot protect (tcp, abstract ipc).

Each user has two key pairs, made on first need and kept in the user's
runtime folder (``curve-keys.json``, 0600, in the 0700 folder, written whole
and never through a symlink): one the servers use, one the clients use. A
server admits only clients that present the user's client key (a ZAP
handler on the server's own context checks it), so whoever cannot read the
user's runtime folder (every other user but root) cannot talk to it, and
cannot read its traffic either.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import zmq
import zmq.utils.z85

from zmqscope._errors import ZmqscopeError
from zmqscope.remote.runtime import RuntimeDirError, RuntimeFolder, ensure_runtime_dir

KEYS_FILE = "curve-keys.json"
_MAX_KEYS_BYTES = 4096
# libzmq asks the handler bound here about every handshake of its context.
_ZAP_ENDPOINT = "inproc://zeromq.zap.01"


class CurveError(ZmqscopeError):
    """CURVE cannot be used; the message says why, in one line."""


@dataclass(frozen=True, slots=True)
class CurveKeys:
    """A user's secret keys (Z85); the public halves are derived."""

    server_secret: bytes
    client_secret: bytes

    @property
    def server_public(self) -> bytes:
        return zmq.curve_public(self.server_secret)

    @property
    def client_public(self) -> bytes:
        return zmq.curve_public(self.client_secret)


def require_curve(endpoint: str) -> None:
    if not zmq.has("curve"):
        raise CurveError(
            f"cannot serve on {endpoint} with CURVE: this libzmq ({zmq.zmq_version()}) "
            "was built without it (serve(endpoint, insecure=True) serves without "
            "authentication, to every local user)"
        )


def user_keys() -> CurveKeys:
    """This user's keys, made now if there are none yet (for a server)."""
    try:
        ensure_runtime_dir()
        with RuntimeFolder.open() as folder:
            if KEYS_FILE not in folder.names():
                server = zmq.curve_keypair()[1]
                client = zmq.curve_keypair()[1]
                document = {"server": server.decode(), "client": client.decode()}
                # Another process may have made them meanwhile: then theirs count.
                folder.create(KEYS_FILE, json.dumps(document).encode())
            return _read_keys(folder)
    except RuntimeDirError as error:
        raise CurveError(f"no CURVE keys: {error}") from None


def existing_user_keys(where: Path | None = None) -> CurveKeys | None:
    """This user's keys if a server made them (for a client; never made here).

    ``where``: the runtime folder to read them from (default: this process's),
    the one of the server to talk to.
    """
    with contextlib.suppress(RuntimeDirError, CurveError), RuntimeFolder.open(where) as folder:
        if KEYS_FILE in folder.names():
            return _read_keys(folder)
    return None


def _read_keys(folder: RuntimeFolder) -> CurveKeys:
    where = folder.path / KEYS_FILE
    try:
        document = json.loads(folder.read(KEYS_FILE, _MAX_KEYS_BYTES))
        keys = CurveKeys(
            server_secret=str(document["server"]).encode("ascii"),
            client_secret=str(document["client"]).encode("ascii"),
        )
        if len(keys.server_public) != 40 or len(keys.client_public) != 40:  # derived: valid
            raise ValueError("not a key")
    except OSError as error:
        raise CurveError(f"cannot read {where}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError, AttributeError, zmq.ZMQError):
        raise CurveError(f"{where} does not hold CURVE keys (remove it to make new ones)") from None
    return keys


class ZapGuard:
    """Admits to the CURVE sockets of one context only clients with an allowed key.

    Answered by the server's own thread between requests (:meth:`admit`):
    no thread of its own.
    """

    def __init__(self, ctx: zmq.Context[Any], allowed: Iterable[bytes]) -> None:
        self._allowed = frozenset(allowed)
        self.socket: zmq.Socket[Any] = ctx.socket(zmq.REP)
        self.socket.linger = 0
        try:
            self.socket.bind(_ZAP_ENDPOINT)
        except zmq.ZMQError:
            self.socket.close(linger=0)
            raise

    def admit(self) -> None:
        """Answer every pending handshake question, without waiting."""
        while True:
            try:
                request = self.socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            self.socket.send_multipart(self._verdict(request))

    def _verdict(self, request: list[bytes]) -> list[bytes]:
        # ZAP 1.0 (RFC 27): version, request id, domain, address, identity,
        # mechanism, credentials; the reply echoes version and request id.
        request_id = request[1] if len(request) > 1 else b""
        admitted = (
            len(request) == 7
            and request[0] == b"1.0"
            and request[5] == b"CURVE"
            and len(request[6]) == 32
            and zmq.utils.z85.encode(request[6]) in self._allowed
        )
        if admitted:
            return [b"1.0", request_id, b"200", b"OK", b"", b""]
        return [b"1.0", request_id, b"400", b"not this user's client key", b"", b""]

    def close(self) -> None:
        self.socket.close(linger=0)
