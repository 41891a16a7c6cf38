"""Sockets that came from one line, taken together.

An application that leaks a socket per request leaks thousands from one
line; a report with one panel each is unreadable (1,023 sockets made 9,220
lines). Leaks are grouped by kind, creation site, type and creating thread,
and a live process's open sockets (its inventory) by creation site. The JSON
still lists every socket: grouping is how the text and Markdown show them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from zmqscope.model import Frame, Leak, LeakKind, Snapshot, SocketRecord
from zmqscope.model.wording import headline_frames

# Ids named where a group stands for many sockets (the JSON has them all).
EXAMPLE_IDS = 5


@dataclass(frozen=True, slots=True)
class LeakGroup:
    """Leaks of one kind, from one creation site, of one type, made by one thread."""

    leaks: tuple[Leak, ...]
    record: SocketRecord | None  # the first leak's socket

    @property
    def first(self) -> Leak:
        return self.leaks[0]

    @property
    def kind(self) -> LeakKind:
        return self.first.kind

    def __len__(self) -> int:
        return len(self.leaks)

    def ids(self, shown: int = EXAMPLE_IDS) -> str:
        """``s1, s2, s3, s4, s5 and 995 more``."""
        return some_ids([leak.socket for leak in self.leaks], shown)


@dataclass(frozen=True, slots=True)
class SiteGroup:
    """Open sockets made at one creation site (``site`` None: unknown), oldest first.

    The site is the application's line (``via``: the library line it went
    through, if any), as a socket's headline names it.
    """

    site: Frame | None
    sockets: tuple[SocketRecord, ...]
    via: Frame | None = None

    def to_dict(self) -> dict[str, object]:
        return {
            "site": self.site.to_dict() if self.site else None,
            "via": self.via.to_dict() if self.via else None,
            "sockets": [s.id for s in self.sockets],
        }


def group_leaks(leaks: Sequence[Leak], snapshot: Snapshot) -> list[LeakGroup]:
    """A report's leaks, grouped; groups in the order of their first leak."""
    groups: dict[object, list[Leak]] = {}
    records: dict[object, SocketRecord | None] = {}
    for leak in leaks:
        record = snapshot.socket(leak.socket)
        key: object = leak.socket if record is None else _leak_key(leak, record)
        if key not in groups:
            groups[key] = []
            records[key] = record
        groups[key].append(leak)
    return [LeakGroup(tuple(leaks), records[key]) for key, leaks in groups.items()]


def _leak_key(leak: Leak, record: SocketRecord) -> tuple[object, ...]:
    thread = record.created.thread
    return (
        leak.kind,
        record.type,
        headline_frames(record.created),
        record.adopted,
        thread.name if thread else None,
    )


def group_by_site(sockets: Sequence[SocketRecord]) -> list[SiteGroup]:
    """``sockets`` by creation site, the site with the most first (then the oldest)."""
    groups: dict[tuple[Frame | None, Frame | None], list[SocketRecord]] = {}
    for record in sockets:
        groups.setdefault(headline_frames(record.created), []).append(record)
    ordered = sorted(groups.items(), key=lambda item: -len(item[1]))  # stable: oldest first
    return [SiteGroup(site, tuple(records), via) for (site, via), records in ordered]


def some_ids(ids: Sequence[str], shown: int = EXAMPLE_IDS) -> str:
    """The first ``shown`` ids, and how many more there are."""
    named = ", ".join(ids[:shown])
    hidden = len(ids) - shown
    return f"{named} and {hidden:,} more" if hidden > 0 else named
