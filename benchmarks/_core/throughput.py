"""Message throughput: install() leaves send/recv alone, so instr./plain should be 1.0."""

from __future__ import annotations

import zmq
from _harness import Figure, Target, one_cpu, paired_rounds, progress, push_pull_rate, ratios

from _core import Settings

PAYLOAD = b"x" * 100
ADDRESS = "inproc://zmqscope-bench-throughput"


def throughput_once(messages: int) -> float:
    """Messages per second through a fresh inproc PUSH/PULL pair (sender on a thread)."""
    ctx = zmq.Context()
    try:
        return push_pull_rate(ctx, ADDRESS, PAYLOAD, messages)
    finally:
        ctx.term()


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
