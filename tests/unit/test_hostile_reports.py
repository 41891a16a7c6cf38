"""Hostile numbers and structures in saved reports and server replies (issue #14, item 13).

A valid report (and a valid live snapshot reply) gets one value anywhere in it
replaced by something hostile: NaN, Infinity, 1e308, integers past 2**64, a
negative count, a string longer than any name, nesting hundreds deep, the
wrong type, the year 9999. Loading it either refuses it with
:class:`SchemaError` (one line, which ``report`` and ``attach`` turn into exit
status 2) or gives records every view can show: the text report, Markdown,
JSON, the TUI's rows and its detail view. Nothing else may happen.
"""

from __future__ import annotations

import copy
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from rich.console import Console, RenderableType

from tests.helpers.hostile import NOW, honest_data, hostile_snapshot
from zmqscope.model import SchemaError, Snapshot
from zmqscope.model._base import MAX_TEXT
from zmqscope.remote.client.view import SnapshotView
from zmqscope.reporting import Report, build_report, render_text
from zmqscope.tui._rows import make_rows
from zmqscope.tui.detail import SocketDetailScreen

FUZZ = settings(
    deadline=None,
    database=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow],
)


def deep(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


HOSTILE_VALUES = [
    float("nan"),
    float("inf"),
    float("-inf"),
    1e308,
    -1e308,
    2**70,
    -(2**70),
    -1,
    0,
    "x" * (MAX_TEXT + 1),
    deep(300),
    {"k": deep(50)},
    None,
    True,
    "",
    [],
    {},
    "9999-12-31T23:59:59Z",
    "1970-01-01T00:00:00-12:00",
]


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every place in a JSON document (each key of an object, each item of a list)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield (*prefix, key)
            yield from paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield (*prefix, index)
            yield from paths(item, (*prefix, index))


def replaced(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    changed = copy.deepcopy(document)
    target = changed
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return changed


def shown(renderable: RenderableType) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, color_system=None)
    console.print(renderable, crop=False)
    return buffer.getvalue()


def show_everywhere(snapshot: Snapshot, report: Report) -> None:
    """What each view does with records: none of it may raise."""
    shown(render_text(report))
    report.to_markdown()
    Report.from_json(report.to_json())
    make_rows(snapshot, NOW)
    for record in snapshot.sockets:
        detail = SocketDetailScreen(record, read_sources=False)
        shown(detail._summary())
        shown(detail._stack("created", record.created))
        if record.closed is not None:
            shown(detail._stack("closed", record.closed))


REPORT = build_report(hostile_snapshot("name"), generated_at=NOW).to_dict()
REPORT_PATHS = list(paths(REPORT))


@FUZZ
@given(st.sampled_from(REPORT_PATHS), st.sampled_from(HOSTILE_VALUES))
def test_fuzz_a_saved_report_with_a_hostile_value_is_refused_or_shown(
    path: tuple[Any, ...], value: Any
) -> None:
    text = json.dumps(replaced(REPORT, path, value))  # NaN and Infinity as Python writes them
    try:
        report = Report.from_json(text)
    except SchemaError as error:
        assert "\n" not in str(error)
        return
    show_everywhere(report.snapshot, report)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("sockets", 0, "created", "time"), float("nan")),
        (("sockets", 0, "created", "time"), 1e308),
        (("contexts", 0, "term_blocked_since"), float("inf")),
        (("generated_at",), "9999-12-31T23:59:59Z"),
        (("sockets", 0, "linger"), 2**70),
        (("sockets", 0, "created", "thread", "name"), "x" * (MAX_TEXT + 1)),
        (("process", "pid"), -1),
    ],
    ids=[
        "NaN time",
        "1e308 time",
        "Infinity since",
        "year 9999",
        "huge linger",
        "long name",
        "pid -1",
    ],
)
def test_the_issues_reports_are_refused(path: tuple[Any, ...], value: Any) -> None:
    with pytest.raises(SchemaError):
        Report.from_json(json.dumps(replaced(REPORT, path, value)))


def test_threads_started_by_threads_too_deep_are_refused() -> None:
    thread: dict[str, Any] = {"id": 1, "name": "t"}
    for _ in range(300):
        thread = {"id": 1, "name": "t", "started": {"time": NOW, "thread": thread, "stack": []}}
    with pytest.raises(SchemaError, match="nest deeper"):
        Report.from_json(json.dumps(replaced(REPORT, ("sockets", 0, "created", "thread"), thread)))


SNAPSHOT = honest_data()["snapshot"]
SNAPSHOT_PATHS = list(paths(SNAPSHOT))
# What LiveClient.snapshot() turns into ClientError ("sent a malformed snapshot").
REFUSED = (SchemaError, KeyError, TypeError, ValueError, AttributeError)


@FUZZ
@given(st.sampled_from(SNAPSHOT_PATHS), st.sampled_from(HOSTILE_VALUES))
def test_fuzz_a_live_snapshot_with_a_hostile_value_is_refused_or_shown(
    path: tuple[Any, ...], value: Any
) -> None:
    data = json.loads(json.dumps(replaced(SNAPSHOT, path, value)))
    try:
        snapshot = SnapshotView().apply(data)
    except REFUSED:
        return
    show_everywhere(snapshot, build_report(snapshot, live=True))
