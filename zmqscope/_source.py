"""Source lines for frames, read without trusting the path they name.

A frame's path is whatever its code object says (``compile(code,
"/dev/zero", "exec")`` names any file), and a server may send any path at
all. :mod:`linecache` opens what the path names and reads all of it: a frame
"in" /dev/zero grew the TUI to 2.8 GB, one "in" a FIFO blocked it for good.
This reader opens only regular files, never blocks on opening (a FIFO or a
device is refused before and after it is opened), reads at most
:data:`MAX_SOURCE_BYTES`, and keeps the lines of the last few files read.

Standard library only, imported up front: the shutdown watchdog's thread
reads source lines, and a lazy import there could deadlock a forked child.
"""

from __future__ import annotations

import io
import linecache
import os
import stat
import threading
import tokenize
from collections import OrderedDict

# Larger than any source file a person writes; a "source" past it is skipped.
MAX_SOURCE_BYTES = 4 * 1024 * 1024
_FILES_KEPT = 64
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NONBLOCK", 0)  # a FIFO opens at once (then is refused)
    | getattr(os, "O_NOCTTY", 0)  # a terminal device never becomes ours
    | getattr(os, "O_CLOEXEC", 0)
)

_lock = threading.Lock()
# path -> (mtime in ns, size, lines): reread only when the file changed.
_files: OrderedDict[str, tuple[int, int, list[str]]] = OrderedDict()


def source_line(path: str, line: int) -> str:
    """Line ``line`` (counted from 1) of the file at ``path``, stripped.

    ``""`` when the line cannot be read safely: no such file, not a regular
    file (a device, a FIFO, a folder), larger than :data:`MAX_SOURCE_BYTES`,
    unreadable. Code Python already holds in :mod:`linecache` (a notebook
    cell's, a file a traceback read) is taken from there, without opening
    anything.
    """
    if line < 1:
        return ""
    lines = _lines(path)
    return lines[line - 1].strip() if line <= len(lines) else ""


def _lines(path: str) -> list[str]:
    held = linecache.cache.get(path)
    if held is not None and len(held) == 4:  # (size, mtime, lines, path); 1-tuples are lazy
        return held[2]
    try:
        info = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return []
    if not _readable(info):
        return []
    key = (info.st_mtime_ns, info.st_size)
    with _lock:
        kept = _files.get(path)
        if kept is not None and kept[:2] == key:
            _files.move_to_end(path)
            return kept[2]
    lines = _read(path)
    with _lock:
        _files[path] = (*key, lines)
        while len(_files) > _FILES_KEPT:
            _files.popitem(last=False)
    return lines


def _readable(info: os.stat_result) -> bool:
    return stat.S_ISREG(info.st_mode) and info.st_size <= MAX_SOURCE_BYTES


def _read(path: str) -> list[str]:
    try:
        descriptor = os.open(path, _OPEN_FLAGS)
    except (OSError, ValueError):
        return []
    try:
        # The path may have been swapped for a FIFO or a device since stat().
        if not _readable(os.fstat(descriptor)):
            return []
        chunks = []
        size = 0
        while size <= MAX_SOURCE_BYTES:
            chunk = os.read(descriptor, 1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError:
        return []
    finally:
        os.close(descriptor)
    if size > MAX_SOURCE_BYTES:  # it grew while being read
        return []
    return _decode(b"".join(chunks))


def _decode(data: bytes) -> list[str]:
    """The lines as Python numbers them (``\\n``, ``\\r\\n`` or ``\\r`` ends a line)."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError:  # a bad coding cookie: not Python source as written
        encoding = "utf-8"
    try:
        text = data.decode(encoding, errors="replace")
    except LookupError:
        text = data.decode("utf-8", errors="replace")
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
