"""What only the TUI writes: its table cells, and source lines read live (no Textual here).

Every phrase a report also writes (a frame, an endpoint, LINGER, traffic,
ages) comes from :mod:`zmqscope.model.wording`; these are the compact forms a
table cell needs.
"""

from __future__ import annotations

from zmqscope._source import source_line
from zmqscope.model import CallSite, Frame, SocketRecord, Traffic
from zmqscope.model.wording import byte_size, headline_index, short_location


def site(call: CallSite) -> str:
    """The "created at" cell: ``app.py:7``, or ``app.py:7 (via jupyter_client)``.

    The application's line, and the library a socket was made through (its
    top-level package); a library's line when no frame of the application's
    was recorded.
    """
    index = headline_index(call)
    if index is None:
        return "?"
    text = short_location(call.stack[index])
    if index > 0:
        inner = call.stack[0]
        package = (inner.display or inner.file).split("/", 1)[0].removesuffix(".py")
        text += f" (via {package})"
    return text


def source(frame: Frame, *, read_files: bool) -> str:
    """The frame's source line: a notebook cell's as recorded, else read from its file.

    ``read_files`` is False for a saved report: its paths are not this
    machine's to open (and may name /dev/zero or a FIFO), so only the lines
    it carries are shown. Live, files are read by :func:`source_line`:
    regular files only, never blocking, bounded in size.
    """
    if frame.source is not None:
        return frame.source
    return source_line(frame.file, frame.line) if read_files else ""


def endpoints_cell(record: SocketRecord) -> str:
    urls = [e.url for e in record.active_endpoints]
    if not urls:
        # An adopted socket's endpoints are unknown, not none (see endpoints_unknown).
        return "?" if record.adopted and not record.endpoints else "-"
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
