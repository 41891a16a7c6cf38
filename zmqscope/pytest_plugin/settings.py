"""The pytest plugin's options, ini keys and marker, known even when the plugin is disabled.

A second ``pytest11`` entry point (``zmqscope_settings``) loads this module
on its own, so ``pytest -p no:zmqscope``, which blocks the plugin by its
entry point's name, still leaves a project's ``zmqscope = true`` ini line and
its ``@pytest.mark.zmqscope(...)`` marks valid: with ``--strict-config`` and
``--strict-markers`` pytest would otherwise refuse them. Disabled, the plugin
checks nothing, whatever the options and ini say.

It imports only pytest (and the standard library): a disabled plugin costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from zmqscope._defaults import DEFAULT_GRACE

# The entry point's name; the plugin registers this module under it when the
# entry points were not loaded (PYTEST_DISABLE_PLUGIN_AUTOLOAD with -p).
PLUGIN_NAME = "zmqscope_settings"
MARKER_ARGUMENTS = ("allow_leaks",)
_MARKER = (
    "zmqscope(allow_leaks=False): with allow_leaks=True, ZeroMQ sockets this test leaves"
    " open are listed by zmqscope but do not fail it"
)


@dataclass(frozen=True)
class Settings:
    """The plugin's options, read once from the command line and ini file."""

    grace: float
    ignore: tuple[str, ...]
    json_path: Path | None
    markdown_path: Path | None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("zmqscope", "zmqscope: ZeroMQ socket leak checks")
    group.addoption(
        "--zmqscope",
        action="store_true",
        default=None,
        help="fail every test that leaves a ZeroMQ socket open (ini: zmqscope)",
    )
    group.addoption(
        "--zmqscope-json",
        metavar="PATH",
        type=Path,
        help="write every leak, with its test, as a zmqscope.report/1 JSON document",
    )
    group.addoption(
        "--zmqscope-markdown",
        metavar="PATH",
        type=Path,
        help="write a Markdown summary of the leaks (fits $GITHUB_STEP_SUMMARY)",
    )
    group.addoption(
        "--zmqscope-grace",
        metavar="SECONDS",
        type=float,
        help=f"fail a test whose term()/destroy() blocks longer (default {DEFAULT_GRACE:g})",
    )
    # Read as text and judged by the plugin: pytest 9 rejects a bad "bool"
    # value itself, in a line that does not name the setting.
    parser.addini("zmqscope", "check every test for leaked ZeroMQ sockets (true or false)")
    parser.addini(
        "zmqscope_ignore",
        "globs of files whose sockets zmqscope ignores (matched against the file"
        " that created the socket, absolute or relative to rootdir)",
        type="linelist",
    )
    parser.addini(
        "zmqscope_grace",
        f"seconds a term()/destroy() may block inside a test (default {DEFAULT_GRACE:g})",
        default=str(DEFAULT_GRACE),
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", _MARKER)


def marker_problems(item: pytest.Item) -> list[str]:
    """What is wrong with the ``zmqscope`` marks on ``item`` (a class's and module's too).

    ``allow_leaks`` is the only argument, a keyword, True or False: a typo
    (``allow_leak=True``) or a positional ``True`` would otherwise be ignored
    and the test fail for a leak its author meant to allow.
    """
    problems = []
    for mark in item.iter_markers("zmqscope"):
        if mark.args:
            shown = ", ".join(repr(arg) for arg in mark.args)
            problems.append(
                f"@pytest.mark.zmqscope takes no positional arguments (got {shown}):"
                " write allow_leaks=True"
            )
        for name, value in mark.kwargs.items():
            if name not in MARKER_ARGUMENTS:
                hint = " (did you mean allow_leaks?)" if "leak" in name.lower() else ""
                problems.append(
                    f"@pytest.mark.zmqscope has no argument {name!r}{hint};"
                    " its only argument is allow_leaks=True or False"
                )
            elif not isinstance(value, bool):
                problems.append(
                    f"@pytest.mark.zmqscope(allow_leaks=...) must be True or False, not {value!r}"
                )
    return list(dict.fromkeys(problems))


def refuse_bad_marks(report: pytest.CollectReport) -> pytest.CollectReport:
    """``report`` failed, naming each test and what is wrong, if a test's marks are.

    A collection error, as pytest makes for its own marker mistakes
    (``--strict-markers``): the run stops before any test runs, with status 2.
    """
    if not report.passed:
        return report
    problems = [
        f"{node.nodeid}: {problem}"
        for node in report.result
        if isinstance(node, pytest.Item)
        for problem in marker_problems(node)
    ]
    if problems:
        report.outcome = "failed"
        report.longrepr = "\n".join(f"zmqscope: {problem}" for problem in problems)
        report.result = []
    return report
