"""zmqscope's core costs against plain pyzmq, measured side by side in one run.

1. inproc PUSH/PULL throughput of 100-byte messages (send/recv are never hooked,
   so instrumented/plain should be 1.0 within noise);
2. ``ctx.socket()`` + ``close()`` per pair, called 40 frames deep;
3. the reference: recording a call site with ``inspect.stack()`` or
   ``traceback.extract_stack()`` against zmqscope's frame walk;
4. Python memory held per open socket record, measured with tracemalloc.

Usage: ``.venv/bin/python benchmarks/bench_core.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/core.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import inspect
import sys
import threading
import time
import traceback
import tracemalloc
from collections.abc import Callable
from functools import partial
from pathlib import Path

import zmq
from _harness import (
    Figure,
    Target,
    at_depth,
    format_table,
    one_cpu,
    paired_rounds,
    raise_fd_limit,
    ratios,
    set_instrumented,
    write_results,
)

import zmqscope
from zmqscope import hooks
from zmqscope._frames import FrameFilter
from zmqscope.registry import MAX_CLOSED_RECORDS

CALLER_DEPTH = 40
PAYLOAD = b"x" * 100
ADDRESS = "inproc://zmqscope-bench-throughput"
ZMQSCOPE_DIR = str(Path(zmqscope.__file__).resolve().parent)


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How much work each part does; ``--quick`` trades precision for time."""

    throughput_rounds: int = 21
    messages: int = 200_000
    pair_rounds: int = 31
    pairs: int = 2_000  # per context: well below the registry's closed-record bound
    overflow_rounds: int = 5  # 0 skips the run past MAX_CLOSED_RECORDS
    term_rounds: int = 3
    term_sockets: int = 5_000
    capture_rounds: int = 15
    memory_rounds: int = 3
    sockets: int = 2_000


FULL = Settings()
QUICK = Settings(
    throughput_rounds=5,
    messages=100_000,
    pair_rounds=9,
    pairs=1_000,
    overflow_rounds=0,
    term_rounds=1,
    term_sockets=2_000,
    capture_rounds=5,
    memory_rounds=1,
)


def progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


# -- 1. throughput -------------------------------------------------------------------


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


# -- 2. socket() + close() -----------------------------------------------------------


def roomy_context(sockets: int) -> zmq.Context[zmq.Socket[bytes]]:
    """A context that can hold ``sockets`` sockets at once.

    libzmq counts a closed socket against MAX_SOCKETS (default 1023) until
    its reaper thread has freed it, and a tight socket()/close() loop outruns
    the reaper: plain pyzmq fails with "Too many open files" after ~1,500 pairs.
    """
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, sockets + 64)
    return ctx


def pair_cost_once(pairs: int) -> tuple[float, float]:
    """(µs per socket()+close() pair 40 frames deep, ms for the context's term())."""
    ctx = roomy_context(pairs)

    def loop() -> float:
        socket, push = ctx.socket, zmq.PUSH
        start = time.perf_counter()
        for _ in range(pairs):
            sock = socket(push)
            sock.close()
        return time.perf_counter() - start

    elapsed = at_depth(CALLER_DEPTH, loop)
    start = time.perf_counter()
    ctx.term()  # the registry forgets the context's closed records here
    term = time.perf_counter() - start
    return elapsed / pairs * 1e6, term * 1e3


def bench_pairs(settings: Settings) -> list[Figure]:
    n = settings.pairs
    progress(f"socket()+close(): {settings.pair_rounds} x 2 rounds of {n:,} pairs")
    plain, instrumented = paired_rounds(settings.pair_rounds, lambda: pair_cost_once(n))
    plain_us, plain_term = [p for p, _ in plain], [t for _, t in plain]
    inst_us, inst_term = [p for p, _ in instrumented], [t for _, t in instrumented]
    label = f"socket()+close() {CALLER_DEPTH} frames deep"
    figures = [
        Figure.of("pair_plain_us", f"{label}, plain", plain_us, "µs"),
        Figure.of("pair_instrumented_us", f"{label}, instr.", inst_us, "µs"),
        Figure.of(
            "pair_ratio",
            "socket()+close() cost instr./plain",
            ratios(inst_us, plain_us),
            "x",
            Target("<=", 1.3),
        ),
        Figure.of("term_plain_ms", f"term() after {n:,} closed, plain", plain_term, "ms"),
        Figure.of("term_instr_ms", f"term() after {n:,} closed, instr.", inst_term, "ms"),
    ]
    if settings.overflow_rounds:
        figures.append(bench_overflow(settings))
    figures.extend(bench_term_newest_first(settings))
    return figures


def overflow_once(total: int, tail: int) -> tuple[float, int]:
    """(µs per pair over the last ``tail`` of ``total`` pairs in one context, records kept)."""
    ctx = roomy_context(total)

    def loop() -> float:
        socket, push = ctx.socket, zmq.PUSH
        for _ in range(total - tail):
            socket(push).close()
        start = time.perf_counter()
        for _ in range(tail):
            socket(push).close()
        return time.perf_counter() - start

    elapsed = at_depth(CALLER_DEPTH, loop)
    kept = len(hooks.registry().entries())
    ctx.term()
    return elapsed / tail * 1e6, kept


