"""Wording only the reports use; the rest comes from the shared wording module.

Every phrase the TUI also writes (a frame, an endpoint, LINGER, traffic, a
thread, plurals) lives in :mod:`zmqscope.model._text`, where the renderers
read it; the names below stay importable from here for the plugin's text.
"""

from __future__ import annotations

from collections.abc import Sequence

from zmqscope.model import Culprit, SocketRecord
from zmqscope.model._text import (
    call_text,
    creation_text,
    creation_unknown,
    endpoint_text,
    frame_text,
    linger_text,
    location,
    plural,
    site_text,
    thread_label,
    thread_text,
    traffic_text,
)

__all__ = [
    "SEND_RECV_UNCHECKED",
    "call_text",
    "creation_text",
    "creation_unknown",
    "endpoint_text",
    "frame_text",
    "linger_text",
    "location",
    "owner_label",
    "plural",
    "send_recv_unchecked",
    "site_text",
    "thread_label",
    "thread_text",
    "traffic_text",
]


# Said in a full report made without traffic mode: its thread-sharing checks
# saw only lifecycle calls (README, "Threads sharing a socket").
SEND_RECV_UNCHECKED = (
    "Thread sharing: only lifecycle calls (bind, connect, setsockopt, close, ...) were"
    " checked; checking send/recv needs traffic mode (--traffic)."
)


def send_recv_unchecked(sockets: Sequence[SocketRecord]) -> bool:
    """True when the report's sockets were recorded without traffic mode."""
    return bool(sockets) and all(record.traffic is None for record in sockets)


def owner_label(culprit: Culprit) -> str:
    """The thread that owns a culprit socket, marked when it has exited."""
    label = thread_label(culprit.owner)
    return f"{label} (exited)" if culprit.owner_alive is False else label
