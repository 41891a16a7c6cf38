"""What an idle server costs: CPU time of a process that serves and does nothing else.

Two processes run side by side for the same seconds, each with the same open
sockets and instrumented alike; one serves introspection, the other does not.
Their CPU time (all threads) is read from Linux's schedstat, else psutil.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
from _harness import Figure, Target, progress

from _server import Settings, private_runtime

IDLE_APP = """
import sys, time
import zmq, zmqscope

zmqscope.install()
ctx = zmq.Context()
sockets = [ctx.socket(zmq.PAIR) for _ in range({sockets})]
if sys.argv[1] == "serve":
    zmqscope.serve()
print("ready", flush=True)
time.sleep(600)
"""


def child_env(folder: Path) -> dict[str, str]:
    """This environment without zmqscope's switches, with its own runtime folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")}
    return env | {"XDG_RUNTIME_DIR": str(folder)}


def start(mode: str, sockets: int, folder: Path) -> subprocess.Popen[str]:
    source = IDLE_APP.format(sockets=sockets)
    return subprocess.Popen(
        [sys.executable, "-c", source, mode],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env=child_env(folder),
    )


def cpu_seconds(process: psutil.Process) -> float:
    """CPU time of every thread of ``process``, in ns steps where Linux offers them.

    psutil's cpu_times() counts in clock ticks (10 ms): too coarse for a few
    wake-ups a second. /proc/PID/task/TID/schedstat counts nanoseconds.
    """
    tasks = Path(f"/proc/{process.pid}/task")
    if tasks.is_dir():
        total = 0
        for task in tasks.iterdir():
            with contextlib.suppress(OSError):
                total += int((task / "schedstat").read_text().split()[0])
        return total / 1e9
    times = process.cpu_times()
    return float(times.user + times.system)


def bench_idle(settings: Settings) -> list[Figure]:
    seconds = settings.idle_seconds
    progress(f"idle server: {seconds:g} s, serving and not serving side by side")
    with private_runtime() as folder:
        children = {mode: start(mode, settings.idle_sockets, folder) for mode in ("serve", "plain")}
        try:
            for child in children.values():
                assert child.stdout is not None and child.stdout.readline() == "ready\n"
            time.sleep(1.0)  # let start-up work (imports, first allocations) settle
            handles = {mode: psutil.Process(child.pid) for mode, child in children.items()}
            before = {mode: cpu_seconds(h) for mode, h in handles.items()}
            started = time.perf_counter()
            time.sleep(seconds)
            elapsed = time.perf_counter() - started
            used = {mode: cpu_seconds(h) - before[mode] for mode, h in handles.items()}
        finally:
            for child in children.values():
                child.kill()
                child.wait(10)
    percent = {mode: used[mode] / elapsed * 100 for mode in used}
    detail = {"seconds": elapsed, "open_sockets": settings.idle_sockets, "cpu_seconds": used}
    return [
        Figure.of(
            "idle_serving_cpu",
            "idle process serving introspection, CPU",
            [percent["serve"]],
            "% core",
            Target("<=", 0.5),
            detail,
        ),
        Figure.of("idle_plain_cpu", "same process, not serving, CPU", [percent["plain"]], "% core"),
    ]
