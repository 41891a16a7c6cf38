"""``ZMQSCOPE=1`` instruments a plain ``python`` process; unset, zmqscope stays out.

Also: importing zmqscope does not drag in the UI and discovery dependencies.
"""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.processes import describe, line_of, run_python, run_zmqscope, write_app
from tests.helpers.report_files import (
    assert_application_stack,
    leaked_sockets,
    own_frame,
    read_report,
)

APP = """
import json
import os
import sys

import zmq

ctx = zmq.Context()
sock = ctx.socket(zmq.PUSH)  # created
sock.bind("tcp://127.0.0.1:*")
print(json.dumps({"pid": os.getpid(), "zmqscope_imported": "zmqscope" in sys.modules}))
"""


def app_output(stdout: str) -> dict[str, Any]:
    """The JSON line APP printed."""
    seen: dict[str, Any] = json.loads(stdout)
    return seen


def test_zmqscope_1_instruments_plain_python(tmp_path: Path) -> None:
    """``ZMQSCOPE=1 python app.py``: summary on stderr, ``ZMQSCOPE_JSON``/``_MARKDOWN`` written."""
    app = write_app(tmp_path, APP)
    env = {
        "ZMQSCOPE": "1",
        "ZMQSCOPE_JSON": str(tmp_path / "report-{pid}.json"),
        "ZMQSCOPE_MARKDOWN": str(tmp_path / "report.md"),
    }
    result = run_python(str(app), cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    seen = app_output(result.stdout)
    assert seen["zmqscope_imported"] is True

    assert "zmqscope: 1 socket created" in result.stderr, describe(result)
    assert "1 open at exit" in result.stderr, describe(result)

    report = read_report(tmp_path / f"report-{seen['pid']}.json")
    (sock,) = leaked_sockets(report)
    assert sock["created"]["stack"][0] == own_frame(app, line_of(app, "created"), "<module>")
    assert_application_stack(sock["created"]["stack"], app)
    (endpoint,) = sock["endpoints"]
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", endpoint["url"]), endpoint
    assert endpoint["requested"] == "tcp://127.0.0.1:*"

    markdown = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert f"`app.py:{line_of(app, 'created')}`" in markdown


def test_without_zmqscope_variable_nothing_changes(tmp_path: Path) -> None:
    """With ``ZMQSCOPE`` unset the app never imports zmqscope and nothing is printed."""
    app = write_app(tmp_path, APP)
    result = run_python(str(app), cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    assert app_output(result.stdout)["zmqscope_imported"] is False
    assert result.stderr == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["app.py"]


def test_zmqscope_1_under_run_reports_once(tmp_path: Path) -> None:
    """``ZMQSCOPE=1 zmqscope run`` (e.g. inherited by CI) prints one summary, not two."""
    result = run_zmqscope(tmp_path, APP, env={"ZMQSCOPE": "1"})
    assert result.returncode == 0, describe(result)
    summaries = [line for line in result.stderr.splitlines() if line.startswith("zmqscope: ")]
    assert len(summaries) == 1, describe(result)


HEAVY = ("textual", "rich", "psutil")
LIST_HEAVY = f"import sys; print(sorted(m for m in sys.modules if m.split('.')[0] in {HEAVY!r}))"


@pytest.mark.parametrize(
    ("code", "env", "expected"),
    [
        pytest.param("import zmqscope; " + LIST_HEAVY, {}, "[]", id="import"),
        pytest.param(
            "import zmq, zmqscope; zmqscope.install(); s = zmq.Context().socket(zmq.PAIR); "
            "zmqscope.snapshot(); s.close(); " + LIST_HEAVY,
            {},
            "[]",
            id="install-and-snapshot",
        ),
        pytest.param(
            "import zmq; s = zmq.Context().socket(zmq.PAIR); s.close(); " + LIST_HEAVY,
            {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0"},
            "[]",
            id="ZMQSCOPE=1-not-serving",
        ),
        # The introspection server reads the process's vital signs with psutil.
        pytest.param(
            "import zmq; s = zmq.Context().socket(zmq.PAIR); s.close(); " + LIST_HEAVY,
            {"ZMQSCOPE": "1"},
            "['psutil']",
            id="ZMQSCOPE=1-serving",
        ),
    ],
)
def test_zmqscope_core_does_not_import_ui_dependencies(
    tmp_path: Path, code: str, env: dict[str, str], expected: str
) -> None:
    """The instrumented app never pays for textual, nor for rich until a report is made."""
    result = run_python("-c", code, cwd=tmp_path, env=env)
    assert result.returncode == 0, describe(result)
    loaded = {name.split(".")[0] for name in ast.literal_eval(result.stdout.splitlines()[0])}
    assert loaded == set(ast.literal_eval(expected)), describe(result)
