"""``zmqscope run`` follows the Python processes its application starts: one report for the tree."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.hanging import running
from tests.helpers.processes import describe, run_zmqscope, write_app, zmqscope_cli
from tests.helpers.serving import short_folder, wait_until

pytestmark = pytest.mark.timeout(120)

# A broker that its application starts as a subprocess, and two workers that
# connect to it; worker 2 leaves its socket open.
BROKER_APP = """
import os, subprocess, sys, textwrap
import zmq

WORKER = textwrap.dedent('''
    import sys, zmq
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.connect(sys.argv[1])
    push.send(sys.argv[2].encode())
    if sys.argv[2] == "1":
        push.close()
        ctx.term()
    else:
        globals()["kept"] = push  # worker 2 leaks its socket
''')

if sys.argv[1:] == ["broker"]:
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    port = pull.bind_to_random_port("tcp://127.0.0.1")
    workers = [
        subprocess.Popen([sys.executable, "-c", WORKER, f"tcp://127.0.0.1:{port}", str(n)])
        for n in (1, 2)
    ]
    got = sorted(pull.recv() for _ in workers)
    for worker in workers:
        worker.wait(timeout=30)
    pull.close()
    ctx.term()
    print("broker got", got, file=sys.stderr, flush=True)
else:
    ctx = zmq.Context()
    ctx.socket(zmq.PAIR).close()
    subprocess.run([sys.executable, __file__, "broker"], check=True, timeout=60)
    ctx.term()
    print("parent pid", os.getpid(), file=sys.stderr, flush=True)
"""

# A multiprocessing child of each start method that leaves a socket open.
MULTIPROCESSING_APP = """
import multiprocessing, os, sys
import zmq

def leak():
    ctx = zmq.Context()
    globals()["kept"] = ctx.socket(zmq.DEALER)  # the child's leak

if __name__ == "__main__":
    ctx = zmq.Context()
    own = ctx.socket(zmq.PUB)
    child = multiprocessing.get_context(sys.argv[1]).Process(target=leak)
    child.start()
    child.join(60)
    own.close()
    ctx.term()
    print("exitcode", child.exitcode, "child", child.pid, file=sys.stderr, flush=True)
"""

# A child that waits in recv() until its parent terminates it.
TERMINATED_APP = """
import multiprocessing, os, signal, sys, time
import zmq

def serve(ready, own_handler):
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    pull.bind("inproc://waiting")
    if own_handler:
        def stop(number, frame):
            open("handled", "w").close()
            os._exit(7)
        signal.signal(signal.SIGTERM, stop)
    ready.set()
    pull.recv()

if __name__ == "__main__":
    method = multiprocessing.get_context(sys.argv[2])
    ready = method.Event()
    child = method.Process(target=serve, args=(ready, sys.argv[1] == "own"))
    child.start()
    ready.wait(60)
    child.terminate()
    child.join(60)
    print("exitcode", child.exitcode, file=sys.stderr, flush=True)
"""

# Children that armed and left no report: one killed, one still running.
UNREPORTED_APP = """
import os, signal, subprocess, sys, time
import zmq

CHILD = '''
import sys, time, zmq
ctx = zmq.Context()
sock = ctx.socket(zmq.REP)
print("ready", flush=True)
time.sleep(float(sys.argv[1]))
'''

killed = subprocess.Popen([sys.executable, "-c", CHILD, "60"], stdout=subprocess.PIPE, text=True)
running = subprocess.Popen([sys.executable, "-c", CHILD, "3"], stdout=subprocess.PIPE, text=True)
assert killed.stdout.readline() == "ready\\n"
assert running.stdout.readline() == "ready\\n"
killed.kill()
killed.wait()
print("killed", killed.pid, "running", running.pid, file=sys.stderr, flush=True)
"""

# pyzmq's ProcessDevice, busy forwarding a flood in C (zmq_proxy), terminated.
BUSY_DEVICE_APP = """
import sys, threading, time
import zmq
from zmq.devices import ProcessDevice

