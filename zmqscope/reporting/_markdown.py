"""The report as GitHub-flavoured Markdown, for ``$GITHUB_STEP_SUMMARY`` and PR comments."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from zmqscope.model import CallSite, Frame, SocketRecord
from zmqscope.model.held_terms import (
    HeldTerm,
    culprit_count_sentence,
    held_terms,
    term_sentence,
    where_then,
)
from zmqscope.model.wording import (
    creation_unknown,
    display_path,
    endpoint_text,
    endpoints_unknown,
    frame_text,
    headline_index,
    location,
    no_user_frame_note,
    owner_label,
    plural,
    shown_stack,
    started_text,
    thread_label,
)
from zmqscope.reporting._format import SEND_RECV_UNCHECKED, send_recv_unchecked
from zmqscope.reporting._groups import EXAMPLE_IDS, LeakGroup, group_leaks
from zmqscope.reporting._inventory import inventory_markdown
from zmqscope.reporting._limits import limits_markdown
from zmqscope.reporting.markup import md_code, md_fenced, md_html, md_row, md_text

if TYPE_CHECKING:
    from zmqscope.model import UsageWarning
    from zmqscope.reporting._report import Report


def render_markdown(report: Report) -> str:
    """A heading, the summary, limit warnings, open sockets (a running process), leaks
    (grouped by creation site) with their call chains, thread-sharing warnings, culprits."""
    lines = ["## zmqscope report", "", _process_line(report), ""]
    lines += [f"**{md_text(report.summary_line())}**", ""]
    lines += _body(report)
    for child in report.processes:
        process = child.snapshot.process
        lines += [f"## Process {process.pid}", "", _process_line(child), ""]
        lines += [f"**{md_text(child.counts_line())}**", ""]
        lines += _body(child)
    for unreported in report.unreported:
        command = " ".join(unreported.argv) or "?"
        lines += [
            f"## Process {unreported.pid}",
            "",
            f"{md_code(command)}: {unreported.reason}",
            "",
        ]
    return "\n".join(lines).rstrip("\n") + "\n"


def _body(report: Report) -> list[str]:
    """One process's report below its summary line."""
    lines = limits_markdown(report)
    lines += inventory_markdown(report)
    if report.leaks:
        groups = group_leaks(report.leaks, report.snapshot)
        lines += _leak_table(report, groups)
        for group in groups:
            lines += _leak_details(report, group)
    if report.warnings:
        lines += ["### Thread-sharing warnings", ""]
        lines += _warning_table(report.warnings)
    if send_recv_unchecked(report.snapshot.sockets):
        lines += [f"_{SEND_RECV_UNCHECKED}_", ""]
    for term in held_terms(report.snapshot, report.culprits):
        lines += _culprit_section(term)
    return lines


def _culprit_section(term: HeldTerm) -> list[str]:
    """A blocked ``term()`` (or one that was): its heading, culprits and their owners' stacks."""
    heading = term_sentence(term)
    lines = [f"### {md_text(heading)}", "", f"{md_text(culprit_count_sentence(term))}.", ""]
    lines += _culprit_table(term)
    for culprit in term.culprits:
        if culprit.owner_stack:
            verb = "is" if term.ended is None else "was"
            summary = f"{culprit.socket}: where {thread_label(culprit.owner)} {verb} stuck"
            lines += _details(summary, [("", culprit.owner_stack)])
    return lines


def _process_line(report: Report) -> str:
    process = report.snapshot.process
    command = " ".join(display_path(arg, process.root) for arg in process.argv) or "?"
    return (
        f"pid {process.pid} · {md_code(command)} · Python {md_text(process.python)}"
        f" · pyzmq {md_text(process.pyzmq)} · libzmq {md_text(process.libzmq)}"
    )


