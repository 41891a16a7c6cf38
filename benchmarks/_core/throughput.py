"""Message throughput: install() leaves send/recv alone, so instr./plain should be 1.0."""

from __future__ import annotations

import threading
import time

import zmq
from _harness import Figure, Target, one_cpu, paired_rounds, ratios

from _core import Settings, progress

PAYLOAD = b"x" * 100
ADDRESS = "inproc://zmqscope-bench-throughput"


def throughput_once(messages: int) -> float:
    """Messages per second through a fresh inproc PUSH/PULL pair (sender on a thread)."""
    ctx = zmq.Context()
    pull = ctx.socket(zmq.PULL)
    push = ctx.socket(zmq.PUSH)
    pull.bind(ADDRESS)
    push.connect(ADDRESS)
    go = threading.Event()

    def sender() -> None:
        send = push.send
        go.wait()
        for _ in range(messages):
            send(PAYLOAD)

    thread = threading.Thread(target=sender, name="bench-sender")
    thread.start()
    recv = pull.recv
    start = time.perf_counter()
    go.set()
    for _ in range(messages):
        recv()
    elapsed = time.perf_counter() - start
    thread.join()
    push.close()
    pull.close()
    ctx.term()
    return messages / elapsed


def bench_throughput(settings: Settings) -> list[Figure]:
    progress(f"throughput: {settings.throughput_rounds} x 2 rounds of {settings.messages:,} msgs")
    with one_cpu() as cpu:
        plain, instrumented = paired_rounds(
            settings.throughput_rounds, lambda: throughput_once(settings.messages)
        )
    ratio = ratios(instrumented, plain)
    label = "inproc PUSH/PULL 100 B"
    detail = {"pinned_to_cpu": cpu, "messages_per_round": settings.messages}
    return [
        Figure.of("throughput_plain", f"{label}, plain", plain, "msg/s", detail=detail),
        Figure.of("throughput_instrumented", f"{label}, instr.", instrumented, "msg/s"),
        Figure.of("throughput_ratio", "throughput instr./plain", ratio, "x", Target(">=", 0.98)),
    ]
