"""The checks themselves: what each test and each wider fixture leaked, as findings.

After a test's teardown, :meth:`RunChecks.test_ended` turns the sockets of
its window (less those wider fixtures claimed) that leaked into findings:
one for the test's own leaks and blocked ``term()`` calls, one per thread
the test did not start, and those of the wider fixtures whose scope ended
during its teardown. The run's findings and totals are kept here, summed
over pytest-xdist's workers on the controller.
"""

from __future__ import annotations

import dataclasses
import itertools
import weakref
from collections.abc import Mapping
from typing import Any

from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.model import SocketState
from zmqscope.pytest_plugin.claims import Claim
from zmqscope.pytest_plugin.findings import (
    Finding,
    RunTotals,
    Verdict,
    report_on,
    with_culprits,
)
from zmqscope.pytest_plugin.running import RunningTest
from zmqscope.pytest_plugin.threads import ThreadBook, ThreadOrigin
from zmqscope.pytest_plugin.windows import IgnoreRules, Window, unclean
from zmqscope.reporting import Report

_CLOSED = SocketState.CLOSED


class RunChecks:
    """The run's findings and totals; checks a test after its teardown, a claim at its end.

    ``worker`` names the xdist worker (empty without xdist); ``keep_leaks``:
    zmqscope's exit report follows the run, so the registry keeps the records
    of leaked sockets for it.
    """

    def __init__(
        self, ignore: IgnoreRules, threads: ThreadBook, worker: str, keep_leaks: bool
    ) -> None:
        self.findings: list[Finding] = []
        # What RunTotals sums, kept as plain ints: added to after every test.
        self._tests_checked = 0
        self._sockets_created = 0
        self._ignore = ignore
        self._threads = threads
        self._worker = worker
        self._keep_leaks = keep_leaks
        self._registries: weakref.WeakKeyDictionary[Registry, int] = weakref.WeakKeyDictionary()
        self._generations = itertools.count()

    # -- one test ---------------------------------------------------------------

    def test_ended(self, run: RunningTest, claimed: Mapping[SocketEntry, Claim]) -> list[Finding]:
        """The findings of ``run``'s test, its teardown over (also kept for the run).

        ``claimed``: sockets wider fixtures claimed, which are theirs to report.
        """
        entries = self._counted(run.window)
        if not (entries or run.blocked or run.scope_ends):
            return []  # the usual case: nothing made, nothing to check
        registry = hooks.registry()
        if not (run.blocked or run.scope_ends) and _all_closed(entries):
            # The usual case of a test that made sockets: it closed them all.
            # (A wider fixture's socket among them is closed too: its claim
            # keeps the entry and finds nothing to report.)
            registry.forget(entries)
            return []
        if entries and claimed:
            entries = [e for e in entries if e not in claimed]
        findings = self._findings_of(run, entries, registry)
        if entries:  # reported (or clean): the registry need not keep them for anyone
            self._forget(registry, entries)
        self.findings += findings
        return findings

    def _counted(self, window: Window) -> list[SocketEntry]:
        """The entries of a test's ``window``, counted with the test in the run's totals."""
        entries = window.entries()
        self._tests_checked += 1
        # Not len(entries): a wider fixture's end may have forgotten its sockets already.
        self._sockets_created += window.created()
        return entries

    def _findings_of(
        self, run: RunningTest, entries: list[SocketEntry], registry: Registry
    ) -> list[Finding]:
        """The test's own finding first, then its wider fixtures', then other threads'."""
        leaked = self._leaks(entries, registry) if entries else []
        leaked, others = self._by_thread(run, leaked)
        findings = [dataclasses.replace(f, verdict=run.verdict(False)) for f in run.scope_ends]
        if leaked or run.blocked:
            own = with_culprits(report_on(leaked), run.blocked)
            verdict = run.verdict(run.allows_leaks() and not run.interrupted)
            origin = self._origin(registry)
            findings.insert(0, Finding(run.nodeid, "function", None, verdict, own, origin))
        return findings + others

    def _leaks(self, entries: list[SocketEntry], registry: Registry) -> list[SocketEntry]:
        """The entries (of ``registry``) that leaked, less those zmqscope_ignore names.

        Sockets pyzmq made for itself (its zero-copy tracker's) are nobody's leak.
        """
        entries = [e for e in entries if e.internal is None]
        return [e for e in unclean(entries, registry) if not self._ignore.ignores(e)]

    def _by_thread(
        self, run: RunningTest, leaked: list[SocketEntry]
    ) -> tuple[list[SocketEntry], list[Finding]]:
        """The test's own leaks, and a finding per thread it did not start that leaked."""
        own: list[SocketEntry] = []
        others: dict[ThreadOrigin, list[SocketEntry]] = {}
        for entry in leaked:
            origin = self._threads.origin(entry, run.threads)
            if origin is None:
                own.append(entry)
            else:
                others.setdefault(origin, []).append(entry)
        if not others:
            return own, []
        where, verdict = self._origin(hooks.registry()), Verdict.OTHER_THREAD
        findings = [
            Finding(run.nodeid, "function", None, verdict, report_on(entries), where, thread)
            for thread, entries in others.items()
        ]
        return own, findings

    def _forget(self, registry: Registry, entries: list[SocketEntry]) -> None:
        """Let the registry drop the records of ``entries`` it need not keep for anyone.

        Those that leaked stay when zmqscope's exit report follows: it lists them too.
        """
        if self._keep_leaks:
            entries = [e for e in entries if e.state is _CLOSED]
        registry.forget(entries)

    # -- a wider fixture, a term() outside any test -----------------------------

    def claim_ended(self, claim: Claim, run: RunningTest | None) -> None:
        """A wider fixture ended (during ``run``'s teardown, if any): check its claim."""
        leaked = self._leaks(claim.entries, claim.registry)
        if leaked:
            report = report_on(leaked, registry=claim.registry)
            origin = self._origin(claim.registry)
            test = run.nodeid if run else ""
            finding = Finding(test, claim.scope, claim.fixture, Verdict.REPORTED, report, origin)
            if run is not None:
                run.scope_ends.append(finding)  # its verdict is settled with the test's
            else:
                self.findings.append(finding)  # torn down after the last test ran
        self._forget(claim.registry, claim.entries)

    def blocked_outside_tests(self, report: Report) -> None:
        """A ``term()`` blocked past the grace period while no test ran: reported."""
        origin = self._origin(hooks.registry())
        self.findings.append(Finding("", "session", None, Verdict.REPORTED, report, origin))

    def _origin(self, registry: Registry) -> str:
        """The worker and registry ``registry``'s socket ids belong to (``gw1.2``)."""
        generation = self._registries.get(registry)
        if generation is None:
            generation = self._registries[registry] = next(self._generations)
        return self._worker + (f".{generation}" if generation else "")

    # -- the whole run ----------------------------------------------------------

    def totals(self) -> RunTotals:
        return RunTotals(self._tests_checked, self._sockets_created)

    def worker_output(self) -> dict[str, Any]:
        """What a pytest-xdist worker sends the controller: its totals and findings."""
        return {
            "totals": self.totals().to_dict(),
            "findings": [f.to_dict() for f in self.findings],
        }

    def add_worker_output(self, data: Mapping[str, Any]) -> None:
        """On the controller: a worker's :meth:`worker_output`, added to the run's."""
        self._tests_checked += data["totals"]["tests"]
        self._sockets_created += data["totals"]["sockets"]
        self.findings += [Finding.from_dict(f) for f in data["findings"]]


def _all_closed(entries: list[SocketEntry]) -> bool:
    return all(entry.state is _CLOSED for entry in entries)
