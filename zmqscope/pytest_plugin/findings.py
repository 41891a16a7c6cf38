"""What the pytest plugin found: per test or fixture scope, a verdict and a report.

A :class:`Finding` holds the leaks of one test (or of a wider fixture, or
of a thread the test did not start) as a :class:`~zmqscope.reporting.Report`
over just those sockets, with the test and scope it belongs to and what it
did to the test (:class:`Verdict`). :class:`RunTotals` counts what the whole
run checked. Which sockets leaked is :mod:`~zmqscope.pytest_plugin.windows`'s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.model import Culprit, SchemaError, Snapshot
from zmqscope.pytest_plugin.threads import ThreadOrigin
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
class RunTotals:
    """What the whole run checked, summed over workers."""

    tests: int = 0
    sockets: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"tests": self.tests, "sockets": self.sockets}


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
