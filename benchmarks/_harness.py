"""Shared machinery of the benchmarks: paired rounds, call depth, figures, output.

Every comparison runs plain pyzmq and instrumented pyzmq in the same process,
alternating rounds (ABBA order), so that a noisy neighbour or a CPU frequency
change hits both sides alike; figures are medians over rounds with their
spread. ``run_all.py`` runs only ``bench_*.py`` files, so this one is skipped.
"""

from __future__ import annotations

import atexit
import contextlib
import datetime
import gc
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import zmq

import zmqscope

T = TypeVar("T")

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
SCHEMA = "zmqscope.bench/1"


# -- instrumentation on/off --------------------------------------------------------


def set_instrumented(on: bool) -> None:
    """Toggle zmqscope's class-level hooks; sockets made afterwards see the change."""
    if on:
        zmqscope.install()
    else:
        zmqscope.uninstall()
    gc.collect()


def progress(message: str) -> None:
    """A benchmark's step, on stderr (the table goes to stdout)."""
    print(f"  {message}", file=sys.stderr, flush=True)


def paired_rounds(
    rounds: int,
    measure: Callable[[], T],
    warmup: int = 1,
    toggle: Callable[[bool], None] = set_instrumented,
) -> tuple[list[T], list[T]]:
    """Run ``measure`` plain and instrumented, ``rounds`` times each, interleaved.

    Pairs alternate their order (plain first, then instrumented first) so that
    a slow drift of the machine does not favour either side. The first
    ``warmup`` pairs are discarded (imports, caches, page faults).
    ``toggle`` switches the instrumented side on and off (zmqscope's hooks
    unless told otherwise). Returns (plain samples, instrumented samples),
    pair by pair.
    """
    plain: list[T] = []
    instrumented: list[T] = []
    for i in range(warmup + rounds):
        order = (False, True) if i % 2 == 0 else (True, False)
        results: dict[bool, T] = {}
        for on in order:
            toggle(on)
            results[on] = measure()
        if i >= warmup:
            plain.append(results[False])
            instrumented.append(results[True])
    toggle(False)
    return plain, instrumented


def raise_fd_limit(wanted: int) -> None:
    """Lift the soft limit on open files towards ``wanted``.

    Each libzmq socket holds a file descriptor until its reaper frees it, and
    many systems default to 1,024 open files.
    """
    try:
        import resource
    except ImportError:  # not on Windows
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))


@contextlib.contextmanager
def one_cpu() -> Iterator[int | None]:
    """Run this thread, and the threads it starts, on a single CPU.

    A sender and a receiver thread that take turns holding the GIL go faster
    and far more steadily on one CPU: measured here, the quartile range of
    inproc throughput shrank from ~9 % to ~3 % of the median. Where CPU
    affinity is not available (macOS, Windows) nothing changes (None).
    """
    if not hasattr(os, "sched_setaffinity"):
        yield None
        return
    allowed = os.sched_getaffinity(0)
    cpu = min(allowed)
    os.sched_setaffinity(0, {cpu})
    try:
        yield cpu
    finally:
        os.sched_setaffinity(0, allowed)


# -- call depth ----------------------------------------------------------------------


def stack_depth() -> int:
    """How many frames deep the caller runs (1 for a module's top level)."""
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back  # type: ignore[assignment]
    return depth


def at_depth(depth: int, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a frame that sits ``depth`` frames deep (module level is 1).

    Stack walks cost more the deeper they start; real applications create
    sockets from inside frameworks, not from a module's top level.
    """
    missing = depth - stack_depth() - 1
    return _descend(max(missing, 0), fn)  # type: ignore[no-any-return]


def _application_frames() -> Callable[[int, Callable[[], Any]], Any]:
    """The recursive helper, imported from a module where it sits at line 1000.

    CPython caches the ints up to 256, so every recorded frame whose line
    number is past 256 (most frames of a real application) costs one more
    int object; a helper near the top of this file would hide that cost.
    The module is a real file, imported the usual way, so that
    ``inspect.stack()`` and ``traceback`` find it and its source as they
    would an application's module.
    """
    folder = Path(tempfile.mkdtemp(prefix="zmqscope-bench-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "zmqscope_bench_app.py"
    body = (
        "def descend(levels, fn):\n"
        "    if levels <= 1:\n"
        "        return fn()\n"
        "    return descend(levels - 1, fn)\n"
    )
    path.write_text('"""Frames standing for an application\'s own."""\n' + "\n" * 998 + body)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module.descend  # type: ignore[no-any-return]


_descend = _application_frames()


# -- figures -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Spread:
    """The median of some samples and how far they spread."""

    median: float
    q1: float  # 25th percentile
    q3: float  # 75th percentile
    low: float
    high: float
    samples: tuple[float, ...]

    @classmethod
    def of(cls, samples: Sequence[float]) -> Spread:
        if len(samples) > 1:
            q1, _, q3 = statistics.quantiles(samples, n=4, method="inclusive")
        else:
            q1 = q3 = samples[0]
        median = statistics.median(samples)
        return cls(median, q1, q3, min(samples), max(samples), tuple(samples))

    def to_dict(self) -> dict[str, Any]:
        return {
            "median": self.median,
            "q1": self.q1,
            "q3": self.q3,
            "min": self.low,
            "max": self.high,
            "samples": list(self.samples),
        }


def ratios(numerators: Sequence[float], denominators: Sequence[float]) -> list[float]:
    """Pair-by-pair ratios: each pair ran back to back, so shared noise cancels."""
    return [n / d for n, d in zip(numerators, denominators, strict=True)]


