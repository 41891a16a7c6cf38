"""The plugin's failure text shows a thread's name literally, in the terminal and in JUnit XML.

A test that leaks a socket made in a thread named with rich markup and a
terminal title sequence: the failure, the short summary, the zmqscope section
and JUnit's message and text carry the name with its control characters as
escapes (``\\x1b``), so neither a terminal nor a CI log viewer obeys them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from tests.helpers.pytester_runs import run, write_tests

NAME = "worker[/x]\x1b]0;pwned\x07"
SUITE = f"""
import threading
import zmq

def test_leaks_in_a_thread():
    kept = []
    thread = threading.Thread(
        target=lambda: kept.append(zmq.Context.instance().socket(zmq.PUSH)), name={NAME!r}
    )
    thread.start()
    thread.join()
    test_leaks_in_a_thread.kept = kept
"""
SHOWN = r"worker[/x]\x1b]0;pwned\x07"
# What a terminal acts on, the line break aside (pytest's own colours are off).
CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f-\x9f]")


def test_a_hostile_thread_name_is_shown_with_escapes(pytester: pytest.Pytester) -> None:
    write_tests(pytester, "test_hostile", SUITE)
    result = run(pytester, "--zmqscope", "--color=no", "--junitxml=junit.xml")
    result.assert_outcomes(failed=1)
    output = result.stdout.str()
    assert CONTROL.findall(output) == []
    assert f"by {SHOWN} was never closed" in output
    (case,) = ET.parse(pytester.path / "junit.xml").iter("testcase")
    failure = case.find("failure")
    assert failure is not None
    assert CONTROL.findall(failure.text or "") == []
    assert f"thread     {SHOWN} (id " in (failure.text or "")
