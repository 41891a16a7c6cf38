"""The server's transport on an ipc socket file: a Unix stream socket zmqscope accepts itself.

Not a ZeroMQ socket, because of what libzmq does inside the application
(measured with libzmq 4.3.5; master is the same):

- its ipc listener aborts the process when ``accept()`` fails with EMFILE
  (``Too many open files (src/ipc_listener.cpp:297)``): one client connecting
  to an application out of file descriptors, or enough idle connections to
  take the last ones, killed the application;
- ``ZMQ_MAXMSGSIZE`` bounds each frame, not a message: libzmq keeps a
  multipart message whole before the socket sees its first frame (16,000
  frames of 60 KB took an application to 2 GB);
- a ROUTER still delivers the requests of clients that have gone.

Here each of those is zmqscope's own decision. Messages are framed by
:class:`zmqscope.remote.protocol.StreamReader` (length, then JSON), and every
resource a client can make the application spend is bounded:

- at most :data:`MAX_CLIENTS` connections; when full, one whose client
  has read nothing of its reply, or asked nothing, for :data:`EVICT_IDLE` s
  is closed to make room (an idle client reconnects when it next asks),
  else the newcomer is told ``busy`` and closed. Near the file-descriptor limit only
  one client is served at a time; out of descriptors, one descriptor kept in
  reserve is given up to accept one client (else the listener rests for
  :data:`ACCEPT_REST` s instead of being polled in a loop);
- per connection, at most :data:`MAX_PENDING` requests read ahead, each at
  most ``MAX_REQUEST_BYTES`` (a longer one is refused from its length alone,
  and the connection closed), and one reply being written;
- in all, replies being written to slow clients hold at most
  :data:`MAX_QUEUED_BYTES` (beyond it requests are refused ``busy`` before
  any work); a client that reads nothing for :data:`STALL_TIMEOUT` s is
  closed, and so is one that asks nothing for :data:`IDLE_TIMEOUT` s;
- a client gone (its connection closed) is never answered: its requests
  are dropped before any work is done for them;
- only this user's (and root's) processes are admitted (``SO_PEERCRED``),
  whatever the socket file's mode.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import stat
import time
from collections.abc import Callable
from typing import Any

from zmqscope import _native
from zmqscope._gil_io import Receiver
from zmqscope.remote.handler import RequestHandler, request_id_of
from zmqscope.remote.protocol import (
    ProtocolError,
    encode_error,
    stream_header,
)
from zmqscope.remote.stream_connection import Connection, has_unread, near_fd_limit, same_user

MAX_CLIENTS = 32
MAX_PENDING = 4  # requests read ahead per connection
MAX_QUEUED_BYTES = 64 * 1024 * 1024  # replies being written, all clients together
STALL_TIMEOUT = 10.0  # a client that reads none of its reply for this long is closed
IDLE_TIMEOUT = 60.0  # ... and one that asks nothing for this long
ACCEPT_REST = 0.5  # out of descriptors, no reserve left: the listener rests this long
EVICT_IDLE = 1.0  # a full server makes room by closing a connection idle this long
BACKLOG = 64  # connections the kernel holds until accepted (no descriptor of ours)
_READ_CHUNK = 64 * 1024
_TICK = 0.25  # how often stop() and timeouts are looked at
_REFUSALS_PER_TICK = 32  # over budget: busy replies per tick, the rest wait unread
# select.poll's flags (the same on every platform that has poll)
_POLLIN, _POLLOUT, _POLLERR, _POLLHUP = 0x001, 0x004, 0x008, 0x010


class StreamServer:
    """A listening Unix socket at ``path`` and the connections of its clients."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.endpoint = f"ipc://{path}"
        self._socket_class: Any = _native.original("socket", "socket")
        self._poll_class: Any = _native.original("select", "poll")
        self._listener: Any = None
        self._reserve: int | None = None
        self._connections: dict[int, Connection] = {}
        self._accept_rest_until = 0.0
        self._refusals_left = _REFUSALS_PER_TICK
        self._tick_until = 0.0
        self._receiver = Receiver(_READ_CHUNK)
        self.dropped = 0  # requests of clients that had gone, never answered
        self.turned_away = 0  # connections refused (too many, near the fd limit, stranger)

    # -- life ---------------------------------------------------------------

    def bind(self) -> None:
        """Listen at the path (a stale socket file there is replaced; anything else is not)."""
        with contextlib.suppress(FileNotFoundError):
            if stat.S_ISSOCK(os.lstat(self.path).st_mode):
                os.unlink(self.path)
        listener = self._socket_class(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(self.path)
            os.chmod(self.path, 0o600)
            listener.listen(BACKLOG)
            listener.setblocking(False)
        except BaseException:
            listener.close()
            raise
        self._listener = listener
        self._take_reserve()

    def close(self) -> None:
        for connection in list(self._connections.values()):
            self._drop(connection)
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None

    def forget_in_child(self) -> None:
        """Close this forked child's copies of the parent's descriptors.

        A client sees its connection end only once every copy is closed, and
        the child never serves them. The socket file stays: it is the parent's.
        """
        for connection in self._connections.values():
            connection.sock.close()
        self._connections = {}
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._reserve is not None:
            os.close(self._reserve)
            self._reserve = None

    @property
    def clients(self) -> int:
        return len(self._connections)

    @property
    def queued_bytes(self) -> int:
        """Bytes of replies written to no client yet."""
        return sum(c.queued for c in self._connections.values())

    # -- the loop -------------------------------------------------------------

    def serve(self, handler: RequestHandler, stopping: Callable[[], bool]) -> None:
        """Answer clients until ``stopping()``; runs on the server's thread."""
        while not stopping():
            budget = handler.budget
            budget.charge()
            now = time.monotonic()
            if now >= self._tick_until:
                self._tick(now, handler)
            answering = budget.available() or self._refusals_left > 0
            ready = self._poller(now, answering).poll(int(self._timeout(now, answering) * 1000))
            now = time.monotonic()
            self._handle(ready, now)
            # Accepted last: a newcomer may take the descriptor number of a
            # connection closed above, whose events are in this turn's list.
            listener = self._listener.fileno() if self._listener is not None else -1
            if any(fd == listener for fd, _ in ready):
                self._accept(now, handler)
            self._answer(handler, now)

    def _tick(self, now: float, handler: RequestHandler) -> None:
        """Every _TICK: refusals allowed again, old connections and answers expired."""
        self._tick_until = now + _TICK
        self._refusals_left = _REFUSALS_PER_TICK
        self._expire(now)
        handler.cache.expire()
        if self._reserve is None:
            self._take_reserve()

    def _handle(self, ready: list[tuple[int, int]], now: float) -> None:
        """Read, write or drop each connection poll() found ready."""
        for fd, events in ready:
            connection = self._connections.get(fd)
            if connection is None:
                continue
            if events & (_POLLHUP | _POLLERR):
                # Closed by the client: what it asked and has not been
                # answered is dropped, unread or not.
                connection.gone = True
            elif events & _POLLIN:
                self._read(connection)
            if events & _POLLOUT and not connection.gone:
                self._write(connection, now)
            if connection.gone:
                self._drop(connection)

    def _poller(self, now: float, answering: bool) -> Any:
        poller = self._poll_class()
        if self._listener is not None and now >= self._accept_rest_until:
            poller.register(self._listener.fileno(), _POLLIN)
        for connection in self._connections.values():
            events = 0
            if answering and connection.reader.ready < MAX_PENDING:
                events |= _POLLIN
            if connection.out:
                events |= _POLLOUT
            poller.register(connection.fd, events)  # (errors and hang-ups always come)
        return poller

    def _timeout(self, now: float, answering: bool) -> float:
        timeout = max(0.0, self._tick_until - now)
        if answering and any(c.reader.ready and not c.out for c in self._connections.values()):
            timeout = 0.0  # answers are waiting to be made
        if self._accept_rest_until > now:
            timeout = min(timeout, self._accept_rest_until - now)
        return timeout

    # -- connections ----------------------------------------------------------

    def _accept(self, now: float, handler: RequestHandler) -> None:
        for _ in range(BACKLOG):  # a bounded batch, then back to poll()
            reserve = False
            try:
                fd, _ = self._listener._accept()
            except BlockingIOError:
                return
            except OSError as error:
                if error.errno not in (errno.EMFILE, errno.ENFILE) or self._reserve is None:
                    if error.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                        self._accept_rest_until = now + ACCEPT_REST
                    return
                # Out of descriptors: the reserve lets one client in, who can
                # then see why (the application's sockets and its fd count).
                os.close(self._reserve)
                self._reserve = None
                try:
                    fd, _ = self._listener._accept()
                except OSError:
                    self._accept_rest_until = now + ACCEPT_REST
                    return
                reserve = True
            sock = self._socket_class(socket.AF_UNIX, socket.SOCK_STREAM, 0, fileno=fd)
            sock.setblocking(False)
            self._admit(Connection(sock, now, reserve), handler)

    def _admit(self, connection: Connection, handler: RequestHandler) -> None:
        if not same_user(connection.sock):
            self.turned_away += 1
            self._close(connection)
            return
        near_limit = connection.reserve or near_fd_limit(connection.fd)
        if len(self._connections) >= (1 if near_limit else MAX_CLIENTS):
            room = self._evictable(connection.last_asked)
            if room is None:
                why = "near its file descriptor limit" if near_limit else "too many clients"
                self._turn_away(connection, handler.busy(None, why, retry_after=1.0))
                return
            self._drop(room)
        self._connections[connection.fd] = connection

    def _evictable(self, now: float) -> Connection | None:
        """The connection to close for a newcomer: one that stopped reading, else one idle.

        Each for EVICT_IDLE at least: a client reading nothing of its reply,
        or asking nothing, is not served by holding its place.
        """
        stalled = [
            c for c in self._connections.values() if c.out and now - c.out_since >= EVICT_IDLE
        ]
        if stalled:
            return min(stalled, key=lambda c: c.out_since)
        idle = [
            c
            for c in self._connections.values()
            if c.idle and now - c.last_asked >= EVICT_IDLE and not has_unread(c.sock)
        ]
        return min(idle, key=lambda c: c.last_asked) if idle else None

    def _turn_away(self, connection: Connection, reply: bytes) -> None:
        self.turned_away += 1
        with contextlib.suppress(OSError):
            connection.sock.send(stream_header(reply) + reply)
        self._close(connection)

    def _read(self, connection: Connection) -> None:
        try:
            data = self._receiver.recv(connection.sock)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            connection.gone = True
            return
        if not data:
            connection.gone = True  # closed: whatever it asked is not answered
            return
        try:
            connection.reader.feed(data)
        except ProtocolError as error:
            # Refused from its length alone; the stream cannot be followed on.
            self._turn_away(connection, encode_error(error))
            connection.gone = True

    def _write(self, connection: Connection, now: float) -> None:
        try:
            sent = connection.sock.sendmsg(connection.out)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            connection.gone = True
            return
        connection.sent(sent, now)

    def _answer(self, handler: RequestHandler, now: float) -> None:
        """Make one reply for each connection that asked and is not being written to."""
        for connection in list(self._connections.values()):
            if connection.out or not connection.reader.ready:
                continue
            if not handler.budget.available():
                if self._refusals_left <= 0:
                    return  # the rest wait, unread, for the next tick
                self._refusals_left -= 1
                reply = handler.reply(self._next(connection, now))  # refused, cheaply
            elif self._receiver.hung_up(connection.sock):
                self._drop(connection)  # gone: its requests are dropped with it
                continue
            elif self.queued_bytes >= MAX_QUEUED_BYTES:
                request_id = request_id_of(self._next(connection, now))
                reply = handler.busy(request_id, "replies to slow clients fill its memory", 1.0)
            else:
                reply = handler.reply(self._next(connection, now))
            connection.out = [memoryview(stream_header(reply)), memoryview(reply)]
            connection.out_since = now
            self._write(connection, now)
            if connection.gone:
                self._drop(connection)

    @staticmethod
    def _next(connection: Connection, now: float) -> bytes:
        payload = connection.reader.next()
        assert payload is not None
        connection.last_asked = now
        return payload

    def _expire(self, now: float) -> None:
        for connection in list(self._connections.values()):
            stalled = connection.out and now - connection.out_since > STALL_TIMEOUT
            idle = connection.idle and now - connection.last_asked > IDLE_TIMEOUT
            if stalled or idle:
                self._drop(connection)

    def _drop(self, connection: Connection) -> None:
        if self._connections.get(connection.fd) is connection:
            del self._connections[connection.fd]
            self.dropped += connection.reader.ready
        self._close(connection)

    def _close(self, connection: Connection) -> None:
        connection.out = []
        connection.sock.close()
        if connection.reserve:
            self._take_reserve()

    def _take_reserve(self) -> None:
        if self._reserve is None:
            with contextlib.suppress(OSError):
                self._reserve = os.open(os.devnull, os.O_RDONLY | os.O_CLOEXEC)
