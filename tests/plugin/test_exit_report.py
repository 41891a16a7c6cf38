"""With ``ZMQSCOPE=1`` as well as ``--zmqscope``, the exit report lists what the plugin reported."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.pytester_runs import line_of, read_json, run, write_tests

SUITE = """
import zmq

def test_open():
    test_open.kept = zmq.Context.instance().socket(zmq.PULL)  # open

def test_collected():
    zmq.Context.instance().socket(zmq.PUSH)  # collected

def test_clean():
    zmq.Context.instance().socket(zmq.PAIR).close()
"""


def test_the_exit_report_lists_the_leaks_the_plugin_reported(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tests(pytester, "test_both", SUITE)
    monkeypatch.setenv("ZMQSCOPE", "1")
    monkeypatch.setenv("ZMQSCOPE_SERVE", "0")
    monkeypatch.setenv("ZMQSCOPE_JSON", str(pytester.path / "exit.json"))
    result = run(pytester, "--zmqscope", "--zmqscope-json=plugin.json")
    result.assert_outcomes(failed=2, passed=1)

    plugin = read_json(pytester.path / "plugin.json")
    at_exit = read_json(pytester.path / "exit.json")  # written by ZMQSCOPE=1 as pytest exits
    assert at_exit["at_exit"] is True

    def leaks(document: dict[str, Any]) -> set[tuple[str, int]]:
        sockets = {s["id"]: s for s in document["sockets"]}
        return {
            (leak["kind"], sockets[leak["socket"]]["created"]["stack"][0]["line"])
            for leak in document["leaks"]
        }

    expected = {
        ("open-at-exit", line_of(SUITE, "open")),
        ("collected-unclosed", line_of(SUITE, "collected")),
    }
    assert leaks(plugin) == expected
    assert leaks(at_exit) == expected
    assert "collected" in result.stderr.str()  # the exit report's text, on stderr
