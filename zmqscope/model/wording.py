"""The one home of the words every view uses: reports, the TUI, the plugin (stdlib only).

Each fact a user reads is said here once, in plain text, and every view
calls these functions: the views add only what belongs to their medium
(rich styles, Markdown code spans, table cells). A frame is
``app.py:7 in main()``; a call site is named by the first frame of the
application's own code, and by the library line it went through when a
library made the call: ``app.py:7 in main(), via
jupyter_client/connect.py:697``. An endpoint is ``bind tcp://127.0.0.1:5555
[inactive: unbound]``, LINGER ``-1 (wait forever), source: default``,
traffic ``12 msgs out (14 frames, 1.2 KB) · 3 in (3 frames, 300 B)``, a
count ``1 socket``/``2 sockets``, an age ``3m`` and a wait ``5.1 s``.
"""

from __future__ import annotations

import os
import re
from pathlib import PurePath

from zmqscope.model._base import EndpointOp
from zmqscope.model._diagnosis import Culprit
from zmqscope.model._records import Endpoint, ProcessInfo, SocketRecord, Traffic
from zmqscope.model._sites import ORIGIN_LIBRARY, ORIGIN_STDLIB, CallSite, Frame, ThreadRef

# Code that runs the application rather than being it: test runners, the
# module runner, a notebook's shell, a thread pool's worker loop. Their frames
# outward of the application's are the same for every call and are left out
# of a shown call chain (a recorded stack keeps them). Matched on the first
# part of a library's or the standard library's display path.
_RUNNERS = frozenset(
    {
        "unittest",
        "doctest.py",
        "runpy.py",
        "_pytest",
        "pytest",
        "pluggy",
        "pytest_asyncio",
        "pytest_timeout",
        "xdist",
        "IPython",
        "ipykernel",
        "ipykernel_launcher.py",
        "concurrent",
    }
)
# C0 and C1 control characters, DEL included: a name or path holding them
# could move the cursor, retitle or clear a terminal, or break a table row.
# Also the invisible characters that change how the text around them reads
# (bidirectional overrides and isolates, zero-width space, byte-order mark)
# and Unicode's line and paragraph separators, which some viewers break
# lines at. Zero-width joiners stay: emoji and several scripts need them.
_CONTROL = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200b\u200e\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)


def tool_name(process: ProcessInfo | None) -> str:
    """``zmqscope``, or ``zmqscope (pid 1234)`` in a process that forked or was forked.

    After ``os.fork()`` parent and child print look-alike lines to one
    terminal: the pid tells them apart.
    """
    return f"zmqscope (pid {process.pid})" if process is not None and process.forked else "zmqscope"


def endpoints_unknown(record: SocketRecord) -> str | None:
    """What a socket's list of endpoints cannot tell, or None when it is complete.

    A socket ``watch()`` adopted was made, and maybe bound or connected,
    before zmqscope looked: with no endpoint recorded its endpoints are
    unknown, not none; with some, those made before are still unknown.
    """
    if not record.adopted:
        return None
    if not record.endpoints:
        return "unknown (made before watch())"
    return "any from before watch(): unknown"


def visible(text: str) -> str:
    """``text`` with its control characters shown as escapes (``\\n``, ``\\x1b``, ``\\u202e``).

    Every string an application chose or a saved report holds goes through
    this before it is shown, in every output: a terminal must never obey it.
    """
    if not _CONTROL.search(text):
        return text
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


def display_path(file: str, cwd: str | None = None) -> str:
    """``file`` relative to ``cwd`` (default: the working directory) when under it.

    Relative paths are what a developer can paste into an editor from the
    project root (and what CI logs show); anything outside stays absolute so
    it is never ambiguous.
    """
    if not os.path.isabs(file):
        return file  # "<string>", "<frozen runpy>" and the like
    if cwd is None:
        try:
            cwd = os.getcwd()
        except OSError:  # the working directory was deleted under us
            return file
    try:
        return str(PurePath(file).relative_to(cwd))
    except ValueError:
        return file


def frame_path(frame: Frame) -> str:
    """The path of a frame's file as shown.

    Its recorded ``display`` (fixed when it was recorded, so an application
    that changes directory later does not move it); a frame recorded with an
    origin but no display is shown as its absolute path. Frames of reports
    made before zmqscope recorded either are shown relative to the reader's
    working directory, as then.
    """
    if frame.display is not None:
        return frame.display
    return frame.file if frame.origin is not None else display_path(frame.file)


def location(frame: Frame) -> str:
    """``path:line``, or ``Cell In[3], line 4`` for a notebook cell (as IPython says it)."""
    if frame.cell is not None:
        return f"Cell In[{frame.cell}], line {frame.line}"
    return f"{frame_path(frame)}:{frame.line}"


def frame_text(frame: Frame) -> str:
    """``path:line in function()``."""
    return f"{location(frame)} in {call_name(frame.function)}"


def short_location(frame: Frame) -> str:
    """``app.py:7`` for the application's files; a library's with its package.

    One-line messages name the application's file by its base name (the
    reader knows their own project); a library's or the standard library's
    keeps its path below the site directory (``jupyter_client/connect.py``),
    which names the library.
    """
    if frame.cell is not None or frame.origin in (ORIGIN_LIBRARY, ORIGIN_STDLIB):
        return location(frame)
    return frame.short()


def short_frame_text(frame: Frame) -> str:
    """``app.py:7 in main()``, the short form of :func:`frame_text`."""
    return f"{short_location(frame)} in {call_name(frame.function)}"


def is_classified(site: CallSite) -> bool:
    """True when the site's frames say whose code they are (older reports do not)."""
    return any(frame.origin is not None for frame in site.stack)


