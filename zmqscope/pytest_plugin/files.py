"""The pytest plugin's files: one ``zmqscope.report/1`` JSON document and a Markdown summary.

Each is written whole (:func:`write_files`), at the end of the run, by the
process that ran the tests or, with pytest-xdist, by the controller.

Findings come from one process or from several xdist workers; each finding is
a report over its own sockets. Merged, they make one report whose leaks and
culprits carry the node id of their test (``test``), the scope that leaked
(``scope``), the fixture if any (``fixture``) and whether the test was failed
for it (``verdict``): extra keys the schema allows. Socket and context ids
are kept, except where two workers (or two registries) used the same one:
those get their origin as a prefix, e.g. ``gw1-s3``.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from zmqscope._files import FileWriteError, write_whole
from zmqscope.instrument import hooks
from zmqscope.model import Culprit, Leak, Snapshot, SocketRecord
from zmqscope.model.held_terms import where_then
from zmqscope.model.wording import endpoint_text, frame_text, location, plural
from zmqscope.pytest_plugin.findings import Finding, RunTotals, Verdict
from zmqscope.pytest_plugin.runner_frames import own_frames
from zmqscope.pytest_plugin.settings import Settings
from zmqscope.pytest_plugin.terminal_text import thread_origin_text
from zmqscope.reporting import Report
from zmqscope.reporting.markup import md_code, md_fenced, md_html, md_row, md_text


def write_files(settings: Settings, findings: Sequence[Finding], totals: RunTotals) -> list[str]:
    """Write the files ``settings`` asks for; one line per file: where, or why not."""
    written: list[str] = []
    if settings.json_path is not None:
        text = json.dumps(merged_document(findings, totals), indent=2) + "\n"
        written.append(_write("JSON report", settings.json_path, text))
    if settings.markdown_path is not None:
        text = markdown(findings, totals)
        written.append(_write("Markdown summary", settings.markdown_path, text))
    return written


def _write(what: str, path: Path, text: str) -> str:
    """Write one file whole; a failure is one line in the summary, not pytest's crash."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_whole(path, text)
    except OSError as error:
        reason = str(error) if isinstance(error, FileWriteError) else error.strerror
        return f"zmqscope: {what} not written: {reason}"
    return f"zmqscope: {what} written to {path}"


class _Ids:
    """Socket or context ids, unique across the findings of several origins.

    One origin (one process, one registry) keeps its ids: ``s3`` stays
    ``s3``. Several (xdist workers, or a registry that was replaced) reuse
    the same ids, so every id gets its origin as a prefix: ``gw1-s3``.
    """

    def __init__(self, findings: Sequence[Finding]) -> None:
        self._prefixed = len({f.origin for f in findings}) > 1

    def __call__(self, origin: str, key: str | None) -> str | None:
        if key is None or not self._prefixed:
            return key
        return f"{origin or 'main'}-{key}"

    def report(self, finding: Finding) -> Report:
        """``finding``'s report with every socket and context id renamed."""
        if not self._prefixed:
            return finding.report
        origin, report = finding.origin, finding.report

        def sid(key: str) -> str:
            return f"{origin or 'main'}-{key}"

        snapshot = dataclasses.replace(
            report.snapshot,
            sockets=tuple(
                dataclasses.replace(s, id=sid(s.id), context=self(origin, s.context))
                for s in report.snapshot.sockets
            ),
            contexts=tuple(dataclasses.replace(c, id=sid(c.id)) for c in report.snapshot.contexts),
        )
        leaks = tuple(dataclasses.replace(k, socket=sid(k.socket)) for k in report.leaks)
        culprits = tuple(
            dataclasses.replace(c, socket=sid(c.socket), context=self(origin, c.context))
            for c in report.culprits
        )
        return dataclasses.replace(report, snapshot=snapshot, leaks=leaks, culprits=culprits)


def merged_document(findings: Sequence[Finding], totals: RunTotals) -> dict[str, Any]:
    """One ``zmqscope.report/1`` document for the whole run."""
    rename = _Ids(findings)
    reports = [(rename.report(f), f) for f in findings]
    sockets = {s.id: s for r, _ in reports for s in r.snapshot.sockets}
    contexts = {c.id: c for r, _ in reports for c in r.snapshot.contexts}
    snapshot = Snapshot(
        taken_at=time.time(),
        process=hooks.process_info(),
        contexts=tuple(contexts.values()),
        sockets=tuple(sockets.values()),
        created_total=max(totals.sockets, len(sockets)),
    )
    leaks = [(leak, f) for r, f in reports for leak in r.leaks]
    culprits = [(culprit, f) for r, f in reports for culprit in r.culprits]
    merged = Report(
        snapshot, tuple(k for k, _ in leaks), tuple(c for c, _ in culprits), snapshot.taken_at
    )
    document = merged.to_dict()
    for data, (_, finding) in zip(document["leaks"], leaks, strict=True):
        data.update(_attribution(finding))
    for data, (_, finding) in zip(document["culprits"], culprits, strict=True):
        data.update(_attribution(finding))
    document["pytest"] = {**totals.to_dict(), "tests_failed": _failed_tests(findings)}
    return document


