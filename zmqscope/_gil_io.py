"""Reading a socket that is ready, without letting go of the GIL.

Python's ``socket.recv`` lets go of the GIL around the system call, even
when the call cannot block. While the application's threads keep the
interpreter busy, taking the GIL back costs a switch interval (5 ms) or,
with several of them waiting too, a few: under a socket churn of eight
threads, a client's snapshot took 55 ms (median) with ``socket.recv`` and
37 ms with this (measured, three runs each). The server calls it only with
``MSG_DONTWAIT`` (on a socket ``poll()`` has just found readable, or to
peek whether a client is still there), so the call returns at once either
way. It goes through ctypes' ``PyDLL``, whose calls
keep the GIL; where that is not available, ``socket.recv`` does the work.
"""

from __future__ import annotations

import errno
import os
import socket
from typing import Any

try:
    import ctypes

    _libc: Any = ctypes.PyDLL(None, use_errno=True)
    _recv: Any = _libc.recv
    _recv.restype = ctypes.c_ssize_t
    _recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
except (ImportError, OSError, AttributeError):  # pragma: no cover - no ctypes, no libc symbol
    _recv = None

_RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class Receiver:
    """Reads up to ``size`` bytes at a time into a buffer of its own (one thread's)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer: Any = ctypes.create_string_buffer(size) if _recv is not None else None

    def closed(self, sock: Any) -> bool:
        """True if the peer has closed and nothing is left to read (a peek: nothing is taken)."""
        flags = socket.MSG_PEEK | socket.MSG_DONTWAIT
        if self._buffer is None:
            try:
                return bool(sock.recv(1, flags) == b"")
            except (BlockingIOError, InterruptedError):
                return False
            except OSError:
                return True
        count = _recv(sock.fileno(), self._buffer, 1, flags)
        if count < 0:
            return ctypes.get_errno() not in _RETRY
        return bool(count == 0)

    def recv(self, sock: Any) -> bytes:
        """What ``sock`` has to read (b"" at its end); BlockingIOError if nothing yet."""
        if self._buffer is None:
            data: bytes = sock.recv(self.size)
            return data
        count = _recv(sock.fileno(), self._buffer, self.size, socket.MSG_DONTWAIT)
        if count < 0:
            code = ctypes.get_errno()
            if code in _RETRY:
                raise BlockingIOError(code, os.strerror(code))
            raise OSError(code, os.strerror(code))
        return ctypes.string_at(self._buffer, count)