if __name__ == "__main__":
    device = ProcessDevice(zmq.STREAMER, zmq.PULL, zmq.PUSH)
    device.setsockopt_in(zmq.LINGER, 0)
    device.setsockopt_out(zmq.LINGER, 0)
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    pull = ctx.socket(zmq.PULL)
    in_port = push.bind_to_random_port("tcp://127.0.0.1")
    out_port = pull.bind_to_random_port("tcp://127.0.0.1")
    device.connect_in(f"tcp://127.0.0.1:{in_port}")
    device.connect_out(f"tcp://127.0.0.1:{out_port}")
    device.start()
    stop = threading.Event()

    def flood():
        while not stop.is_set():
            try:
                push.send(b"x" * 100, zmq.NOBLOCK)
            except zmq.Again:
                time.sleep(0.001)

    sender = threading.Thread(target=flood)
    sender.start()
    for _ in range(20000):  # the device is busy forwarding, in C
        pull.recv()
    device.launcher.terminate()
    device.launcher.join(20)
    stop.set()
    sender.join()
    print("exitcode", device.launcher.exitcode, file=sys.stderr, flush=True)
    if device.launcher.exitcode is None:  # do not wait for it at exit
        device.launcher.kill()
    for sock in (push, pull):
        sock.close(linger=0)
    ctx.term()
"""

ENVIRONMENT_APP = """
import subprocess, sys
import zmq

ctx = zmq.Context()
ctx.term()
code = "import os; print(os.environ.get('ZMQSCOPE', '-'), os.environ.get('ZMQSCOPE_TREE', '-'))"
subprocess.run([sys.executable, "-c", code], check=True)
"""


@pytest.fixture
def base() -> Iterator[Path]:
    """A private XDG_RUNTIME_DIR: the run's tree folder is made under it."""
    with short_folder() as folder:
        yield folder


def _run(tmp_path: Path, base: Path, app: str, *options: str, args: tuple[str, ...] = ()) -> Any:
    result = run_zmqscope(
        tmp_path,
        app,
        "--no-serve",
        *options,
        app_args=args,
        env={"XDG_RUNTIME_DIR": str(base), "COLUMNS": "200"},
    )
    return result


def _leaked_types(report: dict[str, Any]) -> list[str]:
    types = {s["id"]: s["type"] for s in report["sockets"]}
    return sorted(types[leak["socket"]] for leak in report["leaks"])


def _tree_folders(base: Path) -> list[Path]:
    return sorted((base / "zmqscope").glob("tree-*"))


def test_a_broker_and_its_two_workers_are_in_the_parents_report(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, BROKER_APP, "--json", str(tmp_path / "tree.json"))
    assert result.returncode == 0, describe(result)
    assert "broker got [b'1', b'2']" in result.stderr
    report = json.loads((tmp_path / "tree.json").read_text())
    processes = {p["pid"]: p for p in report["processes"]}
    assert len(processes) == 3, describe(result)
    broker = next(p for p in processes.values() if p["process"]["argv"][-1] == "broker")
    workers = [p for p in processes.values() if p is not broker]
    assert broker["ppid"] == report["process"]["pid"]
    assert broker["process"]["ppid"] == report["process"]["pid"]
    assert all(w["ppid"] == broker["pid"] for w in workers)
    assert _leaked_types(broker) == []
    assert sorted(_leaked_types(w) for w in workers) == [[], ["PUSH"]]
    assert _leaked_types(report) == []  # the parent's own
    assert report["unreported"] == []
    summaries = [line for line in result.stderr.splitlines() if line.startswith("zmqscope")]
    assert summaries == ["zmqscope: 1 socket created, no leaks; 3 child processes: 1 leak"]
    leaker = next(w for w in workers if w["leaks"])
    heading = f"process {leaker['pid']} (-c tcp://127.0.0.1:"
    assert heading in result.stderr, describe(result)
    assert _tree_folders(base) == []  # removed after the report


