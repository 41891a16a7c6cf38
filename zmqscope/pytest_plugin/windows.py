"""Which sockets a test made, and which of them leaked.

A :class:`Window` notes the registry's ``created_total`` when a test (or a
wider-scoped fixture) starts; the sockets recorded since are that test's.
After its teardown, those still open after a garbage collection, or
collected without ``close()`` (:func:`unclean`), are leaks, less those whose
file ``zmqscope_ignore`` names (:class:`IgnoreRules`).
"""

from __future__ import annotations

import fnmatch
import gc
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.model import SocketState


@dataclass(frozen=True, slots=True)
class Window:
    """The sockets recorded in ``registry`` after its ``created_total`` was ``mark``."""

    registry: Registry
    mark: int

    @classmethod
    def open(cls) -> Window:
        registry = hooks.registry()
        return cls(registry, registry.created_total)

    def entries(self) -> list[SocketEntry]:
        """The records made since the window opened, oldest first."""
        registry = hooks.registry()
        # Code under test may replace the registry (zmqscope's own tests call
        # hooks.reset_registry()): then only the new one's records are visible.
        mark = self.mark if registry is self.registry else 0
        # Sockets made and closed since the last look, whose close cannot keep
        # term() waiting, are counted but never built: the plugin would only
        # forget them.
        return registry.created_since(mark, skip_closed=True)

    def created(self) -> int:
        registry = hooks.registry()
        base = self.mark if registry is self.registry else 0
        return max(0, registry.created_total - base)


class IgnoreRules:
    """``zmqscope_ignore`` globs, matched against the file that created a socket.

    A pattern matches the creation site's absolute path or its path relative
    to pytest's rootdir (``/`` separators either way); ``*`` crosses folders,
    as in :mod:`fnmatch`.
    """

    def __init__(self, patterns: Sequence[str], rootdir: Path) -> None:
        self._patterns = tuple(p.strip() for p in patterns if p.strip())
        self._rootdir = str(rootdir)
        self._verdicts: dict[str, bool] = {}

    def ignores(self, entry: SocketEntry) -> bool:
        if not self._patterns:
            return False
        stack = entry.created.stack
        if not stack:
            return False
        path = stack[0][0]
        verdict = self._verdicts.get(path)
        if verdict is None:
            verdict = self._verdicts[path] = self._matches(path)
        return verdict

    def _matches(self, path: str) -> bool:
        candidates = [path.replace(os.sep, "/")]
        relative = os.path.relpath(path, self._rootdir) if os.path.isabs(path) else path
        if not relative.startswith(".."):
            candidates.append(relative.replace(os.sep, "/"))
        return any(fnmatch.fnmatch(c, p) for c in candidates for p in self._patterns)


def unclean(entries: Iterable[SocketEntry], registry: Registry) -> list[SocketEntry]:
    """The entries still open after a garbage collection, or collected without ``close()``.

    The collection runs only when something is still open: a socket held by a
    reference cycle is closed by pyzmq's ``__del__`` only then, and a suite of
    clean tests should not pay for a ``gc.collect()`` per test. ``registry``
    (the entries') applies the closes its hooks recorded before states are read.
    """
    entries = list(entries)
    registry.settle()
    for entry in entries:
        if entry.state is SocketState.OPEN:
            gc.collect()
            registry.settle()
            break
    return [e for e in entries if e.state is not SocketState.CLOSED]
