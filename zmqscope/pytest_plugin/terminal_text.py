"""The pytest plugin's words: failure texts, the hung-term message, the terminal summary.

Plain text, no colour or box drawing: the same text lands in a terminal, a CI
log and a JUnit XML file, and people grep all three. Every line is shown
with its control characters as escapes (a thread name or path holding an
escape sequence must not retitle the terminal that shows the failure).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from zmqscope.model import Culprit, Frame, SocketRecord
from zmqscope.model.held_terms import where_then
from zmqscope.model.wording import (
    call_text,
    callers,
    creation_text,
    duration,
    endpoint_text,
    endpoints_unknown,
    frame_text,
    linger_text,
    location,
    owner_label,
    plural,
    site_headline,
    thread_text,
    visible,
)
from zmqscope.pytest_plugin.findings import Finding, RunTotals, Verdict
from zmqscope.pytest_plugin.pytest_internals import TerminalRepr, failure_repr
from zmqscope.pytest_plugin.runner_frames import own_frames
from zmqscope.reporting import Report
from zmqscope.reporting.by_test import run_summary

_CALLERS_SHOWN = 3
_INDENT = "    "
HINT = (
    "Close every socket a test creates (sock.close(), or `with ctx.socket(...) as sock:`);"
    " to accept a leak, mark the test @pytest.mark.zmqscope(allow_leaks=True)."
)
FIXTURE_HINT = "Close the fixture's sockets after its `yield`, or in request.addfinalizer()."


def failure_text(findings: Sequence[Finding]) -> str:
    """What a failed test report shows: each finding's sockets, then what to do."""
    blocks = [finding_text(f) for f in findings]
    if any(f.report.leaks and f.fixture is None for f in findings):
        blocks.append(HINT)
    if any(f.report.leaks and f.fixture is not None for f in findings):
        blocks.append(FIXTURE_HINT)
    return "\n\n".join(blocks) + "\n"


def finding_text(finding: Finding) -> str:
    report = finding.report
    lines: list[str] = []
    if report.leaks:
        lines.append(f"zmqscope: {_leak_headline(finding)}")
        for leak in report.leaks:
            lines.append(f"  {leak.socket}: {leak.message}")
            record = report.snapshot.socket(leak.socket)
            if record is not None:
                lines += [_INDENT + row for row in socket_rows(record)]
    if report.culprits:
        if lines:
            lines.append("")
        lines.append(
            f"zmqscope: a term() in {_test_name(finding.test)} was still blocked after the grace"
            " period; zmqscope interrupted it so the run could go on."
        )
        described = {leak.socket for leak in report.leaks}
        lines += culprit_lines(report, report.culprits, described)
    return _joined(lines)


def _joined(lines: Sequence[str]) -> str:
    """The lines as one text, each with its control characters shown as escapes."""
    return "\n".join(visible(line) for line in lines)


def _leak_headline(finding: Finding) -> str:
    count = plural(len(finding.report.leaks), "ZeroMQ socket")
    if finding.fixture is None:
        return f"{_test_name(finding.test)} leaked {count}"
    return (
        f"{finding.owner} leaked {count}"
        " (checked when its scope ended, during this test's teardown)"
    )


def _test_name(nodeid: str) -> str:
    return nodeid.rsplit("::", 1)[-1] or "the session"


def socket_rows(record: SocketRecord) -> list[str]:
    """``created``, ``called from``, ``thread``, ``endpoints`` and ``linger`` rows."""
    rows = [f"created    {creation_text(record)}"]
    chain = own_frames(callers(record.created))[:_CALLERS_SHOWN]
    rows += [f"called from {frame_text(frame)}" for frame in chain]
    rows.append(f"thread     {thread_text(record.created.thread)}")
    unknown = endpoints_unknown(record)
    endpoints = [endpoint_text(e) for e in record.endpoints]
    if unknown is not None:
        endpoints.append(f"({unknown})" if endpoints else unknown)
    endpoints = endpoints or ["none"]
    rows.append(f"endpoints  {endpoints[0]}")
    rows += [f"           {text}" for text in endpoints[1:]]
    rows.append(f"linger     {linger_text(record)}")
    return rows


