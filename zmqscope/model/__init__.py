"""Frozen records that describe what zmqscope saw.

Everything here is a plain value: safe to keep, compare, pickle and send over
the wire. ``to_dict``/``from_dict`` produce and read the shapes of the
``zmqscope.report/1`` JSON schema (see docs/report-json.md). This package
imports nothing outside the standard library.
"""

from __future__ import annotations

from zmqscope.model._base import (
    SCHEMA,
    ContextState,
    EndpointOp,
    LeakKind,
    SchemaError,
    SocketState,
)
from zmqscope.model._diagnosis import Culprit, Leak, UsageWarning
from zmqscope.model._limits import LimitWarning, SiteCount, check_limits, near, snapshot_limits
from zmqscope.model._live import Event, Peer, ProcessStats, ThreadInfo
from zmqscope.model._records import (
    ContextRecord,
    Endpoint,
    ProcessInfo,
    SocketFailure,
    SocketRecord,
    Traffic,
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
    "check_limits",
    "first_user_frame",
    "frames_from_list",
    "frames_to_list",
    "near",
    "snapshot_limits",
]
