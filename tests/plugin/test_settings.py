"""The plugin's settings: a value pytest cannot read is one line naming it, not a crash."""

from __future__ import annotations

import pytest

from tests.helpers.pytester_runs import run


@pytest.mark.parametrize("where", ["ini", "-o"])
def test_a_bad_on_off_value_names_the_setting(pytester: pytest.Pytester, where: str) -> None:
    pytester.makepyfile(test_x="def test_x():\n    pass\n")
    if where == "ini":
        pytester.makeini("[pytest]\nzmqscope = maybe\n")
        result = run(pytester)
    else:
        result = run(pytester, "-o", "zmqscope=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "INTERNALERROR" not in result.stderr.str()
    result.stderr.fnmatch_lines(
        ["ERROR: ini option zmqscope must be true or false: invalid truth value 'maybe'"]
    )