def _leak_table(report: Report, groups: Sequence[LeakGroup]) -> list[str]:
    """A row per leak, or per group of leaks from one line (the count, a few ids)."""
    rows = [
        "| Socket | Type | Kind | Created at | Thread | Endpoints |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for group in groups:
        leak = group.first
        type_name, created, thread, endpoints = _record_cells(group.record)
        sockets = md_code(leak.socket)
        if len(group) > 1:
            ids = [md_code(g.socket) for g in group.leaks[:EXAMPLE_IDS]]
            sockets = f"{plural(len(group), 'socket')}: {', '.join(ids)}"
            sockets += " …" if len(group) > EXAMPLE_IDS else ""
            if group.record is not None and group.record.endpoints:
                endpoints = f"{endpoints} (of {md_code(leak.socket)})"
        cells = [sockets, type_name, leak.kind.value, created, thread, endpoints]
        rows.append(md_row(cells))
    return [*rows, ""]


def _record_cells(record: SocketRecord | None) -> tuple[str, str, str, str]:
    """Type, created at, thread and endpoints of a socket, as Markdown."""
    if record is None:
        return ("?", "?", "?", "?")
    created = _site_cell(record.created) or creation_unknown(record)
    thread = md_text(record.created.thread.name) if record.created.thread else "unknown"
    started = started_text(record.created.thread)
    if started is not None:
        thread += f"<br>{md_text(started)}"
    unknown = endpoints_unknown(record)
    shown = [md_code(endpoint_text(e)) for e in record.endpoints]
    if unknown is not None:
        shown.append(md_text(f"({unknown})" if shown else unknown))
    endpoints = "<br>".join(shown) or "none"
    return (md_text(record.type), created, thread, endpoints)


def _site_cell(site: CallSite) -> str | None:
    """`` `app.py:7` via `jupyter_client/connect.py:697` ``, or None without a stack."""
    index = headline_index(site)
    if index is None:
        return None
    cell = md_code(location(site.stack[index]))
    if index > 0:
        cell += f" via {md_code(location(site.stack[0]))}"
    note = no_user_frame_note(site)
    return f"{cell} ({md_text(note)})" if note else cell


def _leak_details(report: Report, group: LeakGroup) -> list[str]:
    """The call chain of a leak: as shown (runners' frames left out), and the thread's start."""
    leak = group.first
    record = group.record
    blocks: list[tuple[str, Sequence[Frame]]] = []
    if record is not None:
        blocks.append(("created", shown_stack(record.created)))
        thread = record.created.thread
        if thread is not None and thread.started is not None:
            blocks.append((f"{thread.name} started", shown_stack(thread.started)))
        if record.closed is not None and record.closed.stack:
            blocks.append(("closed", shown_stack(record.closed)))
    subject = leak.socket
    if len(group) > 1:
        subject = f"{group.ids()} ({plural(len(group), 'socket')}, the first shown)"
    return _details(f"{subject} ({leak.kind.value}): {leak.message}", blocks)


def _details(summary: str, blocks: Sequence[tuple[str, Sequence[Frame]]]) -> list[str]:
    lines = ["<details>", f"<summary>{md_html(summary)}</summary>", ""]
    for label, frames in blocks:
        if label:
            lines += [f"{md_text(label)}:", ""]
        body = [
            line
            for frame in frames
            for line in (frame_text(frame), *([f"    {frame.source}"] if frame.source else []))
        ] or ["(no stack recorded)"]
        lines += [*md_fenced(body), ""]
    return [*lines, "</details>", ""]


def _culprit_table(term: HeldTerm) -> list[str]:
    """One row a culprit; ``Where`` is where its owner is (was, once the term() ended)."""
    rows = [
        "| Socket | Where | Reason | Owner thread | Remedy |",
        "| --- | --- | --- | --- | --- |",
    ]
    for culprit in term.culprits:
        where = culprit.where if term.ended is None else where_then(culprit)
        socket = md_code(culprit.socket) + ("" if culprit.certain else " (may block)")
        cells = [
            socket,
            md_text(where) or "unknown",
            md_text(culprit.reason),
            md_text(owner_label(culprit)),
            md_text(culprit.remedy),
        ]
        rows.append(md_row(cells))
    return [*rows, ""]


def _warning_table(warnings: Sequence[UsageWarning]) -> list[str]:
    """One row a warning: both threads and where each used the socket, first one first."""
    rows = [
        "| Socket | Threads | Sites | Message |",
        "| --- | --- | --- | --- |",
    ]
    for warning in warnings:
        threads = [md_text(thread_label(t)) for t in (warning.first, warning.second)]
        sites = [
            md_code(location(site)) if site else "unknown"
            for site in (warning.first_site, warning.second_site)
        ]
        cells = [md_code(warning.socket), "<br>".join(threads), "<br>".join(sites)]
        cells.append(md_text(warning.message))
        rows.append(md_row(cells))
    return [*rows, ""]