@pytest.mark.parametrize("method", ["spawn", "forkserver", "fork"])
def test_a_multiprocessing_childs_leak_is_under_its_process(
    tmp_path: Path, base: Path, method: str
) -> None:
    result = _run(tmp_path, base, MULTIPROCESSING_APP, "--json", str(tmp_path / "r.json"),
                  args=(method,))  # fmt: skip
    assert result.returncode == 0, describe(result)
    assert "exitcode 0 child" in result.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    assert _leaked_types(report) == []  # the parent closed its PUB
    assert report["summary"]["sockets_total"] == 1  # its PUB, nothing of the child's
    [child] = report["processes"]
    assert _leaked_types(child) == ["DEALER"]
    assert child["summary"]["sockets_total"] == 1  # nothing of the parent's
    assert f"child {child['pid']}" in result.stderr
    lines = result.stderr.splitlines()
    # A parent that forked names its pid ("zmqscope (pid N): ...").
    summaries = [line for line in lines if line.startswith("zmqscope")]
    assert len(summaries) == 1, describe(result)
    assert summaries[0].endswith(" 1 socket created, no leaks; 1 child process: 1 leak")
    assert any(
        line.startswith(f"process {child['pid']} (") and line.endswith("1 leak: 1 open at exit")
        for line in lines
    ), describe(result)


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_a_terminated_child_still_delivers_and_dies_of_sigterm(
    tmp_path: Path, base: Path, method: str
) -> None:
    result = _run(tmp_path, base, TERMINATED_APP, "--json", str(tmp_path / "r.json"),
                  args=("default", method))  # fmt: skip
    assert result.returncode == 0, describe(result)
    assert "exitcode -15" in result.stderr  # killed by SIGTERM, as without zmqscope
    report = json.loads((tmp_path / "r.json").read_text())
    [child] = report["processes"]
    assert _leaked_types(child) == ["PULL"]
    assert report["unreported"] == []


def test_a_busy_process_device_terminated_dies_of_sigterm_with_its_report(
    tmp_path: Path, base: Path
) -> None:
    # Its main thread forwards messages in C: a Python handler alone would
    # never run, and the device would not die (its parent waiting in join()).
    result = _run(tmp_path, base, BUSY_DEVICE_APP, "--json", str(tmp_path / "r.json"))
    assert result.returncode == 0, describe(result)
    assert "exitcode -15" in result.stderr, describe(result)
    [device] = json.loads((tmp_path / "r.json").read_text())["processes"]
    assert sorted(s["type"] for s in device["sockets"]) == ["PULL", "PUSH"]


def test_a_childs_own_sigterm_handler_wins(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, TERMINATED_APP, args=("own", "spawn"))
    assert result.returncode == 0, describe(result)
    assert "exitcode 7" in result.stderr, describe(result)  # its handler ran, not ours
    assert (tmp_path / "handled").exists()
    # It ended with os._exit in its own handler: named, not lost.
    assert "ended without a report" in result.stderr, describe(result)


def test_children_without_a_report_are_named(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, UNREPORTED_APP, "--json", str(tmp_path / "r.json"))
    assert result.returncode == 0, describe(result)
    words = next(line for line in result.stderr.splitlines() if line.startswith("killed")).split()
    killed, running = int(words[1]), int(words[3])
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["processes"] == []
    states = {p["pid"]: p["running"] for p in report["unreported"]}
    assert states == {killed: False, running: True}
    assert "1 child processes" not in result.stderr
    assert "2 child processes: no leaks, 2 without a report" in result.stderr
    assert f"process {killed} (-c 60): ended without a report" in result.stderr
    assert f"process {running} (-c 3): still running when the report was made" in result.stderr
    # It ended later (its stderr is the run's, read to its end): its report is not lost.
    late = f"zmqscope: process {running} ended after the run that started it had reported;"
    assert f"{late} its own report:" in result.stderr.splitlines(), describe(result)


def test_fail_on_leak_counts_a_childs_leak(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, MULTIPROCESSING_APP, "--fail-on-leak", args=("spawn",))
    assert result.returncode == 3, describe(result)


def test_no_children_leaves_them_alone(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, ENVIRONMENT_APP, "--no-children")
    assert result.returncode == 0, describe(result)
    assert result.stdout == "- -\n"  # neither ZMQSCOPE nor the folder reached the child
    followed = _run(tmp_path, base, ENVIRONMENT_APP)
    zmqscope, folder = followed.stdout.split()
    assert zmqscope == "1" and folder.startswith(str(base / "zmqscope" / "tree-"))
    assert not Path(folder).exists()


def test_no_children_keeps_the_childs_report_out(tmp_path: Path, base: Path) -> None:
    result = _run(tmp_path, base, MULTIPROCESSING_APP, "--no-children", "--fail-on-leak",
                  args=("spawn",))  # fmt: skip
    assert result.returncode == 0, describe(result)
    assert "child process" not in result.stderr


