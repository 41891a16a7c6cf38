"""The TUI with 10,000 sockets: refresh in place, key-press latency, memory.

1. A refresh in which ~1 % of the rows change (80 counters move, 10 sockets
   close, 10 new ones appear): the table replaces only those rows (checked:
   the other rows keep their very tuples) and the time it takes is reported;
2. key press to redraw for ``s`` (sort), ``c`` (closed sockets), ``/`` then
   a character (filter), ``escape`` (filter cleared: every row back) and
   ``enter`` (socket detail), against a 100 ms target;
3. Python memory the TUI holds for 1,000 and for 10,000 sockets, per socket,
   each size in its own process.

Everything runs headless with Textual's Pilot (``App.run_test``) over the test
suite's FakeClient, whose answers go through the report's JSON form (as a live
client's do) so that every refresh brings new record objects.

Usage: ``.venv/bin/python benchmarks/bench_tui.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/tui.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import itertools
import json
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import Any

from _harness import BENCH_DIR, Figure, Target, finish

# The FakeClient of the TUI tests is the fixture here too.
sys.path.insert(0, str(BENCH_DIR.parent))

from tests.helpers.fake_client import FakeClient, clock, make_socket
from zmqscope.model import (
    Endpoint,
    EndpointOp,
    Frame,
    SocketRecord,
    ThreadInfo,
    ThreadRef,
    Traffic,
)
from zmqscope.remote.client import LiveSnapshot
from zmqscope.reporting import Report
from zmqscope.tui import ScopeApp

SIZE = (120, 40)
FLOOR_SOCKETS = 10  # the same keys on a tiny table: what Textual itself costs
KEY_TARGET = Target("<=", 100.0)  # ms, the bound for a key press
TYPES = ("PUSH", "PULL", "PUB", "SUB", "DEALER", "ROUTER", "REQ", "REP")


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    sockets: int = 10_000
    refresh_rounds: int = 9
    key_rounds: int = 7
    memory_sizes: tuple[int, ...] = (1_000, 5_000, 10_000)


FULL = Settings()
QUICK = Settings(refresh_rounds=3, key_rounds=3)


# -- the data -------------------------------------------------------------------------


def sockets(count: int, start: int = 1) -> list[SocketRecord]:
    """``count`` sockets of 8 types over 50 threads and 40 files, counting traffic."""
    threads = [ThreadRef(2000 + n, f"worker-{n}") for n in range(50)]
    return [
        make_socket(
            f"s{n}",
            TYPES[n % len(TYPES)],
            thread=threads[n % len(threads)],
            site=Frame(f"/srv/app/module{n % 40}.py", 10 + n % 300, "start"),
            endpoints=[Endpoint(EndpointOp.CONNECT, f"tcp://127.0.0.1:{5000 + n % 3000}")],
            traffic=Traffic(msgs_out=n, bytes_out=100 * n),
            ago=3600 + n,
        )
        for n in range(start, start + count)
    ]


def owners(records: Sequence[SocketRecord]) -> tuple[ThreadInfo, ...]:
    owned: dict[ThreadRef, list[str]] = {}
    for record in records:
        owned.setdefault(record.threads_used[-1], []).append(record.id)
    return tuple(
        ThreadInfo(t.id, t.name, True, (Frame("/srv/app/worker.py", 5, "run"),), tuple(ids))
        for t, ids in owned.items()
    )


class DecodingClient(FakeClient):
    """A FakeClient whose snapshots are decoded from JSON, as LiveClient's are."""

    def snapshot(self) -> LiveSnapshot:
        answer = super().snapshot()
        document = json.loads(json.dumps(answer.report.to_dict()))
        report = Report.from_dict(document)
        return LiveSnapshot(report.snapshot, answer.stats, report)


def make_client(count: int) -> DecodingClient:
    records = sockets(count)
    return DecodingClient(sockets=records, threads=owners(records))


# -- timing -------------------------------------------------------------------------


