"""How a client's request reaches a server and its reply comes back.

Two transports, as the server has (:mod:`zmqscope.remote.server`): a Unix stream
connection to an ipc socket file, each message its length then its JSON
(:func:`zmqscope.remote.protocol.stream_header`), and a ZeroMQ DEALER for tcp and
abstract ipc names, with CURVE. Either way :meth:`Channel.exchange` sends
one request and returns the reply with its id, or raises
:class:`ChannelError` once the deadline has passed.
"""

from __future__ import annotations

import errno
import socket
import time
from typing import Any, Protocol

import zmq

from zmqscope import _own_context
from zmqscope._errors import ZmqscopeError
from zmqscope.remote.protocol import (
    HEADER,
    MAX_REPLY_BYTES,
    ProtocolError,
    Reply,
    decode_reply,
    stream_header,
)


class ChannelError(ZmqscopeError):
    """No reply: the message is one line for the user."""


class Channel(Protocol):
    def exchange(self, payload: bytes, request_id: int, deadline: float) -> Reply: ...
    def close(self) -> None: ...


def _answers(reply: Reply, request_id: int) -> bool:
    # An error without id is about the connection (too many clients), so
    # about the request being asked.
    return reply.id == request_id or (reply.id is None and reply.error is not None)


def _no_answer(endpoint: str, timeout: float) -> ChannelError:
    return ChannelError(f"no answer from {endpoint} within {timeout:g} s")


def _not_a_server(endpoint: str, error: Exception) -> ChannelError:
    return ChannelError(f"{endpoint} is not a zmqscope server ({error})")


class StreamChannel:
    """A Unix stream connection to an ipc socket file, made again when the server closed it.

    The server closes connections idle for a minute (and the idle ones first
    when it has many clients): the request is then sent again on a new one.
    Requests are read-only, so asking twice is harmless.
    """

    def __init__(self, endpoint: str, timeout: float) -> None:
        self.endpoint = endpoint
        self.path = endpoint[len("ipc://") :]
        self.timeout = timeout
        self._sock: socket.socket | None = None

    def exchange(self, payload: bytes, request_id: int, deadline: float) -> Reply:
        message = stream_header(payload) + payload
        for attempt in range(2):
            sock = self._connected(deadline)
            try:
                return self._ask(sock, message, request_id, deadline)
            except (_Closed, BrokenPipeError, ConnectionResetError):
                self.close()
                if attempt:
                    raise ChannelError(f"{self.endpoint} closed the connection") from None
            except TimeoutError:
                # The server drops what a closed connection asked: close it.
                self.close()
                raise _no_answer(self.endpoint, self.timeout) from None
            except ProtocolError as error:
                self.close()
                raise _not_a_server(self.endpoint, error) from None
            except OSError as error:
                self.close()
                raise ChannelError(f"cannot talk to {self.endpoint}: {error.strerror}") from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _ask(self, sock: socket.socket, message: bytes, request_id: int, deadline: float) -> Reply:
        """Send one request on ``sock`` and read until its answer (raises as exchange says)."""
        self._settimeout(sock, deadline)
        try:
            sock.sendall(message)
        except (BrokenPipeError, ConnectionResetError):
            # Closed before we asked: it may have said why (too many clients).
            parting = self._parting_word(sock, deadline)
            if parting is None:
                raise
            self.close()
            return parting
        while True:
            reply = self._read_reply(sock, deadline)
            if reply.id is None:
                self.close()  # about the connection: the server closes it
            if _answers(reply, request_id):
                return reply  # (others: late answers to requests that timed out)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _connected(self, deadline: float) -> socket.socket:
        if self._sock is not None:
            return self._sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        while True:
            try:
                self._settimeout(sock, deadline)
                sock.connect(self.path)
                self._sock = sock
                return sock
            except (BlockingIOError, InterruptedError):
                pass  # its backlog is full: the server is accepting, try again
            except TimeoutError:
                sock.close()
                raise _no_answer(self.endpoint, self.timeout) from None
            except OSError as error:
                sock.close()
                if error.errno in (errno.ENOENT, errno.ECONNREFUSED):
                    raise ChannelError(f"no zmqscope server at {self.endpoint}") from None
                raise ChannelError(f"cannot connect to {self.endpoint}: {error.strerror}") from None
            if time.monotonic() >= deadline:
                sock.close()
                raise _no_answer(self.endpoint, self.timeout)
            time.sleep(0.01)

    def _parting_word(self, sock: socket.socket, deadline: float) -> Reply | None:
        """An error about the connection the server sent before closing it, if any."""
        try:
            reply = self._read_reply(sock, deadline)
        except (_Closed, ChannelError, ProtocolError, OSError):
            return None
        return reply if reply.id is None and reply.error is not None else None

    @staticmethod
    def _settimeout(sock: socket.socket, deadline: float) -> None:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock.settimeout(left)

    def _read_reply(self, sock: socket.socket, deadline: float) -> Reply:
        (length,) = HEADER.unpack(self._read(sock, HEADER.size, deadline, first=True))
        if length > MAX_REPLY_BYTES:
            raise ChannelError(f"{self.endpoint} is not a zmqscope server (a reply too large)")
        return decode_reply(self._read(sock, length, deadline))

    def _read(self, sock: socket.socket, size: int, deadline: float, first: bool = False) -> bytes:
        buffer = bytearray(size)
        view = memoryview(buffer)
        got = 0
        while got < size:
            self._settimeout(sock, deadline)
            count = sock.recv_into(view[got:])
            if not count:
                if first and not got:
                    raise _Closed
                raise ChannelError(f"{self.endpoint} closed the connection mid-reply")
            got += count
        return bytes(buffer)


