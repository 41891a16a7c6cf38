"""Python memory per socket record, measured with tracemalloc."""

from __future__ import annotations

import dataclasses
import gc
import tracemalloc
from pathlib import Path

import zmq
from _harness import Figure, Target, at_depth, progress, set_instrumented

import zmqscope
from _core import CALLER_DEPTH, Settings, roomy_context
from zmqscope.instrument import hooks

ZMQSCOPE_DIR = str(Path(zmqscope.__file__).resolve().parent)


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
    at_depth(CALLER_DEPTH, lambda: close_all(held))  # close() records a stack too
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


def close_all(sockets: list[zmq.Socket[bytes]]) -> None:
    for sock in sockets:
        sock.close()


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
