"""The test pytest is running now: its window, and what its phases' reports told so far."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from zmqscope.pytest_plugin.findings import Finding, Verdict
from zmqscope.pytest_plugin.threads import Threads
from zmqscope.pytest_plugin.windows import Window
from zmqscope.reporting import Report


@dataclass(slots=True)
class RunningTest:
    """The test pytest is running now (one at a time per process)."""

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
    direct: bool = False  # ... and reads them as its phases end, not from the observer
    held: pytest.TestReport | None = None  # a passed call report, logged after teardown
    ihook: Any = None  # item.ihook, looked up once (each lookup searches conftests)

    def outcome(self, report: pytest.TestReport) -> None:
        """Note what a phase's ``report`` says about the test (before it is logged)."""
        if report.outcome != "passed":
            if self.interrupting and report.failed:
                self.interrupting = False
                self.interrupted = True  # zmqscope failed it: the failure is its verdict
            else:
                self.spoiled = True

    def verdict(self, allowed: bool) -> Verdict:
        """What a finding of this test does to it; ``allowed``: its marker allows leaks."""
        if allowed:
            return Verdict.ALLOWED
        return Verdict.REPORTED if self.spoiled else Verdict.FAILED

    def allows_leaks(self) -> bool:
        """``@pytest.mark.zmqscope(allow_leaks=True)`` on the test (or its class, module)."""
        marker = self.item.get_closest_marker("zmqscope")
        return bool(marker is not None and marker.kwargs.get("allow_leaks", False))