def bench_overflow(settings: Settings) -> Figure:
    """Past MAX_CLOSED_RECORDS the registry starts dropping the oldest closed records."""
    tail = settings.pairs
    total = MAX_CLOSED_RECORDS + tail
    progress(f"past the closed-record bound: {settings.overflow_rounds} x 2 rounds, {total:,}")
    hooks.reset_registry()
    plain, instrumented = paired_rounds(
        settings.overflow_rounds, lambda: overflow_once(total, tail)
    )
    return Figure.of(
        "pair_ratio_past_bound",
        f"same, past {MAX_CLOSED_RECORDS:,} kept closed records",
        ratios([us for us, _ in instrumented], [us for us, _ in plain]),
        "x",
        detail={
            "pairs_per_context": total,
            "timed_tail": tail,
            "plain_us": [us for us, _ in plain],
            "instrumented_us": [us for us, _ in instrumented],
            "records_kept_before_term": [kept for _, kept in instrumented],
        },
    )


def term_newest_first_once(sockets: int) -> float:
    """ms for term() after ``sockets`` sockets were closed newest first.

    Applications often close in reverse order of creation (a stack of
    resources, ``ExitStack``); the registry forgets each closed record at
    term(), so this is where a per-record cost that grows with the number
    of records would show.
    """
    ctx = roomy_context(sockets)
    held = at_depth(CALLER_DEPTH, lambda: [ctx.socket(zmq.PUSH) for _ in range(sockets)])
    for sock in reversed(held):
        sock.close()
    start = time.perf_counter()
    ctx.term()
    return (time.perf_counter() - start) * 1e3


def bench_term_newest_first(settings: Settings) -> list[Figure]:
    n = settings.term_sockets
    progress(f"term() after closing newest first: {settings.term_rounds} x 2 rounds, {n:,}")
    plain, instrumented = paired_rounds(settings.term_rounds, lambda: term_newest_first_once(n))
    label = f"term() after {n:,} closed newest first"
    return [
        Figure.of("term_lifo_plain_ms", f"{label}, plain", plain, "ms"),
        Figure.of("term_lifo_instr_ms", f"{label}, instr.", instrumented, "ms"),
    ]


# -- 3. the reference: other ways to record a call site ------------------------------


