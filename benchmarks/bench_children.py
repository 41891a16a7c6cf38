"""What following children (``zmqscope run``'s default) adds to a child's start-up, in one run.

A child of ``zmqscope run`` inherits ``ZMQSCOPE=1``, the run's settings and
``ZMQSCOPE_TREE`` (the folder its report goes to). Each case runs a fresh
``python -c CODE`` plain and with that environment, alternating (ABBA), and
reports the per-round ratio of wall time (fork, exec, start-up, ``CODE``,
exit) and the difference in milliseconds; and, as a reference, the ratio
to a child with ``ZMQSCOPE=1`` alone (what following adds beyond arming):

1. ``pass``: a Python child that never imports zmq;
2. ``import zmq; zmq.Context().term()``: a child that uses ZeroMQ: it arms,
   leaves its marker, makes its report and writes it into the folder at exit
   (the server is off, as under ``run --no-serve``: bench_startup measures it).

Usage: ``.venv/bin/python benchmarks/bench_children.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/children.json``.
"""

from __future__ import annotations

import dataclasses
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _harness import Figure, main_over_cases, progress

CASES = {
    "pass": "pass",
    "zmq context": "import zmq; zmq.Context().term()",
}


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    rounds: int = 41  # pairs per case, after one warm-up pair


FULL = Settings()
QUICK = Settings(rounds=9)


def child_env(mode: str, tree: Path) -> dict[str, str]:
    """A plain child's environment, ``ZMQSCOPE=1`` alone, or a ``run --no-serve`` child's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ZMQSCOPE")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as installed: from .pyc files
    if mode != "plain":
        env |= {"ZMQSCOPE": "1", "ZMQSCOPE_SERVE": "0"}
    if mode == "followed":
        env |= {
            "ZMQSCOPE_TREE": str(tree),
            "ZMQSCOPE_STACK_DEPTH": "12",
            "ZMQSCOPE_GRACE": "5",
            "ZMQSCOPE_TRAFFIC": "0",
        }
    return env


MODES = ("plain", "armed", "followed")


def run_once(code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code], env=env, timeout=60, check=True, stderr=subprocess.DEVNULL
    )
    return time.perf_counter() - started


def bench_case(name: str, code: str, rounds: int, tree: Path) -> list[Figure]:
    progress(f"{name}: {rounds} rounds of {len(MODES)}")
    times: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i in range(1 + rounds):
        # Each mode goes first, second and third in turn: drift favours none.
        order = MODES[i % 3 :] + MODES[: i % 3]
        taken = {mode: run_once(code, child_env(mode, tree)) for mode in order}
        if i:  # the first round warms the disk cache and writes the .pyc files
            for mode in MODES:
                times[mode].append(taken[mode])
        for report in tree.iterdir():  # the run would read and remove them at its end
            report.unlink()
    plain, armed, followed = (times[mode] for mode in MODES)
    key = name.replace(" ", "_")
    detail = {f"{mode}_ms": statistics.median(times[mode]) * 1000 for mode in MODES}
    return [
        Figure.of(
            f"{key}_ratio",
            f"child '{name}': followed / plain, wall time",
            [f / p for p, f in zip(plain, followed, strict=True)],
            "x",
            detail=detail,
        ),
        Figure.of(
            f"{key}_ms",
            f"child '{name}': followed - plain, wall time",
            [(f - p) * 1000 for p, f in zip(plain, followed, strict=True)],
            "ms",
        ),
        Figure.of(
            f"{key}_vs_armed",
            f"child '{name}': followed / ZMQSCOPE=1 alone, wall time",
            [f / a for a, f in zip(armed, followed, strict=True)],
            "x",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    rounds = (FULL.rounds, QUICK.rounds)
    return main_over_cases("children", __doc__, CASES, bench_case, rounds, argv)


if __name__ == "__main__":
    sys.exit(main())
