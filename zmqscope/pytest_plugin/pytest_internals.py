"""Every use the plugin makes of pytest's internals, in one place, each with its reason.

A leak is known only after a test's teardown, yet it must fail the test's
own call report (see :mod:`~zmqscope.pytest_plugin.manager`), so the plugin
runs pytest's test protocol itself, as ``_pytest.runner.runtestprotocol``
does (the same in pytest 8 and 9), with each report handed back unlogged.
pytest has no public API for that; what it takes:

- ``_pytest.runner.call_and_report(item, when, log=False, nextitem=...)``:
  runs one phase (setup, call, teardown) and makes its report without
  logging it, so that a passed call report can wait for the teardown.
- ``_pytest.runner.show_test_item``: the line ``--setup-show`` prints after
  a test's setup. pytest 9 added a keyword-only ``add_space``.
- ``item._request``, ``item._initrequest()``, ``item.funcargs``: a test run
  again (by pytest-rerunfailures) gets a fresh fixture request, and the
  fixtures' values are let go once the test is over, as pytest does.
- ``session.shouldfail`` and ``session.shouldstop`` (public properties):
  when the run is about to stop, the teardown tears down every scope.
- The option names ``setupshow``, ``setuponly`` and ``usepdb``: where
  ``--setup-show``, ``--setup-only`` and ``--pdb`` are kept.

And to fail a passed test for its leak:

- ``_pytest._code.code``'s ``ReprExceptionInfo``, ``ReprTraceback``,
  ``ReprEntryNative`` and ``ReprFileLocation``: a failure representation
  with a one-line message, which ``-r``'s short summary and JUnit XML's
  ``message`` show and pytest-xdist carries whole; a plain string has none.
- ``report.wasxfail``: set by pytest's skipping plugin on an unexpected
  pass (non-strict xfail); a report that has it is never counted as failed.

Nothing else in the package imports ``_pytest`` or touches a private name of
pytest's; the rest uses pytest's public API only. (``runner_frames`` names
the ``_pytest`` package, to find where its files are: no API of it is used.)
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from _pytest._code.code import (
    ReprEntryNative,
    ReprExceptionInfo,
    ReprFileLocation,
    ReprTraceback,
)
from _pytest._code.code import TerminalRepr as TerminalRepr  # what failure_repr returns
from _pytest.runner import call_and_report, show_test_item

# What run_phases hands each phase's report to, as it is made.
OnReport = Callable[[pytest.TestReport], None]

# Typed loosely on purpose: pytest 8's takes the item alone, pytest 9's
# also a keyword-only add_space; this module calls the one installed.
_show_test_item: Callable[..., None] = show_test_item
_SHOW_SPACED = "add_space" in inspect.signature(show_test_item).parameters


@dataclass(frozen=True, slots=True)
class RunnerOptions:
    """pytest's own options the protocol reads, read once per run."""

    setup_show: bool  # --setup-show
    setup_only: bool  # --setup-only
    pdb: bool  # --pdb

    @classmethod
    def of(cls, config: pytest.Config) -> RunnerOptions:
        return cls(
            setup_show=bool(config.getoption("setupshow", False)),
            setup_only=bool(config.getoption("setuponly", False)),
            pdb=bool(config.getoption("usepdb", False)),
        )


def renew_request(item: pytest.Item) -> bool:
    """Before a test's phases: a fresh fixture request if it runs again.

    True if the item has a fixture request, which :func:`release_request`
    lets go of once the test is over, whatever happened (as pytest does).
    """
    # Attributes of pytest.Function (and of any item built like one), not of Item.
    node: Any = item
    request = hasattr(node, "_request")
    if request and not node._request:
        node._initrequest()  # a test run again
    return request


def release_request(item: pytest.Item) -> None:
    """After a test's phases: its fixture request and the fixtures' values go."""
    node: Any = item
    node._request = False
    node.funcargs = None


def run_phases(
    item: pytest.Item, nextitem: pytest.Item | None, options: RunnerOptions, on_report: OnReport
) -> None:
    """Setup, call (unless setup failed, or ``--setup-only``) and teardown, none logged."""
    setup = call_and_report(item, "setup", log=False)
    on_report(setup)
    if setup.passed:
        if options.setup_show:
            _show_setup(item, options.setup_only)
        if not options.setup_only:
            on_report(call_and_report(item, "call", log=False))
    session = item.session
    if session.shouldfail or session.shouldstop:
        nextitem = None  # the run stops: every scope is torn down now
    on_report(call_and_report(item, "teardown", log=False, nextitem=nextitem))


def _show_setup(item: pytest.Item, setup_only: bool) -> None:
    """``--setup-show``'s line naming the test and its fixtures, as pytest prints it."""
    if _SHOW_SPACED:  # pytest 9: a space follows the test's name, except with --setup-only
        _show_test_item(item, add_space=not setup_only)
    else:
        _show_test_item(item)


def failure_repr(text: str, file: str, line: int, message: str) -> TerminalRepr:
    """A failure showing ``text``, with ``message`` as its one line at ``file:line``.

    A single native entry: shown as it is, with no traceback around it.
    """
    entry = ReprEntryNative([text])
    return ReprExceptionInfo(
        ReprTraceback([entry], None, "native"), ReprFileLocation(file, line, message)
    )


def not_xfail(report: pytest.TestReport) -> None:
    """``report`` no longer an unexpected pass: a failure like any other, not an XPASS."""
    if hasattr(report, "wasxfail"):
        del report.wasxfail
