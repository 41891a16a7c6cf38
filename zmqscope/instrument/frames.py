"""Cheap call-site capture: a ``sys._getframe`` walk now, names and lines later.

The original design (docs/design.md) measured ``inspect.stack()`` at 0.3-1 ms per call and a walk
storing ``(file, line, function)`` at about 2 us. In place, right after
libzmq made or closed a socket, every frame touched is a cache miss, so
the walk here stores the least it can: each frame's code object and
instruction offset (:data:`RawStack`). :meth:`FrameFilter.resolve` turns
those into ``(file, line, function)`` when someone looks (a snapshot, a
report), once per distinct call site.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from types import CodeType, FrameType
from typing import Any

# Who is calling lives in _threads (greenlets included); imported from here too.
from zmqscope import _native
from zmqscope.instrument.threads import current_thread_ref as current_thread_ref
from zmqscope.instrument.threads import thread_alive as thread_alive

# (file, line, function): turned into model.Frame only when a snapshot is made.
RawFrame = tuple[str, int, str]
# What a walk records: code object, instruction offset, code object, offset, ...
# innermost first. A tuple: one allocation, and the garbage collector stops
# tracking it (code objects and ints hold no references) at its first pass.
RawStack = tuple[Any, ...]

# zmqscope's own folder (this module is in zmqscope/instrument/).
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
# The bundled example apps live inside the package but are application code.
_APPLICATION_DIRS = (_PACKAGE_DIR + "examples" + os.sep,)


def is_zmqscope_file(path: str) -> bool:
    """True for zmqscope's own modules (its bundled example apps excluded)."""
    return path.startswith(_PACKAGE_DIR) and not path.startswith(_APPLICATION_DIRS)


def is_bundled_example(path: str) -> bool:
    """True for zmqscope's bundled example apps: application code, wherever installed."""
    return path.startswith(_APPLICATION_DIRS)


def _plumbing_prefixes() -> tuple[str, ...]:
    """Folders and files whose frames are never the application's call site."""
    import zmq

    prefixes = [_PACKAGE_DIR, os.path.dirname(os.path.abspath(zmq.__file__)) + os.sep]
    # Found, not imported: an application that uses neither does not pay for
    # them (asyncio alone is ~50 ms of start-up).
    asyncio_init = _module_file("asyncio")
    if asyncio_init:
        prefixes.append(os.path.dirname(asyncio_init) + os.sep)
    for path in (threading.__file__, _module_file("runpy")):
        if path:
            prefixes.append(os.path.abspath(path))
    return tuple(prefixes)


def _module_file(name: str) -> str | None:
    """Where the module ``name`` is (or would be) loaded from, without importing it."""
    module = sys.modules.get(name)
    if module is not None:
        return getattr(module, "__file__", None)
    with _native.fork_waits():  # (see _native.fork_waits)
        import importlib.util

        spec = importlib.util.find_spec(name)
    return os.path.abspath(spec.origin) if spec is not None and spec.origin else None


# Distinct (code, offset) call sites are few in any program; this only guards
# against code generated at run time without end.
_MAX_SITES = 100_000
_UNSEEN = object()


def line_at(code: CodeType, offset: int) -> int:
    """The source line of the instruction at byte ``offset`` (what ``f_lineno`` says)."""
    for start, end, line in code.co_lines():
        if start <= offset < end and line is not None:
            return line
    return code.co_firstlineno


