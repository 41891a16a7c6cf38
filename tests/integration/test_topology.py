"""``zmqscope topology`` over a real process tree, and over saved reports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pydot
import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import clean_env, describe, line_of, write_app, zmqscope_cli
from tests.helpers.serving import runtime_env, short_folder, wait_until
from tests.helpers.topology_apps import write_tree

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:'setParseAction' deprecated"),
]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


@contextmanager
def process_tree(folder: Path, base: Path) -> Iterator[dict[str, int]]:
    """The tree of tests/helpers/topology_apps.py running; pids by name. Stopped afterwards."""
    parent_app = write_tree(folder)
    (folder / "free-port").write_text(str(free_port()))
    plain = subprocess.Popen(
        [sys.executable, "plain_listener.py"], cwd=folder, env=clean_env(runtime_env(base))
    )
    try:
        wait_until((folder / "plain-port").exists, "the plain listener")
        env = runtime_env(base, {"ZMQSCOPE": "1", "ZMQSCOPE_TRAFFIC": "1"})
        with running(parent_app, cwd=folder, command=[sys.executable], env=env) as parent:
            parent.wait_for("ready")
            try:
                yield {"parent": parent.process.pid, "plain": plain.pid}
            finally:
                (folder / "stop").touch()
                parent.wait_exit(timeout=60)
    finally:
        (folder / "stop").touch()
        plain.wait(timeout=30)


def topology(folder: Path, base: Path, *args: str) -> Any:
    result = zmqscope_cli("topology", "--format", "json", *args, cwd=folder, env=runtime_env(base))
    assert result.returncode == 0, describe(result)
    return json.loads(result.stdout)


def by_role(document: Any, lines: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Processes by role: broker, a, b and c by the lines their sockets were made at, and plain.

    spawn and fork children both say the parent's argv (multiprocessing sets it).
    """
    found: dict[str, dict[str, Any]] = {}
    for process in document["processes"]:
        if not process["instrumented"]:
            if "plain_listener.py" in " ".join(process["argv"]):
                found["plain"] = process
            continue
        made = {_line(node) for node in process["sockets"]}
        for role in ("broker", "a", "b", "c"):
            if lines[f"{role}-dealer" if role != "broker" else "broker-router"] in made:
                found[role] = process
    return found


def _line(node: dict[str, Any]) -> int:
    created = node["record"]["created"]
    return int(created["stack"][created["user_frame"]]["line"])


def key_of(process: dict[str, Any], marker_line: int) -> str:
    """The key of the process's socket made at ``marker_line``."""
    for node in process["sockets"]:
        if _line(node) == marker_line:
            return str(node["key"])
    raise AssertionError(f"no socket made at line {marker_line} in {process['argv']}")


