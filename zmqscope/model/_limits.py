"""How close a process is to the limits that make ``socket()`` fail.

Two limits end in the same error, ``zmq.ZMQError: Too many open files``
(EMFILE), so a developer who reads it looks at the wrong one:

- libzmq's **MAX_SOCKETS**, per context (1023 by default): the limit that
  is in force when a context makes its first socket; setting it later
  changes what ``ctx.get(zmq.MAX_SOCKETS)`` says, not the limit;
- the process's **file descriptors** (the soft ``RLIMIT_NOFILE``): each
  socket holds one (its mailbox), each tcp or ipc bind one more, each tcp or
  ipc connection one per end in this process, and a context five once it has
  a socket (three, plus two per I/O thread).

A warning is due at :data:`WARN_SHARE` of either limit, and whenever libzmq
has refused a ``socket()``; it names the creation sites that hold the most
open sockets, where a leak usually is. Everything here is computed from
records (standard library only): the reports, the server and the TUI share it.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from zmqscope.model._base import (
    ContextState,
    SchemaError,
    SocketState,
    _list,
    _optional,
    _require,
)
from zmqscope.model._records import (
    LIMIT_FDS,
    LIMIT_MAX_SOCKETS,
    ContextRecord,
    SocketFailure,
    SocketRecord,
)
from zmqscope.model._sites import Frame
from zmqscope.model.wording import frame_text, headline_frames, location, visible

# The share of a limit at which zmqscope warns (the TUI's fd gauge turns red
# at the same point).
WARN_SHARE = 0.8
# Creation sites named per warning.
TOP_SITES = 3

MAX_SOCKETS = LIMIT_MAX_SOCKETS
FDS = LIMIT_FDS


@dataclass(frozen=True, slots=True)
class SiteCount:
    """How many open sockets one line of code made (``site`` None: unknown)."""

    site: Frame | None
    count: int
    via: Frame | None = None  # the library line the application's went through

    def to_dict(self) -> dict[str, Any]:
        return {
            "site": self.site.to_dict() if self.site else None,
            "count": self.count,
            "via": self.via.to_dict() if self.via else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SiteCount:
        site = _optional(data, "site", dict)
        via = _optional(data, "via", dict)
        return cls(
            Frame.from_dict(site) if site else None,
            _require(data, "count", int),
            Frame.from_dict(via) if via else None,
        )

    def text(self) -> str:
        """``app.py:7 in main(), via jupyter_client/connect.py:697 (18)``."""
        if self.site is None:
            return f"an unknown site ({self.count})"
        where = frame_text(self.site)
        if self.via is not None:
            where += f", via {location(self.via)}"
        return visible(f"{where} ({self.count})")


@dataclass(frozen=True, slots=True)
class LimitWarning:
    """A limit that is near or reached, or that already refused a ``socket()``.

    ``kind`` is :data:`MAX_SOCKETS` (``context`` names the context) or
    :data:`FDS` (the whole process). ``used`` is None when it is not known
    (file descriptors at the moment libzmq ran out of them).
    """

    kind: str
    used: int | None
    limit: int
    context: str | None = None
    refused: SocketFailure | None = None
    refused_total: int = 0
    ignored: int | None = None  # a MAX_SOCKETS set too late, ignored by libzmq
    sites: tuple[SiteCount, ...] = ()

    @property
    def reached(self) -> bool:
        return self.refused_total > 0 or (self.used is not None and self.used >= self.limit)

    def headline(self) -> str:
        """One line: which limit, how full, and what happens past it."""
        if self.kind == MAX_SOCKETS:
            used = "?" if self.used is None else str(self.used)
            text = (
                f"context {self.context} holds {used} of its {self.limit} sockets"
                " (libzmq's MAX_SOCKETS)"
            )
            if self.ignored is not None:
                text += (
                    f"; MAX_SOCKETS {self.ignored} was set after its first socket,"
                    " which libzmq ignores"
                )
        else:
            used = "?" if self.used is None else str(self.used)
            text = f"{used} of {self.limit} file descriptors open (the soft limit, ulimit -n)"
        if self.refused_total:
            times = "once" if self.refused_total == 1 else f"{self.refused_total} times"
            text += f": socket() was refused {times} with 'Too many open files'"
            refused = self.refused
            if self.kind == MAX_SOCKETS and refused and refused.open_sockets < self.limit:
                text += " (closed sockets held the other slots: libzmq keeps them while LINGER lets"
                text += " their messages wait)"
            return text
        return f"{text}: past it socket() fails with 'Too many open files'"

    def brief(self) -> str:
        """A few words for a header: ``c1: 18/20 sockets (MAX_SOCKETS), most from app.py:7``."""
        used = "?" if self.used is None else str(self.used)
        if self.kind == MAX_SOCKETS:
            text = f"{self.context}: {used}/{self.limit} sockets (MAX_SOCKETS)"
        else:
            text = f"fds {used}/{self.limit} (ulimit -n)"
        if self.refused_total:
            text += ", socket() refused"
        if self.sites:
            text += f", most from {self.sites[0].text()}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "context": self.context,
            "used": self.used,
            "limit": self.limit,
            "reached": self.reached,
            "message": self.headline(),
            "refused": self.refused.to_dict() if self.refused else None,
            "refused_total": self.refused_total,
            "ignored": self.ignored,
            "sites": [s.to_dict() for s in self.sites],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LimitWarning:
        """Read :meth:`to_dict`'s shape (``message`` and ``reached`` are worked out again)."""
        kind = _require(data, "kind", str)
        if kind not in (MAX_SOCKETS, FDS):
            raise SchemaError(f"unknown limit kind {kind!r}")
        refused = _optional(data, "refused", dict)
        return cls(
            kind=kind,
            used=_optional(data, "used", int),
            limit=_require(data, "limit", int),
            context=_optional(data, "context", str),
            refused=SocketFailure.from_dict(refused) if refused else None,
            refused_total=int(_optional(data, "refused_total", int) or 0),
            ignored=_optional(data, "ignored", int),
            sites=tuple(SiteCount.from_dict(site) for site in _list(data, "sites")),
        )


