"""One client's connection to the ipc stream server, and what the server asks of
the operating system about it: who the peer is, whether it sent something not
read yet, whether its descriptor is near the process's limit."""

from __future__ import annotations

import os
import resource
import socket
import struct
import sys
from typing import Any

from zmqscope.remote.protocol import MAX_REQUEST_BYTES, StreamReader

FD_MARGIN = 16  # descriptors this close to the limit: one client at a time
_PEERCRED = struct.Struct("3i")  # pid, uid, gid


class Connection:
    """One client's connection: what it has sent, what it is being sent."""

    __slots__ = ("fd", "gone", "last_asked", "out", "out_since", "reader", "reserve", "sock")

    def __init__(self, sock: Any, now: float, reserve: bool) -> None:
        self.sock = sock
        self.fd: int = sock.fileno()
        self.reader = StreamReader(MAX_REQUEST_BYTES)
        self.out: list[memoryview] = []  # header and reply, what is left of them
        self.out_since = now  # when the reply last moved
        self.last_asked = now
        self.reserve = reserve  # accepted on the reserve descriptor
        self.gone = False

    @property
    def queued(self) -> int:
        return sum(len(part) for part in self.out)

    @property
    def idle(self) -> bool:
        return not self.out and not self.reader.ready and not self.reader.partial

    def sent(self, count: int, now: float) -> None:
        """``count`` bytes of the reply went out: drop them from what is left."""
        if count:
            self.out_since = now
        out = self.out
        while count and out:
            part = out[0]
            if count >= len(part):
                count -= len(part)
                out.pop(0)
            else:
                out[0] = part[count:]
                count = 0


def has_unread(sock: Any) -> bool:
    """True if the client sent something not read yet (or closed its end)."""
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except (BlockingIOError, InterruptedError):
        return False
    except OSError:
        return True
    return True


def same_user(sock: Any) -> bool:
    """The peer runs as this user or root (Linux tells; elsewhere the file mode must do)."""
    if not sys.platform.startswith("linux"):
        return True
    try:
        _, uid, _ = _PEERCRED.unpack(
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
    except OSError:
        return False
    return uid in (os.getuid(), 0)


def near_fd_limit(fd: int) -> bool:
    """Descriptors are handed out lowest first: a high one means nearly all below are taken."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft != resource.RLIM_INFINITY and fd >= soft - FD_MARGIN
