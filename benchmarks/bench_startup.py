"""What ``ZMQSCOPE=1`` costs a Python process at start-up, measured in one run.

``ZMQSCOPE=1`` is inherited by every Python child of an instrumented shell
or CI job, most of which never use ZeroMQ. Each case runs a fresh
``python -c CODE`` plain and with ``ZMQSCOPE=1``, alternating (ABBA), and
reports the per-pair difference of wall time (fork, exec, start-up, exit),
with the modules loaded and the threads running at the end of ``CODE``:

1. ``pass``: a process that never imports zmq. Targets: at most 5 more
   modules, no thread, at most 5 ms more;
2. ``import zmq``: the hooks go on right after pyzmq's import (info);
3. ``import zmq`` and one context, one socket, closed: the server starts
   with the context (info).

Usage: ``.venv/bin/python benchmarks/bench_startup.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/startup.json``.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import Figure, Target, main_over_cases, progress

# Each case's code ends by printing the modules loaded and the OS threads
# running (/proc/self/task counts every thread, threading's or not).
COUNT = "import sys, os; print(len(sys.modules), len(os.listdir('/proc/self/task')))"
CASES = {
    "pass": "pass",
    "import zmq": "import zmq",
    "zmq context": "import zmq; c = zmq.Context(); c.socket(zmq.PAIR).close()",
}
TARGETS = {
    "pass": {"modules": Target("<=", 5), "threads": Target("<=", 0), "ms": Target("<=", 5)},
}


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    rounds: int = 41  # pairs per case, after one warm-up pair


FULL = Settings()
QUICK = Settings(rounds=9)


def child_env(runtime: Path, instrumented: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")}
    # As installed: compiled once (the warm-up pair writes the .pyc files),
    # then loaded from them.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["XDG_RUNTIME_DIR"] = str(runtime)  # a server, if any, lands here
    if instrumented:
        env["ZMQSCOPE"] = "1"
    return env


def run_once(code: str, env: dict[str, str]) -> tuple[float, int, int]:
    """(seconds, modules, threads) of one ``python -c code``."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{COUNT}"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    elapsed = time.perf_counter() - started
    modules, threads = (int(n) for n in out.stdout.split()[-2:])
    return elapsed, modules, threads


def bench_case(name: str, code: str, rounds: int, runtime: Path) -> list[Figure]:
    progress(f"{name}: {rounds} pairs")
    plain: list[tuple[float, int, int]] = []
    scoped: list[tuple[float, int, int]] = []
    for i in range(1 + rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        pair = {on: run_once(code, child_env(runtime, on)) for on in order}
        if i:  # the first pair warms the disk cache
            plain.append(pair[False])
            scoped.append(pair[True])
    deltas = [(s[0] - p[0]) * 1000 for p, s in zip(plain, scoped, strict=True)]
    # The same code gives the same counts every time; the last run's stand.
    module_delta = scoped[-1][1] - plain[-1][1]
    extra_threads = scoped[-1][2] - plain[-1][2]
    targets = TARGETS.get(name, {})
    key = name.replace(" ", "_")
    detail = {
        "plain_ms": statistics.median(p[0] for p in plain) * 1000,
        "zmqscope_ms": statistics.median(s[0] for s in scoped) * 1000,
        "plain_modules": plain[-1][1],
        "zmqscope_modules": scoped[-1][1],
    }
    return [
        Figure.of(
            f"{key}_ms",
            f"python -c '{name}': ZMQSCOPE=1 - plain, wall time",
            deltas,
            "ms",
            targets.get("ms"),
            detail,
        ),
        Figure(
            f"{key}_modules",
            f"python -c '{name}': ZMQSCOPE=1 - plain, modules loaded",
            module_delta,
            "",
            target=targets.get("modules"),
        ),
        Figure(
            f"{key}_threads",
            f"python -c '{name}': ZMQSCOPE=1 - plain, threads running",
            extra_threads,
            "",
            target=targets.get("threads"),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    rounds = (FULL.rounds, QUICK.rounds)
    return main_over_cases("startup", __doc__, CASES, bench_case, rounds, argv)


if __name__ == "__main__":
    sys.exit(main())
