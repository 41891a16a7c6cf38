"""``zmqscope run`` names each leaked socket's creation site, thread and endpoints."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

from tests.helpers.processes import (
    ZMQSCOPE_MODULE,
    ZMQSCOPE_SCRIPT,
    describe,
    line_of,
    run_python,
    run_zmqscope,
    write_app,
)
from tests.helpers.report_files import (
    assert_application_stack,
    leak_of,
    leaked_sockets,
    own_frame,
    read_report,
)

MODULE_LEVEL_LEAK = """
import zmq

ctx = zmq.Context()


def start_collector():
    pull = ctx.socket(zmq.PULL)  # pull-created
    pull.bind("inproc://results")
    return pull


push = ctx.socket(zmq.PUSH)  # push-created
push.bind("tcp://127.0.0.1:*")
collector = start_collector()  # collector-call
print(push.last_endpoint.decode())
"""


@pytest.mark.parametrize(
    "launcher",
    [pytest.param(ZMQSCOPE_MODULE, id="python-m-zmqscope"), pytest.param((), id="console-script")],
)
def test_module_level_leak_names_file_line_thread_and_bound_port(
    tmp_path: Path, launcher: Sequence[str]
) -> None:
    """The JSON leak points at the app's own line, with the port a wildcard bind got."""
    if not launcher:
        if not ZMQSCOPE_SCRIPT.exists():
            # In a virtual environment (make test's) the package is installed:
            # a missing script means a broken [project.scripts] entry.
            assert sys.prefix == sys.base_prefix, f"no console script at {ZMQSCOPE_SCRIPT}"
            pytest.skip(f"zmqscope is not installed beside this interpreter ({ZMQSCOPE_SCRIPT})")
        launcher = (str(ZMQSCOPE_SCRIPT),)
    report_path = tmp_path / "report.json"
    result = run_zmqscope(
        tmp_path, MODULE_LEVEL_LEAK, "--json", str(report_path), launcher=launcher
    )
    assert result.returncode == 0, describe(result)
    app = tmp_path / "app.py"
    report = read_report(report_path)

    push, pull = leaked_sockets(report)
    assert (push["type"], pull["type"]) == ("PUSH", "PULL")
    assert {leak_of(report, s["id"])["kind"] for s in (push, pull)} == {"open-at-exit"}

    site = push["created"]["stack"][0]
    assert site == own_frame(app, line_of(app, "push-created"), "<module>")
    assert_application_stack(push["created"]["stack"], app)
    assert push["created"]["thread"]["name"] == "MainThread"

    # A socket made in a function: that function first, then the line calling it.
    assert pull["created"]["stack"][:2] == [
        own_frame(app, line_of(app, "pull-created"), "start_collector"),
        own_frame(app, line_of(app, "collector-call"), "<module>"),
    ]
    assert_application_stack(pull["created"]["stack"], app)

    (endpoint,) = push["endpoints"]
    bound = result.stdout.strip()  # what the app itself saw as LAST_ENDPOINT
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", bound), bound
    assert endpoint["op"] == "bind"
    assert endpoint["url"] == bound
    assert endpoint["requested"] == "tcp://127.0.0.1:*"
    assert endpoint["active"] is True

    message = leak_of(report, push["id"])["message"]
    assert f"app.py:{line_of(app, 'push-created')}" in message
    assert bound in message
    assert report["process"]["argv"] == [str(app)]


NAMED_THREAD_LEAK = """
import threading

import zmq

ctx = zmq.Context()
kept = []


def serve():
    sock = ctx.socket(zmq.PULL)  # worker-socket
    sock.bind("inproc://jobs")
    kept.append(sock)


worker = threading.Thread(target=serve, name="worker-1")
worker.start()
worker.join()
"""


def test_socket_left_open_by_named_thread_names_that_thread(tmp_path: Path) -> None:
    """The thread that made the socket is named in the JSON and in the text on stderr."""
    report_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, NAMED_THREAD_LEAK, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    app = tmp_path / "app.py"
    report = read_report(report_path)

    (sock,) = leaked_sockets(report)
    thread = sock["created"]["thread"]
    assert thread["name"] == "worker-1"
    assert {"id": thread["id"], "name": "worker-1"} in sock["threads_used"]
    # Where the app started that thread (threads_used entries do not repeat it).
    assert thread["started"]["thread"]["name"] == "MainThread"
    assert thread["started"]["stack"][0]["file"] == str(app)
    assert sock["created"]["stack"][0] == own_frame(app, line_of(app, "worker-socket"), "serve")
    assert_application_stack(sock["created"]["stack"], app)
    assert "by worker-1" in leak_of(report, sock["id"])["message"]

    assert re.search(rf"thread\s+worker-1 \(id {thread['id']}\)", result.stderr), describe(result)
    assert f"app.py:{line_of(app, 'worker-socket')} in serve()" in result.stderr


TWO_KINDS_OF_LEAK = """
import zmq

ctx = zmq.Context()


def report_status():
    status = ctx.socket(zmq.PUB)  # dropped: collected without close()
    status.bind("inproc://status")


heartbeat = ctx.socket(zmq.PUB)  # kept open
report_status()
"""


def test_summary_is_a_single_line_in_logs(tmp_path: Path) -> None:
    """CI logs (stderr not a terminal, no COLUMNS) get the summary as one greppable line."""
    result = run_zmqscope(tmp_path, TWO_KINDS_OF_LEAK)
    assert result.returncode == 0, describe(result)
    summaries = [line for line in result.stderr.splitlines() if line.startswith("zmqscope: ")]
    assert len(summaries) == 1, describe(result)
    (summary,) = summaries
    assert "2 sockets created" in summary, describe(result)
    assert "open at exit" in summary, describe(result)
    assert summary.rstrip().endswith("collected without close()"), describe(result)


