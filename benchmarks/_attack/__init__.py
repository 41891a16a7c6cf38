"""The parts of ``bench_attack.py``: what each measures is in its own module.

The victim is an instrumented application in its own process (``ZMQSCOPE=1``)
that serves introspection on a private runtime folder and times its own
messaging; the attackers are other processes, as another tool of the user's
would be. They speak whatever the server speaks on its endpoint, so that the
same attacks can be run against an older zmqscope (``PYTHONPATH=old-tree``)
for the before-and-after figures of benchmarks/README.md.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How much work each part does; ``--quick`` trades precision for time."""

    before: float = 3.0  # seconds of the victim's rate before an attack
    during: float = 5.0  # seconds of attack
    after: float = 5.0  # seconds after the attackers left
    flood_clients: int = 2
    flood_rounds: int = 3  # before, during, after, each round
    flood_depth: int = 1_500  # requests each flooding client keeps sent and unanswered
    victim_sockets: int = 300
    unread_clients: int = 150
    unread_hold: float = 20.0  # seconds the unread clients stay; RSS read in the last half
    unread_sockets: int = 2_000
    frames: int = 2_000  # frames of 60 KB in one tcp request
    announced: int = 2**32 - 1  # the length an ipc request claims
    sent_mb: int = 200  # ... of which this much is sent
    idle_connections: int = 1_100
    idle_limit: int = 1_024
    churn_threads: int = 8
    churn_rounds: int = 5  # rounds per arm: plain, instrumented, instrumented and polled
    churn_seconds: float = 3.0
    poll_interval: float = 0.01


FULL = Settings()
QUICK = Settings(
    before=1.5,
    during=2.0,
    after=2.5,
    flood_rounds=1,
    unread_clients=60,
    unread_hold=6.0,
    frames=500,
    sent_mb=50,
    churn_rounds=2,
    churn_seconds=2.0,
)

MiB = 1024 * 1024


def _cpus() -> tuple[int | None, int | None]:
    """The application's CPU and the one its attackers (or clients) run on.

    On a machine of two cores, attackers decoding megabytes of JSON take
    CPU from the application whatever zmqscope does: apart, what the
    application loses is what zmqscope's server costs it.
    """
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    if len(allowed) < 2:
        return None, None
    return allowed[0], allowed[1]


APP_CPU, OTHER_CPU = _cpus()

VICTIM = r"""
import os, sys, threading, time
cpu = {cpu}
if cpu is not None:
    os.sched_setaffinity(0, {{cpu}})  # before any thread: they all inherit it
import zmq

ctx = zmq.Context()
ctx.set(zmq.MAX_SOCKETS, 8192)
held = []
for n in range({sockets}):
    sock = ctx.socket(zmq.PAIR)
    sock.bind(f"inproc://held-{{n}}")
    held.append(sock)
rep = ctx.socket(zmq.REP)
rep.bind("inproc://victim")

def echo():
    while True:
        rep.send(rep.recv())

threading.Thread(target=echo, daemon=True).start()
req = ctx.socket(zmq.REQ)
req.connect("inproc://victim")
page = os.sysconf("SC_PAGE_SIZE")
statm = os.open("/proc/self/statm", os.O_RDONLY)
print("ready", flush=True)
count, last = 0, time.monotonic()
while not os.path.exists("stop"):
    req.send(b"ping")
    req.recv()
    count += 1
    now = time.monotonic()
    if now - last >= 0.2:
        rss = int(os.pread(statm, 100, 0).split()[1]) * page
        print(f"{{time.time():.3f}} {{count / (now - last):.1f}} {{rss}}", flush=True)
        count, last = 0, now
os._exit(0)
"""


class Victim:
    """The instrumented application under attack, and its own figures over time."""

    def __init__(self, folder: Path, sockets: int) -> None:
        self.folder = folder
        source = folder / "victim.py"
        source.write_text(VICTIM.format(sockets=sockets, cpu=APP_CPU), encoding="utf-8")
        self.process = subprocess.Popen(
            [sys.executable, str(source)],
            cwd=folder,
            env=child_env(folder, {"ZMQSCOPE": "1"}),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.samples: list[tuple[float, float, int]] = []  # (time, messages/s, RSS)
        assert self.process.stdout is not None
        assert self.process.stdout.readline() == "ready\n", "the victim did not start"
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.endpoint = wait_endpoint(folder, self.process.pid)

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            when, rate, rss = line.split()
            self.samples.append((float(when), float(rate), int(rss)))

    def between(self, start: float, end: float) -> list[tuple[float, float, int]]:
        return [s for s in self.samples if start <= s[0] < end]

    def close(self) -> None:
        (self.folder / "stop").touch()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)


def child_env(folder: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    """This environment without zmqscope's switches, with its own runtime folder."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")}
    return env | {"XDG_RUNTIME_DIR": str(folder)} | (extra or {})


def wait_endpoint(folder: Path, pid: int, timeout: float = 30.0) -> str:
    """The endpoint in ``pid``'s discovery file, once written."""
    path = folder / "zmqscope" / f"{pid}.json"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            return str(json.loads(path.read_text(encoding="utf-8"))["endpoint"])
        time.sleep(0.05)
    raise RuntimeError(f"no discovery file for {pid} within {timeout} s")


@contextlib.contextmanager
def private_folder() -> Iterator[Path]:
    """A fresh short folder (ipc paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="zsa-"))
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def rss_of(pid: int) -> int:
    with open(f"/proc/{pid}/statm", encoding="ascii") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def settled_rss(pid: int, within: float = 20.0) -> int:
    """The RSS of ``pid`` once it has stopped growing for half a second."""
    deadline = time.monotonic() + within
    last = rss_of(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = rss_of(pid)
        if now <= last:
            return now
        last = now
    return last


ATTACKER = Path(__file__).with_name("attacker.py")


def attack(endpoint: str, *options: str) -> subprocess.Popen[str]:
    """An attacker process (see attacker.py); its counts come as JSON on stdout."""
    cpu = [] if OTHER_CPU is None else ["--cpu", str(OTHER_CPU)]
    return subprocess.Popen(
        [sys.executable, str(ATTACKER), endpoint, *options, *cpu],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")},
    )


def counts_of(process: subprocess.Popen[str], timeout: float = 60.0) -> dict[str, Any]:
    out, _ = process.communicate(timeout=timeout)
    lines = out.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}