def test_the_wiring_of_a_real_process_tree_and_each_diagnosis(tmp_path: Path) -> None:
    with short_folder() as base, process_tree(tmp_path, base) as pids:
        document = topology(tmp_path, base, "--grace", "0", "--timeout", "10")
        text = zmqscope_cli("topology", cwd=tmp_path, env=runtime_env(base))
        failing = zmqscope_cli(
            "topology",
            "--fail-on-diagnosis",
            "--format",
            "dot",
            cwd=tmp_path,
            env=runtime_env(base),
        )
        mermaid = zmqscope_cli(
            "topology", "--format", "mermaid", cwd=tmp_path, env=runtime_env(base)
        )
    lines = {
        marker: line_of(tmp_path / file, marker)
        for file, markers in {
            "broker.py": ("broker-router", "broker-pub", "broker-lonely", "broker-pair"),
            "workers.py": ("a-dealer", "a-sub", "a-req", "a-plain", "b-dealer", "b-sub",
                           "b-nowhere", "c-dealer", "c-pull", "c-pair"),
        }.items()
        for marker in markers
    }  # fmt: skip

    assert document["schema"] == "zmqscope.topology/1"
    processes = by_role(document, lines)
    assert set(processes) == {"broker", "a", "b", "c", "plain"}, document["processes"]
    assert processes["plain"]["pid"] == pids["plain"]
    assert all(p["reach"] == "live" for n, p in processes.items() if n != "plain")

    def key(name: str, marker: str) -> str:
        return key_of(processes[name], lines[marker])

    edges = {(e["source"]["socket"], e["target"]["socket"]) for e in document["edges"]}
    router, pub = key("broker", "broker-router"), key("broker", "broker-pub")
    assert {
        (key("a", "a-dealer"), router),
        (key("b", "b-dealer"), router),
        (key("c", "c-dealer"), router),
        (key("a", "a-req"), router),
        (key("a", "a-sub"), pub),  # a relative ipc path, from each one's working directory
        (key("b", "b-sub"), pub),
        (key("c", "c-pull"), pub),
    } <= edges
    (to_plain,) = [e for e in document["edges"] if e["source"]["socket"] == key("a", "a-plain")]
    assert to_plain["target"] == {
        "process": str(pids["plain"]),
        "socket": None,
        "endpoint": to_plain["source"]["endpoint"],
    }

    found = {(d["kind"], tuple(d["sockets"])): d["message"] for d in document["diagnoses"]}
    expected = {
        ("connect-to-nothing", (key("b", "b-nowhere"),)): f"workers.py:{lines['b-nowhere']}",
        ("unused-bind", (key("broker", "broker-lonely"),)): f"broker.py:{lines['broker-lonely']}",
        ("incompatible-types", (key("c", "c-pull"), pub)): f"workers.py:{lines['c-pull']}",
        ("double-bind", (key("c", "c-pair"), key("broker", "broker-pair"))): "replaced the socket",
        ("no-subscription", (key("b", "b-sub"),)): f"workers.py:{lines['b-sub']}",
        ("req-waiting", (key("a", "a-req"),)): f"workers.py:{lines['a-req']}",
    }
    for diagnosis, words in expected.items():
        assert diagnosis in found, (diagnosis, found)
        assert words in found[diagnosis]
    # Nothing connects to the last PAIR; the first, replaced, is told once (double-bind).
    assert ("unused-bind", (key("c", "c-pair"),)) in found
    assert ("unused-bind", (key("broker", "broker-pair"),)) not in found
    assert len(found) == len(expected) + 1, "\n".join(found.values())

    assert text.returncode == 0, describe(text)
    assert "incompatible-types" in text.stdout and "plain_listener.py" in text.stdout
    assert failing.returncode == 3, describe(failing)
    graphs = pydot.graph_from_dot_data(failing.stdout)
    assert graphs is not None and len(graphs[0].get_edges()) == len(document["edges"])
    assert mermaid.returncode == 0 and mermaid.stdout.startswith("flowchart LR\n")


HUNG_APP = """
import sys, time
import zmq
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)
pull.bind("ipc://hung.sock")
print("ready", file=sys.stderr, flush=True)
time.sleep(60)
"""


def test_a_stopped_process_is_listed_as_not_answering_and_holds_nothing_up(
    tmp_path: Path,
) -> None:
    app = write_app(tmp_path, HUNG_APP, "hung.py")
    other = write_app(tmp_path, HUNG_APP.replace("hung.sock", "other.sock"), "other.py")
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        with (
            running(app, cwd=tmp_path, command=[sys.executable], env=env) as hung,
            running(other, cwd=tmp_path, command=[sys.executable], env=env) as alive,
        ):
            hung.wait_for("ready")
            alive.wait_for("ready")
            wait_until(lambda: len(list((base / "zmqscope").glob("*.json"))) == 2, "both serving")
            os.kill(hung.process.pid, signal.SIGSTOP)
            try:
                document = topology(tmp_path, base, "--timeout", "0.5")
            finally:
                os.kill(hung.process.pid, signal.SIGCONT)
    reach = {p["pid"]: (p["reach"], p["problem"]) for p in document["processes"]}
    assert reach[hung.process.pid][0] == "no-answer"
    assert "no answer" in reach[hung.process.pid][1]
    assert reach[alive.process.pid] == ("live", None)
    # Its bind is not called unused while a process whose sockets are unknown might use it.
    (unused,) = [d for d in document["diagnoses"] if d["kind"] == "unused-bind"]
    assert f"unless through pid {hung.process.pid}" in unused["message"]


LEAVING_BINDER = """
import zmq
ctx = zmq.Context()
pub = ctx.socket(zmq.PUB)  # saved-pub
pub.bind("ipc:///tmp/zmqscope-topology-saved-{tag}.sock")
"""
LEAVING_CONNECTER = """
import zmq
ctx = zmq.Context()
pull = ctx.socket(zmq.PULL)  # saved-pull
pull.connect("ipc:///tmp/zmqscope-topology-saved-{tag}.sock")
"""