def headline_index(site: CallSite) -> int | None:
    """The frame a call site is named by: the application's own, else the innermost."""
    if site.user_frame is not None:
        return site.user_frame
    return 0 if site.stack else None


def headline_frames(site: CallSite) -> tuple[Frame | None, Frame | None]:
    """``(named, via)``: the frame a site is named by, and the library frame it went through.

    ``via`` is None when the named frame is the innermost. Sockets grouped by
    creation site are grouped by these two: the same line of the application
    through the same library call.
    """
    index = headline_index(site)
    if index is None:
        return (None, None)
    return (site.stack[index], site.stack[0] if index > 0 else None)


def site_headline(site: CallSite, short: bool = False) -> str | None:
    """``app.py:7 in main(), via jupyter_client/connect.py:697``; None with no stack.

    The first frame of the application's code, and the innermost frame (the
    library line that called pyzmq) when that is another. ``short`` names the
    application's file by its base name (one-line messages).
    """
    index = headline_index(site)
    if index is None:
        return None
    named = site.stack[index]
    text = short_frame_text(named) if short else frame_text(named)
    if index > 0:
        inner = site.stack[0]
        text += f", via {short_location(inner) if short else location(inner)}"
    return text


def call_text(site: CallSite) -> str | None:
    """:func:`site_headline`, with :func:`no_user_frame_note` when there is one."""
    headline = site_headline(site)
    if headline is None:
        return None
    note = no_user_frame_note(site)
    return f"{headline} ({note})" if note else headline


def no_user_frame_note(site: CallSite) -> str | None:
    """Why the headline is a library's line, when the stack was cut short."""
    if site.user_frame is not None or not site.truncated or not is_classified(site):
        return None
    return f"no frame of your code in the {len(site.stack)} recorded: raise --stack-depth"


def via_frames(site: CallSite) -> tuple[Frame, ...]:
    """The library frames between pyzmq and the application's frame, innermost first."""
    return site.stack[: site.user_frame] if site.user_frame else ()


def is_runner(frame: Frame) -> bool:
    """True for a frame of a test runner, the module runner or a notebook's shell."""
    if frame.origin not in (ORIGIN_LIBRARY, ORIGIN_STDLIB) or frame.display is None:
        return False
    return frame.display.split("/", 1)[0] in _RUNNERS


def callers(site: CallSite) -> tuple[Frame, ...]:
    """The frames outward of the one a site is named by, runners' frames left out."""
    index = headline_index(site)
    if index is None:
        return ()
    return tuple(frame for frame in site.stack[index + 1 :] if not is_runner(frame))


def shown_stack(site: CallSite) -> tuple[Frame, ...]:
    """The stack as shown: up to the named frame, then :func:`callers`."""
    index = headline_index(site)
    if index is None:
        return ()
    return site.stack[: index + 1] + callers(site)


def started_text(thread: ThreadRef | None, short: bool = False) -> str | None:
    """``started at app.py:12 in main()`` (with its ``via``), if the start was seen."""
    started = thread.started if thread is not None else None
    if started is None:
        return None
    where = site_headline(started, short)
    return f"started at {where}" if where else "started at an unknown site"


def call_name(function: str) -> str:
    """``start()`` for a function, but ``<module>`` as Python's tracebacks say it."""
    return function if function.startswith("<") else f"{function}()"


def plural(count: int, noun: str) -> str:
    """``1 socket``, ``2 sockets``, ``12,000 sockets``."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def more(count: int, noun: str) -> str:
    """``… 3 more frames``: what a cut list leaves out."""
    return f"… {plural(count, f'more {noun}')}"


def byte_size(count: int) -> str:
    """``300 B``, ``1.2 KB``, ``3.4 MB``: decimal units, as network tools count."""
    if count < 1000:
        return f"{count} B"
    value = float(count)
    for unit in ("KB", "MB", "GB"):
        value /= 1000
        # 999.96 KB would print as "1000.0 KB"; move up a unit before that.
        if value < 999.95:
            return f"{value:.1f} {unit}"
    return f"{value / 1000:.1f} TB"


def age(seconds: float) -> str:
    """``42s``, ``3m``, ``1h05m``, ``2d03h``: how long something has been, coarsely.

    Coarse on purpose: a table of ages changes (and is redrawn) rarely.
    """
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600:02d}h"


def duration(seconds: float) -> str:
    """``5.1 s``: how long a ``term()`` waited, to a tenth of a second."""
    return f"{seconds:.1f} s"


# -- sockets ----------------------------------------------------------------------


def thread_label(thread: ThreadRef | None) -> str:
    """A thread's name and id, for the detailed views."""
    return f"{thread.name} (id {thread.id})" if thread else "unknown"


def owner_label(culprit: Culprit) -> str:
    """The thread that owns a culprit socket, marked when it has exited."""
    label = thread_label(culprit.owner)
    return f"{label} (exited)" if culprit.owner_alive is False else label


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


def internal_text(record: SocketRecord) -> str:
    """Who made a socket pyzmq made for itself, and what that means."""
    return f"pyzmq's own ({record.internal}), not the application's: never a leak"


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
    """The LINGER value with what it means for ``term()``, and who set it.

    ``-1 (wait forever), source: default``; an adopted socket's is
    ``unknown`` (no source to name either).
    """
    linger = record.linger
    if linger is None:
        value = "unknown"
    elif linger < 0:
        value = "-1 (wait forever)"
    elif linger == 0:
        value = "0 (drop unsent messages)"
    else:
        value = f"{linger} ms"
    if record.linger_source == "unknown":
        return value
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
    return f"{plural(traffic.msgs_out, 'msg')} out ({sent}) · {traffic.msgs_in:,} in ({received})"