def near(used: int, limit: int) -> bool:
    """True at :data:`WARN_SHARE` of ``limit`` or beyond."""
    return limit > 0 and used >= math.ceil(WARN_SHARE * limit)


def check_limits(
    contexts: Iterable[ContextRecord],
    open_counts: Mapping[str | None, int],
    fds: int | None = None,
    fd_limit: int | None = None,
    open_sockets: Sequence[SocketRecord] | None = None,
) -> tuple[LimitWarning, ...]:
    """The warnings due: contexts near MAX_SOCKETS, file descriptors near their limit.

    ``open_counts`` is the number of open sockets per context id. With
    ``open_sockets``, each warning names the sites that made the most of
    them; the server's quick answers (``ls``) leave them out. Warnings whose
    limit is reached come first.
    """
    warnings: list[LimitWarning] = []
    refused_fds: list[SocketFailure] = []
    refused_fds_total = 0
    for context in contexts:
        failure, total = _first_refusal(context)
        if failure is not None and not _refused_by_max_sockets(failure):
            refused_fds.append(failure)
            refused_fds_total += total
            failure, total = None, 0
        warning = _socket_warning(context, open_counts.get(context.id, 0), failure, total)
        if warning is not None:
            warnings.append(warning)
    if fd_limit and (refused_fds or (fds is not None and near(fds, fd_limit))):
        first = min(refused_fds, key=lambda f: f.site.time) if refused_fds else None
        warnings.append(
            LimitWarning(FDS, fds, fd_limit, refused=first, refused_total=refused_fds_total)
        )
    if open_sockets is not None:
        warnings = [_with_sites(w, open_sockets) for w in warnings]
    warnings.sort(key=lambda w: not w.reached)
    return tuple(warnings)


def snapshot_limits(
    contexts: Sequence[ContextRecord],
    sockets: Sequence[SocketRecord],
    fds: int | None = None,
    fd_limit: int | None = None,
) -> tuple[LimitWarning, ...]:
    """:func:`check_limits` over a snapshot's records, with the top creation sites."""
    open_sockets = [s for s in sockets if s.state is SocketState.OPEN]
    counts = Counter(s.context for s in open_sockets)
    return check_limits(contexts, counts, fds, fd_limit, open_sockets)


def _socket_warning(
    context: ContextRecord, used: int, failure: SocketFailure | None, total: int
) -> LimitWarning | None:
    limit = context.max_sockets
    if failure is not None and failure.max_sockets is not None:
        limit = failure.max_sockets if limit is None else limit
    if limit is None:
        return None
    live = context.state is not ContextState.TERMINATED
    if failure is None and not (live and near(used, limit)):
        return None
    if failure is not None and (not live or used < failure.open_sockets):
        used = failure.open_sockets  # what it held when libzmq said no
    return LimitWarning(
        MAX_SOCKETS,
        used,
        limit,
        context=context.id,
        refused=failure,
        refused_total=total,
        ignored=context.max_sockets_ignored,
    )


def _first_refusal(context: ContextRecord) -> tuple[SocketFailure | None, int]:
    if not context.socket_failures:
        return None, 0
    return context.socket_failures[0], context.failures_total


def _refused_by_max_sockets(failure: SocketFailure) -> bool:
    """libzmq says EMFILE for both limits; the hooks told them apart."""
    return failure.limit == MAX_SOCKETS


def _with_sites(warning: LimitWarning, open_sockets: Sequence[SocketRecord]) -> LimitWarning:
    if warning.kind == MAX_SOCKETS:
        counted = [s for s in open_sockets if s.context == warning.context]
    else:
        counted = list(open_sockets)
    return replace(warning, sites=top_sites(counted))


def top_sites(sockets: Iterable[SocketRecord], count: int = TOP_SITES) -> tuple[SiteCount, ...]:
    """The creation sites that made the most of ``sockets``, most first."""
    tally = Counter(headline_frames(s.created) for s in sockets)
    return tuple(SiteCount(site, n, via) for (site, via), n in tally.most_common(count))
