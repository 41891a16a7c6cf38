"""A pytest plugin's report file (``--zmqscope-json``), shown test by test.

The plugin writes a ``zmqscope.report/1`` document whose leaks and culprits
also say which test they belong to (``test``), the scope and fixture that
leaked (``scope``, ``fixture``), what they did to the test (``verdict``) and,
for a socket made by a thread the test did not start, that thread
(``thread_origin``); a top-level ``pytest`` object counts the run. A plain
:class:`Report` has no place for these: :class:`TestRun` keeps them beside
it, and the renderers here group the leak panels (text) and tables
(Markdown) by test, each under what the plugin did to that test.

Everything in the file is someone else's text: it is checked as the rest of
a report is (:func:`~zmqscope.model._base.scalar_text`) and shown literally.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from rich.console import Group, RenderableType
from rich.text import Text

from zmqscope._shown import shown
from zmqscope.model import Culprit, Leak, SchemaError, ThreadRef, check_count, scalar_text
from zmqscope.model.held_terms import held_terms
from zmqscope.model.wording import plural
from zmqscope.reporting._groups import group_leaks
from zmqscope.reporting._limits import limits_markdown, limits_text
from zmqscope.reporting._markdown import _culprit_section, _leak_details, _leak_table
from zmqscope.reporting._report import Report
from zmqscope.reporting._text import _leak_panels, _warning_panel
from zmqscope.reporting._text_culprits import render_culprits
from zmqscope.reporting._text_parts import Unfolded
from zmqscope.reporting.markup import md_code, md_text

_VERDICTS = ("failed", "allowed", "reported", "other-thread")
_STYLE = {
    "failed": "bold red",
    "allowed": "bold yellow",
    "other-thread": "bold",
    "reported": "bold",
}


@dataclass(frozen=True, slots=True)
class Attribution:
    """What the plugin said about one leak or culprit: its test, scope, fixture, verdict."""

    test: str
    scope: str
    fixture: str | None
    verdict: str
    # For ``other-thread``: the thread, and where it was started.
    thread: str | None = None

    @classmethod
    def from_entry(cls, data: Mapping[str, Any], where: str) -> Attribution:
        try:
            verdict = scalar_text(data.get("verdict"), "verdict")
            if verdict not in _VERDICTS:
                raise SchemaError(f"verdict {verdict[:40]!r} is not one of {', '.join(_VERDICTS)}")
            fixture = data.get("fixture")
            return cls(
                test=scalar_text(data.get("test", ""), "test"),
                scope=scalar_text(data.get("scope", "function"), "scope"),
                fixture=None if fixture is None else scalar_text(fixture, "fixture"),
                verdict=verdict,
                thread=_thread_origin(data.get("thread_origin")),
            )
        except (SchemaError, TypeError, AttributeError, ValueError) as error:
            raise SchemaError(f"invalid zmqscope report: {where}: {error}") from None

    @property
    def owner(self) -> str:
        """``test_x.py::test_a``, or the fixture: ``module-scoped fixture 'broker'``."""
        if self.fixture is None:
            return self.test or "outside any test"
        return f"{self.scope}-scoped fixture {self.fixture!r}"

    def outcome(self) -> str:
        """What the verdict did to the test, in words (and whose leak it was, for a fixture)."""
        what = {
            "failed": "failed for it",
            "allowed": "not failed: allowed by @pytest.mark.zmqscope(allow_leaks=True)",
            "reported": "not failed again (the test had already failed or was skipped)",
            "other-thread": f"not failed: made by {self.thread or 'a thread it did not start'}",
        }[self.verdict]
        if self.fixture is not None:
            what += f"; leaked by the {self.owner}, checked when its scope ended"
        return what

    def headline(self) -> str:
        """``test_x.py::test_a: failed for it``."""
        test = self.test or "outside any test (a session fixture, after the last test)"
        return f"{test}: {self.outcome()}"


def _thread_origin(value: Any) -> str | None:
    """``heartbeat, a thread started during test_a.py::test_a``, or None."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise SchemaError("thread_origin is not an object")
    thread = ThreadRef.from_dict(value["thread"])
    started_in = scalar_text(value.get("started_in", ""), "started_in")
    started_by = value.get("started_by")
    during = f"during {started_in}" if started_in else "before the first test"
    if started_by is not None:
        return (
            f"{thread.name}, a thread started by {scalar_text(started_by, 'started_by')} ({during})"
        )
    return f"{thread.name}, a thread started {during}"


@dataclass(frozen=True, slots=True)
class TestGroup:
    """The leaks and culprits of one test, with one attribution (the first's)."""

    attribution: Attribution
    leaks: tuple[Leak, ...]
    culprits: tuple[Culprit, ...]


