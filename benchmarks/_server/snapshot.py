"""Snapshot round trip with 1,000 and 10,000 open sockets, and where the time goes.

The round trip is what ``zmqscope attach`` pays per refresh: ``LiveClient.snapshot()``
over ipc, from sending the request to holding a ``Report``. The breakdown
times each stage of that path on its own, with the same functions the server
and client call.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from typing import TypeVar

import zmq
from _harness import Figure, Target, progress

import zmqscope
from _server import Settings, open_sockets, private_runtime
from zmqscope.instrument import hooks
from zmqscope.instrument.answers import ProcessAnswers as Answers
from zmqscope.remote.client import LiveClient
from zmqscope.remote.client.view import SnapshotView
from zmqscope.remote.protocol import Request, RequestType, decode_reply, encode_reply

T = TypeVar("T")

TARGETS_MS = {1_000: 50.0, 10_000: 500.0}


def timed(fn: Callable[[], T]) -> tuple[float, T]:
    """(ms, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return (time.perf_counter() - start) * 1e3, result


def round_trips(endpoint: str, rounds: int, expected: int) -> tuple[list[float], list[float]]:
    """(first snapshots of new clients, polls of one client that has the previous one).

    A new client gets every record; a polling client (the TUI, every second)
    gets only what changed since its last snapshot.
    """
    first: list[float] = []
    polls: list[float] = []
    poller = LiveClient(endpoint, timeout=120)
    try:
        poller.snapshot()  # warm-up: the server's frozen records, big buffers
        for _ in range(rounds):
            fresh = LiveClient(endpoint, timeout=120)
            try:
                ms, live = timed(fresh.snapshot)
            finally:
                fresh.close()
            assert len(live.snapshot.sockets) == expected, "snapshot lost sockets"
            first.append(ms)
            ms, live = timed(poller.snapshot)
            assert len(live.snapshot.sockets) == expected, "snapshot lost sockets"
            polls.append(ms)
    finally:
        poller.close()
    return first, polls


STAGES = (
    ("freeze", "registry.changes_since(0): records, frozen once and cached"),
    ("to_dict", "records to_dict() + stats"),
    ("dumps", "encode_reply(): json.dumps"),
    ("loads", "decode_reply(): json.loads"),
    ("from_dict", "client: SocketRecord.from_dict() for every record"),
)


def stages_once(answers: Answers) -> tuple[dict[str, float], int]:
    """ms per stage of one full snapshot, the way the server and the client run them."""
    out: dict[str, float] = {}
    out["freeze"], _ = timed(lambda: hooks.registry().changes_since(0))
    out["to_dict"], data = timed(lambda: answers.snapshot(0))
    out["to_dict"] = max(0.0, out["to_dict"] - out["freeze"])
    request = Request(RequestType.SNAPSHOT, 1)
    out["dumps"], payload = timed(lambda: encode_reply(request, data))
    out["loads"], reply = timed(lambda: decode_reply(payload))
    out["from_dict"], _ = timed(lambda: SnapshotView().apply(reply.data))
    return out, len(payload)


def breakdown(size: int, rounds: int, trips: list[float]) -> list[Figure]:
    answers = Answers("bench", time.time())
    runs = [stages_once(answers) for _ in range(rounds)]
    figures = []
    for key, label in STAGES:
        samples = [stages[key] for stages, _ in runs]
        figures.append(Figure.of(f"snapshot_{size}_{key}", f"  {label}", samples, "ms"))
    total = statistics.median([sum(stages.values()) for stages, _ in runs])
    rest = [max(0.0, trip - total) for trip in trips]
    figures.append(Figure.of(f"snapshot_{size}_rest", "  the rest: transport, psutil", rest, "ms"))
    size_mb = [n / 1e6 for _, n in runs]
    figures.append(Figure.of(f"snapshot_{size}_bytes", "  reply size", size_mb, "MB"))
    return figures


def bench_snapshots(settings: Settings) -> list[Figure]:
    figures: list[Figure] = []
    zmqscope.install()
    hooks.reset_registry()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, settings.large + 64)
    held: list[zmq.Socket[bytes]] = []
    with private_runtime():
        server = zmqscope.serve()
        try:
            for size, rounds in (
                (settings.small, settings.small_rounds),
                (settings.large, settings.large_rounds),
            ):
                held += open_sockets(ctx, size - len(held), first=len(held))
                gc.collect()
                progress(f"snapshot round trip: {rounds} rounds, {size:,} open sockets")
                trips, polls = round_trips(server.endpoint, rounds, size)
                target = Target("<=", TARGETS_MS[size]) if size in TARGETS_MS else None
                figures.append(
                    Figure.of(
                        f"snapshot_{size}_ms",
                        f"snapshot round trip (new client, all records), {size:,} open sockets",
                        trips,
                        "ms",
                        target,
                    )
                )
                figures.append(
                    Figure.of(
                        f"snapshot_{size}_poll_ms",
                        f"snapshot round trip (polling client, changes only), {size:,}",
                        polls,
                        "ms",
                        target,
                    )
                )
                figures.extend(breakdown(size, max(3, rounds // 2), trips))
        finally:
            server.stop()
            for sock in held:
                sock.close(linger=0)
            ctx.term()
            zmqscope.uninstall()
            hooks.reset_registry()
    return figures


def profile_snapshot(size: int = 10_000, top: int = 25) -> None:
    """cProfile of the server's and the client's work for one snapshot of ``size`` sockets."""
    import cProfile
    import pstats
    import sys

    zmqscope.install()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, size + 64)
    held = open_sockets(ctx, size)
    answers = Answers("bench", time.time())
    stages_once(answers)  # warm
    profiler = cProfile.Profile()
    profiler.enable()
    stages_once(answers)
    profiler.disable()
    print(f"one snapshot of {size:,} open sockets, server and client side")
    pstats.Stats(profiler, stream=sys.stdout).strip_dirs().sort_stats("tottime").print_stats(top)
    for sock in held:
        sock.close(linger=0)
    ctx.term()
