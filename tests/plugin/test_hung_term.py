"""A term() that hangs inside a test fails that test, and the run goes on to the next one."""

from __future__ import annotations

import re

import pytest

from tests.helpers.pytester_runs import line_of, read_json, run, write_tests

GRACE = "1"

HANGS_IN_MAIN_THREAD = """
import zmq

def test_hangs():
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)  # culprit
    push.connect("tcp://127.0.0.1:5999")  # nobody listens
    push.send(b"never delivered")
    push.close()  # LINGER -1: libzmq keeps the message, and term() waits for it
    ctx.term()  # term

def test_runs_afterwards():
    pass
"""


@pytest.mark.timeout(45)
def test_a_term_blocked_in_the_test_fails_it_within_the_grace_period(
    pytester: pytest.Pytester,
) -> None:
    write_tests(pytester, "test_hang", HANGS_IN_MAIN_THREAD)
    result = run(pytester, "--zmqscope", f"--zmqscope-grace={GRACE}", timeout=40)
    result.assert_outcomes(failed=1, passed=1)
    term, culprit = line_of(HANGS_IN_MAIN_THREAD, "term"), line_of(HANGS_IN_MAIN_THREAD, "culprit")
    result.stdout.fnmatch_lines(
        [
            "*_ test_hangs _*",
            "zmqscope: term() of context c1 was still blocked after 1.* s (called at"
            f" test_hang.py:{term} in test_hangs() by MainThread); the grace period is 1 s,"
            " so zmqscope interrupted it and this test fails.",
            "1 socket kept term() waiting:",
            "  s1: PUSH socket, *closed with LINGER -1*tcp://127.0.0.1:5999*",
            f"    created    test_hang.py:{culprit} in test_hangs()",
            "    then       closed by MainThread at test_hang.py:*",
            "    remedy     set LINGER 0 before closing it*",
        ]
    )
    result.stdout.fnmatch_lines(["FAILED test_hang.py::test_hangs - Failed: zmqscope: term()*"])
    assert session_seconds(result) < float(GRACE) + 5, "the run waited for term() too long"


ALLOWED_BUT_HANGS = """
import pytest
import zmq

@pytest.mark.zmqscope(allow_leaks=True)
def test_hangs_though_leaks_are_allowed():
    ctx = zmq.Context()
    test_hangs_though_leaks_are_allowed.kept = ctx.socket(zmq.PULL)
    ctx.term()
"""


@pytest.mark.timeout(45)
def test_the_files_say_failed_for_a_test_failed_by_its_blocked_term(
    pytester: pytest.Pytester,
) -> None:
    """The JSON and Markdown agree with what pytest printed: zmqscope failed these tests."""
    write_tests(pytester, "test_hang", HANGS_IN_MAIN_THREAD)
    write_tests(pytester, "test_allowed", ALLOWED_BUT_HANGS)
    files = ("--zmqscope-json=out.json", "--zmqscope-markdown=out.md")
    result = run(pytester, "--zmqscope", f"--zmqscope-grace={GRACE}", *files, timeout=40)
    result.assert_outcomes(failed=2, passed=1)
    failed = ["test_allowed.py::test_hangs_though_leaks_are_allowed", "test_hang.py::test_hangs"]
    result.stdout.fnmatch_lines_random(
        [f"FAILED {test} - Failed: zmqscope: term()*" for test in failed]
    )
    document = read_json(pytester.path / "out.json")
    assert sorted(document["pytest"]["tests_failed"]) == failed
    verdicts = {(entry["test"], entry["verdict"]) for entry in document["culprits"]}
    assert verdicts == {(test, "failed") for test in failed}
    assert {entry["verdict"] for entry in document["leaks"]} == {"failed"}
    # No second failure at teardown for the same blocked term().
    result.stdout.no_fnmatch_line("*ERROR at teardown*")
    markdown = (pytester.path / "out.md").read_text(encoding="utf-8")
    assert "| Test | Socket | Reason | Where | Remedy | Outcome |" in markdown
    rows = [line for line in markdown.splitlines() if line.startswith("| `test_")]
    assert rows and all(row.endswith("| failed |") for row in rows), rows


def session_seconds(result: pytest.RunResult) -> float:
    """The run's duration as pytest's last line says it (``... in 1.71s``)."""
    match = re.search(r" in ([0-9.]+)s", result.outlines[-1])
    assert match, result.outlines[-1]
    return float(match.group(1))


@pytest.mark.timeout(45)
def test_a_term_blocked_in_another_thread_is_released_and_fails_the_test(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import threading
    import zmq

    def test_terminates_in_a_thread():
        ctx = zmq.Context()
        sock = ctx.socket(zmq.PULL)  # still open
        thread = threading.Thread(target=ctx.term, name="terminator")
        thread.start()
        thread.join(20)
        assert not thread.is_alive(), "term() was not released"
        sock.close()

    def test_runs_afterwards():
        pass
    """
    write_tests(pytester, "test_thread_hang", source)
    result = run(pytester, "--zmqscope", f"--zmqscope-grace={GRACE}", timeout=40)
    result.assert_outcomes(passed=1, failed=1)
    assert session_seconds(result) < float(GRACE) + 5, "the run waited for term() too long"
    result.stdout.fnmatch_lines(
        [
            "*_ test_terminates_in_a_thread _*",
            "zmqscope: a term() in test_terminates_in_a_thread was still blocked after the grace"
            " period; zmqscope interrupted it so the run could go on.",
            "1 socket kept term() waiting:",
            "  s1: PULL socket, still open: term() waits until every socket*",
            f"    created    test_thread_hang.py:{line_of(source, 'still open')}*",
        ]
    )


@pytest.mark.timeout(45)
def test_a_term_blocked_in_a_fixture_teardown_errors_that_test(
    pytester: pytest.Pytester,
) -> None:
    source = """
    import pytest
    import zmq

    @pytest.fixture
    def ctx():
        ctx = zmq.Context()
        yield ctx
        ctx.term()  # blocks: the test left a socket open

    def test_leaves_a_socket(ctx):
        test_leaves_a_socket.kept = ctx.socket(zmq.REQ)

    def test_runs_afterwards():
        pass
    """
    write_tests(pytester, "test_fixture_hang", source)
    result = run(pytester, "--zmqscope", f"--zmqscope-grace={GRACE}", timeout=40)
    result.assert_outcomes(passed=2, errors=1)
    result.stdout.fnmatch_lines(
        [
            "*ERROR at teardown of test_leaves_a_socket*",
            "zmqscope: term() of context c1 was still blocked after*(called at"
            f" test_fixture_hang.py:{line_of(source, 'blocks: the test left a socket open')}"
            " in ctx() by MainThread)*",
        ]
    )
