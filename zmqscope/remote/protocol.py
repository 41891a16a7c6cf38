"""The introspection wire protocol: versioned, typed JSON messages.

A request is one JSON object ``{"v": 1, "type": ..., "id": ...}`` plus the
type's parameters; every reply carries the same ``v`` and ``id`` and either
``{"type": "<type>.reply", "data": ...}`` or ``{"type": "error", "error":
{"code": ..., "message": ...}}``. Requests are read-only (hello, snapshot,
report, threads, events) and small: anything larger than
:data:`MAX_REQUEST_BYTES` is refused. A server over its budget answers
``busy``, with the seconds after which to ask again (``retry_after``).

On the default transport (an ipc socket file) messages travel over a plain
Unix stream socket, each one its length (4 bytes, big-endian) then its JSON:
:class:`StreamReader` splits such a stream. Over tcp (and abstract ipc
names) they are ZeroMQ messages. Imports only the standard library and
:mod:`zmqscope.model`.
"""

from __future__ import annotations

import json
import math
import struct
from collections import deque
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from zmqscope._errors import ZmqscopeError

VERSION = 1
MAX_REQUEST_BYTES = 64 * 1024
# Replies can be large (a snapshot of 10,000 sockets); this only guards a
# client against a peer that is not a zmqscope server.
MAX_REPLY_BYTES = 512 * 1024 * 1024
# Of a server's error message, what a client keeps (it is shown in one line).
MAX_ERROR_CHARS = 500
# A client waits at most this long when told to retry later.
MAX_RETRY_AFTER = 60.0
# The length before each message on a stream (see the module's doc).
HEADER = struct.Struct("!I")


class RequestType(str, Enum):
    HELLO = "hello"
    SNAPSHOT = "snapshot"
    REPORT = "report"
    THREADS = "threads"
    EVENTS = "events"


class ErrorCode(str, Enum):
    BAD_JSON = "bad-json"
    BAD_REQUEST = "bad-request"
    UNKNOWN_TYPE = "unknown-type"
    BAD_VERSION = "bad-version"
    TOO_LARGE = "too-large"
    BUSY = "busy"  # over the server's budget: ask again after ``retry_after`` seconds
    INTERNAL = "internal"


class ProtocolError(ZmqscopeError):
    """A message that is not a valid request or reply; ``code`` says why.

    ``retry_after`` (seconds) comes with ``busy``: when asking again may succeed.
    """

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        request_id: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.request_id = request_id
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Request:
    type: RequestType
    id: int
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def cursor(self) -> int:
        """The ``since`` parameter; 0 (everything) when absent or not valid.

        For ``events``, the last sequence number the client has seen; for
        ``snapshot``, the registry generation it last saw.
        """
        value = self.params.get("since", 0)
        valid = isinstance(value, int) and not isinstance(value, bool) and value > 0
        return value if valid else 0

    @property
    def peers(self) -> bool:
        """``snapshot``'s and ``hello``'s ``peers`` parameter: false spares the server
        reading the OS's connections (``zmqscope topology`` reads them once for the
        host; ``zmqscope ls`` shows none)."""
        return self.params.get("peers") is not False


@dataclass(frozen=True, slots=True)
class Reply:
    id: int | None
    type: str
    data: Any = None
    error: ProtocolError | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def encode_request(kind: RequestType, request_id: int, **params: Any) -> bytes:
    message = {"v": VERSION, "type": kind.value, "id": request_id, **params}
    return json.dumps(message, separators=(",", ":")).encode()


def decode_request(payload: bytes) -> Request:
    """A valid request, or :class:`ProtocolError` naming what is wrong."""
    if len(payload) > MAX_REQUEST_BYTES:
        raise ProtocolError(ErrorCode.TOO_LARGE, f"request larger than {MAX_REQUEST_BYTES} bytes")
    try:
        message = json.loads(payload)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_JSON, "request is not JSON") from None
    if not isinstance(message, dict):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request is not a JSON object")
    request_id = message.get("id")
    if not isinstance(request_id, int) or isinstance(request_id, bool):
        raise ProtocolError(ErrorCode.BAD_REQUEST, "request has no integer 'id'")
    version = message.get("v")
    # JSON true == 1 and 1.0 == 1 in Python; neither is protocol version 1.
    if type(version) is not int or version != VERSION:
        raise ProtocolError(
            ErrorCode.BAD_VERSION,
            f"unsupported protocol version {version!r} (this server speaks {VERSION})",
            request_id,
        )
    try:
        kind = RequestType(message.get("type"))
    except ValueError:
        raise ProtocolError(
            ErrorCode.UNKNOWN_TYPE, f"unknown request type {message.get('type')!r}", request_id
        ) from None
    params = {k: v for k, v in message.items() if k not in ("v", "type", "id")}
    return Request(kind, request_id, params)


