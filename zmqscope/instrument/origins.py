"""Whose code a recorded frame is, and how its path is shown.

A socket made inside a library is best named by the application's line
that called the library. Each frame is therefore marked as the
application's own code (``user``), an installed library's (``library``:
a file under a ``site-packages`` or ``dist-packages`` folder, or in an
``.egg``) or the standard library's (``stdlib``), with its path as shown:
relative to the project root for the application's files, to the site
folder for a library's (``jupyter_client/connect.py``), to the standard
library's folder for its own (``unittest/case.py``). A notebook cell
(IPython, ipykernel) is named as IPython names it, ``Cell In[3]``, with its
source line.

All of it is decided when a recorded stack is frozen (a snapshot, a
report), once per file, never while a socket is being made: the hooks
record code objects and offsets only (see :mod:`zmqscope.instrument.frames`).

The project root is the working directory when zmqscope started in the
process (:func:`fix_root`), so that an application that changes directory
later does not move every path shown.
"""

from __future__ import annotations

import os
import sys
import threading
from pathlib import PurePath

from zmqscope import _native
from zmqscope._source import source_line
from zmqscope.instrument.frames import RawFrame, is_bundled_example
from zmqscope.model import ORIGIN_LIBRARY, ORIGIN_STDLIB, ORIGIN_USER, Frame

_SITE_FOLDERS = ("site-packages", "dist-packages")
_MAX_FILES = 100_000

_root: str | None = None
_root_lock = threading.Lock()


def fix_root(path: str | None = None) -> str:
    """Set the project root once (default: the working directory now); return it."""
    global _root
    with _root_lock:
        if _root is None:
            if path is None:
                try:
                    path = os.getcwd()
                except OSError:  # the working directory was deleted
                    path = os.sep
            _root = os.path.abspath(path)
        return _root


def project_root() -> str:
    """The folder the application's paths are shown relative to."""
    return _root if _root is not None else fix_root()


def _stdlib_dirs() -> tuple[str, ...]:
    # os.py lives in the standard library's folder in every layout; sysconfig
    # names the same folder, maybe by another path. (Not "platstdlib": in a
    # virtual environment that is the environment's lib folder.)
    folders = {os.path.dirname(os.path.abspath(os.__file__))}
    # Imported only once something is classified (start-up stays light), on
    # whichever thread that is, so while forks wait: a fork that copied
    # sysconfig (or the _sysconfigdata module get_paths() loads) half
    # imported hung the child's first report (see _native.fork_waits).
    with _native.fork_waits():
        import sysconfig

        stdlib = sysconfig.get_paths().get("stdlib")
    if stdlib:
        folders.add(os.path.abspath(stdlib))
    return tuple(folder + os.sep for folder in sorted(folders))


class Origins:
    """Classifies files, once each; builds the frozen frames the reports show."""

    def __init__(self, root: str, stdlib: tuple[str, ...] | None = None) -> None:
        self.root = root
        self._stdlib = stdlib if stdlib is not None else _stdlib_dirs()
        self._files: dict[str, tuple[str, str | None, int | None]] = {}
        self._lock = threading.Lock()

    def classify(self, path: str) -> tuple[str, str | None, int | None]:
        """(origin, display, cell number) of a recorded file path."""
        known = self._files.get(path)
        if known is None:
            known = self._classify(path)
            with self._lock:
                if len(self._files) > _MAX_FILES:
                    self._files.clear()
                self._files[path] = known
        return known

    def _classify(self, path: str) -> tuple[str, str | None, int | None]:
        cell = _cell_number(path)
        if cell is not None:
            return (ORIGIN_USER, None, cell)
        if path.startswith("<") or not os.path.isabs(path):
            return (ORIGIN_USER, None, None)  # "<string>", "<stdin>": code given as text
        below_site = _below_site_folder(path)
        if below_site is not None:
            # zmqscope's bundled example apps are applications, wherever installed.
            origin = ORIGIN_USER if is_bundled_example(path) else ORIGIN_LIBRARY
            return (origin, below_site, None)
        for folder in self._stdlib:
            if path.startswith(folder):
                return (ORIGIN_STDLIB, path[len(folder) :].replace(os.sep, "/"), None)
        return (ORIGIN_USER, self._relative(path), None)

    def _relative(self, path: str) -> str | None:
        try:
            return str(PurePath(path).relative_to(self.root))
        except ValueError:
            return None  # outside the project: shown whole

    def frame(self, raw: RawFrame) -> Frame:
        """The frozen frame of a resolved ``(file, line, function)``."""
        path, line, function = raw
        origin, display, cell = self.classify(path)
        source = None
        if cell is not None:
            # No file holds a cell's code: IPython keeps it in linecache.
            source = source_line(path, line) or None
        return Frame(path, line, function, origin, display, cell, source)


def _below_site_folder(path: str) -> str | None:
    """The part of ``path`` below its site-packages (or dist-packages, or .egg) folder."""
    parts = path.split(os.sep)
    for index in range(len(parts) - 2, -1, -1):
        part = parts[index]
        if part in _SITE_FOLDERS or part.endswith(".egg"):
            return "/".join(parts[index + 1 :])
    return None


def _cell_number(path: str) -> int | None:
    """The execution count of the IPython cell compiled under this file name, if any.

    IPython's compiler names each cell's code (``<ipython-input-3-...>``, or
    under ipykernel a temporary file path) and keeps a map from that name to
    the cell's execution count (``CachingCompiler._filename_map``), which its
    tracebacks read to print ``Cell In[3], line 4``.
    """
    getipython = sys.modules.get("IPython.core.getipython")
    if getipython is None:
        return None
    try:
        shell = getipython.get_ipython()
        names = getattr(getattr(shell, "compile", None), "_filename_map", None)
        number = names.get(path) if isinstance(names, dict) else None
    except Exception:  # an IPython that works otherwise: no cell names then
        return None
    return number if isinstance(number, int) and not isinstance(number, bool) else None


_origins: Origins | None = None


def origins() -> Origins:
    """The process's classifier, for the project root."""
    global _origins
    current = _origins
    if current is None or current.root != project_root():
        current = _origins = Origins(project_root())
    return current


def classified_frame(path: str, line: int, function: str) -> Frame:
    """The model's frame for a file, line and function, with whose code it is."""
    return origins().frame((path, line, function))


def _new_locks_in_child() -> None:
    # The server's thread may have held one at the fork: it does not exist here.
    global _root_lock
    _root_lock = threading.Lock()
    if _origins is not None:
        _origins._lock = threading.Lock()


os.register_at_fork(after_in_child=_new_locks_in_child)