class _Closed(Exception):
    """The server closed the connection between two replies."""


class ZmqChannel:
    """A DEALER on a private context (zmqscope's own sockets are never the application's)."""

    def __init__(
        self,
        endpoint: str,
        timeout: float,
        curve_server_key: bytes | None,
        curve_client_secret: bytes | None,
    ) -> None:
        self.endpoint = endpoint
        self.timeout = timeout
        # In an instrumented process (ZMQSCOPE=1 exported) the private
        # context keeps this client's socket out of reports.
        self._ctx: zmq.Context[Any] = _own_context.private_context()
        self._socket: zmq.Socket[Any] = self._ctx.socket(zmq.DEALER)
        self._socket.linger = 0
        # libzmq drops a peer that sends more, before holding it in memory.
        self._socket.maxmsgsize = MAX_REPLY_BYTES
        try:
            if curve_server_key is not None:
                if curve_client_secret is None:
                    public, secret = zmq.curve_keypair()
                else:
                    public, secret = zmq.curve_public(curve_client_secret), curve_client_secret
                self._socket.curve_serverkey = curve_server_key
                self._socket.curve_publickey = public
                self._socket.curve_secretkey = secret
            self._socket.connect(endpoint)
        except zmq.ZMQError as error:
            self.close()
            raise ChannelError(f"cannot connect to {endpoint}: {error.strerror}") from None

    def exchange(self, payload: bytes, request_id: int, deadline: float) -> Reply:
        # No peer to send to (a handshake that failed, a server gone) is the
        # same to the user as a server that does not answer.
        left = deadline - time.monotonic()
        if left <= 0 or not self._socket.poll(max(1, int(left * 1000)), zmq.POLLOUT):
            raise _no_answer(self.endpoint, self.timeout)
        try:
            self._socket.send(payload, zmq.NOBLOCK)
        except zmq.Again:
            raise _no_answer(self.endpoint, self.timeout) from None
        except zmq.ZMQError as error:
            raise ChannelError(f"cannot send to {self.endpoint}: {error.strerror}") from None
        while (left := deadline - time.monotonic()) > 0:
            if not self._socket.poll(max(1, int(left * 1000))):
                continue
            try:
                reply = decode_reply(self._socket.recv(zmq.NOBLOCK))
            except ProtocolError as error:
                raise _not_a_server(self.endpoint, error) from None
            if _answers(reply, request_id):
                return reply  # (others: late answers to requests that timed out)
        raise _no_answer(self.endpoint, self.timeout)

    def close(self) -> None:
        self._socket.close(linger=0)
        _own_context.term_private_context(self._ctx)
