"""The cost zmqscope adds to a socket's life: socket() + close(), and term()."""

from __future__ import annotations

import sys
import time
from typing import Any

import zmq
from _harness import Figure, Target, at_depth, paired_rounds, progress, ratios, set_instrumented

from _core import CALLER_DEPTH, Settings, roomy_context
from zmqscope.instrument import hooks
from zmqscope.instrument.frames import FrameFilter
from zmqscope.instrument.hooks import DEFAULT_STACK_DEPTH
from zmqscope.instrument.registry.store import MAX_CLOSED_RECORDS


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


def connect_cost_once(pairs: int) -> float:
    """µs per socket() + connect() + close(), 40 frames deep.

    What most sockets do: the connect goes to an inproc PULL bound once per
    round (inproc pipes hold nothing once closed, so term() does not wait).
    """
    ctx = roomy_context(pairs + 1)
    sink = ctx.socket(zmq.PULL)
    sink.bind("inproc://bench-connect")

    def loop() -> float:
        socket, push, address = ctx.socket, zmq.PUSH, "inproc://bench-connect"
        start = time.perf_counter()
        for _ in range(pairs):
            sock = socket(push)
            sock.connect(address)
            sock.close()
        return time.perf_counter() - start

    elapsed = at_depth(CALLER_DEPTH, loop)
    sink.close()
    ctx.term()
    return elapsed / pairs * 1e6


def bench_connect_pairs(settings: Settings) -> list[Figure]:
    n = settings.pairs
    progress(f"socket()+connect()+close(): {settings.pair_rounds} x 2 rounds of {n:,}")
    plain, instrumented = paired_rounds(settings.pair_rounds, lambda: connect_cost_once(n))
    label = f"socket()+connect()+close() {CALLER_DEPTH} frames deep"
    return [
        Figure.of("connect_plain_us", f"{label}, plain", plain, "µs"),
        Figure.of("connect_instrumented_us", f"{label}, instr.", instrumented, "µs"),
        Figure.of(
            "connect_ratio",
            "socket()+connect()+close() instr./plain",
            ratios(instrumented, plain),
            "x",
        ),
    ]


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
    figures.extend(bench_connect_pairs(settings))
    figures.append(bench_walk_floor(settings))
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


# pyzmq's own __init__ and close while walks_only() has replaced them.
WALK_ONLY_SAVED: dict[str, Any] = {}


def walks_only(on: bool) -> None:
    """Wrap pyzmq as zmqscope does, but only walk the stacks: nothing is recorded.

    What the frame walks alone cost in place (12 frames at creation, 3 at
    close, as zmqscope takes them): the floor under the socket()+close() ratio
    for any pure-Python recorder of those stacks.
    """
    if not on:
        for name in ("__init__", "close"):
            if name in WALK_ONLY_SAVED:
                setattr(zmq.Socket, name, WALK_ONLY_SAVED.pop(name))
        return
    frames = FrameFilter()
    init, close = zmq.Socket.__init__, zmq.Socket.close
    WALK_ONLY_SAVED.update({"__init__": init, "close": close})

    def walking_init(self: Any, *args: Any, **kwargs: Any) -> None:
        frames.capture(DEFAULT_STACK_DEPTH, 2)
        init(self, *args, **kwargs)

    def walking_close(self: Any, *args: Any, **kwargs: Any) -> None:
        close(self, *args, **kwargs)
        frames.capture(3, 2)

    zmq.Socket.__init__ = walking_init  # type: ignore[method-assign]
    zmq.Socket.close = walking_close  # type: ignore[method-assign]


def bench_walk_floor(settings: Settings) -> Figure:
    n = settings.pairs
    progress(f"socket()+close(), stack walks only: {settings.pair_rounds} x 2 rounds of {n:,}")
    plain, walking = paired_rounds(
        settings.pair_rounds, lambda: pair_cost_once(n)[0], toggle=walks_only
    )
    return Figure.of(
        "pair_ratio_walks_only",
        "same, the stack walks alone (nothing recorded)",
        ratios(walking, plain),
        "x",
    )


def bench_term_newest_first(settings: Settings) -> list[Figure]:
    n = settings.term_sockets
    progress(f"term() after closing newest first: {settings.term_rounds} x 2 rounds, {n:,}")
    plain, instrumented = paired_rounds(settings.term_rounds, lambda: term_newest_first_once(n))
    label = f"term() after {n:,} closed newest first"
    return [
        Figure.of("term_lifo_plain_ms", f"{label}, plain", plain, "ms"),
        Figure.of("term_lifo_instr_ms", f"{label}, instr.", instrumented, "ms"),
    ]


def profile_pairs(pairs: int = 5_000, top: int = 25) -> None:
    """Print cProfile's view of the instrumented socket()+close() loop.

    cProfile adds a fixed cost to every Python call, so it inflates code made
    of many small calls; read it for where the time goes, not for how much.
    """
    import cProfile
    import pstats

    set_instrumented(True)
    pair_cost_once(pairs)  # warm caches outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    pair_cost_once(pairs)
    profiler.disable()
    set_instrumented(False)
    stats = pstats.Stats(profiler, stream=sys.stdout)
    print(f"instrumented socket()+close() x {pairs:,}, {CALLER_DEPTH} frames deep")
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