NESTED_LEAK = """
import zmq

ctx = zmq.Context()
kept = []


def open_socket():
    kept.append(ctx.socket(zmq.REQ))  # innermost


def connect_layer():
    open_socket()  # second


def service_layer():
    connect_layer()


def main():
    service_layer()


main()
"""


def test_markdown_report_names_the_leak_site(tmp_path: Path) -> None:
    """``--markdown`` writes a Markdown report with the leaked socket's file:line."""
    markdown_path = tmp_path / "report.md"
    result = run_zmqscope(tmp_path, NESTED_LEAK, "--markdown", str(markdown_path))
    assert result.returncode == 0, describe(result)
    line = line_of(tmp_path / "app.py", "innermost")

    markdown = markdown_path.read_text(encoding="utf-8")
    assert markdown.startswith("## zmqscope report")
    assert "| Socket | Type | Kind | Created at | Thread | Endpoints |" in markdown
    (row,) = [r for r in markdown.splitlines() if r.startswith("| `s1` |")]
    assert "REQ" in row
    assert "open-at-exit" in row
    # The working directory is tmp_path, so the path is shown relative to it.
    assert f"`app.py:{line}`" in row
    assert "MainThread" in row


@pytest.mark.parametrize(("depth", "expected"), [(None, 5), (2, 2), (1, 1)])
def test_stack_depth_limits_the_recorded_stack(
    tmp_path: Path, depth: int | None, expected: int
) -> None:
    """``--stack-depth N`` keeps the N innermost application frames."""
    report_path = tmp_path / "report.json"
    options = ["--json", str(report_path)]
    if depth is not None:
        options += ["--stack-depth", str(depth)]
    result = run_zmqscope(tmp_path, NESTED_LEAK, *options)
    assert result.returncode == 0, describe(result)
    app = tmp_path / "app.py"

    (sock,) = leaked_sockets(read_report(report_path))
    stack = sock["created"]["stack"]
    assert len(stack) == expected
    outermost_first = [
        ("open_socket", line_of(app, "innermost")),
        ("connect_layer", line_of(app, "second")),
        ("service_layer", None),
        ("main", None),
        ("<module>", None),
    ]
    assert [f["function"] for f in stack] == [name for name, _ in outermost_first[:expected]]
    for frame, (_, line) in zip(stack, outermost_first[:expected], strict=True):
        if line is not None:
            assert frame["line"] == line
    assert_application_stack(stack, app)


ASYNCIO_LEAK = """
import asyncio

import zmq
import zmq.asyncio

ctx = zmq.asyncio.Context()
kept = []


async def open_router():
    router = ctx.socket(zmq.ROUTER)  # coroutine-socket
    router.bind("tcp://127.0.0.1:*")
    kept.append(router)


async def main():
    await asyncio.create_task(open_router())


asyncio.run(main())
"""


def test_asyncio_socket_site_is_the_coroutine_line(tmp_path: Path) -> None:
    """A socket made inside a coroutine (in a task) is placed on the coroutine's line."""
    report_path = tmp_path / "report.json"
    result = run_zmqscope(tmp_path, ASYNCIO_LEAK, "--json", str(report_path))
    assert result.returncode == 0, describe(result)
    app = tmp_path / "app.py"

    (sock,) = leaked_sockets(read_report(report_path))
    assert sock["type"] == "ROUTER"
    assert sock["created"]["stack"][0] == own_frame(
        app, line_of(app, "coroutine-socket"), "open_router"
    )
    assert_application_stack(sock["created"]["stack"], app)
    (endpoint,) = sock["endpoints"]
    assert re.fullmatch(r"tcp://127\.0\.0\.1:\d+", endpoint["url"]), endpoint
    assert endpoint["requested"] == "tcp://127.0.0.1:*"


CALLS_FROM_ATEXIT = """
import atexit
import sys

import zmq
import zmqscope

zmqscope.install()


def write_report():
    with open(sys.argv[1], "w") as out:
        out.write(zmqscope.report().to_json())


atexit.register(write_report)  # registered first, so it runs last
ctx = zmq.Context()
closed_at_exit = ctx.socket(zmq.PUSH)
atexit.register(closed_at_exit.close)
connected_at_exit = ctx.socket(zmq.PULL)
connected_at_exit.setsockopt(zmq.LINGER, 0)
# atexit runs the last registered first: this connect, then the close above.
atexit.register(connected_at_exit.connect, "tcp://127.0.0.1:9")
"""


def test_calls_made_by_atexit_with_no_python_caller_are_recorded(tmp_path: Path) -> None:
    """A hook called straight from C (an atexit function) has no caller frame."""
    app = write_app(tmp_path, CALLS_FROM_ATEXIT)
    report_path = tmp_path / "report.json"
    result = run_python(str(app), str(report_path), cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    report = read_report(report_path)
    sockets = {s["type"]: s for s in report["sockets"]}
    assert sockets["PUSH"]["state"] == "closed"
    assert sockets["PUSH"]["closed"]["stack"] == []  # no line of anyone's called it
    assert sockets["PULL"]["state"] == "open"
    assert [e["url"] for e in sockets["PULL"]["endpoints"]] == ["tcp://127.0.0.1:9"]
    # zmqscope.report() describes a running process: its open socket is in use.
    in_use = [socket_id for group in report["inventory"] for socket_id in group["sockets"]]
    assert in_use == [sockets["PULL"]["id"]]
