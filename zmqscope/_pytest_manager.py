"""The pytest plugin's state and hooks, registered by :mod:`zmqscope.pytest_plugin` when active.

Per test: a :class:`~zmqscope._pytest_findings.Window` opens before setup;
after teardown, the sockets recorded since (less those of wider-scoped
fixtures) that are still open after a garbage collection, or were collected
without ``close()``, fail the test. Sockets a class/module/package/session
fixture creates are claimed by it and checked when pytest finalizes it, which
happens during the teardown of the last test of that scope: that test carries
the failure, naming the fixture and scope.

A leak is known only once teardown is over, yet it must fail the test itself
(its "call" report: ``1 failed``, ``FAILED`` in ``-rf``, ``<failure>`` in JUnit
XML, rerun by ``--lf``), not add an error at teardown. So the plugin runs the
test protocol itself, with pytest's logging off, and logs each report once it
is final: a passed call report waits for the teardown's verdict; every other
report is logged as soon as it is made, as pytest would, so that ``-x`` and
``--maxfail`` still see a failure before the teardown that depends on them.
When another plugin may run a test's protocol (pytest-rerunfailures does),
an observer registered for the run reads the reports as they are made, and
a leak in such a test is an error at its teardown.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import os
import time
import weakref
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from _pytest.runner import call_and_report, show_test_item

import zmqscope
from zmqscope import _api
from zmqscope._files import FileWriteError, write_whole
from zmqscope._pytest_findings import (
    Finding,
    IgnoreRules,
    Verdict,
    Window,
    report_on,
    unclean,
    with_culprits,
)
from zmqscope._pytest_output import RunTotals, markdown, merged_document
from zmqscope._pytest_settings import refuse_bad_marks
from zmqscope._pytest_term import TermInterrupter
from zmqscope._pytest_text import blocked_text, longrepr, runner_paths, summary_lines
from zmqscope._pytest_threads import ThreadBook, ThreadOrigin, Threads
from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import Registry, SocketEntry
from zmqscope.instrument.watchdog import BlockedTerm
from zmqscope.model import SocketState
from zmqscope.reporting import Report

WORKEROUTPUT_KEY = "zmqscope"
CLAIM_WATCHER_NAME = "zmqscope_claims"
OBSERVER_NAME = "zmqscope_observer"
_CLOSED = SocketState.CLOSED
_RERUNS_KEY = pytest.StashKey[Any]()
_OFF = {"", "0", "false", "no", "off"}  # ZMQSCOPE values that leave it off (_autoinstall)


@dataclass(frozen=True)
class Settings:
    """The plugin's options, read once from the command line and ini file."""

    grace: float
    ignore: tuple[str, ...]
    json_path: Path | None
    markdown_path: Path | None


@dataclass(slots=True)
class _TestRun:
    """The test pytest is running now."""

    nodeid: str
    window: Window
    item: pytest.Item  # its marker is read only if something leaked
    threads: Threads  # running when its window opened: not started by its code
    spoiled: bool = False  # a phase failed or skipped: leaks are reported, not failed again
    # zmqscope's signal handler is failing (or failed) a phase for a blocked
    # term(): that failure is zmqscope's verdict, not a sign the test had failed.
    interrupting: bool = False
    interrupted: bool = False
    blocked: list[Report] = field(default_factory=list)  # culprits of term() calls interrupted
    scope_ends: list[Finding] = field(default_factory=list)  # wider fixtures ended here
    logs: bool = False  # the plugin runs the protocol: it logs the reports, pytest does not
    direct: bool = False  # ... and reads them from call_and_report, not the observer
    held: pytest.TestReport | None = None  # a passed call report, logged after teardown
    ihook: Any = None  # item.ihook, looked up once (each lookup searches conftests)