def culprit_lines(
    report: Report, culprits: Sequence[Culprit], described: Collection[str] = ()
) -> list[str]:
    """Why a ``term()`` waits: one block per socket, with where its owner is and the fix.

    Sockets in ``described`` were shown above (as leaks): only their id is repeated.
    """
    lines = [f"{plural(len(culprits), 'socket')} kept term() waiting:"]
    for culprit in culprits:
        record = report.snapshot.socket(culprit.socket)
        kind = record.type if record else "unknown"
        lines.append(f"  {culprit.socket}: {kind} socket, {culprit.reason}")
        if record is not None and culprit.socket not in described:
            lines += [_INDENT + row for row in socket_rows(record)]
        if culprit.where:
            # zmqscope interrupted the term(): where the owner was when it was named.
            lines.append(f"{_INDENT}then       {where_then(culprit)}")
        lines.append(f"{_INDENT}owner      {owner_label(culprit)}")
        if culprit.remedy:
            lines.append(f"{_INDENT}remedy     {culprit.remedy}")
    return lines


def blocked_text(report: Report, context_id: str, waited: float, grace: float) -> str:
    """The failure of a test whose ``term()`` zmqscope interrupted."""
    context = report.snapshot.context(context_id)
    called = context.term_called if context else None
    where = ""
    if called is not None and called.site is not None:
        where = f" (called at {call_text(called)}"
        where += f" by {called.thread.name})" if called.thread else ")"
    head = (
        f"zmqscope: term() of context {context_id} was still blocked after {duration(waited)}"
        f"{where}; the grace period is {grace:g} s, so zmqscope interrupted it"
        " and this test fails."
    )
    if not report.culprits:
        return visible(head) + "\nNo socket zmqscope knows of keeps it waiting.\n"
    return _joined([head, *culprit_lines(report, report.culprits)]) + "\n"


def crash_line(findings: Sequence[Finding]) -> str:
    """One short line for pytest's short summary (``-ra``) and JUnit's ``message``."""
    leaks = [(f, leak) for f in findings for leak in f.report.leaks]
    if leaks:
        finding, first = leaks[0]
        record = finding.report.snapshot.socket(first.socket)
        site = (record.created.user_site or record.created.site) if record else None
        what = f"{record.type} socket" if record else "socket"
        where = f" from {location(site)}" if site else ""
        more = f" (+{len(leaks) - 1} more)" if len(leaks) > 1 else ""
        return visible(f"zmqscope: leaked {what}{where}{more}")
    culprits = sum(len(f.report.culprits) for f in findings)
    return f"zmqscope: term() blocked by {plural(culprits, 'socket')}"


def longrepr(findings: Sequence[Finding]) -> TerminalRepr:
    """A failure representation pytest, JUnit XML and pytest-xdist all carry whole.

    A bare string would do for the terminal, but it gives no one-line message
    to the short summary or to JUnit's ``message`` attribute; an exception
    representation with a single native entry does, and xdist serialises it.
    """
    site = _first_site(findings)
    file, line = (visible(site.file), site.line) if site else ("", 0)
    return failure_repr(failure_text(findings), file, line, crash_line(findings))


def _first_site(findings: Sequence[Finding]) -> Frame | None:
    for finding in findings:
        for record in finding.report.snapshot.sockets:
            site = record.created.user_site or record.created.site
            if site is not None:
                return site
    return None


