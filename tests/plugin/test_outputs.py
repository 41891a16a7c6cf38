"""What CI keeps: JUnit XML, the JSON report, the Markdown summary, merged across xdist workers."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.helpers.pytester_runs import line_of, read_json, run, write_tests
from zmqscope.reporting import Report

SUITE = """
import zmq

def test_clean():
    zmq.Context.instance().socket(zmq.PUSH).close()

def test_open():
    test_open.kept = zmq.Context.instance().socket(zmq.PULL)  # open
    test_open.kept.bind("inproc://open")

def test_collected():
    zmq.Context.instance().socket(zmq.PAIR)  # collected
"""


def test_junit_xml_carries_the_failure_text(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_ci", SUITE)
    run(pytester, "--zmqscope", "--junitxml=junit.xml").assert_outcomes(passed=1, failed=2)
    cases = {
        case.get("name"): case for case in ET.parse(pytester.path / "junit.xml").iter("testcase")
    }
    assert list(cases["test_clean"]) == []
    # A <failure> of the test itself, not an <error> at its teardown.
    assert [child.tag for child in cases["test_open"]] == ["failure"]
    failure = cases["test_open"].find("failure")
    assert failure is not None
    line = line_of(SUITE, "open")
    assert failure.get("message") == f"zmqscope: leaked PULL socket from test_ci.py:{line}"
    assert f"PULL socket created at test_ci.py:{line} in test_open() by MainThread" in (
        failure.text or ""
    )
    assert "bind inproc://open" in (failure.text or "")
    assert [child.tag for child in cases["test_collected"]] == ["failure"]


def test_json_report_names_the_test_of_every_leak(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_ci", SUITE)
    run(pytester, "--zmqscope", "--zmqscope-json=out/zmqscope.json")
    document = read_json(pytester.path / "out" / "zmqscope.json")
    leaks = {leak["test"]: leak for leak in document["leaks"]}
    assert set(leaks) == {"test_ci.py::test_open", "test_ci.py::test_collected"}
    assert leaks["test_ci.py::test_open"]["kind"] == "open-at-exit"
    assert leaks["test_ci.py::test_collected"]["kind"] == "collected-unclosed"
    assert {leak["scope"] for leak in document["leaks"]} == {"function"}
    assert {leak["verdict"] for leak in document["leaks"]} == {"failed"}
    socket = next(
        s for s in document["sockets"] if s["id"] == leaks["test_ci.py::test_open"]["socket"]
    )
    assert socket["type"] == "PULL"
    assert socket["created"]["stack"][0]["line"] == line_of(SUITE, "open")
    assert socket["created"]["stack"][0]["file"] == str(pytester.path / "test_ci.py")
    # The stack ends where pytest's own frames begin (they are noise, and slow to read).
    assert [frame["function"] for frame in socket["created"]["stack"]] == ["test_open"]
    assert document["pytest"] == {
        "tests": 3,
        "sockets": 3,
        "tests_failed": ["test_ci.py::test_open", "test_ci.py::test_collected"],
    }
    # `zmqscope attach report.json` and `zmqscope report` read it as any other report.
    text = (pytester.path / "out" / "zmqscope.json").read_text(encoding="utf-8")
    assert len(Report.from_json(text).leaks) == 2


def test_markdown_summary_suits_a_github_step_summary(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_ci", SUITE)
    run(pytester, "--zmqscope", "--zmqscope-markdown=summary.md")
    markdown = (pytester.path / "summary.md").read_text(encoding="utf-8")
    assert markdown.startswith("## zmqscope: ZeroMQ sockets in tests\n")
    assert "**2 leaks in 2 tests** (3 tests checked, 3 sockets created)." in markdown
    line = line_of(SUITE, "open")
    assert (
        f"| `test_ci.py::test_open` | PULL | open-at-exit | `test_ci.py:{line}` | MainThread"
        " | `bind inproc://open` | failed |"
    ) in markdown
    assert "<summary>test_ci.py::test_collected: PAIR socket created at" in markdown


def test_markdown_of_a_clean_run_says_so(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_ok", "def test_nothing():\n    pass\n")
    run(pytester, "--zmqscope", "--zmqscope-markdown=summary.md").assert_outcomes(passed=1)
    markdown = (pytester.path / "summary.md").read_text(encoding="utf-8")
    assert "**1 test checked, 0 sockets created, no leaks.**" in markdown


def test_xdist_workers_check_their_own_tests_and_the_json_merges(
    pytester: pytest.Pytester,
) -> None:
    names = [f"test_{i}" for i in range(8)]
    body = "\n".join(
        f"def {name}():\n    {name}.kept = zmq.Context.instance().socket(zmq.PULL)\n"
        for name in names
    )
    write_tests(pytester, "test_many", f"import zmq\n\n{body}")
    result = run(pytester, "--zmqscope", "-n", "2", "--zmqscope-json=merged.json")
    result.assert_outcomes(failed=8)
    for name in names:  # in whatever order the workers finished
        result.stdout.fnmatch_lines([f"FAILED test_many.py::{name} - zmqscope: leaked PULL*"])
    result.stdout.fnmatch_lines(
        ["zmqscope: 8 tests checked, 8 sockets created, 8 leaks in 8 tests"]
    )
    document = read_json(pytester.path / "merged.json")
    assert sorted(leak["test"] for leak in document["leaks"]) == sorted(
        f"test_many.py::{name}" for name in names
    )
    # Each worker numbers its sockets from s1: merged ids carry the worker.
    ids = [socket["id"] for socket in document["sockets"]]
    assert len(set(ids)) == 8
    assert {i.split("-")[0] for i in ids} == {"gw0", "gw1"}
    assert {leak["socket"] for leak in document["leaks"]} == set(ids)
    assert document["pytest"]["tests"] == 8


def test_a_symlink_at_the_json_path_is_refused_and_the_markdown_still_written(
    pytester: pytest.Pytester,
) -> None:
    victim = pytester.path / "victim.txt"
    victim.write_text("precious\n", encoding="utf-8")
    (pytester.path / "zmqscope.json").symlink_to(victim)
    write_tests(pytester, "test_ci", SUITE)
    result = run(
        pytester, "--zmqscope", "--zmqscope-json=zmqscope.json", "--zmqscope-markdown=summary.md"
    )
    result.assert_outcomes(passed=1, failed=2)  # not pytest's INTERNALERROR
    json_path, markdown_path = pytester.path / "zmqscope.json", pytester.path / "summary.md"
    result.stdout.fnmatch_lines(
        [
            f"zmqscope: JSON report not written: cannot write {json_path}: it is a symlink"
            " (zmqscope never writes through one)",
            f"zmqscope: Markdown summary written to {markdown_path}",
        ]
    )
    assert victim.read_text(encoding="utf-8") == "precious\n"
    assert "test_ci.py::test_open" in markdown_path.read_text(encoding="utf-8")
