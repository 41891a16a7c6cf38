"""File descriptors: an application out of them, and more idle connections than its limit.

Issue #14: libzmq's ipc listener aborted the application (SIGABRT,
``Too many open files (src/ipc_listener.cpp:297)``) at the first client of an
application out of descriptors, and 1,100 idle connections did the same
under ``ulimit -n 1024``. Each figure is 1 when the application lived on.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from _harness import Figure, Target, progress

from _attack import Settings, attack, child_env, counts_of, private_folder, wait_endpoint

STARVED = """
import os, resource, sys, time
import zmq

resource.setrlimit(resource.RLIMIT_NOFILE, ({limit}, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
ctx = zmq.Context()
push = ctx.socket(zmq.PUSH)
print("ready", flush=True)
held = []
if {exhaust}:
    while True:
        try:
            held.append(os.open(os.devnull, os.O_RDONLY))
        except OSError:
            break
print("exhausted" if {exhaust} else "waiting", flush=True)
while not os.path.exists("go"):
    time.sleep(0.05)
for descriptor in held:
    os.close(descriptor)
opened = [open(os.devnull) for _ in range(50)]
print("opened", len(opened), flush=True)
os._exit(0)
"""


def _start(folder: object, limit: int, exhaust: bool) -> subprocess.Popen[str]:
    from pathlib import Path

    assert isinstance(folder, Path)
    source = folder / "starved.py"
    source.write_text(STARVED.format(limit=limit, exhaust=exhaust), encoding="utf-8")
    return subprocess.Popen(
        [sys.executable, str(source)],
        cwd=folder,
        env=child_env(folder, {"ZMQSCOPE": "1"}),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def _finish(folder: object, app: subprocess.Popen[str]) -> bool:
    from pathlib import Path

    assert isinstance(folder, Path)
    (folder / "go").touch()
    try:
        out, _ = app.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        app.kill()
        app.wait(10)
        return False
    return app.returncode == 0 and "opened 50" in out


def bench_fds(settings: Settings) -> list[Figure]:
    progress("fds: report on an app with no descriptor left")
    with private_folder() as folder:
        app = _start(folder, 256, exhaust=True)
        assert app.stdout is not None
        assert app.stdout.readline() == "ready\n"
        wait_endpoint(folder, app.pid)
        assert app.stdout.readline() == "exhausted\n"
        report = subprocess.run(
            [sys.executable, "-m", "zmqscope", "report", str(app.pid), "--format", "json"],
            env=child_env(folder),
            capture_output=True,
            text=True,
            timeout=60,
        )
        answered = report.returncode == 0
        told = answered and json.loads(report.stdout)["limits"]["fds"] == 256
        starved_lived = _finish(folder, app)
    idle_count, limit = settings.idle_connections, settings.idle_limit
    progress(f"fds: {idle_count:,} idle connections under a limit of {limit:,}")
    with private_folder() as folder:
        app = _start(folder, settings.idle_limit, exhaust=False)
        assert app.stdout is not None
        assert app.stdout.readline() == "ready\n"
        endpoint = wait_endpoint(folder, app.pid)
        assert app.stdout.readline() == "waiting\n"
        idle = attack(
            endpoint,
            "--mode",
            "idle",
            "--clients",
            str(settings.idle_connections),
            "--seconds",
            "3",
        )
        connected = counts_of(idle).get("connected", 0)
        time.sleep(0.5)
        idle_lived = _finish(folder, app)
    yes = Target(">=", 1.0)
    return [
        Figure.of(
            "fds_starved_lived",
            "app out of descriptors, asked by report: lived on",
            [starved_lived],
            "",
            yes,
        ),
        Figure.of("fds_starved_answered", "  report answered", [answered], "", yes),
        Figure.of("fds_starved_told", "  ... and said fds = limit", [told], "", yes),
        Figure.of(
            "fds_idle_lived",
            f"{idle_count:,} idle connections, ulimit -n {limit:,}: lived on",
            [idle_lived],
            "",
            yes,
            {"connections_made": connected},
        ),
    ]
