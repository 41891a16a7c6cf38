"""The report as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY`` and PR comments."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from zmqscope.model import CallSite, Frame, SocketRecord
from zmqscope.model._text import (
    display_path,
    headline_index,
    no_user_frame_note,
    shown_stack,
    started_text,
)
from zmqscope.reporting._format import (
    creation_unknown,
    endpoint_text,
    frame_text,
    location,
    owner_label,
    thread_label,
)

if TYPE_CHECKING:
    from zmqscope.model import Culprit, Leak, UsageWarning
    from zmqscope.reporting._report import Report

# Every ASCII punctuation character may be backslash-escaped in CommonMark;
# these are the ones that could start emphasis, links, HTML or code.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_\[\]<>~&#!])")


def render_markdown(report: Report) -> str:
    """A heading, the summary, leaks with their call chains, thread-sharing warnings, culprits."""
    lines = ["## zmqscope report", "", _process_line(report), ""]
    lines += [f"**{_text(report.summary_line())}**", ""]
    if report.leaks:
        lines += _leak_table(report)
        for leak in report.leaks:
            lines += _leak_details(report, leak)
    if report.warnings:
        lines += ["### Thread-sharing warnings", ""]
        lines += _warning_table(report.warnings)
    if report.culprits:
        lines += ["### term() is blocked", ""]
        lines += _culprit_table(report.culprits)
        for culprit in report.culprits:
            if culprit.owner_stack:
                summary = f"{culprit.socket}: where {thread_label(culprit.owner)} is stuck"
                lines += _details(summary, [("", culprit.owner_stack)])
    return "\n".join(lines).rstrip("\n") + "\n"


def _process_line(report: Report) -> str:
    process = report.snapshot.process
    command = " ".join(display_path(arg, process.root) for arg in process.argv) or "?"
    return (
        f"pid {process.pid} · {_code(command)} · Python {_text(process.python)}"
        f" · pyzmq {_text(process.pyzmq)} · libzmq {_text(process.libzmq)}"
    )


def _leak_table(report: Report) -> list[str]:
    rows = [
        "| Socket | Type | Kind | Created at | Thread | Endpoints |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for leak in report.leaks:
        record = report.snapshot.socket(leak.socket)
        type_name, created, thread, endpoints = _record_cells(record)
        cells = [_code(leak.socket), type_name, leak.kind.value, created, thread, endpoints]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*rows, ""]


def _record_cells(record: SocketRecord | None) -> tuple[str, str, str, str]:
    """Type, created at, thread and endpoints of a socket, as Markdown."""
    if record is None:
        return ("?", "?", "?", "?")
    created = _site_cell(record.created) or creation_unknown(record)
    thread = _text(record.created.thread.name) if record.created.thread else "unknown"
    started = started_text(record.created.thread)
    if started is not None:
        thread += f"<br>{_text(started)}"
    endpoints = "<br>".join(_code(endpoint_text(e)) for e in record.endpoints) or "none"
    return (_text(record.type), created, thread, endpoints)


def _site_cell(site: CallSite) -> str | None:
    """`` `app.py:7` via `jupyter_client/connect.py:697` ``, or None without a stack."""
    index = headline_index(site)
    if index is None:
        return None
    cell = _code(location(site.stack[index]))
    if index > 0:
        cell += f" via {_code(location(site.stack[0]))}"
    note = no_user_frame_note(site)
    return f"{cell} ({_text(note)})" if note else cell


def _leak_details(report: Report, leak: Leak) -> list[str]:
    """The call chain of a leak: as shown (runners' frames left out), and the thread's start."""
    record = report.snapshot.socket(leak.socket)
    blocks: list[tuple[str, Sequence[Frame]]] = []
    if record is not None:
        blocks.append(("created", shown_stack(record.created)))
        thread = record.created.thread
        if thread is not None and thread.started is not None:
            blocks.append((f"{thread.name} started", shown_stack(thread.started)))
        if record.closed is not None and record.closed.stack:
            blocks.append(("closed", shown_stack(record.closed)))
    return _details(f"{leak.socket} ({leak.kind.value}): {leak.message}", blocks)


def _details(summary: str, blocks: Sequence[tuple[str, Sequence[Frame]]]) -> list[str]:
    lines = ["<details>", f"<summary>{html.escape(summary)}</summary>", ""]
    for label, frames in blocks:
        if label:
            lines += [f"{_text(label)}:", ""]
        body = [
            line
            for frame in frames
            for line in (frame_text(frame), *([f"    {frame.source}"] if frame.source else []))
        ] or ["(no stack recorded)"]
        # A fence longer than any backtick run inside cannot be closed early.
        fence = "`" * max(3, _longest_backtick_run("\n".join(body)) + 1)
        lines += [f"{fence}text", *body, fence, ""]
    return [*lines, "</details>", ""]


def _culprit_table(culprits: Sequence[Culprit]) -> list[str]:
    rows = [
        "| Socket | Where | Reason | Owner thread | Remedy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for culprit in culprits:
        cells = [
            _code(culprit.socket),
            _text(culprit.where) or "unknown",
            _text(culprit.reason),
            _text(owner_label(culprit)),
            _text(culprit.remedy),
        ]
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*rows, ""]


def _warning_table(warnings: Sequence[UsageWarning]) -> list[str]:
    """One row a warning: both threads and where each used the socket, first one first."""
    rows = [
        "| Socket | Threads | Sites | Message |",
        "| --- | --- | --- | --- |",
    ]
    for warning in warnings:
        threads = [_text(thread_label(t)) for t in (warning.first, warning.second)]
        sites = [
            _code(location(site)) if site else "unknown"
            for site in (warning.first_site, warning.second_site)
        ]
        cells = [_code(warning.socket), "<br>".join(threads), "<br>".join(sites)]
        cells.append(_text(warning.message))
        rows.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return [*rows, ""]


def _text(value: str) -> str:
    """Plain text that Markdown must not read as markup."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", value)


def _code(value: str) -> str:
    """An inline code span, safe even when ``value`` holds backticks."""
    longest = _longest_backtick_run(value)
    if not longest:
        return f"`{value}`"
    ticks = "`" * (longest + 1)
    return f"{ticks} {value} {ticks}"


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in re.findall(r"`+", text)), default=0)


def _cell(value: str) -> str:
    """A table cell: GFM splits cells on ``|`` even inside code spans."""
    return value.replace("|", r"\|").replace("\n", " ")
