"""A bare client of the server's ipc transport, for tests that misbehave on purpose.

The server on an ipc socket file speaks plain Unix stream connections, each
message its length (4 bytes, big-endian) then its JSON
(zmqscope.remote.protocol). LiveClient behaves; this does whatever a test asks:
send without reading, announce more than it sends, leave mid-request.
"""

from __future__ import annotations

import socket
import struct
import time

from zmqscope.remote.protocol import Reply, decode_reply

HEADER = struct.Struct("!I")


def connect(endpoint: str, timeout: float = 10.0) -> socket.socket:
    """A connection to the server at ``ipc://PATH`` (waiting while its backlog is full)."""
    assert endpoint.startswith("ipc://"), endpoint
    deadline = time.monotonic() + timeout
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(endpoint[len("ipc://") :])
            return sock
        except BlockingIOError:
            sock.close()
            if time.monotonic() > deadline:
                raise
            time.sleep(0.01)


def message(payload: bytes) -> bytes:
    return HEADER.pack(len(payload)) + payload


def send(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(message(payload))


def read_reply(sock: socket.socket) -> Reply | None:
    """The next reply, or None when the server closed the connection first."""
    head = _exactly(sock, HEADER.size)
    if head is None:
        return None
    (length,) = HEADER.unpack(head)
    body = _exactly(sock, length)
    assert body is not None, "the connection closed mid-reply"
    return decode_reply(body)


def exchange(sock: socket.socket, payload: bytes) -> Reply:
    send(sock, payload)
    reply = read_reply(sock)
    assert reply is not None, "closed instead of answering"
    return reply


def closed_by_server(sock: socket.socket, within: float = 10.0) -> bool:
    """True once the server has closed the connection (all it sent read and dropped)."""
    deadline = time.monotonic() + within
    sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def _exactly(sock: socket.socket, size: int) -> bytes | None:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None if not data else bytes(data)
        data += chunk
    return bytes(data)