def _timed(fn: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls * 1e6


@dataclasses.dataclass(frozen=True, slots=True)
class CallSiteRecorder:
    """One way of recording where a call came from, timed in batches of ``calls``."""

    label: str
    key: str
    record: Callable[[], object]
    calls: int
    expected_ratio: Target | None = None  # its cost over zmqscope's walk


def call_site_recorders() -> list[CallSiteRecorder]:
    frames = FrameFilter()
    depth = hooks.DEFAULT_STACK_DEPTH
    tens = Target(">=", 10)
    # partial() adds no Python frame, so every walk starts in _timed's frame.
    return [
        CallSiteRecorder(
            f"FrameFilter.capture({depth})", "zmqscope", partial(frames.capture, depth), 10_000
        ),
        CallSiteRecorder("inspect.stack()", "inspect_stack", inspect.stack, 25, tens),
        CallSiteRecorder(
            "traceback.extract_stack()", "extract_stack", traceback.extract_stack, 500, tens
        ),
        CallSiteRecorder(
            f"traceback.extract_stack(limit={depth})",
            "extract_stack_limited",
            partial(traceback.extract_stack, limit=depth),
            1_500,
        ),
    ]


def bench_capture(settings: Settings) -> list[Figure]:
    recorders = call_site_recorders()
    progress(f"call-site capture: {settings.capture_rounds} rounds of {len(recorders)} methods")
    samples: dict[str, list[float]] = {r.key: [] for r in recorders}
    for i in range(settings.capture_rounds + 1):
        # Rotate the order each round; round 0 only warms linecache and caches.
        for r in recorders[i % len(recorders) :] + recorders[: i % len(recorders)]:
            cost = at_depth(CALLER_DEPTH, lambda r=r: _timed(r.record, r.calls))  # type: ignore[misc]
            if i:
                samples[r.key].append(cost)
    ours = samples[recorders[0].key]
    figures = [
        Figure.of(f"capture_{r.key}_us", f"{r.label} at depth {CALLER_DEPTH}", samples[r.key], "µs")
        for r in recorders
    ]
    for r in recorders[1:]:
        ratio = ratios(samples[r.key], ours)
        figures.append(
            Figure.of(
                f"capture_ratio_{r.key}", f"{r.label} / zmqscope", ratio, "x", r.expected_ratio
            )
        )
    return figures


# -- 4. memory per socket record -----------------------------------------------------


@dataclasses.dataclass(frozen=True, slots=True)
class MemoryRun:
    """Bytes traced per socket in one run (all Python code, and zmqscope's files only)."""

    open_total: float
    open_zmqscope: float
    closed_zmqscope: float
    top_lines: tuple[tuple[str, float], ...]


_NOT_MEASURED = (
    tracemalloc.Filter(False, tracemalloc.__file__),
    tracemalloc.Filter(False, "<unknown>"),
)
_ZMQSCOPE_ONLY = (tracemalloc.Filter(True, ZMQSCOPE_DIR + "/*"),)


def _grown(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, only_zmqscope: bool
) -> list[tracemalloc.StatisticDiff]:
    filters = _ZMQSCOPE_ONLY if only_zmqscope else _NOT_MEASURED
    return after.filter_traces(filters).compare_to(before.filter_traces(filters), "lineno")


def memory_once(sockets: int, instrumented: bool) -> MemoryRun:
    """Open ``sockets`` sockets 40 frames deep under tracemalloc, then close them."""
    set_instrumented(instrumented)
    hooks.reset_registry()
    ctx = roomy_context(sockets)

    def open_sockets(n: int) -> list[zmq.Socket[bytes]]:
        return [ctx.socket(zmq.PUSH) for _ in range(n)]

    for sock in at_depth(CALLER_DEPTH, lambda: open_sockets(16)):
        sock.close()  # one-time costs (frame-filter verdicts) stay out of the figure
    gc.collect()
    tracemalloc.start()
    before = tracemalloc.take_snapshot()
    held = at_depth(CALLER_DEPTH, lambda: open_sockets(sockets))
    gc.collect()
    opened = tracemalloc.take_snapshot()
    for sock in held:
        sock.close()
    gc.collect()
    closed = tracemalloc.take_snapshot()
    tracemalloc.stop()
    ctx.term()
    set_instrumented(False)

    ours = _grown(before, opened, only_zmqscope=True)
    top = sorted(ours, key=lambda d: d.size_diff, reverse=True)[:12]
    return MemoryRun(
        open_total=sum(d.size_diff for d in _grown(before, opened, False)) / sockets,
        open_zmqscope=sum(d.size_diff for d in ours) / sockets,
        closed_zmqscope=sum(d.size_diff for d in _grown(before, closed, True)) / sockets,
        top_lines=tuple((_where(d), d.size_diff / sockets) for d in top),
    )


def _where(diff: tracemalloc.StatisticDiff) -> str:
    frame = diff.traceback[0]
    return f"{Path(frame.filename).name}:{frame.lineno}"


def bench_memory(settings: Settings) -> list[Figure]:
    n = settings.sockets
    progress(f"memory: {settings.memory_rounds} x 2 runs opening {n:,} sockets")
    plain: list[MemoryRun] = []
    instrumented: list[MemoryRun] = []
    for _ in range(settings.memory_rounds):
        plain.append(memory_once(n, instrumented=False))
        instrumented.append(memory_once(n, instrumented=True))
    extra = [i.open_total - p.open_total for i, p in zip(instrumented, plain, strict=True)]
    target = Target("<=", 2048)
    detail = {
        "sockets": n,
        "stack_depth": hooks.DEFAULT_STACK_DEPTH,
        "caller_depth": CALLER_DEPTH,
        "plain_bytes_per_socket": [r.open_total for r in plain],
        "top_lines_bytes_per_socket": dict(instrumented[-1].top_lines),
    }
    return [
        Figure.of(
            "memory_open_record",
            "memory per open record (zmqscope files)",
            [r.open_zmqscope for r in instrumented],
            "B",
            target,
            detail,
        ),
        Figure.of(
            "memory_open_extra", "memory per open socket, instr. - plain", extra, "B", target
        ),
        Figure.of(
            "memory_closed_record",
            "memory per closed record kept until term()",
            [r.closed_zmqscope for r in instrumented],
            "B",
        ),
    ]


# -- main ----------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (< 20 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    raise_fd_limit(max(settings.sockets, settings.pairs + MAX_CLOSED_RECORDS) + 256)
    # ZMQSCOPE=1 in the environment would instrument the "plain" side too.
    zmqscope.uninstall()
    hooks.reset_registry()
    started = time.perf_counter()
    print(f"bench_core ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    figures = [
        *bench_throughput(settings),
        *bench_pairs(settings),
        *bench_capture(settings),
        *bench_memory(settings),
    ]
    elapsed = time.perf_counter() - started
    print(format_table(figures))
    recorded = dataclasses.asdict(settings) | {"quick": args.quick, "seconds": round(elapsed, 1)}
    path = write_results("core", figures, recorded)
    print(f"\n{elapsed:.0f} s; results written to {path}")
    missed = [f.label for f in figures if f.verdict == "MISS"]
    if missed:
        print("MISSED: " + "; ".join(missed))
    return 1 if missed and args.strict else 0


if __name__ == "__main__":
    sys.exit(main())
