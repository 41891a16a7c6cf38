"""The mutable records behind the registry; frozen into model values on snapshot.

Call sites (:class:`Site`) live in :mod:`.sites`, re-exported here.
"""

from __future__ import annotations

import dataclasses
import time
import weakref
from dataclasses import dataclass
from typing import Any

from zmqscope.instrument.frames import RawFrame

# Re-exported: the hooks and the registry's other modules import these from here.
from zmqscope.instrument.registry.sites import THREAD_START as THREAD_START
from zmqscope.instrument.registry.sites import RawThread as RawThread
from zmqscope.instrument.registry.sites import Site as Site
from zmqscope.instrument.registry.sites import SiteRef as SiteRef
from zmqscope.instrument.registry.sites import frozen_frame as frozen_frame
from zmqscope.instrument.registry.sites import site_frame as site_frame
from zmqscope.instrument.registry.sites import thread_start as thread_start
from zmqscope.model import (
    ContextRecord,
    ContextState,
    Culprit,
    Endpoint,
    EndpointOp,
    SocketFailure,
    SocketRecord,
    SocketState,
    ThreadRef,
    Traffic,
    UsageWarning,
)

DEFAULT_LINGER = -1  # libzmq's own default: wait forever for unsent messages

# Traffic counters live in a plain list (index constants below): the send
# and recv hooks update them on every message, and list item updates are the
# cheapest mutation Python has. OWNER is the ident of the thread that last
# used the socket, so the hot path can spot another thread with one compare.
# Messages are frames minus the frames that had more parts following.
MORE_OUT, MORE_IN, FRAMES_OUT, FRAMES_IN, BYTES_OUT, BYTES_IN = range(6)
LAST_SEND, LAST_RECV, MORE_SEEN_AT, OWNER = range(6, 10)
# Frames counted when the traffic clock last looked (it stamps LAST_SEND/RECV).
SEEN_OUT, SEEN_IN = range(10, 12)


def new_counters(owner: int) -> list[float]:
    return [0, 0, 0, 0, 0, 0, 0.0, 0.0, -1, owner, 0, 0]


def stamp_counters(counters: list[float], now: float) -> None:
    """Time the last send/recv as ``now`` if frames moved since the last look."""
    if counters[FRAMES_OUT] != counters[SEEN_OUT]:
        counters[SEEN_OUT] = counters[FRAMES_OUT]
        counters[LAST_SEND] = now
    if counters[FRAMES_IN] != counters[SEEN_IN]:
        counters[SEEN_IN] = counters[FRAMES_IN]
        counters[LAST_RECV] = now


def traffic_row(counters: list[float]) -> list[float]:
    """The counters as :meth:`Traffic.from_row` reads them (compact on the wire)."""
    frames_out, frames_in = counters[FRAMES_OUT], counters[FRAMES_IN]
    return [
        frames_out - counters[MORE_OUT],
        frames_in - counters[MORE_IN],
        frames_out,
        frames_in,
        counters[BYTES_OUT],
        counters[BYTES_IN],
        counters[LAST_SEND],
        counters[LAST_RECV],
    ]


def freeze_counters(counters: list[float]) -> Traffic:
    return Traffic(
        msgs_out=int(counters[FRAMES_OUT] - counters[MORE_OUT]),
        msgs_in=int(counters[FRAMES_IN] - counters[MORE_IN]),
        frames_out=int(counters[FRAMES_OUT]),
        frames_in=int(counters[FRAMES_IN]),
        bytes_out=int(counters[BYTES_OUT]),
        bytes_in=int(counters[BYTES_IN]),
        last_send=counters[LAST_SEND] or None,
        last_recv=counters[LAST_RECV] or None,
    )


class EndpointEntry:
    __slots__ = ("active", "op", "requested", "site", "time", "url")

    def __init__(
        self,
        op: EndpointOp,
        url: str,
        requested: str | None,
        site: RawFrame | None,
        when: float | None = None,
    ):
        self.op = op
        self.url = url
        self.requested = requested
        self.site = site
        self.time = time.time() if when is None else when
        self.active = True

    def matches(self, op: EndpointOp, addr: str) -> bool:
        return self.active and self.op is op and addr in (self.url, self.requested)

    def freeze(self) -> Endpoint:
        site = frozen_frame(self.site) if self.site else None
        return Endpoint(self.op, self.url, self.active, self.requested, self.time, site)


_OPEN = SocketState.OPEN  # read through the class, an enum member costs ~70 ns