def test_the_saved_tree_report_shows_every_process(tmp_path: Path, base: Path) -> None:
    path = tmp_path / "r.json"
    result = _run(tmp_path, base, MULTIPROCESSING_APP, "--json", str(path), args=("spawn",))
    assert result.returncode == 0, describe(result)
    child = json.loads(path.read_text())["processes"][0]["pid"]
    shown = zmqscope_cli("report", str(path), cwd=tmp_path, env={"COLUMNS": "200"})
    assert shown.returncode == 0, describe(shown)
    assert "1 child process: 1 leak" in shown.stdout
    assert f"process {child} (" in shown.stdout
    assert "DEALER" in shown.stdout
    markdown = zmqscope_cli("report", "--format", "markdown", str(path), cwd=tmp_path)
    assert f"## Process {child}" in markdown.stdout, describe(markdown)


def test_pid_paths_are_written_by_each_child(tmp_path: Path, base: Path) -> None:
    pattern = str(tmp_path / "each-{pid}.json")
    result = _run(tmp_path, base, MULTIPROCESSING_APP, "--json", pattern, args=("spawn",))
    assert result.returncode == 0, describe(result)
    written = sorted(p.name for p in tmp_path.glob("each-*.json"))
    assert len(written) == 2, describe(result)
    tree = [json.loads((tmp_path / name).read_text()) for name in written]
    root = next(doc for doc in tree if doc["processes"])
    child = next(doc for doc in tree if not doc["processes"])
    assert root["processes"][0]["pid"] == child["process"]["pid"]
    assert _leaked_types(child) == ["DEALER"]


# A parent that serves, with two spawn workers that serve too, until told to stop.
SERVING_TREE_APP = """
import multiprocessing, os, sys, time
import zmq

def work(number):
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PULL)
    open(f"worker-{number}", "w").close()
    while not os.path.exists("stop"):
        time.sleep(0.05)
    sock.close()
    ctx.term()

if __name__ == "__main__":
    ctx = zmq.Context()
    sock = ctx.socket(zmq.PUSH)
    method = multiprocessing.get_context("spawn")
    workers = [method.Process(target=work, args=(n,)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    while not all(os.path.exists(f"worker-{n}") for n in (1, 2)):
        time.sleep(0.05)
    print("ready", file=sys.stderr, flush=True)
    for worker in workers:
        worker.join(60)
    sock.close()
    ctx.term()
"""


def test_ls_shows_the_workers_under_their_parent(tmp_path: Path, base: Path) -> None:
    app = write_app(tmp_path, SERVING_TREE_APP)
    with running(app, cwd=tmp_path, env={"XDG_RUNTIME_DIR": str(base)}) as tree:
        tree.wait_for("ready")
        root = tree.process.pid
        env = {"XDG_RUNTIME_DIR": str(base)}
        wait_until(
            lambda: (
                len(json.loads(zmqscope_cli("ls", "--json", cwd=tmp_path, env=env).stdout)) == 3
            ),
            "three processes listed",
        )
        rows = json.loads(zmqscope_cli("ls", "--json", cwd=tmp_path, env=env).stdout)
        table = zmqscope_cli("ls", cwd=tmp_path, env=env).stdout.splitlines()
        (tmp_path / "stop").touch()
        assert tree.wait_exit() == 0, tree.stderr
    assert [(row["depth"], row["parent"]) for row in rows] == [(0, None), (1, root), (1, root)]
    assert rows[0]["pid"] == root
    assert all(row["ppid"] == root for row in rows[1:])
    workers = [row["pid"] for row in rows[1:]]
    assert [line.split()[0] for line in table[1:]] == [str(root), *map(str, workers)]
    assert [line.startswith("  ") for line in table[1:]] == [False, True, True]
    assert "0 child processes" not in tree.stderr
    assert "2 child processes: no leaks" in tree.stderr, tree.stderr


def test_an_untrusted_runtime_folder_leaves_the_children_alone(tmp_path: Path, base: Path) -> None:
    (base / "zmqscope").mkdir(mode=0o755)
    (base / "zmqscope").chmod(0o755)  # whatever the umask
    result = _run(tmp_path, base, ENVIRONMENT_APP)
    assert result.returncode == 0, describe(result)
    assert result.stdout == "- -\n"  # the application ran, its child as without zmqscope
    assert "zmqscope: not following child processes: refusing " in result.stderr