@dataclass(frozen=True, slots=True)
class TestRun:
    """A pytest plugin's report: the report, and each leak's and culprit's attribution."""

    report: Report
    leaks: tuple[Attribution, ...]  # one per report.leaks, in order
    culprits: tuple[Attribution, ...]  # one per report.culprits
    tests: int
    sockets: int
    tests_failed: tuple[str, ...]

    @classmethod
    def from_json(cls, text: str, report: Report) -> TestRun | None:
        """The run ``text`` describes (already read as ``report``); None if no plugin wrote it."""
        try:
            data = json.loads(text)
        except ValueError:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("pytest"), dict):
            return None
        totals = data["pytest"]
        try:
            failed = totals.get("tests_failed", [])
            if not isinstance(failed, list):
                raise SchemaError("tests_failed is not a list")
            run = cls(
                report=report,
                leaks=_attributions(data.get("leaks", []), "leaks"),
                culprits=_attributions(data.get("culprits", []), "culprits"),
                tests=check_count(totals.get("tests", 0), "tests"),
                sockets=check_count(totals.get("sockets", 0), "sockets"),
                tests_failed=tuple(scalar_text(t, "tests_failed") for t in failed),
            )
        except SchemaError as error:
            message = str(error)
            if not message.startswith("invalid zmqscope report"):
                message = f"invalid zmqscope report: pytest: {message}"
            raise SchemaError(message) from None
        if len(run.leaks) != len(report.leaks) or len(run.culprits) != len(report.culprits):
            raise SchemaError("invalid zmqscope report: leaks or culprits changed while read")
        return run

    def by_test(self) -> list[TestGroup]:
        """A group per test (and per fixture, and verdict), in the order the file lists them."""
        keyed: dict[tuple[str, str | None, str], tuple[Attribution, list[Leak], list[Culprit]]]
        keyed = {}
        for leak, who in zip(self.report.leaks, self.leaks, strict=True):
            keyed.setdefault(_key(who), (who, [], []))[1].append(leak)
        for culprit, who in zip(self.report.culprits, self.culprits, strict=True):
            keyed.setdefault(_key(who), (who, [], []))[2].append(culprit)
        return [TestGroup(who, tuple(lk), tuple(cu)) for who, lk, cu in keyed.values()]

    def summary_line(self) -> str:
        """``zmqscope: 4 tests checked, 4 sockets created, 3 leaks in 3 tests; ...``."""
        own = [a for a in self.leaks if a.verdict != "other-thread"]
        return run_summary(
            self.tests,
            self.sockets,
            leaks=len(own),
            leaky_tests=len({a.test for a in own}),
            other_threads=len(self.leaks) - len(own),
            blocked_tests=len({a.test for a in self.culprits}),
            failed_tests=len(self.tests_failed),
        )


def run_summary(
    tests: int,
    sockets: int,
    leaks: int,
    leaky_tests: int,
    other_threads: int = 0,
    blocked_tests: int = 0,
    failed_tests: int = 0,
) -> str:
    """``zmqscope: 120 tests checked, 40 sockets created, 2 leaks in 1 test; ...``.

    The pytest plugin's line at the end of a run, and the same line read back
    from the file it wrote (``zmqscope report``).
    """
    line = f"zmqscope: {plural(tests, 'test')} checked, {plural(sockets, 'socket')} created, "
    line += f"{plural(leaks, 'leak')} in {plural(leaky_tests, 'test')}" if leaks else "no leaks"
    if other_threads:
        line += f"; {plural(other_threads, 'socket')} left by threads the tests did not start"
    if blocked_tests:
        line += f"; term() blocked in {plural(blocked_tests, 'test')}"
    if failed_tests:
        line += f"; {plural(failed_tests, 'test')} failed for them"
    return line


def _key(who: Attribution) -> tuple[str, str | None, str]:
    return (who.test, who.fixture, who.verdict)


def _attributions(items: Any, key: str) -> tuple[Attribution, ...]:
    if not isinstance(items, list):
        raise SchemaError(f"invalid zmqscope report: {key} is not a list")
    found = []
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise SchemaError(f"invalid zmqscope report: {key}[{index}] is not an object")
        found.append(Attribution.from_entry(item, f"{key}[{index}]"))
    return tuple(found)


def _part(run: TestRun, group: TestGroup) -> Report:
    """The run's report with only ``group``'s leaks and culprits (its records stay whole)."""
    return dataclasses.replace(run.report, leaks=group.leaks, culprits=group.culprits)


def render_test_text(run: TestRun) -> Group:
    """The run's summary, limit warnings, then each test's leak and culprit panels under it."""
    report = run.report
    attention = bool(run.leaks or run.culprits or report.warnings)
    parts: list[RenderableType] = [
        Text(
            run.summary_line(),
            style="bold" if attention else "bold green",
            no_wrap=True,
            overflow="ignore",
        )
    ]
    parts.extend(limits_text(report))
    for group in run.by_test():
        who = group.attribution
        # One line, however long: CI logs are searched for the test's name.
        headline = shown(who.headline(), style=_STYLE[who.verdict])
        headline.no_wrap, headline.overflow = True, "ignore"
        parts.append(headline)
        part = _part(run, group)
        parts.extend(Unfolded(panel) for panel in _leak_panels(part))
        # Each term() that blocked in the test: what held it, in its own tense.
        parts.extend(render_culprits(part))
    if report.warnings:
        parts.append(Text("Thread-sharing warnings:", style="bold yellow"))
        parts.extend(Unfolded(_warning_panel(report, w)) for w in report.warnings)
    return Group(*parts)


def render_test_markdown(run: TestRun) -> str:
    """A heading, the summary, then a section per test: its leaks, their call chains, culprits."""
    lines = ["## zmqscope: ZeroMQ sockets in tests", "", f"**{md_text(run.summary_line())}**", ""]
    lines += limits_markdown(run.report)
    for group in run.by_test():
        who = group.attribution
        test = md_code(who.test) if who.test else "outside any test"
        lines += [f"### {test}", "", md_text(who.outcome()), ""]
        part = _part(run, group)
        if group.leaks:
            leak_groups = group_leaks(part.leaks, part.snapshot)
            lines += _leak_table(part, leak_groups)
            for leak_group in leak_groups:
                lines += _leak_details(part, leak_group)
        for term in held_terms(part.snapshot, part.culprits):
            lines += _culprit_section(term)
    return "\n".join(lines).rstrip("\n") + "\n"


def passed_through(text: str) -> str:
    """The document as JSON again, every key kept (``report --format json``)."""
    return json.dumps(json.loads(text), indent=2)
