"""``zmqscope report z.json`` on the pytest plugin's file shows what it says, test by test.

A real pytest run with the plugin writes ``--zmqscope-json``; ``zmqscope
report`` reads it back: each test that leaked (or whose ``term()`` blocked)
is named with what the plugin did to it (failed, allowed, not failed: made
by another test's thread), the scope and fixture that leaked, and its
sockets under it, in text and Markdown; ``--format json`` keeps every key.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers.processes import describe, run_command, write_app, zmqscope_cli

pytestmark = pytest.mark.timeout(120)

SUITE = """
import threading

import pytest
import zmq

STATE = {}


@pytest.fixture(scope="module")
def broker():
    sock = zmq.Context.instance().socket(zmq.ROUTER)
    sock.bind("tcp://127.0.0.1:*")
    return sock  # never closed: the module fixture leaks it


def test_uses_the_broker(broker):
    pass


def test_leaks():
    STATE["dealer"] = zmq.Context.instance().socket(zmq.DEALER)


@pytest.mark.zmqscope(allow_leaks=True)
def test_allowed():
    STATE["pub"] = zmq.Context.instance().socket(zmq.PUB)


def beat(go, made):
    go.wait(30)
    STATE["beat"] = zmq.Context.instance().socket(zmq.REQ)
    made.set()


def test_starts_a_heartbeat():
    STATE["go"], STATE["made"] = threading.Event(), threading.Event()
    threading.Thread(
        target=beat, args=(STATE["go"], STATE["made"]), name="heartbeat", daemon=True
    ).start()


def test_is_innocent():
    STATE["go"].set()
    assert STATE["made"].wait(30)


def test_hangs():
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect("tcp://127.0.0.1:5999")  # nobody listens
    push.send(b"never delivered")
    push.close()  # LINGER -1: term() waits for the message
    ctx.term()


def test_last():
    pass
"""


@pytest.fixture(scope="module")
def plugin_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin's JSON for SUITE, written by a real pytest run."""
    folder = tmp_path_factory.mktemp("suite")
    write_app(folder, SUITE, "test_suite.py")
    result = run_command(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:randomly",
            "--zmqscope",
            "--zmqscope-grace=1",
            "--zmqscope-json=z.json",
            "test_suite.py",
        ],
        cwd=folder,
        env={"PYTEST_ADDOPTS": "", "COLUMNS": "200"},
        timeout=60,
    )
    assert result.returncode == 1, describe(result)  # two tests fail for zmqscope
    return folder / "z.json"


T = "test_suite.py::"


def test_text_names_each_test_with_its_verdict_and_sockets(plugin_file: Path) -> None:
    result = zmqscope_cli("report", str(plugin_file), cwd=plugin_file.parent)
    assert result.returncode == 0, describe(result)
    lines = result.stdout.splitlines()
    assert lines[0] == (
        "zmqscope: 7 tests checked, 5 sockets created, 3 leaks in 3 tests; 1 socket left by "
        "threads the tests did not start; term() blocked in 1 test; 3 tests failed for them"
    ), result.stdout
    headlines = [line for line in lines if line.startswith(T)]
    # Leaks first, in the file's order, then the tests whose term() blocked.
    assert headlines == [
        f"{T}test_leaks: failed for it",
        f"{T}test_allowed: not failed: allowed by @pytest.mark.zmqscope(allow_leaks=True)",
        f"{T}test_is_innocent: not failed: made by heartbeat, a thread started during "
        f"{T}test_starts_a_heartbeat",
        f"{T}test_last: failed for it; leaked by the module-scoped fixture 'broker', checked "
        "when its scope ended",
        f"{T}test_hangs: failed for it",
    ], result.stdout
    # Each test's sockets come under it.
    text = result.stdout
    sections = {h: text.split(h, 1)[1].split(T, 1)[0] for h in headlines}
    assert "DEALER socket created at test_suite.py" in sections[headlines[0]]
    assert "PUB socket created" in sections[headlines[1]]
    assert "REQ socket created" in sections[headlines[2]]
    assert "ROUTER socket created at test_suite.py" in sections[headlines[3]]
    assert "term() of context c2 has been blocked for" in sections[headlines[4]]
    assert "PUSH" in sections[headlines[4]]


def test_markdown_has_a_section_per_test(plugin_file: Path) -> None:
    result = zmqscope_cli(
        "report", str(plugin_file), "--format", "markdown", cwd=plugin_file.parent
    )
    assert result.returncode == 0, describe(result)
    text = result.stdout
    assert text.startswith("## zmqscope: ZeroMQ sockets in tests\n")
    headings = [line for line in text.splitlines() if line.startswith("### `")]
    assert headings == [
        f"### `{T}test_leaks`",
        f"### `{T}test_allowed`",
        f"### `{T}test_is_innocent`",
        f"### `{T}test_last`",
        f"### `{T}test_hangs`",
    ]
    assert "failed for it; leaked by the module-scoped fixture 'broker'" in text
    assert "not failed: made by heartbeat, a thread started during" in text
    assert "### term() of context c2 has been blocked for" in text.split(f"`{T}test_hangs`")[1]


def test_json_keeps_what_the_plugin_wrote(plugin_file: Path) -> None:
    result = zmqscope_cli("report", str(plugin_file), "--format", "json", cwd=plugin_file.parent)
    assert result.returncode == 0, describe(result)
    shown = json.loads(result.stdout)
    written = json.loads(plugin_file.read_text(encoding="utf-8"))
    assert shown == written
    assert shown["pytest"]["tests"] == 7
    assert {leak["verdict"] for leak in shown["leaks"]} == {"failed", "allowed", "other-thread"}


def test_a_plugin_file_with_a_bad_verdict_is_one_line(plugin_file: Path, tmp_path: Path) -> None:
    document = json.loads(plugin_file.read_text(encoding="utf-8"))
    document["leaks"][0]["verdict"] = "\x1b[2Jpassed"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document), encoding="utf-8")
    result = zmqscope_cli("report", str(bad), cwd=tmp_path)
    assert result.returncode == 2, describe(result)
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"zmqscope: error: {bad}: invalid zmqscope report: leaks[0]: "), line
    assert "\x1b" not in line and "\\x1b" in line