def test_saved_reports_and_a_report_listing_its_children(tmp_path: Path) -> None:
    tag = str(os.getpid())
    reports = []
    for name, source in (("binder", LEAVING_BINDER), ("connecter", LEAVING_CONNECTER)):
        app = write_app(tmp_path, source.replace("{tag}", tag), f"{name}.py")
        result = zmqscope_cli("run", "--json", f"{name}.json", str(app), cwd=tmp_path)
        assert result.returncode == 0, describe(result)
        reports.append(tmp_path / f"{name}.json")
    # One document: the binder's report with the connecter's as a child (helper A's 'processes').
    parent = json.loads(reports[0].read_text())
    parent["processes"] = [json.loads(reports[1].read_text())]
    (tmp_path / "tree.json").write_text(json.dumps(parent))

    for files in ([str(r) for r in reports], ["tree.json"]):
        result = zmqscope_cli("topology", "--format", "json", *files, cwd=tmp_path)
        assert result.returncode == 0, describe(result)
        document = json.loads(result.stdout)
        assert [p["reach"] for p in document["processes"]] == ["saved", "saved"]
        (edge,) = document["edges"]
        assert edge["compatible"] is False
        (diagnosis,) = document["diagnoses"]
        assert diagnosis["kind"] == "incompatible-types"
        assert (
            f"connecter.py:{line_of(tmp_path / 'connecter.py', 'saved-pull')}"
            in (diagnosis["message"])
        )
        assert not document["host_checked"]
        # Exit reports keep only what was open at exit: the topology says so.
        assert all("exit report" in p["problem"] for p in document["processes"])

    broken = zmqscope_cli("topology", "binder.py", cwd=tmp_path)
    assert broken.returncode == 2
    assert broken.stderr.count("\n") == 1 and broken.stderr.startswith("zmqscope: error: ")


TREE_PARENT = """
import subprocess, sys
for name in ("binder.py", "connecter.py"):
    subprocess.run([sys.executable, name], check=True, timeout=60)
"""


def test_the_report_of_a_run_that_followed_its_children_draws_their_wiring(
    tmp_path: Path,
) -> None:
    tag = f"tree-{os.getpid()}"
    write_app(tmp_path, LEAVING_BINDER.replace("{tag}", tag), "binder.py")
    write_app(tmp_path, LEAVING_CONNECTER.replace("{tag}", tag), "connecter.py")
    parent = write_app(tmp_path, TREE_PARENT, "parent.py")
    ran = zmqscope_cli("run", "--json", "tree.json", str(parent), cwd=tmp_path)
    assert ran.returncode == 0, describe(ran)

    result = zmqscope_cli("topology", "--format", "json", "tree.json", cwd=tmp_path)
    assert result.returncode == 0, describe(result)
    document = json.loads(result.stdout)
    commands = sorted(p["argv"][-1] for p in document["processes"] if p["sockets"])
    assert [Path(c).name for c in commands] == ["binder.py", "connecter.py"]
    (edge,) = document["edges"]
    assert edge["compatible"] is False
    (diagnosis,) = document["diagnoses"]
    assert diagnosis["kind"] == "incompatible-types"
    assert (
        f"connecter.py:{line_of(tmp_path / 'connecter.py', 'saved-pull')}" in (diagnosis["message"])
    )


PLAIN_UNIX_SERVER = """
import os, socket, sys, time
server = socket.socket(socket.AF_UNIX)
server.bind("plain.sock")
server.listen()
print("ready", file=sys.stderr, flush=True)
deadline = time.monotonic() + 60
while not os.path.exists("stop") and time.monotonic() < deadline:
    time.sleep(0.05)
"""
IPC_CLIENT = """
import sys, time
import zmq
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)  # to-plain
push.connect("ipc://plain.sock")
print("ready", file=sys.stderr, flush=True)
time.sleep(60)
"""


def test_an_ipc_peer_that_is_not_instrumented_comes_from_the_unix_table(tmp_path: Path) -> None:
    server = write_app(tmp_path, PLAIN_UNIX_SERVER, "plain_server.py")
    client = write_app(tmp_path, IPC_CLIENT, "client.py")
    with short_folder() as base:
        env = runtime_env(base, {"ZMQSCOPE": "1"})
        with (
            running(server, cwd=tmp_path, command=[sys.executable], env=runtime_env(base)) as plain,
            running(client, cwd=tmp_path, command=[sys.executable], env=env) as instrumented,
        ):
            plain.wait_for("ready")
            instrumented.wait_for("ready")
            wait_until(lambda: any((base / "zmqscope").glob("*.json")), "the client serving")
            document = topology(tmp_path, base)
            (tmp_path / "stop").touch()
    (edge,) = document["edges"]
    assert edge["source"]["socket"] == f"{instrumented.process.pid}/s1"
    assert edge["target"] == {
        "process": str(plain.process.pid),
        "socket": None,
        "endpoint": f"ipc://{tmp_path}/plain.sock",
    }
    peer = next(p for p in document["processes"] if p["pid"] == plain.process.pid)
    assert not peer["instrumented"] and "plain_server.py" in " ".join(peer["argv"])
    assert document["diagnoses"] == []
