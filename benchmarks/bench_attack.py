"""What hostile or careless clients cost an application; what polling costs it under churn.

Issue #14's attacks, each against an instrumented application in its own
process (benchmarks/_attack/): request floods, clients that read nothing,
requests of extreme shapes, an application out of file descriptors and more
idle connections than its limit; then socket churn with a client polling
every 10 ms, as ratios against the same run without the client.

Usage: ``.venv/bin/python benchmarks/bench_attack.py [--quick] [--strict] [--only PART]``.
Prints a table and writes ``benchmarks/results/attack.json``. The attackers
speak whatever the zmqscope under test serves, so with ``PYTHONPATH`` set
to an older tree the same script gives the "before" figures.
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import sys
import time

from _attack import FULL, QUICK
from _attack.churn import bench_churn
from _attack.fds import bench_fds
from _attack.flood import bench_flood, bench_unread
from _attack.shapes import bench_shapes
from _harness import finish, raise_fd_limit

PARTS = ("flood", "unread", "shapes", "fds", "churn")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument("--only", choices=PARTS, action="append", help="run only these parts")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    raise_fd_limit(20_000)
    # An older zmqscope served ipc with a ZeroMQ ROUTER: its attackers speak ZeroMQ.
    zmq_ipc = importlib.util.find_spec("zmqscope.remote.stream_server") is None
    started = time.perf_counter()
    print(f"bench_attack ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    parts = args.only or PARTS
    figures = []
    if "flood" in parts:
        figures += bench_flood(settings, zmq_ipc)
    if "unread" in parts:
        figures += bench_unread(settings, zmq_ipc)
    if "shapes" in parts:
        figures += bench_shapes(settings, zmq_ipc)
    if "fds" in parts:
        figures += bench_fds(settings)
    if "churn" in parts:
        figures += bench_churn(settings)
    recorded = dataclasses.asdict(settings) | {"quick": args.quick, "zmq_ipc": zmq_ipc}
    return finish("attack", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
