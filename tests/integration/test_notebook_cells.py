"""Frames of notebook cells read as IPython shows them: ``Cell In[3], line 4``.

A real IPython shell runs the cells (``InteractiveShell.run_cell``, as a
kernel does) in a subprocess under ``zmqscope run``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_zmqscope
from tests.helpers.report_files import leaked_sockets, read_report

pytest.importorskip("IPython", reason="IPython is in the test extra; this checks its cells")

DRIVER = """
from IPython.core.interactiveshell import InteractiveShell

shell = InteractiveShell.instance()
cells = [
    "import zmq\\nctx = zmq.Context()",
    "def make(kind):\\n    # a comment line\\n    return ctx.socket(kind)\\n",
    "kept = [make(zmq.PUSH)]",
]
for cell in cells:
    shell.run_cell(cell, store_history=True).raise_error()
"""


def test_cells_are_named_by_their_execution_count_with_their_source(tmp_path: Path) -> None:
    report_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, DRIVER, "--json", str(report_path))
    assert result.returncode == 0, describe(result)

    assert "PUSH socket created at Cell In[2], line 3 in make() by MainThread" in (result.stderr), (
        describe(result)
    )
    assert "return ctx.socket(kind)" in result.stderr
    assert "Cell In[3], line 1 in <module>" in result.stderr
    assert "ipython-input" not in result.stderr  # the name IPython compiles cells under

    (sock,) = leaked_sockets(read_report(report_path))
    made, caller = sock["created"]["stack"][:2]
    assert (made["cell"], made["line"], made["function"]) == (2, 3, "make")
    assert made["source"] == "return ctx.socket(kind)"
    assert made["origin"] == "user"
    assert (caller["cell"], caller["line"], caller["source"]) == (3, 1, "kept = [make(zmq.PUSH)]")
    assert sock["created"]["user_frame"] == 0
    # IPython's own frames that ran the cell are not shown in the chain.
    assert "interactiveshell.py" not in result.stderr, describe(result)
