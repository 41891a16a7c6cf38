"""One request in, one reply out, within the server's budget.

Both transports of the server (:mod:`zmqscope.remote.stream_server` for ipc
socket files, :mod:`zmqscope.remote.zmq_server` for tcp) hand each request's
bytes to :class:`RequestHandler` and send back what it returns. Over its CPU
budget it answers ``busy``; a request asked again while the registry has not
changed (``ls`` asking every process, several TUIs polling one app, a
script in a loop) is answered from a cache, for at most
:data:`CACHE_MAX_AGE` seconds, since the process's vital signs move anyway.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Protocol

from zmqscope.remote.budget import CpuBudget
from zmqscope.remote.protocol import (
    ErrorCode,
    ProtocolError,
    Request,
    decode_request,
    encode_data,
    encode_error,
    encode_reply_data,
)

CACHE_MAX_AGE = 0.5
CACHE_MAX_ENTRIES = 32
CACHE_MAX_BYTES = 32 * 1024 * 1024


class ReplyCache:
    """Encoded answers by request, each valid while the registry's version holds."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        # key -> (version, stored at, data)
        self._entries: OrderedDict[Hashable, tuple[Hashable, float, bytes]] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, version: Hashable) -> bytes | None:
        found = self._entries.get(key)
        if found is None:
            return None
        stored_version, stored_at, data = found
        if stored_version != version or self._clock() - stored_at >= CACHE_MAX_AGE:
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return data

    def put(self, key: Hashable, version: Hashable, data: bytes) -> None:
        if len(data) > CACHE_MAX_BYTES // 4:
            return  # a huge answer is not kept: memory matters more than its second asker
        self._drop(key)
        self._entries[key] = (version, self._clock(), data)
        self._bytes += len(data)
        while len(self._entries) > CACHE_MAX_ENTRIES or self._bytes > CACHE_MAX_BYTES:
            self._drop(next(iter(self._entries)))

    def expire(self) -> None:
        """Forget answers past their age (the server calls it when idle)."""
        now = self._clock()
        for key in [k for k, (_, at, _) in self._entries.items() if now - at >= CACHE_MAX_AGE]:
            self._drop(key)

    @property
    def size(self) -> int:
        """Bytes of answers kept."""
        return self._bytes

    def _drop(self, key: Hashable) -> None:
        found = self._entries.pop(key, None)
        if found is not None:
            self._bytes -= len(found[2])


class Answers(Protocol):
    """What a server answers: handed to it, so this package never reads the records.

    :class:`zmqscope.instrument.answers.ProcessAnswers` answers from this
    process's records.
    """

    endpoint: str  # the server's, once bound
    started: float  # when the server was made (time.time())

    def answer(self, request: Request) -> Any:
        """The data of the reply to ``request`` (raises on a bug)."""

    def version(self) -> Hashable | None:
        """Names the state answers are made from (None: not cacheable now)."""

    def prepare(self) -> None:
        """Import and read what answering needs, on the thread that starts the server."""

    def prepare_thread(self) -> None:
        """Likewise, on the server's thread before its first request (forks wait)."""

    def reading(self, ident: int) -> None:
        """The server's thread ``ident`` starts reading (answering requests)."""

    def done_reading(self, ident: int) -> None:
        """The server's thread ``ident`` stops."""


class RequestHandler:
    """Decodes a request and makes its reply: answered, cached, refused or an error."""

    def __init__(self, answers: Answers, budget: CpuBudget) -> None:
        self.answers = answers
        self.budget = budget
        self.cache = ReplyCache()
        self.requests = 0
        self.errors = 0  # internal errors: a bug, never a client's fault
        self.refused = 0  # answered busy
        self.cached = 0  # answered from the cache

    def reply(self, payload: bytes) -> bytes:
        """The reply to one request's bytes (never raises)."""
        self.requests += 1
        try:
            request = decode_request(payload)
        except ProtocolError as error:
            return encode_error(error)
        if not self.budget.available():
            return self.busy(request.id, "over its CPU budget")
        key = (request.type, request.cursor, request.peers)
        version = self.answers.version()
        if version is not None:
            data = self.cache.get(key, version)
            if data is not None:
                self.cached += 1
                return encode_reply_data(request, data)
        try:
            data = encode_data(self.answers.answer(request))
        except Exception as error:
            self.errors += 1
            internal = ProtocolError(ErrorCode.INTERNAL, f"server error: {error}", request.id)
            return encode_error(internal)
        if version is not None:
            # Stored under the version read before answering: the answer is at
            # least that recent, and any change since makes the next ask a miss.
            self.cache.put(key, version, data)
        return encode_reply_data(request, data)

    def busy(self, request_id: int | None, why: str, retry_after: float | None = None) -> bytes:
        """A ``busy`` refusal, with when to ask again (default: when the budget allows)."""
        self.refused += 1
        wait = max(self.budget.retry_after() if retry_after is None else retry_after, 0.1)
        message = f"the server is busy ({why}): ask again in {wait:.1f} s"
        return encode_error(ProtocolError(ErrorCode.BUSY, message, request_id, wait))


def request_id_of(payload: bytes) -> int | None:
    """The id of a request that will not be decoded (its reply is a refusal)."""
    with contextlib.suppress(Exception):
        if len(payload) <= 4096:
            found = json.loads(payload).get("id")
            if isinstance(found, int) and not isinstance(found, bool):
                return found
    return None
