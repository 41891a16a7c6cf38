"""Wording only the reports use; the rest comes from the shared wording module.

Every phrase the TUI or the pytest plugin also writes (a frame, an endpoint,
LINGER, traffic, a thread, plurals) lives in :mod:`zmqscope.model.wording`.
"""

from __future__ import annotations

from collections.abc import Sequence

from zmqscope.model import SocketRecord

# Said in a full report made without traffic mode: its thread-sharing checks
# saw only lifecycle calls (README, "Threads sharing a socket").
SEND_RECV_UNCHECKED = (
    "Thread sharing: only lifecycle calls (bind, connect, setsockopt, close, ...) were"
    " checked; checking send/recv needs traffic mode (--traffic)."
)


def send_recv_unchecked(sockets: Sequence[SocketRecord]) -> bool:
    """True when the report's sockets were recorded without traffic mode."""
    return bool(sockets) and all(record.traffic is None for record in sockets)
