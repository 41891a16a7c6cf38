"""Frozen records that describe what zmqscope saw.

Everything here is a plain value: safe to keep, compare, pickle and send over
the wire. ``to_dict``/``from_dict`` produce and read the shapes of the
``zmqscope.report/1`` JSON schema (see docs/report-json.md). This package
imports nothing outside the standard library.
"""

from __future__ import annotations

from zmqscope.model._base import (
    MAX_INT,
    MAX_ITEMS,
    MAX_NESTING,
    MAX_TEXT,
    SCHEMA,
    ContextState,
    EndpointOp,
    LeakKind,
    SchemaError,
    SocketState,
    check_count,
    check_time,
    check_value,
    scalar_text,
)
from zmqscope.model._diagnosis import Culprit, Leak, UsageWarning
from zmqscope.model._limits import (
    FDS,
    LimitWarning,
    SiteCount,
    check_limits,
    near,
    snapshot_limits,
)
from zmqscope.model._live import Event, Peer, ProcessStats, ThreadInfo
from zmqscope.model._records import (
    ContextRecord,
    Endpoint,
    ProcessInfo,
    SocketFailure,
    SocketRecord,
    Traffic,
    refusal_limit,
)
from zmqscope.model._sites import (
    ORIGIN_LIBRARY,
    ORIGIN_STDLIB,
    ORIGIN_USER,
    ORIGINS,
    CallSite,
    Frame,
    ThreadRef,
    first_user_frame,
    frames_from_list,
    frames_to_list,
)
from zmqscope.model._snapshot import Snapshot

__all__ = [
    "FDS",
    "MAX_INT",
    "MAX_ITEMS",
    "MAX_NESTING",
    "MAX_TEXT",
    "ORIGINS",
    "ORIGIN_LIBRARY",
    "ORIGIN_STDLIB",
    "ORIGIN_USER",
    "SCHEMA",
    "CallSite",
    "ContextRecord",
    "ContextState",
    "Culprit",
    "Endpoint",
    "EndpointOp",
    "Event",
    "Frame",
    "Leak",
    "LeakKind",
    "LimitWarning",
    "Peer",
    "ProcessInfo",
    "ProcessStats",
    "SchemaError",
    "SiteCount",
    "Snapshot",
    "SocketFailure",
    "SocketRecord",
    "SocketState",
    "ThreadInfo",
    "ThreadRef",
    "Traffic",
    "UsageWarning",
    "check_count",
    "check_limits",
    "check_time",
    "check_value",
    "first_user_frame",
    "frames_from_list",
    "frames_to_list",
    "near",
    "refusal_limit",
    "scalar_text",
    "snapshot_limits",
]
