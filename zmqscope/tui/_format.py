"""Small text helpers shared by the TUI's widgets (no Textual imports here)."""

from __future__ import annotations

import linecache
import os

from zmqscope.model import Endpoint, Frame, SocketRecord, Traffic
from zmqscope.model._text import byte_size, call_name, display_path


def age(seconds: float) -> str:
    """A coarse age that changes rarely (rows are updated only when it does)."""
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"


def site(frame: Frame | None) -> str:
    return f"{os.path.basename(frame.file)}:{frame.line}" if frame else "?"


def location(frame: Frame) -> str:
    """``path:line in function()``, the path relative to the cwd when under it."""
    return f"{display_path(frame.file)}:{frame.line} in {call_name(frame.function)}"


def source(frame: Frame) -> str:
    """The frame's source line, if the file is readable from here."""
    return linecache.getline(frame.file, frame.line).strip()


def endpoint(item: Endpoint) -> str:
    text = f"{item.op.value} {item.url}"
    if item.requested:
        text += f" (asked {item.requested})"
    if not item.active:
        text += " (gone)"
    return text


def endpoints_cell(record: SocketRecord) -> str:
    urls = [e.url for e in record.active_endpoints]
    if not urls:
        return "-"
    return urls[0] if len(urls) == 1 else f"{urls[0]} +{len(urls) - 1}"


def owner(record: SocketRecord) -> str:
    threads = record.threads_used
    if threads:
        return threads[-1].name
    return record.created.thread.name if record.created.thread else "?"


def traffic_cells(traffic: Traffic | None, proxied: bool = False) -> tuple[str, str, str, str]:
    if traffic is None:
        return ("-", "-", "-", "-")
    if proxied:  # zmq.proxy() and its kin move its messages in C, uncounted
        return ("(proxy)", "(proxy)", "(proxy)", "(proxy)")
    return (
        str(traffic.msgs_in),
        str(traffic.msgs_out),
        byte_size(traffic.bytes_in),
        byte_size(traffic.bytes_out),
    )


def state(record: SocketRecord) -> str:
    """The state, marked for a socket pyzmq made for itself (never the application's leak)."""
    value = record.state.value
    return f"{value} (pyzmq)" if record.internal is not None else value


def internal(record: SocketRecord) -> str:
    """Who made a socket pyzmq made for itself, and what that means."""
    return f"pyzmq's own ({record.internal}), not the application's: never a leak"


def linger(record: SocketRecord) -> str:
    if record.linger is None:
        return "unknown"
    meaning = {-1: " (wait forever)", 0: " (drop at close)"}.get(record.linger, " ms")
    return f"{record.linger}{meaning}, from {record.linger_source}"
