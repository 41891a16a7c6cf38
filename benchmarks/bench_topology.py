"""What ``zmqscope topology`` costs over 20 processes with 1,000 sockets each.

Twenty ``ZMQSCOPE=1`` processes each open 1,000 sockets: 250 PULL bound on
loopback tcp, 250 PULL bound on ipc, and 250 PUSH connected to each kind of
the next process's binds (a ring), so every socket has an edge and the OS
table holds 10,000 tcp connections. Each process lifts its MAX_SOCKETS
(libzmq's default is 1,023, and zmqscope's introspection has its own
context) and its open-files limit (each socket holds a descriptor, each
connection two more).

Measured, alternating with its reference (ABBA):

1. ``zmqscope topology --format json`` as a command (Python start-up
   included). Target: at most 1 s. Its reference: ``zmqscope ls`` over the
   same processes (one small request each), as a ratio;
2. in this process, the parts of one gathering: discovery (its check
   that each process serves its endpoint reads the host's unix table), the
   snapshots of the 20 processes (in parallel, without peers), the OS's
   tcp table, matching and diagnoses, and the JSON (info).

Usage: ``.venv/bin/python benchmarks/bench_topology.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/topology.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from _harness import Figure, Target, finish, progress, raise_fd_limit, ratios

PROCESSES = 20
SOCKETS = 1_000  # per process: a quarter of each kind

# One process of the ring: its index and the ring's size are its arguments.
APP = """
import json, os, resource, sys, time
import zmq

index, count = int(sys.argv[1]), int(sys.argv[2])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (min(8192, hard), hard))
ctx = zmq.Context()
ctx.MAX_SOCKETS = 1100  # before the first socket: libzmq fixes it then
quarter = {quarter}
sockets, binds = [], []  # kept: a socket garbage-collected is closed
for k in range(quarter):
    sockets.append(ctx.socket(zmq.PULL))
    binds.append(sockets[-1].bind("tcp://127.0.0.1:*").addr)
for k in range(quarter):
    sockets.append(ctx.socket(zmq.PULL))
    sockets[-1].bind(f"ipc://p{{index}}-{{k}}.sock")
    binds.append(f"ipc://p{{index}}-{{k}}.sock")
with open(f"binds-{{index}}.tmp", "w") as out:
    json.dump(binds, out)
os.replace(f"binds-{{index}}.tmp", f"binds-{{index}}")
peer = f"binds-{{(index + 1) % count}}"
deadline = time.monotonic() + 120
while not os.path.exists(peer) and time.monotonic() < deadline:
    time.sleep(0.02)
with open(peer) as source:
    for endpoint in json.load(source):
        sockets.append(ctx.socket(zmq.PUSH))
        sockets[-1].connect(endpoint)
open(f"ready-{{index}}", "w").close()
while not os.path.exists("stop") and time.monotonic() < deadline + 600:
    time.sleep(0.1)