class Frames:
    """When the app produced each frame, and when a key's effect was applied.

    ``App._display`` runs once per frame; the table's ``refilter`` and
    ``show`` and the push of the detail screen are the effects measured.
    """

    def __init__(self, app: ScopeApp) -> None:
        self.app = app
        self.times: list[float] = []
        self.applied = 0.0
        display = app._display

        def timed(screen: Any, renderable: Any) -> None:
            display(screen, renderable)
            if renderable is not None:
                self.times.append(time.perf_counter())

        app._display = timed  # type: ignore[method-assign]
        for name in ("refilter", "show"):
            setattr(app.table, name, self._marking(getattr(app.table, name)))
        push = app.push_screen

        def marked_push(*args: Any, **kwargs: Any) -> Any:
            result = push(*args, **kwargs)
            self.applied = time.perf_counter()
            return result

        app.push_screen = marked_push  # type: ignore[method-assign]

    def _marking(self, method: Callable[..., None]) -> Callable[..., None]:
        def marked(*args: Any, **kwargs: Any) -> None:
            method(*args, **kwargs)
            self.applied = time.perf_counter()

        return marked

    async def press(self, pilot: Any, key: str) -> tuple[float, float]:
        """Milliseconds from pressing ``key`` to the first frame showing its effect,
        and to the last frame it caused (the footer and other widgets settling)."""
        self.times.clear()
        self.applied = 0.0
        started = time.perf_counter()
        await pilot.press(key)
        if not self.applied:
            raise AssertionError(f"pressing {key} changed nothing measured")
        shown = next((t for t in self.times if t >= self.applied), None)
        if shown is None:
            raise AssertionError(f"pressing {key} drew nothing after its effect")
        return (shown - started) * 1000, (self.times[-1] - started) * 1000


async def settle(pilot: Any) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def change_one_percent(client: FakeClient, round_number: int) -> None:
    """80 counters move, 10 sockets close and 10 new ones appear (1 % of 10,000)."""
    step = len(client.sockets) // 80
    moved = set(range(0, 80 * step, step))
    client.sockets = [
        dataclasses.replace(r, traffic=Traffic(msgs_out=r.traffic.msgs_out + 1))
        if i in moved and r.traffic
        else r
        for i, r in enumerate(client.sockets)
    ]
    for socket_id in [r.id for r in client.sockets if r.state.value == "open"][1:11]:
        client.close_socket(socket_id)
    for record in sockets(10, start=100_000 + 10 * round_number):
        client.add_socket(record)


async def run_interactive(count: int, settings: Settings, floor: bool = False) -> list[Figure]:
    """The refresh and key figures with ``count`` sockets (``floor``: keys only, no targets)."""
    client = make_client(count)
    app = ScopeApp(client, interval=3600.0, clock=clock)
    app.animation_level = "none"
    figures: list[Figure] = []
    async with app.run_test(size=SIZE) as pilot:
        frames = Frames(app)
        started = time.perf_counter()
        await settle(pilot)
        if not floor:
            first = (time.perf_counter() - started) * 1000
            figures.append(
                Figure.of("first_load", f"first snapshot of {count:,} on screen", [first], "ms")
            )
            figures.extend(await refresh_figures(pilot, frames, client, settings))
        figures.extend(await key_figures(pilot, frames, settings, floor))
    return figures


async def refresh_figures(
    pilot: Any, frames: Frames, client: FakeClient, settings: Settings
) -> list[Figure]:
    app = pilot.app
    table = app.table
    applied: list[float] = []
    apply = app._apply

    def timed_apply(fetched: Any) -> None:
        begun = time.perf_counter()
        apply(fetched)
        applied.append((time.perf_counter() - begun) * 1000)

    app._apply = timed_apply
    for round_number in range(settings.refresh_rounds):
        before = {socket_id: table.get_row(socket_id) for socket_id in table.row_ids}
        change_one_percent(client, round_number)
        await pilot.press("r")
        await settle(pilot)
        update = table.last_update
        assert (update.added, update.removed, update.changed) == (10, 10, 80), update
        kept = [sid for sid in table.row_ids if sid in before]
        same = sum(table.get_row(sid) is before[sid] for sid in kept)
        assert same == update.kept == len(kept) - 80, (same, update)
    detail = {"rows_replaced": 100, "rows_kept": table.last_update.kept}
    return [
        Figure.of(
            "refresh_ui",
            "refresh, 1 % of rows changed: UI thread busy",
            applied,
            "ms",
            KEY_TARGET,
            detail,
        )
    ]


KEYS = ("s", "c", "/ + char", "escape", "enter")


