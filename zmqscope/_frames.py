"""Cheap call-site capture: a ``sys._getframe`` walk, no source lookup.

DESIGN.md measured ``inspect.stack()`` at 0.3-1 ms per call and this walk at
about 2 us, which is what lets every socket carry its creation stack.
"""

from __future__ import annotations

import os
import sys
import threading
from types import CodeType, FrameType

# (file, line, function): resolved to model.Frame only when a snapshot is made.
RawFrame = tuple[str, int, str]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# The bundled example apps live inside the package but are application code.
_APPLICATION_DIRS = (_PACKAGE_DIR + "examples" + os.sep,)


def is_zmqscope_file(path: str) -> bool:
    """True for zmqscope's own modules (its bundled example apps excluded)."""
    return path.startswith(_PACKAGE_DIR) and not path.startswith(_APPLICATION_DIRS)


def _plumbing_prefixes() -> tuple[str, ...]:
    """Folders and files whose frames are never the application's call site."""
    import asyncio
    import runpy

    import zmq

    prefixes = [_PACKAGE_DIR, os.path.dirname(os.path.abspath(zmq.__file__)) + os.sep]
    asyncio_dir = os.path.dirname(os.path.abspath(asyncio.__file__)) + os.sep
    prefixes.append(asyncio_dir)
    for module in (threading, runpy):
        path = module.__file__
        if path:
            prefixes.append(os.path.abspath(path))
    return tuple(prefixes)


# Distinct (code, line) call sites are few in any program; this only guards
# against code generated at run time without end.
_MAX_SITES = 100_000


class FrameFilter:
    """Decides, once per code file, whether its frames are plumbing.

    Captured frames are shared: every socket made at the same line holds the
    same ``(file, line, function)`` tuple, so a record costs one small tuple
    of references, not a dozen new tuples.
    """

    __slots__ = ("_cache", "_codes", "_ignored", "_prefixes", "_sites")

    def __init__(self, prefixes: tuple[str, ...] | None = None) -> None:
        self._prefixes = prefixes if prefixes is not None else _plumbing_prefixes()
        # code filename -> its absolute path, or None for plumbing.
        self._cache: dict[str, str | None] = {}
        # (id(code), f_lasti) -> the shared frame, or None for plumbing. Keyed
        # by the instruction offset, not the line: reading f_lineno decodes
        # the line table on every call, f_lasti is a plain field. The code
        # objects are kept alive in _codes so that their ids stay theirs.
        self._sites: dict[tuple[int, int], RawFrame | None] = {}
        self._codes: dict[int, CodeType] = {}
        self._ignored: frozenset[str] = frozenset()

    def application_path(self, filename: str) -> str | None:
        """The absolute path of an application file; None for plumbing."""
        try:
            return self._cache[filename]
        except KeyError:
            pass
        if filename.startswith("<"):
            verdict: str | None = None if filename.startswith("<frozen ") else filename
        else:
            absolute = os.path.abspath(filename)
            plumbing = absolute.startswith(self._prefixes) and not absolute.startswith(
                _APPLICATION_DIRS
            )
            verdict = None if plumbing else absolute
        self._cache[filename] = verdict
        return verdict

    def ignore(self, path: str) -> None:
        """Count frames of one more file as plumbing."""
        absolute = os.path.abspath(path)
        self._prefixes = (*self._prefixes, absolute)
        self._ignored |= {absolute}
        self._cache.clear()
        self._sites.clear()
        self._codes.clear()

    def is_ignored(self, path: str) -> bool:
        """True for files made plumbing with :meth:`ignore` (e.g. a launcher script)."""
        return path in self._ignored

    def _site(self, frame: FrameType) -> RawFrame | None:
        code = frame.f_code
        if len(self._sites) > _MAX_SITES:
            self._sites.clear()
            self._codes.clear()
        path = self.application_path(code.co_filename)
        site = (path, frame.f_lineno, code.co_name) if path is not None else None
        self._sites[(id(code), frame.f_lasti)] = site
        self._codes[id(code)] = code
        return site

    def capture(self, depth: int, skip: int = 1) -> tuple[RawFrame, ...]:
        """The caller's stack, innermost application frame first.

        ``skip`` frames above this call are ignored outright; plumbing frames
        anywhere in the walk are left out, so the first entry is the
        application's own call site and the rest walk outward.
        """
        frame: FrameType | None = sys._getframe(skip)
        sites = self._sites
        identity = id
        out: list[RawFrame] = []
        append = out.append
        left = depth
        while frame is not None:
            try:
                site = sites[identity(frame.f_code), frame.f_lasti]
            except KeyError:
                site = self._site(frame)
            if site is not None:
                append(site)
                left -= 1
                if not left:
                    break
            frame = frame.f_back
        return tuple(out)


def current_thread_ref() -> tuple[int, str]:
    """(ident, name) of the calling thread."""
    thread = threading.current_thread()
    return (thread.ident or threading.get_ident(), thread.name)
