"""Traffic mode's cost on the message path, against plain pyzmq in one run.

Traffic mode (``install(traffic=True)``) wraps send/recv to count messages
and bytes per socket; this measures what that costs, side by side:

1. inproc PUSH/PULL, 100-byte messages (the harshest case: the message path
   itself is cheapest there), target instr./plain >= 0.6;
2. tcp on loopback, 1 KB messages, target >= 0.9.

Usage: ``.venv/bin/python benchmarks/bench_traffic.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/traffic.json``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections.abc import Callable

import zmq
from _harness import Figure, Target, finish, one_cpu, paired_rounds, push_pull_rate, ratios

import zmqscope
from zmqscope.instrument import hooks


def set_traffic(on: bool) -> None:
    if on:
        zmqscope.install(traffic=True)
    else:
        zmqscope.uninstall()
    hooks.reset_registry()
    gc.collect()


def throughput_once(address: str, size: int, messages: int) -> float:
    ctx = zmq.Context()
    try:
        return push_pull_rate(ctx, address, b"x" * size, messages)
    finally:
        ctx.term()


def compare(
    label: str, key: str, target: float, run: int, measure: Callable[[], float]
) -> list[Figure]:
    plain, counted = paired_rounds(run, measure, toggle=set_traffic)
    return [
        Figure.of(f"{key}_plain", f"{label}, plain", plain, "msg/s"),
        Figure.of(f"{key}_traffic", f"{label}, traffic mode", counted, "msg/s"),
        Figure.of(
            f"{key}_ratio",
            f"{label}, traffic/plain",
            ratios(counted, plain),
            "x",
            Target(">=", target),
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    rounds, messages = (4, 50_000) if args.quick else (15, 200_000)
    zmqscope.uninstall()
    started = time.perf_counter()
    with one_cpu():
        figures = compare(
            "inproc PUSH/PULL 100 B",
            "inproc",
            0.6,
            rounds,
            lambda: throughput_once("inproc://zmqscope-bench-traffic", 100, messages),
        )
        figures += compare(
            "tcp loopback PUSH/PULL 1 KB",
            "tcp",
            0.9,
            rounds,
            lambda: throughput_once("tcp://127.0.0.1:*", 1024, messages // 2),
        )
    settings = {"rounds": rounds, "messages": messages, "quick": args.quick}
    return finish("traffic", figures, settings, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