@dataclass(frozen=True, slots=True)
class Target:
    """A bound a figure should respect, e.g. ``>= 0.98``."""

    op: str  # ">=" or "<="
    bound: float

    def met(self, value: float) -> bool:
        return value >= self.bound if self.op == ">=" else value <= self.bound

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass(frozen=True, slots=True)
class Figure:
    """One line of the results table: a value, its spread, its target."""

    key: str
    label: str
    value: float
    unit: str
    spread: Spread | None = None
    target: Target | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(
        cls,
        key: str,
        label: str,
        samples: Sequence[float],
        unit: str,
        target: Target | None = None,
        detail: dict[str, Any] | None = None,
    ) -> Figure:
        """The median of ``samples``, with their spread."""
        spread = Spread.of(samples)
        return cls(key, label, spread.median, unit, spread, target, detail or {})

    @property
    def verdict(self) -> str:
        if self.target is None:
            return "info"
        return "PASS" if self.target.met(self.value) else "MISS"

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "value": self.value,
            "unit": self.unit,
            "spread": self.spread.to_dict() if self.spread else None,
            "target": {"op": self.target.op, "bound": self.target.bound} if self.target else None,
            "verdict": self.verdict,
            "detail": self.detail,
        }


def _number(value: float) -> str:
    """Three significant digits (trailing zeros kept), whole numbers from 100."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:#.3g}"


def format_table(figures: Sequence[Figure]) -> str:
    """The figures as a Markdown table (printed, and pasted into the README)."""
    rows = [("figure", "median", "quartiles", "min - max", "target", "verdict")]
    for f in figures:
        value = f"{_number(f.value)} {f.unit}".strip()
        quartiles = extremes = ""
        if f.spread:
            quartiles = f"{_number(f.spread.q1)} - {_number(f.spread.q3)}"
            extremes = f"{_number(f.spread.low)} - {_number(f.spread.high)}"
        rows.append((f.label, value, quartiles, extremes, str(f.target or ""), f.verdict))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


# -- output --------------------------------------------------------------------------


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=BENCH_DIR.parent, capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def environment() -> dict[str, Any]:
    """What the figures depend on: versions, machine, and the code measured."""
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "pyzmq": zmq.__version__,
        "libzmq": zmq.zmq_version(),
        "zmqscope": zmqscope.__version__,
        "zmqscope_path": str(Path(zmqscope.__file__).resolve().parent),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        # Uncommitted changes to the package mean the figures describe a
        # working tree, not the commit above.
        "zmqscope_dirty": bool(_git("status", "--porcelain", "--", "zmqscope")),
    }


def write_results(name: str, figures: Sequence[Figure], settings: dict[str, Any]) -> Path:
    """Write ``results/<name>.json`` and return its path."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "schema": SCHEMA,
        "benchmark": name,
        "generated_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "environment": environment(),
        "settings": settings,
        "figures": [f.to_dict() for f in figures],
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    return path


def finish(
    name: str, figures: Sequence[Figure], settings: dict[str, Any], started: float, strict: bool
) -> int:
    """Print the table, write ``results/<name>.json``, name any miss; the exit status."""
    elapsed = time.perf_counter() - started
    print(format_table(figures))
    path = write_results(name, figures, settings | {"seconds": round(elapsed, 1)})
    print(f"\n{elapsed:.0f} s; results written to {path}")
    missed = [f.label for f in figures if f.verdict == "MISS"]
    if missed:
        print("MISSED: " + "; ".join(missed))
    return 1 if missed and strict else 0


def push_pull_rate(
    ctx: zmq.Context[zmq.Socket[bytes]], address: str, payload: bytes, messages: int
) -> float:
    """Messages per second through a fresh PUSH/PULL pair (the sender on a thread).

    ``address`` may be ``tcp://127.0.0.1:*``: the PULL side binds a free port.
    """
    pull = ctx.socket(zmq.PULL)
    if address.endswith(":*"):
        address = f"{address[:-2]}:{pull.bind_to_random_port(address[:-2])}"
    else:
        pull.bind(address)
    push = ctx.socket(zmq.PUSH)
    push.connect(address)
    go = threading.Event()

    def sender() -> None:
        send = push.send
        go.wait()
        for _ in range(messages):
            send(payload)

    thread = threading.Thread(target=sender, name="bench-sender")
    thread.start()
    recv = pull.recv
    start = time.perf_counter()
    go.set()
    for _ in range(messages):
        recv()
    elapsed = time.perf_counter() - start
    thread.join()
    push.close(linger=0)
    pull.close(linger=0)
    return messages / elapsed


CaseBench = Callable[[str, str, int, Path], list[Figure]]


def main_over_cases(
    name: str,
    doc: str | None,
    cases: dict[str, str],
    bench_case: CaseBench,
    rounds: tuple[int, int],
    argv: list[str] | None = None,
) -> int:
    """``main`` of a benchmark that times ``python -c CODE`` cases (startup, children).

    ``bench_case(case, code, rounds, folder)`` measures one case, ``folder``
    a private temporary folder (0700) removed after; ``rounds`` is (full,
    quick).
    """
    import argparse

    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    count = rounds[1] if args.quick else rounds[0]
    started = time.perf_counter()
    print(f"bench_{name} ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    folder = Path(tempfile.mkdtemp(prefix=f"zs-{name}-"))
    try:
        figures = [
            figure
            for case, code in cases.items()
            for figure in bench_case(case, code, count, folder)
        ]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return finish(name, figures, {"rounds": count, "quick": args.quick}, started, args.strict)
