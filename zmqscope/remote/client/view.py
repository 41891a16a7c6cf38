"""A live client's copy of a server's records, kept current by applying the
deltas of successive ``snapshot`` replies."""

from __future__ import annotations

import dataclasses
from typing import Any

from zmqscope.model import (
    ContextRecord,
    Culprit,
    ProcessInfo,
    Snapshot,
    SocketRecord,
    Traffic,
    UsageWarning,
    check_count,
    check_time,
    scalar_text,
)
from zmqscope.remote.wire import Decoder


class SnapshotView:
    """A client's copy of the server's records, kept current by applying deltas."""

    def __init__(self) -> None:
        self.instance: str | None = None
        self.generation = 0
        self.records: dict[str, SocketRecord] = {}

    def accepts(self, data: Any) -> bool:
        """False when a delta is for another registry (the process forked, say)."""
        return bool(data["full"]) or data["instance"] == self.instance

    def apply(self, data: Any) -> Snapshot:
        if data["full"]:
            self.records = {}
        records = self.records
        decoder = Decoder(data["frames"])
        for item in data["sockets"]:
            record = decoder.socket(item)
            records[record.id] = record  # an update keeps its place: creation order
        for socket_id in data["removed"]:
            records.pop(scalar_text(socket_id, "a removed socket"), None)
        self.instance = scalar_text(data["instance"], "instance")
        self.generation = check_count(data["generation"], "generation")
        traffic = {str(k): Traffic.from_row(v) for k, v in dict(data["traffic"]).items()}
        sockets = tuple(
            dataclasses.replace(r, traffic=traffic[r.id]) if r.id in traffic else r
            for r in records.values()
        )
        return Snapshot(
            taken_at=check_time(data["taken_at"], "taken_at"),
            process=ProcessInfo.from_dict(data["process"]),
            contexts=tuple(ContextRecord.from_dict(c) for c in data["contexts"]),
            sockets=sockets,
            created_total=check_count(data["created_total"], "created_total"),
            dropped=check_count(data["dropped"], "dropped"),
            culprits=tuple(Culprit.from_dict(c) for c in data["culprits"]),
            warnings=tuple(UsageWarning.from_dict(w) for w in data["warnings"]),
            leaks_dropped=int(data.get("leaks_dropped", 0)),  # (servers before it: none)
        )