ctx.destroy(linger=0)
"""


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    rounds: int = 11  # pairs, after one warm-up pair
    processes: int = PROCESSES
    sockets: int = SOCKETS


FULL = Settings()
QUICK = Settings(rounds=3)


def env_for(runtime: Path, instrumented: bool = False) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")}
    # As installed: from .pyc files (the warm-up round writes them), as
    # bench_startup and bench_children run; compiling zmqscope's modules from
    # source took ~0.05 s of each command.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_RUNTIME_DIR"] = str(runtime)
    if instrumented:
        env["ZMQSCOPE"] = "1"
    return env


@contextmanager
def ring(folder: Path, runtime: Path, settings: Settings) -> Iterator[list[subprocess.Popen[str]]]:
    """The processes, each wired; stopped on the way out."""
    app = folder / "ring_app.py"
    app.write_text(APP.format(quarter=settings.sockets // 4), encoding="utf-8")
    env = env_for(runtime, instrumented=True)
    children = [
        subprocess.Popen(
            [sys.executable, str(app), str(i), str(settings.processes)],
            cwd=folder,
            env=env,
            text=True,
            # Their exit reports (1,000 sockets each) would bury the table.
            stderr=subprocess.DEVNULL,
        )
        for i in range(settings.processes)
    ]
    try:
        deadline = time.monotonic() + 300
        while not all((folder / f"ready-{i}").exists() for i in range(settings.processes)):
            if time.monotonic() > deadline or any(c.poll() is not None for c in children):
                raise SystemExit("the ring did not start")
            time.sleep(0.1)
        yield children
    finally:
        (folder / "stop").touch()
        for child in children:
            try:
                child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()


def command_seconds(args: list[str], runtime: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "zmqscope", *args],
        env=env_for(runtime),
        stdout=subprocess.DEVNULL,
        check=True,
        timeout=120,
    )
    return time.perf_counter() - started


def bench_command(settings: Settings, runtime: Path) -> list[Figure]:
    progress(f"zmqscope topology (json, text) and zmqscope ls: {settings.rounds} rounds")
    commands = {
        "topology": ["topology", "--format", "json"],
        "text": ["topology"],  # the default format, into a pipe
        "ls": ["ls"],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    names = list(commands)
    for i in range(1 + settings.rounds):
        order = names[i % 3 :] + names[: i % 3]  # each first in turn
        pair = {name: command_seconds(commands[name], runtime) for name in order}
        if i:
            for name in names:
                times[name].append(pair[name])
    topology, text, listing = times["topology"], times["text"], times["ls"]
    return [
        Figure.of(
            "topology_s",
            f"zmqscope topology --format json, {settings.processes} x {settings.sockets:,} sockets,"
            " wall time",
            topology,
            "s",
            Target("<=", 1.0),
        ),
        Figure.of(
            "topology_text_s",
            "zmqscope topology (text into a pipe), same processes, wall time",
            text,
            "s",
            Target("<=", 1.0),
        ),
        Figure.of(
            "topology_vs_ls",
            "zmqscope topology / zmqscope ls (same processes, same run)",
            ratios(topology, listing),
            "x",
            detail={"ls_s": sorted(listing)[len(listing) // 2]},
        ),
    ]


def bench_parts(settings: Settings, runtime: Path) -> list[Figure]:
    progress(f"the parts of one gathering: {settings.rounds} rounds")
    os.environ["XDG_RUNTIME_DIR"] = str(runtime)
    from zmqscope.model.topology import build_topology, unmatched_ipc
    from zmqscope.remote.client import discover
    from zmqscope.remote.client.topology import gather_processes, host_facts
    from zmqscope.remote.wire import paused_gc
    from zmqscope.reporting.topology import render_topology_json

    names = ("discovery", "snapshots", "os table", "matching", "json")
    parts: dict[str, list[float]] = {name: [] for name in names}
    edges = sockets = 0
    for i in range(1 + settings.rounds):
        times = [time.perf_counter()]
        found = discover()
        times.append(time.perf_counter())
        seen = gather_processes(found=found)
        times.append(time.perf_counter())
        with paused_gc():  # as the command does
            host = host_facts(unix=unmatched_ipc(seen))
            times.append(time.perf_counter())
            topology = build_topology(seen, host)
            times.append(time.perf_counter())
            render_topology_json(topology, indent=None)
            times.append(time.perf_counter())
        if i:
            for name, start, end in zip(names, times, times[1:], strict=False):
                parts[name].append(end - start)
        edges = len(topology.edges)
        sockets = sum(len(p.sockets) for p in topology.processes)
    return [
        Figure.of(
            f"part_{name.replace(' ', '_')}_s",
            f"in process: {name}",
            samples,
            "s",
            detail={"edges": edges, "sockets": sockets},
        )
        for name, samples in parts.items()
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"bench_topology ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    raise_fd_limit(8192)
    folder = Path(tempfile.mkdtemp(prefix="zsb-"))
    runtime = folder / "run"
    runtime.mkdir(mode=0o700)
    try:
        progress(f"starting {settings.processes} processes of {settings.sockets:,} sockets")
        with ring(folder, runtime, settings):
            figures = bench_command(settings, runtime) + bench_parts(settings, runtime)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    recorded = dataclasses.asdict(settings) | {"quick": args.quick}
    return finish("topology", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
