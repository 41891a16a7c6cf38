"""Wording shared by the leak messages and the text and Markdown renderers."""

from __future__ import annotations

from collections.abc import Sequence

from zmqscope.model import (
    Culprit,
    Endpoint,
    EndpointOp,
    Frame,
    SocketRecord,
    ThreadRef,
    Traffic,
)
from zmqscope.model._text import (
    byte_size,
    call_text,
    frame_text,
    location,
    plural,
    started_text,
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


def thread_label(thread: ThreadRef | None) -> str:
    """A thread's name and id, for the detailed views."""
    return f"{thread.name} (id {thread.id})" if thread else "unknown"


def thread_text(thread: ThreadRef | None) -> str:
    """:func:`thread_label`, and where the thread was started when that was seen.

    ``Thread-1 (id 5), started at app.py:12 in main() by MainThread``.
    """
    text = thread_label(thread)
    started = started_text(thread)
    if started is None or thread is None or thread.started is None:
        return text
    starter = thread.started.thread
    return f"{text}, {started}" + (f" by {starter.name}" if starter is not None else "")


def owner_label(culprit: Culprit) -> str:
    """The thread that owns a culprit socket, marked when it has exited."""
    label = thread_label(culprit.owner)
    return f"{label} (exited)" if culprit.owner_alive is False else label


def site_text(frame: Frame | None) -> str:
    """``path:line in function()``, or that the site is not known."""
    return frame_text(frame) if frame is not None else "an unknown site"


def creation_text(record: SocketRecord) -> str:
    """Where a socket was made (:func:`call_text`), or why that is not known."""
    text = call_text(record.created)
    return text if text is not None else creation_unknown(record)


def creation_unknown(record: SocketRecord) -> str:
    """Why a socket's creation site is not known."""
    if record.adopted:
        return "before zmqscope was watching"
    # The walk found only pyzmq's, zmqscope's and threading's frames: pyzmq's
    # own code made it (a device's or an authenticator's thread).
    return "unknown: no frame outside pyzmq and zmqscope on the stack"


def endpoint_text(endpoint: Endpoint) -> str:
    """``bind tcp://127.0.0.1:43211 (asked tcp://127.0.0.1:*)``, marked when inactive."""
    text = f"{endpoint.op.value} {endpoint.url}"
    if endpoint.requested and endpoint.requested != endpoint.url:
        text += f" (asked {endpoint.requested})"
    if not endpoint.active:
        undone = "unbound" if endpoint.op is EndpointOp.BIND else "disconnected"
        text += f" [inactive: {undone}]"
    return text


def linger_text(record: SocketRecord) -> str:
    """The LINGER value with what it means for ``term()``, and who set it."""
    linger = record.linger
    if linger is None:
        value = "unknown"
    elif linger < 0:
        value = "-1 (wait forever)"
    elif linger == 0:
        value = "0 (drop unsent messages)"
    else:
        value = f"{linger} ms"
    return f"{value}, source: {record.linger_source}"


def traffic_text(traffic: Traffic, proxied_by: str | None = None) -> str:
    """``12 msgs out (14 frames, 1.2 KB) · 3 in (3 frames, 300 B)``.

    ``proxied_by``: the C loop the socket was handed to, whose messages are not counted.
    """
    if proxied_by is not None:
        return f"not counted: handed to {proxied_by}(), which moves its messages in C"
    if not (traffic.msgs_out or traffic.msgs_in):
        return "no messages sent or received"
    sent = f"{plural(traffic.frames_out, 'frame')}, {byte_size(traffic.bytes_out)}"
    received = f"{plural(traffic.frames_in, 'frame')}, {byte_size(traffic.bytes_in)}"
    return f"{plural(traffic.msgs_out, 'msg')} out ({sent}) · {traffic.msgs_in} in ({received})"