def holds_messages(op: EndpointOp, url: str) -> bool:
    """Whether messages queued for this endpoint can outlive the socket's close.

    A tcp or ipc connect: its queue waits for a peer that may never answer.
    An inproc pipe holds nothing once the socket is closed, and a bind
    queues nothing for a peer that has not connected.
    """
    return op is EndpointOp.CONNECT and not url.startswith("inproc://")


def close_may_block_term(connected: bool, linger: int | None) -> bool:
    """The rule: a closed socket may keep ``term()`` waiting.

    ``connected``: it made a connect that :func:`holds_messages`; ``linger``:
    its LINGER at the close (None: not known, libzmq's default -1). Used by
    :attr:`SocketEntry.may_block_term` and by the lazy journal for a record
    never built (:mod:`.store`), so that both judge a close alike.
    """
    return connected and linger != 0


class SocketEntry:
    """The live, mutable record of one libzmq socket."""

    __slots__ = (
        "adopted",
        "closed",
        "closing",
        "context_id",
        "created",
        "endpoints",
        "frozen",
        "handle",
        "id",
        "internal",
        "linger",
        "linger_source",
        "options",
        "owner",
        "owner_site",
        "pinned",
        "proxied_by",
        "raw",
        "ref",
        "state",
        "threads",
        "traffic",
        "type_name",
        "version",
        "warned",
    )

    def __init__(
        self,
        socket_id: str,
        handle: int,
        context_id: str | None,
        type_name: str,
        created: Site,
        adopted: bool,
    ) -> None:
        self.id = socket_id
        self.handle = handle
        self.context_id = context_id
        self.type_name = type_name
        self.created = created
        self.adopted = adopted
        self.state = _OPEN
        self.closed: Site | None = None
        # A tuple, replaced when one is added: most sockets have one or two,
        # and an empty tuple costs the busy creation path no allocation.
        self.endpoints: tuple[EndpointEntry, ...] = ()
        self.linger: int | None = None if adopted else DEFAULT_LINGER
        self.linger_source = "unknown" if adopted else "default"
        self.options: dict[str, str] | None = None  # most sockets set none
        # Every thread that made a call on it, in order, as (ident, name):
        # Python reuses the ident of a finished thread. A tuple: it rarely grows.
        self.threads: tuple[RawThread, ...] = (created.thread,) if created.thread else ()
        # The thread that used the socket last, and where (misuse detection).
        self.owner: RawThread | None = created.thread
        self.owner_site: SiteRef = created
        self.warned: set[frozenset[int]] | None = None
        self.traffic: list[float] | None = None
        self.pinned = False  # a culprit of a blocked term(): kept after it returns
        self.ref: weakref.ref[Any] | None = None  # to the socket object, while open
        # The raw record it was built from (Journal.socket_seen), if any: while
        # the registry's raw table holds it, the socket's close has not begun.
        self.raw: list[Any] | None = None
        # Set by the close hook before pyzmq's close() (recorded eagerly): a new
        # socket given this one's handle meanwhile is not its shadow.
        self.closing = False
        # The registry's generation at the last change, and the frozen record
        # of that version (traffic left out: it changes on every message).
        self.version = 0
        self.frozen: SocketRecord | None = None
        # The pyzmq helper that made it for itself (its context's, see
        # ContextEntry.internal), and the C loop it was handed to, if any.
        self.internal: str | None = None
        self.proxied_by: str | None = None

    @property
    def may_block_term(self) -> bool:
        """Closed, but libzmq may still hold it open until LINGER expires.

        That takes LINGER != 0 and a tcp or ipc connect, where unsent messages
        wait for a peer that may never answer (inproc pipes hold nothing
        once the socket is closed). Traffic mode also rules out a socket that
        never sent anything, unless it was handed to zmq.proxy() or a device,
        whose C loop sends without the Python send() that traffic mode counts.
        """
        if self.linger == 0 or not self.endpoints:  # (the common case, on the close path)
            return False
        if self.traffic is not None and not self.traffic[FRAMES_OUT] and self.proxied_by is None:
            return False
        connected = any(holds_messages(e.op, e.url) for e in self.endpoints)
        return close_may_block_term(connected, self.linger)

    def sharing_warning(
        self, first: RawThread, second: RawThread, site: SiteRef
    ) -> UsageWarning | None:
        """The warning for ``second`` coming back to a socket ``first`` uses; once a pair."""
        pair = frozenset((first[0], second[0]))
        if self.warned is None:
            self.warned = set()
        if pair in self.warned:
            return None
        self.warned.add(pair)
        first_frame, second_frame = site_frame(self.owner_site), site_frame(site)
        first_site = frozen_frame(first_frame) if first_frame else None
        second_site = frozen_frame(second_frame) if second_frame else None
        where = f" at {second_site.short()}" if second_site else ""
        before = f" (last at {first_site.short()})" if first_site else ""
        return UsageWarning(
            kind="cross-thread",
            socket=self.id,
            message=(
                f"{self.type_name} socket {self.id} used by {second[1]}{where} while "
                f"{first[1]}{before} still uses it: ZeroMQ sockets are not thread-safe"
            ),
            time=time.time(),
            first=ThreadRef(*first),
            first_site=first_site,
            second=ThreadRef(*second),
            second_site=second_site,
        )

    def freeze(self) -> SocketRecord:
        """The frozen record, with traffic counters as they are now."""
        record = self.freeze_static()
        if self.traffic is None:
            return record
        stamp_counters(self.traffic, time.time())
        return dataclasses.replace(record, traffic=freeze_counters(self.traffic))

    def freeze_static(self) -> SocketRecord:
        """The frozen record without traffic, made again only after a change."""
        if self.frozen is None:
            self.frozen = self._freeze()
        return self.frozen

    def _freeze(self) -> SocketRecord:
        return SocketRecord(
            id=self.id,
            context=self.context_id,
            type=self.type_name,
            state=self.state,
            created=self.created.freeze(),
            closed=self.closed.freeze() if self.closed else None,
            endpoints=tuple(e.freeze() for e in self.endpoints),
            linger=self.linger,
            linger_source=self.linger_source,
            options=tuple(self.options.items()) if self.options else (),
            threads_used=tuple(ThreadRef(*thread) for thread in self.threads),
            adopted=self.adopted,
            internal=self.internal,
            proxied_by=self.proxied_by,
        )