class FrameFilter:
    """Tells plumbing frames from the application's, and resolves raw stacks.

    A verdict is made once per code file. Resolved frames are shared: every
    socket made at the same line holds the same ``(file, line, function)``
    tuple.
    """

    __slots__ = (
        "_cache",
        "_codes",
        "_ignored",
        "_prefixes",
        "_sites",
        "_stop_cache",
        "_stops",
        "depth",
    )

    def __init__(self, prefixes: tuple[str, ...] | None = None, depth: int = 12) -> None:
        self._prefixes = prefixes if prefixes is not None else _plumbing_prefixes()
        # The depth of creation walks (install's stack_depth): a walk that took
        # that many frames may have left the application's frames out.
        self.depth = depth
        # code filename -> its absolute path, or None for plumbing.
        self._cache: dict[str, str | None] = {}
        # (id(code), offset) -> the shared frame, or None for plumbing. The
        # code objects are kept alive in _codes so that their ids stay theirs.
        self._sites: dict[tuple[int, int], RawFrame | None] = {}
        self._codes: dict[int, CodeType] = {}
        self._ignored: frozenset[str] = frozenset()
        # Files where a walk ends (a test runner's): see stop_at().
        self._stops: tuple[str, ...] = ()
        self._stop_cache: dict[str, bool] = {}

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

    def stop_at(self, paths: tuple[str, ...]) -> tuple[str, ...]:
        """End every walk at the first frame of these files or folders.

        For code that runs the application and is never its call site, such
        as a test runner: in a test, the frames above the test function are
        pytest's, made afresh for every test. Reading a frame makes CPython
        build an object for it (and copy its locals out when it returns), so
        a walk through a dozen of them was about a third of what the hooks
        cost per socket in a test; it also records only noise. The
        application's call site is always taken, whatever its file. Returns
        the paths set before.
        """
        previous = self._stops
        self._stops = tuple(
            os.path.abspath(p) + (os.sep if p.endswith(os.sep) else "") for p in paths
        )
        self._stop_cache.clear()
        return previous

    def _is_stop(self, filename: str) -> bool:
        stop = not filename.startswith("<") and os.path.abspath(filename).startswith(self._stops)
        self._stop_cache[filename] = stop
        return stop

    def is_ignored(self, path: str) -> bool:
        """True for files made plumbing with :meth:`ignore` (e.g. a launcher script)."""
        return path in self._ignored

    # Branched on purpose (C901): the stack walk of every socket() and close(), the
    # measured hot path (bench_core.py socket()+close()): helpers would add calls per frame.
    def capture(self, depth: int, skip: int = 1) -> RawStack:  # noqa: C901
        """The caller's stack as raw frames, from the application's call site outward.

        ``skip`` frames above this call are passed over outright, then
        plumbing frames (pyzmq, zmqscope, ...) until the first application
        frame; from there ``depth`` frames are taken as they come. Plumbing
        frames among those (a thread's bootstrap, an event loop) are left
        out when the stack is resolved.
        """
        try:
            frame: FrameType | None = sys._getframe(skip)
        except ValueError:  # fewer frames than that: a hook called from C (atexit)
            return ()
        verdicts = self._cache
        while frame is not None:
            filename = frame.f_code.co_filename
            try:
                verdict = verdicts[filename]
            except KeyError:
                verdict = self.application_path(filename)
            if verdict is not None:
                break
            frame = frame.f_back
        if frame is None:
            return ()
        if depth == 1:  # the call site alone (a bind's, a connect's)
            return (frame.f_code, frame.f_lasti)
        if not self._stops:
            # The usual walk: unrolled, one tuple built at the end. None when
            # the stack ends before ``depth`` frames (then the loop below).
            walk = _WALKS.get(depth)
            if walk is None and depth <= MAX_UNROLLED:
                walk = _walker(depth)
            if walk is not None:
                found = walk(frame)
                if found is not None:
                    return found
        # The call site, whatever its file; each next frame is read only if
        # it will be taken (reading one makes CPython build its object).
        out: list[Any] = [frame.f_code, frame.f_lasti]
        append = out.append
        left = depth - 1
        stops = self._stop_cache
        while left and (frame := frame.f_back) is not None:
            code = frame.f_code
            if self._stops:
                filename = code.co_filename
                stop = stops.get(filename)
                if stop is None:
                    stop = self._is_stop(filename)
                if stop:
                    break
            append(code)
            append(frame.f_lasti)
            left -= 1
        return tuple(out)

    def resolve(self, raw: RawStack) -> tuple[RawFrame, ...]:
        """``(file, line, function)`` for each application frame of a raw stack."""
        sites = self._sites
        out: list[RawFrame] = []
        for index in range(0, len(raw) - 1, 2):
            code, offset = raw[index], raw[index + 1]
            site = sites.get((id(code), offset), _UNSEEN)
            if site is _UNSEEN:
                site = self._site(code, offset)
            if site is not None:
                out.append(site)  # type: ignore[arg-type]
        return tuple(out)

    def walked_to_depth(self, raw: RawStack) -> bool:
        """True when a raw stack holds :attr:`depth` frames: outer ones may be missing."""
        return len(raw) >= 2 * self.depth

    def _site(self, code: CodeType, offset: int) -> RawFrame | None:
        if len(self._sites) > _MAX_SITES:
            self._sites.clear()
            self._codes.clear()
        path = self.application_path(code.co_filename)
        site = (path, line_at(code, offset), code.co_name) if path is not None else None
        self._sites[(id(code), offset)] = site
        self._codes[id(code)] = code
        return site

    def call_site(self, skip: int = 1) -> RawFrame | None:
        """The application frame that made the current call (resolved at once)."""
        stack = self.resolve(self.capture(1, skip + 1))
        return stack[0] if stack else None


# Walks of up to this many frames are unrolled (see _walker); deeper ones loop.
MAX_UNROLLED = 32
_WALKS: dict[int, Callable[[FrameType], RawStack | None]] = {}


def _walker(depth: int) -> Callable[[FrameType], RawStack | None]:
    """A walk of exactly ``depth`` frames written out, one line per frame.

    ``f_back``, ``f_code`` and ``f_lasti`` are the walk's whole cost, and a
    loop adds as much again around them: a counter, a test and two
    ``append`` calls per frame, and a list that the garbage collector then
    tracks. Written out, the walk reads the three attributes and builds one
    tuple (measured: ~2 us less per socket()+close() 40 frames deep, ~10 %
    of the pair). It returns None when the stack is shorter than ``depth``;
    the caller then loops. Made once per depth, on first use.
    """
    lines = ["def walk(f0):"]
    for i in range(1, depth):
        lines += [f"    f{i} = f{i - 1}.f_back", f"    if f{i} is None:", "        return None"]
    taken = ", ".join(f"f{i}.f_code, f{i}.f_lasti" for i in range(depth))
    lines.append(f"    return ({taken})")
    # Named as a file of this package: its frames are plumbing, and memory
    # it allocates is zmqscope's (benchmarks/_core/memory.py).
    source_name = f"{os.path.abspath(__file__)} (walk of {depth} frames)"
    namespace: dict[str, Any] = {}
    exec(compile("\n".join(lines), source_name, "exec"), namespace)
    walk: Callable[[FrameType], RawStack | None] = namespace["walk"]
    _WALKS[depth] = walk
    return walk
