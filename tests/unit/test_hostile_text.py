"""Every renderer shows what an application or a report says literally (issue #14, 10-11).

Hostile strings (rich markup, terminal escape sequences, Markdown that would
break out of its cell or span, HTML) go into every field a report shows and
come out of the text report, the exit notice, the Markdown, the JSON round
trip, the TUI's table rows, ``ls`` and the pytest plugin's texts: no
exception, no control character reaching the output, the value shown with
its control characters as escapes, and the Markdown's structure (headings,
table rows and cells, HTML) the same as for harmless names.
"""

from __future__ import annotations

import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from rich.console import Console, RenderableType

from tests.helpers.hostile import (
    MARKDOWN,
    NAME,
    NOW,
    controls,
    foreign_html,
    hostile_snapshot,
    hostile_text,
    structure,
)
from zmqscope.cli import ls
from zmqscope.model.wording import visible
from zmqscope.pytest_plugin.files import markdown as plugin_markdown
from zmqscope.pytest_plugin.findings import Finding, RunTotals, Verdict
from zmqscope.pytest_plugin.terminal_text import (
    blocked_text,
    crash_line,
    failure_text,
    summary_lines,
)
from zmqscope.reporting import Report, build_report, render_blocked, render_exit, render_text
from zmqscope.reporting.markup import md_code, md_text
from zmqscope.tui._rows import make_rows

FUZZ = settings(
    deadline=None,
    database=None,  # nothing written to the working tree
    max_examples=60,
    suppress_health_check=[HealthCheck.too_slow],
)


def report_of(text: str) -> Report:
    return build_report(hostile_snapshot(text), generated_at=NOW, at_exit=True)


def printed(renderable: RenderableType) -> str:
    """What a terminal would be sent, without colour codes of rich's own."""
    buffer = io.StringIO()
    console = Console(file=buffer, width=4000, color_system=None, legacy_windows=False)
    console.print(renderable, crop=False)
    output = buffer.getvalue()
    assert isinstance(output, str)
    return output


# -- the text report and the notices ------------------------------------------------------


@pytest.mark.parametrize(
    "render",
    [
        render_text,
        render_exit,
        lambda report: render_blocked(report, "c1", NOW - 3),
    ],
    ids=["report", "exit", "blocked"],
)
def test_the_text_outputs_show_the_name_literally_and_obey_nothing_in_it(render: Any) -> None:
    output = printed(render(report_of(NAME)))
    assert controls(output) == []
    assert visible(NAME) in output  # [/x], [link=...] and \x1b]0;pwned\x07 as written


@FUZZ
@given(hostile_text)
def test_fuzz_the_text_report_never_raises_and_never_passes_a_control_through(
    text: str,
) -> None:
    report = report_of(text)
    for render in (render_text, lambda r: render_blocked(r, "c1", NOW - 3)):
        output = printed(render(report))
        assert controls(output) == []
        assert visible(f"{text} (id 2)") in output


# -- Markdown -------------------------------------------------------------------------


def test_the_markdown_keeps_its_structure_and_escapes_the_name() -> None:
    markdown = report_of(NAME).to_markdown()
    assert structure(markdown) == structure(report_of("name").to_markdown())
    assert controls(markdown) == []
    assert foreign_html(markdown) == []
    assert not [line for line in markdown.splitlines() if line.startswith("# HEAD")]
    assert "&lt;script&gt;" in markdown  # in the <summary>, as text


@FUZZ
@given(hostile_text)
def test_fuzz_the_markdown_structure_is_that_of_a_harmless_name(text: str) -> None:
    markdown = report_of(text).to_markdown()
    assert structure(markdown) == structure(report_of("name").to_markdown())
    assert controls(markdown) == []
    assert foreign_html(markdown) == []


@FUZZ
@given(hostile_text)
def test_fuzz_markdown_text_and_code_spans_read_back_as_the_value_shown(text: str) -> None:
    shown = visible(text)
    (paragraph,) = [t for t in MARKDOWN.parseInline(md_text(text)) if t.type == "inline"]
    assert "".join(c.content for c in paragraph.children or []) == shown
    (span,) = [t for t in MARKDOWN.parseInline(md_code(text)) if t.type == "inline"]
    children = span.children or []
    if shown:
        assert [(c.type, c.content) for c in children] == [("code_inline", shown)]


# -- JSON -----------------------------------------------------------------------------


@FUZZ
@given(hostile_text)
def test_fuzz_a_saved_report_reads_back_as_it_was_and_shows_literally(text: str) -> None:
    report = report_of(text)
    document = report.to_json()
    assert controls(document) == []  # JSON writes them as \u escapes
    again = Report.from_json(document)
    assert again.to_dict() == report.to_dict()  # data stays data: the raw name
    thread = again.snapshot.sockets[0].created.thread
    assert thread is not None and thread.name == text
    output = printed(render_text(again))
    assert controls(output) == []
    assert visible(f"{text} (id 2)") in output


# -- the TUI's table and ls -----------------------------------------------------------


@FUZZ
@given(hostile_text)
def test_fuzz_tui_rows_show_every_cell_with_escapes(text: str) -> None:
    rows = make_rows(hostile_snapshot(text), NOW)
    for cells in rows.cells.values():
        assert [controls(cell) for cell in cells] == [[] for _ in cells]
    assert rows.cells["s1"][4] == visible(text)  # the owner column
    assert visible(text).lower() in rows.haystack("s1")  # what the filter searches, as shown


def test_ls_rows_show_the_command_endpoint_and_limits_literally(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "4000")
    row: dict[str, Any] = {
        "pid": 7,
        "command": f"app.py '{NAME}'",
        "uptime": 3.0,
        "endpoint": f"ipc:///run/{NAME}.ipc",
        "open_sockets": 2,
        "state": "running",
        "limits": [{"reached": True, "message": f"context {NAME} holds 2 of its 2 sockets"}],
    }
    ls._print_table([row])
    output = capsys.readouterr().out
    assert controls(output) == []
    assert visible(row["command"]) in output
    assert visible(row["endpoint"]) in output
    assert visible(f"7: context {NAME} holds") in output


# -- the pytest plugin's texts ----------------------------------------------------------


def test_the_plugins_failure_texts_show_the_name_with_escapes() -> None:
    report = report_of(NAME)
    finding = Finding("test_x.py::test_x", "function", None, Verdict.FAILED, report)
    texts = {
        "failure": failure_text([finding]),
        "crash line": crash_line([finding]),
        "summary": "\n".join(summary_lines([finding])),
        "blocked": blocked_text(report, "c1", 5.0, 5.0),
    }
    for what, text in texts.items():
        assert controls(text) == [], what
    assert visible(NAME) in texts["failure"]
    assert visible(f"PUSH{NAME} socket") in texts["crash line"]
    markdown = plugin_markdown([finding], RunTotals(1, 2))
    harmless = Finding("test_x.py::test_x", "function", None, Verdict.FAILED, report_of("name"))
    assert structure(markdown) == structure(plugin_markdown([harmless], RunTotals(1, 2)))
    assert controls(markdown) == []
    assert foreign_html(markdown) == []