class _Observer:
    """The hooks that read each report the moment pytest makes it.

    Registered for the run only when that matters: when another plugin may
    run a test's protocol (pytest-rerunfailures, or a plugin whose
    ``pytest_runtest_protocol`` is called before zmqscope's), a leak, known
    after that plugin logged the call report, fails the run as an error at
    teardown; with ``--pdb``, a failure must be logged before the debugger
    opens (quitting it ends the run at once). Otherwise zmqscope reads the
    report ``call_and_report`` returns and needs neither hook, each of which
    pluggy would call for every test.
    """

    def __init__(self, manager: ZmqscopeManager) -> None:
        self._manager = manager

    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_protocol(self, item: pytest.Item) -> Generator[None, object, object]:
        self._manager.begin(item)  # around whichever plugin runs the protocol
        try:
            return (yield)
        finally:
            self._manager.end()

    # Outermost (tryfirst): sees a report after pytest's own wrappers (xfail) changed it.
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        self._manager.observed(item, report)
        return report


class _ClaimWatcher:
    """The one hook wider fixtures' claims need, registered only while there are some."""

    def __init__(self, manager: ZmqscopeManager) -> None:
        self._manager = manager

    def pytest_fixture_post_finalizer(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        self._manager.fixture_finalized(fixturedef)


@dataclass
class _Claim:
    """Sockets a fixture wider than a function created; checked when it is finalized."""

    fixture: str
    scope: str
    registry: Registry
    entries: list[SocketEntry]


class ZmqscopeManager:
    """Everything the plugin knows during a run; one per pytest process."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self._config = config
        self._settings = settings
        self._ignore = IgnoreRules(settings.ignore, config.rootpath)
        workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
        self._worker = str(workerinput["workerid"]) if workerinput else ""
        self._findings: list[Finding] = []
        # What RunTotals sums, kept as plain ints: added to after every test.
        self._tests_checked = 0
        self._sockets_created = 0
        self._run: _TestRun | None = None
        self._claimed: dict[SocketEntry, _Claim] = {}
        self._claims: dict[object, list[_Claim]] = {}  # FixtureDef -> its claims
        self._watcher = _ClaimWatcher(self)
        self._observer = _Observer(self)
        self._observed = False  # the observer hands _reported each report
        self._looping = False  # pytest_runtestloop has begun
        self._setup_show = bool(config.getoption("setupshow", False))
        self._setup_only = bool(config.getoption("setuponly", False))
        self._wide: dict[object, bool] = {}  # FixtureDef -> wider than a function?
        self._registries: weakref.WeakKeyDictionary[Registry, int] = weakref.WeakKeyDictionary()
        self._generations = itertools.count()
        self._term = TermInterrupter(self._blocked, self._interrupting)
        self._threads = ThreadBook()
        self._was_installed = hooks.is_installed()
        # Leaks the plugin reported stay in the registry when the process
        # prints zmqscope's exit report too (ZMQSCOPE=1, zmqscope run): both
        # must list them.
        self._keep_leaks = self._was_installed or (
            os.environ.get("ZMQSCOPE", "").strip().lower() not in _OFF
        )
        self._written: list[str] = []  # one line per file: written, or why not
        self._previous_stops: tuple[str, ...] = ()
        self._printing = False  # the watchdog printed culprit reports before start()

    # -- set-up and tear-down ---------------------------------------------

    def start(self) -> None:
        self._install()
        # Stacks recorded in a test end where pytest's frames begin.
        self._previous_stops = hooks.stop_walks_at(runner_paths())
        # The failing test shows the culprit report; printing it to stderr as
        # well would only repeat it in the captured output.
        self._printing = _api.watchdog().remove_listener(_api.print_shutdown_event)
        self._term.start()

    def stop(self) -> None:
        self._claims_watched(False)
        _registered(self._config, self._observer, OBSERVER_NAME, False)
        self._term.stop()
        hooks.stop_walks_at(self._previous_stops)
        if self._printing:  # put back only what start() took away
            _api.add_shutdown_listener(_api.print_shutdown_event)
        if not self._was_installed:
            zmqscope.uninstall()

    def _install(self) -> None:
        zmqscope.install(grace=self._settings.grace)

    # -- per test ------------------------------------------------------------

    # A wrapper, so that it runs whichever plugin runs the loop (pytest-xdist's
    # workers do).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        # Every plugin and conftest is known by now: whether another plugin
        # may run a test's protocol decides how the plugin sees the reports.
        self._looping = True
        if self._config.getoption("usepdb", False):
            self._observe()
        self._observe_if_needed()
        return (yield)

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        # A mistyped marker argument would be ignored, failing a leak its author allowed.
        return refuse_bad_marks((yield))

    def pytest_plugin_registered(self, plugin: object) -> None:
        # A plugin registered during the run (by a fixture, say) may run the
        # protocol from the next test on.
        if self._looping and plugin is not self._observer:
            self._observe_if_needed()

    def _observe_if_needed(self) -> None:
        if not self._observed and _protocol_elsewhere(self._config, self):
            self._observe()

    def _observe(self) -> None:
        _registered(self._config, self._observer, OBSERVER_NAME, True)
        self._observed = True

    def begin(self, item: pytest.Item) -> _TestRun:
        """Open ``item``'s window: the sockets recorded from now on are the test's."""
        if not hooks.is_installed():
            # A test may uninstall zmqscope (zmqscope's own tests do); every
            # test starts with it installed, as the first one did.
            self._install()
        return self._open_run(item)

    def _open_run(self, item: pytest.Item) -> _TestRun:
        threads = self._threads.opened(item.nodeid)
        run = self._run = _TestRun(item.nodeid, Window.open(), item, threads)
        return run

    def end(self) -> None:
        self._run = None

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtest_protocol(
        self, item: pytest.Item, nextitem: pytest.Item | None
    ) -> bool | None:
        """pytest's own protocol, with each report logged by :meth:`_log` once it is final."""
        run = self._run
        if run is None:  # the usual case: no observer, zmqscope runs every test
            run = self.begin(item)
            try:
                self._protocol(run, item, nextitem)
            finally:
                self._run = None
            return True
        if run.nodeid != item.nodeid or _rerun_elsewhere(item):
            return None  # another plugin runs it: the observer sees its reports
        self._protocol(run, item, nextitem)
        return True

    def _protocol(self, run: _TestRun, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # pytest's runtestprotocol (_pytest/runner.py; the same in pytest 8 and
        # 9), its reports not logged by call_and_report but handed to
        # _reported: here, or by the observer as each is made.
        direct = run.direct = not self._observed
        run.logs = True
        ihook = run.ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        request = hasattr(item, "_request")
        if request and not item._request:  # type: ignore[attr-defined]
            item._initrequest()  # type: ignore[attr-defined]  # a test run again
        try:
            setup = call_and_report(item, "setup", log=False)
            if direct:
                self._reported(run, setup)
            if setup.passed:
                if self._setup_show:
                    _show_test_item(item, self._setup_only)
                if not self._setup_only:
                    call = call_and_report(item, "call", log=False)
                    if direct:
                        self._reported(run, call)
            session = item.session
            if session.shouldfail or session.shouldstop:
                nextitem = None  # the run stops: every scope is torn down now
            teardown = call_and_report(item, "teardown", log=False, nextitem=nextitem)
            if direct:
                self._reported(run, teardown)
        finally:
            # Interrupted (KeyboardInterrupt, pytest.exit()) before the teardown's
            # report: the call report still gets logged, as pytest would have.
            self._log(run, None)
            if request:  # the fixtures' values go, whatever happened
                item._request = False  # type: ignore[attr-defined]
                item.funcargs = None  # type: ignore[attr-defined]
        ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)

    def observed(self, item: pytest.Item, report: pytest.TestReport) -> None:
        """A report as the observer saw it made (whoever runs the protocol)."""
        run = self._run
        if run is not None and not run.direct and run.nodeid == item.nodeid:
            self._reported(run, report)
            if not run.logs and report.when == "teardown" and self._run is run:
                # pytest-rerunfailures may run the test again within this
                # protocol: each attempt is checked on its own.
                self._open_run(item)

    def _reported(self, run: _TestRun, report: pytest.TestReport) -> None:
        if report.outcome != "passed":
            if run.interrupting and report.failed:
                run.interrupting = False
                run.interrupted = True  # zmqscope failed it: the failure is its verdict
            else:
                run.spoiled = True
        when = report.when
        if when == "teardown":
            self._finish(run, report)
        if run.logs:
            if when == "call" and report.outcome == "passed":
                run.held = report  # until teardown tells whether the test leaked
            else:
                # Now, as pytest would: -x and --maxfail must see a failed setup
                # or call before the teardown, which then tears down every scope.
                self._log(run, report)

    @staticmethod
    def _log(run: _TestRun, report: pytest.TestReport | None) -> None:
        """Log the held call report, if any, then ``report``."""
        held = run.held
        if held is not None:
            run.held = None
            run.ihook.pytest_runtest_logreport(report=held)
        if report is not None:
            run.ihook.pytest_runtest_logreport(report=report)

    def _finish(self, run: _TestRun, teardown: pytest.TestReport) -> None:
        window = run.window
        entries = window.entries()
        self._tests_checked += 1
        # Not len(entries): a wider fixture's end may have forgotten its sockets already.
        self._sockets_created += window.created()
        if not (entries or run.blocked or run.scope_ends):
            return  # the usual case: nothing made, nothing to check
        registry = hooks.registry()
        if not (run.blocked or run.scope_ends):
            # The usual case of a test that made sockets: it closed them all.
            # (A wider fixture's socket among them is closed too: its claim
            # keeps the entry and finds nothing to report.)
            for entry in entries:
                if entry.state is not _CLOSED:
                    break
            else:
                registry.forget(entries)
                return
        if entries and self._claimed:
            entries = [e for e in entries if e not in self._claimed]
        leaked = self._leaks(entries, registry) if entries else []
        leaked, others = self._by_thread(run, leaked)
        findings = [
            dataclasses.replace(f, verdict=self._verdict(run, False)) for f in run.scope_ends
        ]
        if leaked or run.blocked:
            own = with_culprits(report_on(leaked), run.blocked)
            verdict = self._verdict(run, _allows_leaks(run.item) and not run.interrupted)
            origin = self._origin(registry)
            findings.insert(0, Finding(run.nodeid, "function", None, verdict, own, origin))
        findings += others
        if entries:  # reported (or clean): the registry need not keep them for anyone
            self._forget(registry, entries)
        self._findings += findings
        failing = [f for f in findings if f.verdict is Verdict.FAILED]
        if failing and not run.interrupted:  # (an interrupted test has failed already)
            # The test's own report. Without one (--setup-only), or when another
            # plugin ran the protocol and logged the call report already, the
            # teardown's: an error at teardown, still a failed run.
            _fail(run.held if run.held is not None else teardown, failing)

    def _leaks(self, entries: list[SocketEntry], registry: Registry) -> list[SocketEntry]:
        """The entries (of ``registry``) that leaked, less those zmqscope_ignore names.

        Sockets pyzmq made for itself (its zero-copy tracker's) are nobody's leak.
        """
        entries = [e for e in entries if e.internal is None]
        return [e for e in unclean(entries, registry) if not self._ignore.ignores(e)]

    def _by_thread(
        self, run: _TestRun, leaked: list[SocketEntry]
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

    @staticmethod
    def _verdict(run: _TestRun, allowed: bool) -> Verdict:
        if allowed:
            return Verdict.ALLOWED
        return Verdict.REPORTED if run.spoiled else Verdict.FAILED

    # -- fixtures wider than a function ------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any]
    ) -> Generator[None, object, object]:
        # Called for every fixture of every test: the scope (an enum behind a
        # property) is read once per fixture definition.
        wide = self._wide.get(fixturedef)
        if wide is None:
            wide = self._wide[fixturedef] = fixturedef.scope != "function"
        if not wide:
            return (yield)
        window = Window.open()
        threads = self._threads.running()
        try:
            return (yield)
        finally:
            self._claim(fixturedef, window)
            owner = f"{fixturedef.scope}-scoped fixture {fixturedef.argname!r}"
            self._threads.started_by(threads, owner)

    def _claim(self, fixturedef: pytest.FixtureDef[Any], window: Window) -> None:
        # A nested wider fixture (requested by this one) claimed its own first.
        entries = [e for e in window.entries() if e not in self._claimed]
        if not entries:
            return
        claim = _Claim(fixturedef.argname, fixturedef.scope, hooks.registry(), entries)
        for entry in entries:
            self._claimed[entry] = claim
        self._claims.setdefault(fixturedef, []).append(claim)
        self._claims_watched(True)

    def fixture_finalized(self, fixturedef: pytest.FixtureDef[Any]) -> None:
        for claim in self._claims.pop(fixturedef, ()):
            for entry in claim.entries:
                self._claimed.pop(entry, None)
            self._check_claim(claim)
        if not self._claims:
            self._claims_watched(False)

    def _claims_watched(self, on: bool) -> None:
        """Hear of fixtures' ends only while a wider fixture holds sockets.

        pytest calls ``pytest_fixture_post_finalizer`` after every fixture of
        every test; a suite whose wider fixtures make no socket should not pay
        for a hook call per fixture.
        """
        _registered(self._config, self._watcher, CLAIM_WATCHER_NAME, on)

    def _check_claim(self, claim: _Claim) -> None:
        leaked = self._leaks(claim.entries, claim.registry)
        if leaked:
            report = report_on(leaked, registry=claim.registry)
            run = self._run
            origin = self._origin(claim.registry)
            test = run.nodeid if run else ""
            finding = Finding(test, claim.scope, claim.fixture, Verdict.REPORTED, report, origin)
            if run is not None:
                run.scope_ends.append(finding)  # its verdict is settled with the test's
            else:
                self._findings.append(finding)  # torn down after the last test ran
        self._forget(claim.registry, claim.entries)

    # -- a term() that hangs -------------------------------------------------

    def _blocked(self, event: BlockedTerm, thread: int | None) -> str | None:
        """Called on the watchdog's thread; the failure text for the test, if in one."""
        report = report_on([], event.culprits)
        waited = time.time() - event.since
        run = self._run
        if run is None:
            origin = self._origin(hooks.registry())
            finding = Finding("", "session", None, Verdict.REPORTED, report, origin)
            self._findings.append(finding)
            return None
        run.blocked.append(report)
        return blocked_text(report, event.context, waited, self._settings.grace)

    def _interrupting(self) -> None:
        """Called in the main thread as its signal handler fails the test's blocked term()."""
        run = self._run
        if run is not None:
            run.interrupting = True

    # -- the end of the run ----------------------------------------------------

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self) -> None:
        workeroutput: dict[str, Any] | None = getattr(self._config, "workeroutput", None)
        if workeroutput is not None:
            # pytest-xdist sends this to the controller, which writes the files.
            workeroutput[WORKEROUTPUT_KEY] = {
                "totals": self._totals().to_dict(),
                "findings": [f.to_dict() for f in self._findings],
            }
            return
        self._write_files()

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if not isinstance(data, dict):
            return  # the worker crashed before it could report
        self._tests_checked += data["totals"]["tests"]
        self._sockets_created += data["totals"]["sockets"]
        self._findings += [Finding.from_dict(f) for f in data["findings"]]

    def _write_files(self) -> None:
        settings = self._settings
        if settings.json_path is not None:
            document = merged_document(self._findings, self._totals())
            self._write("JSON report", settings.json_path, _json_text(document))
        if settings.markdown_path is not None:
            text = markdown(self._findings, self._totals())
            self._write("Markdown summary", settings.markdown_path, text)

    def _write(self, what: str, path: Path, text: str) -> None:
        """Write one file whole; a failure is one line in the summary, not pytest's crash."""
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_whole(path, text)
        except OSError as error:
            reason = str(error) if isinstance(error, FileWriteError) else error.strerror
            self._written.append(f"zmqscope: {what} not written: {reason}")
        else:
            self._written.append(f"zmqscope: {what} written to {path}")

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        terminalreporter.write_sep("=", "zmqscope")
        terminalreporter.write_line(self._summary_line())
        for line in summary_lines(self._findings):
            terminalreporter.write_line(line)
        for line in self._written:
            terminalreporter.write_line(line)

    def _totals(self) -> RunTotals:
        return RunTotals(self._tests_checked, self._sockets_created)

    def _summary_line(self) -> str:
        """``zmqscope: 120 tests checked, 40 sockets created, 2 leaks in 1 test``."""
        totals, findings = self._totals(), self._findings
        line = f"zmqscope: {_count(totals.tests, 'test')} checked"
        line += f", {_count(totals.sockets, 'socket')} created"
        others = sum(len(f.report.leaks) for f in findings if f.verdict is Verdict.OTHER_THREAD)
        findings = [f for f in findings if f.verdict is not Verdict.OTHER_THREAD]
        leaks = sum(len(f.report.leaks) for f in findings)
        leaky = len({f.test for f in findings if f.report.leaks})
        line += f", {_count(leaks, 'leak')} in {_count(leaky, 'test')}" if leaks else ", no leaks"
        if others:
            line += f"; {_count(others, 'socket')} left by threads the tests did not start"
        blocked = len({f.test for f in findings if f.report.culprits})
        if blocked:
            line += f"; term() blocked in {_count(blocked, 'test')}"
        return line

    def _origin(self, registry: Registry) -> str:
        generation = self._registries.get(registry)
        if generation is None:
            generation = self._registries[registry] = next(self._generations)
        return self._worker + (f".{generation}" if generation else "")


