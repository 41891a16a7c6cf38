"""The server's transport over tcp (and Linux's abstract ipc names): a ZeroMQ ROUTER.

There CURVE is needed (:mod:`zmqscope.remote.curve`), so libzmq carries the
messages, on zmqscope's own context. libzmq's tcp listener survives an
application out of file descriptors (it retries the accept; measured), and
what it does not bound zmqscope bounds around it:

- a reply is started (its first frame sent, with ``ROUTER_MANDATORY``)
  before any work is done for the request: a client that has gone
  (EHOSTUNREACH), or whose previous reply is still queued (one reply per
  client, ``SNDHWM`` 1), gets nothing and costs nothing;
- requests queued per client: ``RCVHWM`` (:data:`REQUESTS_HWM`); each frame
  at most ``MAX_REQUEST_BYTES`` + 1 KiB (``ZMQ_MAXMSGSIZE``, per frame: libzmq
  keeps a message of many frames whole before the server sees it, a limit
  the README states);
- replies queued in all: :data:`MAX_QUEUED_BYTES` (counted per client from
  the sizes sent, forgotten when the monitor sees the client disconnect);
- a connection that does not finish its handshake in
  :data:`HANDSHAKE_SECONDS` is closed by libzmq.
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Callable
from typing import Any

import zmq

from zmqscope.remote.curve import ZapGuard
from zmqscope.remote.handler import RequestHandler, request_id_of
from zmqscope.remote.protocol import MAX_REQUEST_BYTES, ErrorCode, ProtocolError, encode_error

_EVENT = struct.Struct("=Hi")
REQUESTS_HWM = 16
MAX_QUEUED_BYTES = 64 * 1024 * 1024
HANDSHAKE_SECONDS = 5
_POLL_MS = 250  # how quickly stop() is noticed; idle wake-ups cost nothing measurable
_BATCH = 100  # requests read per wake-up, then back to poll()


def split_request(frames: list[bytes]) -> tuple[list[bytes], bytes] | None:
    """(envelope, payload) of a message a ROUTER received; None if it is no request.

    The first frame is the client's routing id; DEALER clients send
    ``[payload]``, REQ clients ``[b"", payload]``. Anything else is refused.
    """
    if len(frames) == 2:
        return frames[:1], frames[1]
    if len(frames) == 3 and frames[1] == b"":
        return frames[:2], frames[2]
    return None


class ZmqServer:
    """A ROUTER bound to ``endpoint`` on the server's own context."""

    def __init__(self, ctx: zmq.Context[Any], zap: ZapGuard | None) -> None:
        self._ctx = ctx
        self._zap = zap
        self.endpoint = ""
        self._socket: zmq.Socket[Any] | None = None
        self._monitor: zmq.Socket[Any] | None = None
        self._held: dict[bytes, int] = {}  # routing id -> bytes of its last reply
        self._peer_fd: dict[bytes, int] = {}  # routing id -> its connection's descriptor
        self.dropped = 0  # requests of clients that had gone or read nothing, never answered

    def bind(self, endpoint: str, curve_secret_key: bytes | None) -> None:
        sock: zmq.Socket[Any] = self._ctx.socket(zmq.ROUTER)
        self._socket = sock
        sock.linger = 0
        sock.sndhwm = 1
        sock.rcvhwm = REQUESTS_HWM
        # Tell a client gone (EHOSTUNREACH) and one not reading (Again)
        # from a client to answer, before answering: see _start_reply.
        sock.router_mandatory = True
        # libzmq drops a peer that sends a bigger frame, before we see it.
        sock.maxmsgsize = MAX_REQUEST_BYTES + 1024
        sock.handshake_ivl = HANDSHAKE_SECONDS * 1000
        if curve_secret_key is not None:
            sock.curve_server = True
            sock.curve_secretkey = curve_secret_key
        sock.bind(endpoint)
        self.endpoint = sock.get_string(zmq.LAST_ENDPOINT)
        self._monitor = sock.get_monitor_socket(zmq.EVENT_DISCONNECTED)

    def close(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(zmq.ZMQError):
                self._socket.disable_monitor()
            self._socket.close(linger=0)
        if self._monitor is not None:
            self._monitor.close(linger=0)
        if self._zap is not None:
            self._zap.close()

    @property
    def queued_bytes(self) -> int:
        return sum(self._held.values())

    def serve(self, handler: RequestHandler, stopping: Callable[[], bool]) -> None:
        """Answer clients until ``stopping()``; runs on the server's thread."""
        sock, monitor = self._socket, self._monitor
        assert sock is not None and monitor is not None
        poller = zmq.Poller()
        poller.register(sock, zmq.POLLIN)
        poller.register(monitor, zmq.POLLIN)
        if self._zap is not None:
            poller.register(self._zap.socket, zmq.POLLIN)
        while not stopping():
            budget = handler.budget
            budget.charge()
            timeout = _POLL_MS if budget.available() else min(_POLL_MS, 100)
            if not poller.poll(timeout):
                handler.cache.expire()
                continue
            if self._zap is not None:
                self._zap.admit()  # handshakes first: they wait for us
            self._forget_disconnected(monitor)
            self._drain(sock, handler, stopping)

    def _drain(
        self, sock: zmq.Socket[Any], handler: RequestHandler, stopping: Callable[[], bool]
    ) -> None:
        refusals = 0
        for _ in range(_BATCH):
            if stopping():
                return  # stop() waits for this thread: leave the backlog
            over_budget = not handler.budget.available()
            if over_budget and refusals >= 32:
                return  # the rest wait in libzmq's bounded queues
            try:
                frames = sock.recv_multipart(zmq.NOBLOCK, copy=False)
            except zmq.Again:
                return
            refusals += over_budget
            with contextlib.suppress(Exception):  # the server must outlive any request
                self._handle(sock, frames, handler)

    def _handle(self, sock: zmq.Socket[Any], frames: list[Any], handler: RequestHandler) -> None:
        data = [frame.bytes for frame in frames]
        peer = data[0]
        split = split_request(data)
        if split is not None:
            envelope, payload = split
        else:
            handler.requests += 1
            error = ProtocolError(ErrorCode.BAD_REQUEST, "a request is one frame")
            if self._start_reply(sock, peer):
                self._finish_reply(sock, peer, [encode_error(error)])
            return
        with contextlib.suppress(zmq.ZMQError):
            self._peer_fd[peer] = frames[-1].get(zmq.SRCFD)
        if not self._start_reply(sock, peer):
            self.dropped += 1
            return
        if handler.budget.available() and self.queued_bytes >= MAX_QUEUED_BYTES:
            why = "replies to slow clients fill its memory"
            reply = handler.busy(request_id_of(payload), why, 1.0)
        else:
            reply = handler.reply(payload)
        self._finish_reply(sock, peer, [*envelope[1:], reply])

    def _start_reply(self, sock: zmq.Socket[Any], peer: bytes) -> bool:
        """Send the reply's first frame: False if the client has gone or reads nothing."""
        try:
            sock.send(peer, zmq.SNDMORE | zmq.NOBLOCK)
        except zmq.Again:
            # The I/O thread's "read up to here" notices may still wait in
            # the socket's mailbox (send/recv process it at most once a
            # millisecond): reading EVENTS processes it. Then only a client
            # whose previous reply is still queued looks full.
            sock.getsockopt(zmq.EVENTS)
            try:
                sock.send(peer, zmq.SNDMORE | zmq.NOBLOCK)
            except zmq.ZMQError:
                return False
        except zmq.ZMQError:
            self._forget(peer)
            return False  # EHOSTUNREACH: gone
        return True

    def _finish_reply(self, sock: zmq.Socket[Any], peer: bytes, frames: list[bytes]) -> None:
        with contextlib.suppress(zmq.ZMQError):
            sock.send_multipart(frames, zmq.NOBLOCK)
        self._held[peer] = len(frames[-1])

    def _forget_disconnected(self, monitor: zmq.Socket[Any]) -> None:
        gone: set[int] = set()
        while True:
            try:
                event = monitor.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                break
            # The event's first frame: its number (16 bits), then its value
            # (32 bits: the descriptor), in the host's byte order. (Read
            # here: zmq.utils.monitor would import asyncio into the app.)
            if len(event[0]) >= _EVENT.size:
                gone.add(_EVENT.unpack_from(event[0])[1])
        if gone:
            # (A descriptor closed here may already serve a new client whose
            # request was read before this event: that client's count is
            # forgotten too, and made again by its next reply.)
            for peer in [p for p, fd in self._peer_fd.items() if fd in gone]:
                self._forget(peer)

    def _forget(self, peer: bytes) -> None:
        self._held.pop(peer, None)
        self._peer_fd.pop(peer, None)
