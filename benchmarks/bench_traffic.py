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
import threading
import time

import zmq
from _harness import Figure, Target, format_table, one_cpu, ratios, write_results

import zmqscope
from zmqscope import hooks


def set_traffic(on: bool) -> None:
    if on:
        zmqscope.install(traffic=True)
    else:
        zmqscope.uninstall()
    hooks.reset_registry()
    gc.collect()


def throughput_once(address: str, size: int, messages: int) -> float:
    """Messages per second through a fresh PUSH/PULL pair (sender on a thread)."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    if address.endswith(":*"):
        address = f"tcp://127.0.0.1:{pull.bind_to_random_port('tcp://127.0.0.1')}"
    else:
        pull.bind(address)
    push = ctx.socket(zmq.PUSH)
    push.connect(address)
    payload = b"x" * size
    go = threading.Event()

    def sender() -> None:
        send = push.send
        go.wait()
        for _ in range(messages):
            send(payload)

    thread = threading.Thread(target=sender, name="bench-sender")
    thread.start()
    recv = pull.recv
    recv_one = recv  # the first message also waits for the tcp connection
    start = time.perf_counter()
    go.set()
    recv_one()
    for _ in range(messages - 1):
        recv()
    elapsed = time.perf_counter() - start
    thread.join()
    push.close(linger=0)
    pull.close(linger=0)
    ctx.term()
    return messages / elapsed


def compare(label: str, key: str, target: float, run: int, measure: callable) -> list[Figure]:  # type: ignore[valid-type]
    plain: list[float] = []
    counted: list[float] = []
    for i in range(run + 1):
        order = (False, True) if i % 2 == 0 else (True, False)
        results: dict[bool, float] = {}
        for on in order:
            set_traffic(on)
            results[on] = measure()
        if i:  # the first pair warms up
            plain.append(results[False])
            counted.append(results[True])
    set_traffic(False)
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
    elapsed = time.perf_counter() - started
    print(format_table(figures))
    settings = {
        "rounds": rounds,
        "messages": messages,
        "quick": args.quick,
        "seconds": round(elapsed, 1),
    }
    path = write_results("traffic", figures, settings)
    print(f"\n{elapsed:.0f} s; results written to {path}")
    missed = [f.label for f in figures if f.verdict == "MISS"]
    if missed:
        print("MISSED: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