def encode_reply(request: Request, data: Any) -> bytes:
    return encode_reply_data(request, encode_data(data))


def encode_data(data: Any) -> bytes:
    """The JSON of a reply's ``data``, to be sent with :func:`encode_reply_data`."""
    return json.dumps(data, separators=(",", ":")).encode()


def encode_reply_data(request: Request, data: bytes) -> bytes:
    """The reply to ``request`` whose data is the JSON ``data`` (kept by the server's cache)."""
    kind = request.type.value
    head = f'{{"v":{VERSION},"type":"{kind}.reply","id":{request.id},"data":'
    return b"".join((head.encode(), data, b"}"))


def encode_error(error: ProtocolError) -> bytes:
    details: dict[str, Any] = {"code": error.code.value, "message": str(error)}
    if error.retry_after is not None:
        details["retry_after"] = round(error.retry_after, 3)
    message = {"v": VERSION, "type": "error", "id": error.request_id, "error": details}
    return json.dumps(message, separators=(",", ":")).encode()


def _not_a_number(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def decode_reply(payload: bytes) -> Reply:
    """A reply from a server; :class:`ProtocolError` if it is not one."""
    if len(payload) > MAX_REPLY_BYTES:
        raise ProtocolError(ErrorCode.TOO_LARGE, "reply too large")
    try:
        # NaN and Infinity are not JSON; Python's reader takes them unless told.
        message = json.loads(payload, parse_constant=_not_a_number)
    except (ValueError, RecursionError):
        raise ProtocolError(ErrorCode.BAD_JSON, "reply is not JSON") from None
    if not isinstance(message, dict) or message.get("v") != VERSION:
        raise ProtocolError(ErrorCode.BAD_VERSION, "not a zmqscope reply of a known version")
    raw_id = message.get("id")
    request_id = raw_id if isinstance(raw_id, int) else None
    raw_type = message.get("type")
    kind = raw_type if isinstance(raw_type, str) else ""
    if kind == "error":
        raw = message.get("error")
        details: dict[str, Any] = raw if isinstance(raw, dict) else {}
        try:
            code = ErrorCode(details.get("code"))
        except ValueError:
            code = ErrorCode.INTERNAL
        # Shown to the user in one line: text, and not a book of it.
        text = details.get("message")
        text = text[:MAX_ERROR_CHARS] if isinstance(text, str) and text else "error"
        retry_after = _retry_after(details.get("retry_after"))
        error = ProtocolError(code, text, request_id, retry_after)
        return Reply(request_id, kind, error=error)
    return Reply(request_id, kind, data=message.get("data"))


def _retry_after(value: Any) -> float | None:
    """A server's ``retry_after``, bounded; None when absent or not a number of seconds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return min(max(float(value), 0.0), MAX_RETRY_AFTER)


# -- messages on a stream -----------------------------------------------------------------


def stream_header(payload: bytes) -> bytes:
    """What goes before ``payload`` on a stream: its length."""
    return HEADER.pack(len(payload))


class StreamReader:
    """Splits a byte stream into messages of at most ``limit`` bytes each.

    It never holds more than one message being read plus what was fed at
    once (the caller feeds bounded chunks): a header announcing more than
    ``limit`` raises :class:`ProtocolError` (``too-large``) at once, before
    any of that message is kept. After that the stream cannot be read on.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buffer = bytearray()
        self._ready: deque[bytes] = deque()

    def feed(self, data: bytes) -> None:
        """Take the next bytes of the stream; complete messages become :meth:`next`'s."""
        buffer = self._buffer
        buffer += data
        start = 0
        size = HEADER.size
        while len(buffer) - start >= size:
            (length,) = HEADER.unpack_from(buffer, start)
            if length > self.limit:
                self._buffer = bytearray()
                raise ProtocolError(
                    ErrorCode.TOO_LARGE, f"message of {length} bytes, over {self.limit}"
                )
            if len(buffer) - start - size < length:
                break
            self._ready.append(bytes(buffer[start + size : start + size + length]))
            start += size + length
        if start:
            del buffer[:start]

    def next(self) -> bytes | None:
        """The oldest complete message not taken yet, or None."""
        return self._ready.popleft() if self._ready else None

    @property
    def ready(self) -> int:
        """How many complete messages wait."""
        return len(self._ready)

    @property
    def buffered(self) -> int:
        """Bytes held: messages waiting and the one being read."""
        return len(self._buffer) + sum(len(m) for m in self._ready)

    @property
    def partial(self) -> int:
        """Bytes of a message begun but not complete (0 between messages)."""
        return len(self._buffer)
