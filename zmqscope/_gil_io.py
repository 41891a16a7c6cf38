"""Reading a socket that is ready, or asking whether its peer is gone, keeping the GIL.

Python's ``socket.recv`` lets go of the GIL around the system call, even
when the call cannot block. While the application's threads keep the
interpreter busy, taking the GIL back costs a switch interval (5 ms) or,
with several of them waiting too, a few: under a socket churn of eight
threads, a client's snapshot took 55 ms (median) with ``socket.recv`` and
37 ms with this (measured, three runs each). The server calls it only with
``MSG_DONTWAIT`` on a socket ``poll()`` has just found readable, and asks
``poll()`` about one socket with no timeout, so each call returns at once.
It goes through ctypes' ``PyDLL``, whose calls keep the GIL; where that is
not available, the standard library does the work.
"""

from __future__ import annotations

import errno
import os
import select
import socket
from typing import Any

from zmqscope import _native

try:
    import ctypes

    class _PollFd(ctypes.Structure):
        _fields_ = (("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short))

    _libc: Any = ctypes.PyDLL(None, use_errno=True)
    _recv: Any = _libc.recv
    _recv.restype = ctypes.c_ssize_t
    _recv.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    _poll: Any = _libc.poll
    _poll.restype = ctypes.c_int
    _poll.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int]
    _open: Any = _libc.open
    _open.restype = ctypes.c_int
    _open.argtypes = [ctypes.c_char_p, ctypes.c_int]
    _read: Any = _libc.read
    _read.restype = ctypes.c_ssize_t
    _read.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t]
    _close: Any = _libc.close
    _close.argtypes = [ctypes.c_int]
except (ImportError, OSError, AttributeError):  # pragma: no cover - no ctypes, no libc symbol
    _recv = _poll = _open = None

_RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)
# The peer closed its end (POLLHUP: both directions; a client that only
# stopped sending still reads its reply), or the socket failed.
_GONE = select.POLLHUP | select.POLLERR | select.POLLNVAL


class Receiver:
    """Reads up to ``size`` bytes at a time into a buffer of its own (one thread's)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._buffer: Any = ctypes.create_string_buffer(size) if _recv is not None else None

    def hung_up(self, sock: Any) -> bool:
        """True if the peer has closed the connection, even with data of its still unread."""
        if _poll is None:
            poller = _native.original("select", "poll")()
            poller.register(sock.fileno(), select.POLLIN)
            return any(events & _GONE for _, events in poller.poll(0))
        entry = _PollFd(sock.fileno(), select.POLLIN, 0)
        if _poll(ctypes.byref(entry), 1, 0) < 0:
            return False
        return bool(entry.revents & _GONE)

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


def read_proc_file(path: str, size: int = 4096) -> bytes:
    """The first ``size`` bytes of a small file under /proc (made on read: never blocks).

    OSError as ``open()`` would raise it (EMFILE when out of descriptors).
    """
    if _open is None:
        descriptor = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            return os.read(descriptor, size)
        finally:
            os.close(descriptor)
    descriptor = _open(os.fsencode(path), os.O_RDONLY | os.O_CLOEXEC)
    if descriptor < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code), path)
    try:
        buffer = ctypes.create_string_buffer(size)
        count = _read(descriptor, buffer, size)
        if count < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code), path)
        return ctypes.string_at(buffer, count)
    finally:
        _close(descriptor)
