"""A snapshot: every record of one process at one instant."""

from __future__ import annotations

from dataclasses import dataclass, field

from zmqscope.model._base import SocketState
from zmqscope.model._diagnosis import Culprit, UsageWarning
from zmqscope.model._records import ContextRecord, ProcessInfo, SocketRecord


@dataclass(frozen=True, slots=True)
class Snapshot:
    """The registry's contents at one instant.

    ``dropped`` counts closed records that were forgotten to keep the
    registry bounded; ``created_total`` counts every socket ever recorded;
    ``leaks_dropped`` counts sockets collected without close() whose records
    were forgotten past the bound of kept leaks (``registry.MAX_LEAKS_KEPT``).
    """

    taken_at: float
    process: ProcessInfo
    contexts: tuple[ContextRecord, ...] = ()
    sockets: tuple[SocketRecord, ...] = ()
    created_total: int = 0
    dropped: int = 0
    culprits: tuple[Culprit, ...] = ()
    warnings: tuple[UsageWarning, ...] = ()
    leaks_dropped: int = 0
    # Records by id, made on the first look-up: the renderers look up every
    # leak and culprit, which scanned the whole tuple each time.
    _by_id: dict[str, SocketRecord] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def socket(self, socket_id: str) -> SocketRecord | None:
        by_id = self._by_id
        if by_id is None:
            by_id = {record.id: record for record in self.sockets}
            object.__setattr__(self, "_by_id", by_id)
        return by_id.get(socket_id)

    def context(self, context_id: str | None) -> ContextRecord | None:
        for record in self.contexts:
            if record.id == context_id:
                return record
        return None

    @property
    def open_sockets(self) -> tuple[SocketRecord, ...]:
        return tuple(s for s in self.sockets if s.state is SocketState.OPEN)
