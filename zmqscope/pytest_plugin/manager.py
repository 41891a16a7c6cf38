"""The pytest plugin's state and hooks, registered by :mod:`zmqscope.pytest_plugin` when active.

Per test: a :class:`~zmqscope.pytest_plugin.windows.Window` opens before
setup; after teardown, the sockets recorded since (less those of
wider-scoped fixtures) that are still open after a garbage collection, or
were collected without ``close()``, fail the test
(:mod:`~zmqscope.pytest_plugin.checks`). Sockets a class/module/package/
session fixture creates are claimed by it and checked when pytest finalizes
it (:mod:`~zmqscope.pytest_plugin.claims`), which happens during the
teardown of the last test of that scope: that test carries the failure,
naming the fixture and scope.

A leak is known only once teardown is over, yet it must fail the test itself
(its "call" report: ``1 failed``, ``FAILED`` in ``-rf``, ``<failure>`` in JUnit
XML, rerun by ``--lf``), not add an error at teardown. So the plugin runs the
test protocol itself (:mod:`~zmqscope.pytest_plugin.pytest_internals`), with
pytest's logging off, and logs each report once it is final: a passed call
report waits for the teardown's verdict; every other report is logged as
soon as it is made, as pytest would, so that ``-x`` and ``--maxfail`` still
see a failure before the teardown that depends on them. When another plugin
may run a test's protocol (pytest-rerunfailures does), an observer
registered for the run reads the reports as they are made, and a leak in
such a test is an error at its teardown.
"""

from __future__ import annotations

import os
import time
from collections.abc import Generator
from functools import partial
from typing import Any

import pytest

import zmqscope
from zmqscope import _api
from zmqscope.instrument import hooks
from zmqscope.instrument.watchdog import BlockedTerm
from zmqscope.pytest_plugin import pytest_internals
from zmqscope.pytest_plugin.checks import RunChecks
from zmqscope.pytest_plugin.claims import Claim, Claims
from zmqscope.pytest_plugin.files import write_files
from zmqscope.pytest_plugin.findings import Finding, Verdict, report_on
from zmqscope.pytest_plugin.hung_term import TermInterrupter
from zmqscope.pytest_plugin.observers import (
    OBSERVER_NAME,
    ReportObserver,
    protocol_elsewhere,
    registered,
    rerun_elsewhere,
)
from zmqscope.pytest_plugin.pytest_internals import RunnerOptions
from zmqscope.pytest_plugin.runner_frames import runner_paths
from zmqscope.pytest_plugin.running import RunningTest
from zmqscope.pytest_plugin.settings import Settings, refuse_bad_marks
from zmqscope.pytest_plugin.terminal_text import (
    blocked_text,
    longrepr,
    run_summary_line,
    summary_lines,
)
from zmqscope.pytest_plugin.threads import ThreadBook
from zmqscope.pytest_plugin.windows import IgnoreRules, Window

WORKEROUTPUT_KEY = "zmqscope"
_OFF = {"", "0", "false", "no", "off"}  # ZMQSCOPE values that leave it off (_autoinstall)