class ContextEntry:
    """The live, mutable record of one libzmq context."""

    __slots__ = (
        "adopted",
        "created",
        "failures",
        "failures_total",
        "handle",
        "id",
        "internal",
        "max_sockets",
        "max_sockets_ignored",
        "started",
        "state",
        "term_blocked_for",
        "term_blocked_since",
        "term_called",
        "terminated_at",
    )

    def __init__(
        self,
        context_id: str,
        handle: int,
        created: Site | None,
        adopted: bool,
        internal: str | None = None,
        max_sockets: int | None = None,
    ):
        self.id = context_id
        self.handle = handle
        self.created = created
        self.adopted = adopted
        # The pyzmq helper that made this context for its own sockets (e.g.
        # "zmq.utils.garbage"): they are pyzmq's, never the application's leaks.
        self.internal = internal
        self.state = ContextState.OPEN
        self.term_called: Site | None = None
        self.term_blocked_since: float | None = None
        self.terminated_at: float | None = None
        self.term_blocked_for: float | None = None  # a term() reported blocked, once it ended
        # The MAX_SOCKETS libzmq enforces: read when the context was made,
        # changed by ctx.set() only until its first socket (libzmq sizes its
        # tables then). An adopted context may have made sockets already.
        self.max_sockets = max_sockets
        self.max_sockets_ignored: int | None = None
        self.started = adopted  # has made a socket (as far as zmqscope saw)
        # The first few socket() calls libzmq refused: (site, errno, error,
        # open sockets then, max_sockets then, the limit); and how many in all.
        self.failures: list[tuple[Site, int, str, int, int | None, str]] = []
        self.failures_total = 0

    def freeze(self) -> ContextRecord:
        return ContextRecord(
            id=self.id,
            state=self.state,
            created=self.created.freeze() if self.created else None,
            term_called=self.term_called.freeze() if self.term_called else None,
            term_blocked_since=self.term_blocked_since,
            terminated_at=self.terminated_at,
            term_blocked_for=self.term_blocked_for,
            adopted=self.adopted,
            internal=self.internal,
            max_sockets=self.max_sockets,
            max_sockets_ignored=self.max_sockets_ignored,
            socket_failures=tuple(
                SocketFailure(site.freeze(), errno, error, used, most, limit)
                for site, errno, error, used, most, limit in self.failures
            ),
            failures_total=self.failures_total,
        )


@dataclass(frozen=True)
class Changes:
    """What changed in the registry since a generation (everything when ``full``).

    ``sockets`` are frozen without traffic; ``traffic`` holds the counters of
    every counted socket as plain lists (they change on every message).
    """

    generation: int
    full: bool
    taken_at: float
    sockets: tuple[SocketRecord, ...]
    removed: tuple[str, ...]
    traffic: dict[str, list[float]]
    contexts: tuple[ContextRecord, ...]
    culprits: tuple[Culprit, ...]
    warnings: tuple[UsageWarning, ...]
    created_total: int
    dropped: int
    leaks_dropped: int = 0