def summary_lines(findings: Sequence[Finding]) -> list[str]:
    """The terminal summary's lines about each finding, one leak a line.

    A thread that outlived the test that started it (a client's heartbeat)
    may make a socket during every later test: its findings take one line,
    where the first of them would be, with how many sockets and tests.
    """
    lines: list[str] = []
    by_thread = _by_thread(findings)
    for finding in findings:
        group = by_thread.get(_thread_key(finding))
        if group is not None and len(group) > 1:
            if group[0] is finding:
                lines.append(_thread_line(group))
            continue
        note = "" if finding.verdict is Verdict.FAILED else f" [{_verdict_note(finding)}]"
        who = finding.test or "session teardown"
        if finding.fixture is not None:
            who += f" ({finding.owner})"
        for leak in finding.report.leaks:
            lines.append(f"{who}: {leak.message}{note}")
        for culprit in finding.report.culprits:
            lines.append(f"{who}: term() blocked by {culprit.socket}: {culprit.reason}{note}")
    return [visible(line) for line in lines]


def _thread_key(finding: Finding) -> tuple[object, ...] | None:
    origin = finding.thread
    if finding.verdict is not Verdict.OTHER_THREAD or origin is None:
        return None
    return (origin.thread.id, origin.thread.name, origin.started_in, origin.started_by)


def _by_thread(findings: Sequence[Finding]) -> dict[tuple[object, ...] | None, list[Finding]]:
    groups: dict[tuple[object, ...] | None, list[Finding]] = {}
    for finding in findings:
        key = _thread_key(finding)
        if key is not None:
            groups.setdefault(key, []).append(finding)
    return groups


def _thread_line(group: Sequence[Finding]) -> str:
    """``Thread-1, a thread started during ...: 49 sockets during 47 tests, ...``."""
    first = group[0]
    leaks = sum(len(f.report.leaks) + len(f.report.culprits) for f in group)
    tests = len({f.test for f in group})
    example = next((leak.message for f in group for leak in f.report.leaks), None)
    during = plural(tests, "test")
    made = f"{plural(leaks, 'socket')} left during {during} (the first in {first.test})"
    shown = f", e.g. {example}" if example else ""
    return f"{thread_origin_text(first, one_test=False)}: {made}{shown} [not failed]"


def _verdict_note(finding: Finding) -> str:
    if finding.verdict is Verdict.ALLOWED:
        return "allowed by @pytest.mark.zmqscope(allow_leaks=True)"
    if finding.verdict is Verdict.OTHER_THREAD:
        return f"not failed: made by {thread_origin_text(finding)}"
    return "not failed again: the test had already failed or was skipped"


def thread_origin_text(finding: Finding, one_test: bool = True) -> str:
    """``heartbeat, a thread started during test_a.py::test_a, already running when ...``.

    ``one_test``: the text is about one test's sockets (else about many tests').
    """
    origin = finding.thread
    if origin is None:
        return "a thread this test did not start"
    name, at = origin.thread.name, _started_at(finding)
    during = f"during {origin.started_in}" if origin.started_in else "before the first test"
    if origin.started_by is not None:
        return f"{name}, a thread started{at} by {origin.started_by} (set up {during})"
    running = ", already running when this test began" if one_test else ""
    return f"{name}, a thread started {during}{at}{running}"


def _started_at(finding: Finding) -> str:
    """`` at app.py:12 in main()``: where the thread was started, when zmqscope recorded it."""
    for record in finding.report.snapshot.sockets:
        thread = record.created.thread
        where = site_headline(thread.started) if thread and thread.started else None
        if where:
            return f" at {where}"
    return ""


def run_summary_line(totals: RunTotals, findings: Sequence[Finding]) -> str:
    """``zmqscope: 120 tests checked, 40 sockets created, 2 leaks in 1 test``."""
    others = sum(len(f.report.leaks) for f in findings if f.verdict is Verdict.OTHER_THREAD)
    findings = [f for f in findings if f.verdict is not Verdict.OTHER_THREAD]
    return run_summary(
        totals.tests,
        totals.sockets,
        leaks=sum(len(f.report.leaks) for f in findings),
        leaky_tests=len({f.test for f in findings if f.report.leaks}),
        other_threads=others,
        blocked_tests=len({f.test for f in findings if f.report.culprits}),
    )