class ZmqscopeManager:
    """Everything the plugin knows during a run; one per pytest process."""

    def __init__(self, config: pytest.Config, settings: Settings) -> None:
        self._config = config
        self._settings = settings
        self._run: RunningTest | None = None
        self._threads = ThreadBook()
        self._was_installed = hooks.is_installed()
        self._checks = RunChecks(
            IgnoreRules(settings.ignore, config.rootpath),
            self._threads,
            worker=_worker_id(config),
            # Leaks the plugin reported stay in the registry when the process
            # prints zmqscope's exit report too (ZMQSCOPE=1, zmqscope run):
            # both must list them.
            keep_leaks=self._was_installed
            or os.environ.get("ZMQSCOPE", "").strip().lower() not in _OFF,
        )
        self._claims = Claims(config, self._claim_ended)
        self._observer = ReportObserver(self)
        self._observed = False  # the observer hands _reported each report
        self._looping = False  # pytest_runtestloop has begun
        self._options = RunnerOptions.of(config)
        self._term = TermInterrupter(self._blocked, self._interrupting)
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
        self._claims.watched(False)
        registered(self._config, self._observer, OBSERVER_NAME, False)
        self._term.stop()
        hooks.stop_walks_at(self._previous_stops)
        if self._printing:  # put back only what start() took away
            _api.add_shutdown_listener(_api.print_shutdown_event)
        if not self._was_installed:
            zmqscope.uninstall()

    def _install(self) -> None:
        zmqscope.install(grace=self._settings.grace)

    # -- who runs each test's protocol ---------------------------------------

    # A wrapper, so that it runs whichever plugin runs the loop (pytest-xdist's
    # workers do).
    @pytest.hookimpl(wrapper=True, tryfirst=True)
    def pytest_runtestloop(self) -> Generator[None, object, object]:
        # Every plugin and conftest is known by now: whether another plugin
        # may run a test's protocol decides how the plugin sees the reports.
        self._looping = True
        if self._options.pdb:
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
        if not self._observed and protocol_elsewhere(self._config, self):
            self._observe()

    def _observe(self) -> None:
        registered(self._config, self._observer, OBSERVER_NAME, True)
        self._observed = True

    # -- per test ------------------------------------------------------------

    def begin(self, item: pytest.Item) -> RunningTest:
        """Open ``item``'s window: the sockets recorded from now on are the test's."""
        if not hooks.is_installed():
            # A test may uninstall zmqscope (zmqscope's own tests do); every
            # test starts with it installed, as the first one did.
            self._install()
        return self._open_run(item)

    def _open_run(self, item: pytest.Item) -> RunningTest:
        threads = self._threads.opened(item.nodeid)
        run = self._run = RunningTest(item.nodeid, Window.open(), item, threads)
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
        if run.nodeid != item.nodeid or rerun_elsewhere(item):
            return None  # another plugin runs it: the observer sees its reports
        self._protocol(run, item, nextitem)
        return True

    def _protocol(self, run: RunningTest, item: pytest.Item, nextitem: pytest.Item | None) -> None:
        # The reports are handed to _reported: here as each phase ends, or by
        # the observer as each is made.
        direct = run.direct = not self._observed
        run.logs = True
        ihook = run.ihook = item.ihook
        ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
        on_report = partial(self._reported, run) if direct else _unread
        request = pytest_internals.renew_request(item)
        try:
            pytest_internals.run_phases(item, nextitem, self._options, on_report)
        finally:
            # Interrupted (KeyboardInterrupt, pytest.exit()) before the
            # teardown's report: the call report still gets logged, as pytest
            # would have.
            self._log(run, None)
            if request:  # the fixtures' values go, whatever happened
                pytest_internals.release_request(item)
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

    def _reported(self, run: RunningTest, report: pytest.TestReport) -> None:
        run.outcome(report)
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
    def _log(run: RunningTest, report: pytest.TestReport | None) -> None:
        """Log the held call report, if any, then ``report``."""
        held = run.held
        if held is not None:
            run.held = None
            run.ihook.pytest_runtest_logreport(report=held)
        if report is not None:
            run.ihook.pytest_runtest_logreport(report=report)

    def _finish(self, run: RunningTest, teardown: pytest.TestReport) -> None:
        """The test's teardown is over: check it, and fail it for what it leaked."""
        findings = self._checks.test_ended(run, self._claims.claimed)
        failing = [f for f in findings if f.verdict is Verdict.FAILED]
        if failing and not run.interrupted:  # (an interrupted test has failed already)
            # The test's own report. Without one (--setup-only), or when another
            # plugin ran the protocol and logged the call report already, the
            # teardown's: an error at teardown, still a failed run.
            _fail(run.held if run.held is not None else teardown, failing)

    # -- fixtures wider than a function ------------------------------------

    @pytest.hookimpl(wrapper=True)
    def pytest_fixture_setup(
        self, fixturedef: pytest.FixtureDef[Any]
    ) -> Generator[None, object, object]:
        if not self._claims.wide(fixturedef):  # called for every fixture of every test
            return (yield)
        window = Window.open()
        threads = self._threads.running()
        try:
            return (yield)
        finally:
            self._claims.claim(fixturedef, window)
            owner = f"{fixturedef.scope}-scoped fixture {fixturedef.argname!r}"
            self._threads.started_by(threads, owner)

    def _claim_ended(self, claim: Claim) -> None:
        self._checks.claim_ended(claim, self._run)

    # -- a term() that hangs -------------------------------------------------

    def _blocked(self, event: BlockedTerm, thread: int | None) -> str | None:
        """Called on the watchdog's thread; the failure text for the test, if in one."""
        report = report_on([], event.culprits)
        waited = time.time() - event.since
        run = self._run
        if run is None:
            self._checks.blocked_outside_tests(report)
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
            workeroutput[WORKEROUTPUT_KEY] = self._checks.worker_output()
            return
        checks = self._checks
        self._written = write_files(self._settings, checks.findings, checks.totals())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any) -> None:
        data = getattr(node, "workeroutput", {}).get(WORKEROUTPUT_KEY)
        if not isinstance(data, dict):
            return  # the worker crashed before it could report
        self._checks.add_worker_output(data)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        checks = self._checks
        terminalreporter.write_sep("=", "zmqscope")
        terminalreporter.write_line(run_summary_line(checks.totals(), checks.findings))
        for line in summary_lines(checks.findings):
            terminalreporter.write_line(line)
        for line in self._written:
            terminalreporter.write_line(line)


def _fail(report: pytest.TestReport, findings: list[Finding]) -> None:
    """Turn a passed ``report`` into a failure showing ``findings``."""
    report.outcome = "failed"
    report.longrepr = longrepr(findings)
    # An unexpected pass (non-strict xfail) that leaked: a failure like any
    # other, not an XPASS.
    pytest_internals.not_xfail(report)


def _unread(report: pytest.TestReport) -> None:
    """Where reports go when the observer reads them as they are made."""


def _worker_id(config: pytest.Config) -> str:
    """pytest-xdist's name for this worker (``gw1``); empty on the controller or without it."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return str(workerinput["workerid"]) if workerinput else ""