def _fail(report: pytest.TestReport, findings: list[Finding]) -> None:
    """Turn a passed ``report`` into a failure showing ``findings``."""
    report.outcome = "failed"
    report.longrepr = longrepr(findings)
    # An unexpected pass (non-strict xfail) that leaked: a failure like any
    # other, not an XPASS (pytest counts no report with wasxfail as failed).
    if hasattr(report, "wasxfail"):
        del report.wasxfail


# pytest 9 asks whether a space follows the test's name (not with --setup-only).
_SHOW_SPACED = "add_space" in inspect.signature(show_test_item).parameters


def _show_test_item(item: pytest.Item, setup_only: bool) -> None:
    """``--setup-show``'s line naming the test and its fixtures, as pytest prints it."""
    if _SHOW_SPACED:
        show_test_item(item, add_space=not setup_only)  # type: ignore[call-arg]
    else:
        show_test_item(item)


def _registered(config: pytest.Config, plugin: object, name: str, on: bool) -> None:
    """Register ``plugin`` as ``name``, or unregister it; nothing if it already is as asked."""
    plugins = config.pluginmanager
    registered = plugins.is_registered(plugin)
    if on and not registered:
        plugins.register(plugin, name)
    elif not on and registered:
        plugins.unregister(plugin)


def _protocol_elsewhere(config: pytest.Config, manager: ZmqscopeManager) -> bool:
    """True if a test's protocol may be run by another plugin than zmqscope.

    pytest-rerunfailures runs those it reruns; a plugin whose implementation
    pluggy calls before zmqscope's (a later ``tryfirst`` one) runs them all.
    """
    if _reruns_count(config) is not None:
        return True
    runners = [
        impl
        for impl in config.hook.pytest_runtest_protocol.get_hookimpls()
        if not (impl.wrapper or impl.hookwrapper)
    ]
    return not runners or runners[-1].plugin is not manager  # pluggy calls the last first


def _rerun_elsewhere(item: pytest.Item) -> bool:
    """True if pytest-rerunfailures will run this test, rerunning it if it fails.

    Its ``pytest_runtest_protocol`` is a plain one, which zmqscope's (tryfirst)
    would otherwise replace, silently turning ``--reruns`` and
    ``@pytest.mark.flaky`` off.
    """
    reruns = _reruns_count(item.config)
    return reruns is not None and reruns(item) is not None


def _reruns_count(config: pytest.Config) -> Any:
    """pytest-rerunfailures' ``get_reruns_count``, looked up once per run (None without it)."""
    try:
        return config.stash[_RERUNS_KEY]
    except KeyError:
        plugin = config.pluginmanager.get_plugin("rerunfailures")
        reruns = getattr(plugin, "get_reruns_count", None)
        found = config.stash[_RERUNS_KEY] = reruns if callable(reruns) else None
        return found


def _allows_leaks(item: pytest.Item) -> bool:
    marker = item.get_closest_marker("zmqscope")
    return bool(marker is not None and marker.kwargs.get("allow_leaks", False))


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


def _json_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2) + "\n"