async def key_figures(pilot: Any, frames: Frames, settings: Settings, floor: bool) -> list[Figure]:
    first: dict[str, list[float]] = {key: [] for key in KEYS}
    last: dict[str, list[float]] = {key: [] for key in KEYS}

    async def measure(name: str, key: str) -> None:
        shown, settled = await frames.press(pilot, key)
        first[name].append(shown)
        last[name].append(settled)

    for _ in range(settings.key_rounds):
        await measure("s", "s")
        await measure("c", "c")
        await pilot.press("c")
        await pilot.press("slash")
        await measure("/ + char", "7")
        await measure("escape", "escape")  # the filter cleared: every row back
        await measure("enter", "enter")
        await pilot.press("escape")
    rows = pilot.app.table.row_count
    if floor:
        return [
            Figure.of(
                f"floor_{k}", f"key {k}, last frame, {rows} rows (Textual's floor)", last[k], "ms"
            )
            for k in KEYS
        ]
    return [
        figure
        for k in KEYS
        for figure in (
            Figure.of(
                f"key_{k}",
                f"key {k} to first frame showing it, {rows:,} rows",
                first[k],
                "ms",
                KEY_TARGET,
            ),
            Figure.of(f"key_{k}_settled", f"key {k} to last frame, {rows:,} rows", last[k], "ms"),
        )
    ]


# -- memory (one process per size) ----------------------------------------------------


def _kind(filename: str) -> str:
    """Who holds memory allocated in ``filename``: the TUI's rows, the records, or the rest."""
    if "zmqscope/tui/" in filename:
        return "tui"
    if any(part in filename for part in ("zmqscope/", "json/", "tests/tui/")):
        return "records"
    return "other"


async def held_bytes(count: int) -> dict[str, float]:
    """Bytes traced in the TUI process with ``count`` sockets loaded, by who holds them."""
    client = make_client(count)
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.take_snapshot()
    app = ScopeApp(client, interval=3600.0, clock=clock)
    app.animation_level = "none"
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("r")  # a second snapshot replaces the first
        await settle(pilot)
        gc.collect()
        loaded = tracemalloc.take_snapshot()
    tracemalloc.stop()
    held: dict[str, float] = {"sockets": count, "tui": 0, "records": 0, "other": 0}
    for stat in loaded.compare_to(base, "filename"):
        held[_kind(stat.traceback[0].filename)] += stat.size_diff
    held["total"] = held["tui"] + held["records"] + held["other"]
    return held


def measure_memory(settings: Settings) -> list[Figure]:
    results = []
    for count in settings.memory_sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--memory-child", str(count)],
            capture_output=True,
            text=True,
            check=True,
            timeout=300,
            cwd=BENCH_DIR.parent,
        )
        results.append(json.loads(out.stdout.strip().splitlines()[-1]))
    figures = []
    steps = list(itertools.pairwise(results))
    per_socket = []
    for small, large in steps:
        added = large["sockets"] - small["sockets"]
        marginal = {k: (large[k] - small[k]) / added for k in ("total", "tui", "records", "other")}
        per_socket.append(marginal["total"])
        span = f"{small['sockets']:,} to {large['sockets']:,}"
        figures.append(
            Figure.of(
                f"memory_{large['sockets']}",
                f"TUI memory per added socket, {span}",
                [marginal["total"]],
                "B",
                detail=marginal | {"runs": [small, large]},
            )
        )
        figures.append(
            Figure.of(
                f"memory_rows_{large['sockets']}",
                f"  of which the table's rows, {span}",
                [marginal["tui"]],
                "B",
            )
        )
    figures.append(
        Figure.of(
            "memory_growth",
            "per added socket, last step / first step",
            [per_socket[-1] / per_socket[0]],
            "x",
            Target("<=", 1.2),
        )
    )
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (~30 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_child:
        print(json.dumps(asyncio.run(held_bytes(args.memory_child))))
        return 0
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"bench_tui ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    figures = asyncio.run(run_interactive(settings.sockets, settings))
    figures += asyncio.run(run_interactive(FLOOR_SOCKETS, settings, floor=True))
    figures += measure_memory(settings)
    recorded = dataclasses.asdict(settings) | {"quick": args.quick}
    return finish("tui", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
