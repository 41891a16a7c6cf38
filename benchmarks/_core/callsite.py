"""The reference: what recording a call site costs with the standard library."""

from __future__ import annotations

import dataclasses
import inspect
import time
import traceback
from collections.abc import Callable
from functools import partial

from _harness import Figure, Target, at_depth, progress, ratios

from _core import CALLER_DEPTH, Settings
from zmqscope.instrument import hooks
from zmqscope.instrument.frames import FrameFilter


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