def _attribution(finding: Finding) -> dict[str, Any]:
    return {
        "test": finding.test,
        "scope": finding.scope,
        "fixture": finding.fixture,
        "verdict": finding.verdict.value,
        # The thread that made it, for a socket the test's own code did not make.
        "thread_origin": finding.thread.to_dict() if finding.thread else None,
    }


def _failed_tests(findings: Sequence[Finding]) -> list[str]:
    failed = [f.test for f in findings if f.verdict.value == "failed"]
    return list(dict.fromkeys(failed))


def markdown(findings: Sequence[Finding], totals: RunTotals) -> str:
    """A summary for ``$GITHUB_STEP_SUMMARY``: a table of leaks by test, then blocked terms."""
    leaks = [(f, leak) for f in findings for leak in f.report.leaks]
    blocked = [(f, c) for f in findings for c in f.report.culprits]
    checked = f"{plural(totals.tests, 'test')} checked, {plural(totals.sockets, 'socket')} created"
    lines = ["## zmqscope: ZeroMQ sockets in tests", ""]
    if not leaks and not blocked:
        return "\n".join([*lines, f"**{checked}, no leaks.**", ""])
    tests = len({f.test for f, _ in leaks if f.verdict is not Verdict.OTHER_THREAD})
    own = sum(1 for f, _ in leaks if f.verdict is not Verdict.OTHER_THREAD)
    headline = f"**{plural(own, 'leak')} in {plural(tests, 'test')}** ({checked})"
    if own < len(leaks):
        others = plural(len(leaks) - own, "socket")
        headline += f"; {others} left by threads the tests did not start"
    lines += [headline + ".", ""]
    if leaks:
        lines += _leak_table(leaks)
    if blocked:
        lines += ["### term() blocked past the grace period", "", *_culprit_table(blocked)]
    return "\n".join(lines).rstrip("\n") + "\n"


def _leak_table(leaks: Sequence[tuple[Finding, Leak]]) -> list[str]:
    rows = [
        "| Test | Type | Kind | Created at | Thread | Endpoints | Outcome |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    details: list[str] = []
    for finding, leak in leaks:
        record = finding.report.snapshot.socket(leak.socket)
        who = md_code(finding.test or "session teardown")
        if finding.fixture is not None:
            who += f" ({md_text(finding.owner)})"
        type_name, created, thread, endpoints = _record_cells(record)
        cells = [who, type_name, leak.kind.value, created, thread, endpoints]
        outcome = finding.verdict.value
        if finding.verdict is Verdict.OTHER_THREAD:
            outcome += f": made by {md_text(thread_origin_text(finding))}"
        cells.append(outcome)
        rows.append(md_row(cells))
        if record is not None and record.created.stack:
            details += _stack_details(f"{finding.test}: {leak.message}", record)
    return [*rows, "", *details]


def _record_cells(record: SocketRecord | None) -> tuple[str, str, str, str]:
    """Type, created at, thread and endpoints of a socket, as Markdown."""
    if record is None:
        return ("?", "?", "?", "?")
    site = record.created.site
    created = md_code(location(site)) if site else "unknown"
    thread = md_text(record.created.thread.name) if record.created.thread else "unknown"
    endpoints = "<br>".join(md_code(endpoint_text(e)) for e in record.endpoints) or "none"
    return (md_text(record.type), created, thread, endpoints)


def _stack_details(summary: str, record: SocketRecord) -> list[str]:
    frames = own_frames(record.created.stack)
    return [
        "<details>",
        f"<summary>{md_html(summary)}</summary>",
        "",
        *md_fenced(frame_text(frame) for frame in frames),
        "",
        "</details>",
        "",
    ]


def _culprit_table(blocked: Sequence[tuple[Finding, Culprit]]) -> list[str]:
    rows = [
        "| Test | Socket | Reason | Where | Remedy | Outcome |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for finding, culprit in blocked:
        record = finding.report.snapshot.socket(culprit.socket)
        site = record.created.site if record else None
        socket = f"{record.type} created at {location(site)}" if record and site else culprit.socket
        cells = [
            md_code(finding.test or "session"),
            md_text(socket),
            md_text(culprit.reason),
            md_text(where_then(culprit)) or "unknown",  # as it was: the term() is over
            md_text(culprit.remedy),
            finding.verdict.value,
        ]
        rows.append(md_row(cells))
    return [*rows, ""]
