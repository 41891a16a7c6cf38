"""What the pytest plugin found, per test or per fixture scope, and how it finds it.

A :class:`Window` notes the registry's ``created_total`` when a test (or a
wider-scoped fixture) starts; the sockets recorded since are that test's.
After its teardown, those still open after a garbage collection, or collected
without ``close()``, are leaks. A :class:`Finding` holds them as a
:class:`~zmqscope.reporting.Report` over just those sockets, with the test
and the scope it belongs to.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import gc
import os
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

from zmqscope._pytest_threads import ThreadOrigin
from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.model import Culprit, SchemaError, Snapshot, SocketState
from zmqscope.reporting import Report, build_report


class Verdict(str, Enum):
    """What a finding did to the test that carries it."""

    FAILED = "failed"  # it turned a passing test into a failure
    ALLOWED = "allowed"  # @pytest.mark.zmqscope(allow_leaks=True)
    REPORTED = "reported"  # the test had already failed or been skipped: not failed twice
    # Made during the test by a thread that was running before it began (an
    # earlier test's, a wider fixture's): not the test's own code, not failed.
    OTHER_THREAD = "other-thread"


@dataclass(frozen=True, slots=True)
class Finding:
    """Leaked sockets (and culprits of a blocked ``term()``) of one test or fixture.

    ``test`` is the node id of the test whose report carries the finding: for
    a fixture wider than a function, the test during whose teardown its scope
    ended. ``origin`` tells apart processes (xdist workers) and registries
    when socket ids are merged into one report. ``thread``: for sockets made
    by a thread the test did not start (verdict ``other-thread``), that thread.
    """

    test: str
    scope: str
    fixture: str | None
    verdict: Verdict
    report: Report
    origin: str = ""
    thread: ThreadOrigin | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "test": self.test,
            "scope": self.scope,
            "fixture": self.fixture,
            "verdict": self.verdict.value,
            "origin": self.origin,
            "report": self.report.to_dict(),
            "thread": self.thread.to_dict() if self.thread else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        try:
            verdict = Verdict(data["verdict"])
            fixture = data.get("fixture")
            thread = data.get("thread")
            return cls(
                test=str(data["test"]),
                scope=str(data["scope"]),
                fixture=None if fixture is None else str(fixture),
                verdict=verdict,
                report=Report.from_dict(data["report"]),
                origin=str(data.get("origin", "")),
                thread=ThreadOrigin.from_dict(thread) if thread else None,
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise SchemaError(f"not a zmqscope pytest finding: {exc}") from None

    @property
    def owner(self) -> str:
        """``test_x.py::test_a`` or ``module fixture 'server'``: who leaked."""
        if self.fixture is None:
            return self.test or "session teardown"
        return f"{self.scope}-scoped fixture {self.fixture!r}"


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


def report_on(
    entries: Sequence[SocketEntry],
    culprits: Sequence[Culprit] = (),
    registry: Registry | None = None,
) -> Report:
    """A report over ``entries`` (of ``registry``) and the sockets ``culprits`` name."""
    wanted = {e.id for e in entries} | {c.socket for c in culprits}
    # One consistent snapshot, taken under the registry's lock; this path runs
    # only when something leaked, so copying every record is affordable.
    full = (registry or hooks.registry()).snapshot(hooks.process_info())
    sockets = tuple(s for s in full.sockets if s.id in wanted)
    context_ids = {s.context for s in sockets} | {c.context for c in culprits}
    contexts = tuple(c for c in full.contexts if c.id in context_ids)
    snapshot = Snapshot(
        taken_at=time.time(),
        process=full.process,
        contexts=contexts,
        sockets=sockets,
        created_total=len(sockets),
    )
    return build_report(snapshot, culprits=culprits)


def with_culprits(leaks: Report, blocked: Sequence[Report]) -> Report:
    """``leaks`` plus the culprits of each blocked ``term()`` as they were when it blocked.

    The culprits' records come from the moment the watchdog named them: by
    the end of the test, the registry may have forgotten a culprit that was
    closed once ``term()`` let go. Leaks are only the final report's.
    """
    if not blocked:
        return leaks
    sockets = {s.id: s for r in blocked for s in r.snapshot.sockets}
    sockets.update((s.id, s) for s in leaks.snapshot.sockets)
    contexts = {c.id: c for r in blocked for c in r.snapshot.contexts}
    contexts.update((c.id, c) for c in leaks.snapshot.contexts)
    snapshot = dataclasses.replace(
        leaks.snapshot,
        sockets=tuple(sockets.values()),
        contexts=tuple(contexts.values()),
        created_total=len(sockets),
    )
    culprits = tuple(c for r in blocked for c in r.culprits)
    return dataclasses.replace(leaks, snapshot=snapshot, culprits=culprits)
