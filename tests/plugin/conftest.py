"""Run pytest with the zmqscope plugin on small suites, in a subprocess each.

A subprocess, because the plugin installs process-wide hooks and a signal
handler, and loads through its ``pytest11`` entry point as a user's run does
(tests/helpers/pytester_runs.py). This file holds the fixture every such test gets.
"""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _no_zmqscope_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """ZMQSCOPE=1 in the outer environment would instrument the inner run twice over."""
    for name in ("ZMQSCOPE", "ZMQSCOPE_JSON", "ZMQSCOPE_MARKDOWN", "PYTEST_XDIST_AUTO_NUM_WORKERS"):
        monkeypatch.delenv(name, raising=False)
    # Wide enough that pytest does not cut the short summary lines tests match.
    monkeypatch.setenv("COLUMNS", "240")
