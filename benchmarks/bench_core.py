"""zmqscope's core costs against plain pyzmq, measured side by side in one run.

1. inproc PUSH/PULL throughput of 100-byte messages (send/recv are hooked only
   in the opt-in traffic mode, so instrumented/plain should be 1.0 within noise);
2. ``ctx.socket()`` + ``close()`` per pair, called 40 frames deep;
3. the reference: recording a call site with ``inspect.stack()`` or
   ``traceback.extract_stack()`` against zmqscope's frame walk;
4. Python memory held per open socket record, measured with tracemalloc.

Usage: ``.venv/bin/python benchmarks/bench_core.py [--quick] [--strict] [--profile]``.
Prints a table and writes ``benchmarks/results/core.json``; ``--profile`` only
prints cProfile's view of the instrumented socket()+close() loop.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from _core import FULL, QUICK
from _core.callsite import bench_capture
from _core.lifecycle import bench_pairs, profile_pairs
from _core.memory import bench_memory
from _core.throughput import bench_throughput
from _harness import finish, raise_fd_limit

import zmqscope
from zmqscope.instrument import hooks
from zmqscope.instrument.registry.store import MAX_CLOSED_RECORDS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds (< 20 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="only profile the instrumented socket()+close() loop with cProfile",
    )
    args = parser.parse_args(argv)
    if args.profile:
        profile_pairs()
        return 0
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
    recorded = dataclasses.asdict(settings) | {"quick": args.quick}
    return finish("core", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
