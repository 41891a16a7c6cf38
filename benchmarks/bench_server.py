"""What the introspection server costs, and how fast it answers, measured in one run.

1. snapshot round trip (``LiveClient.snapshot()`` over ipc, request to
   ``Report``) with 1,000 and 10,000 open sockets: targets <= 50 ms and
   <= 500 ms, with the time of each stage (freeze, report, to_dict, json
   dumps/loads, from_dict) beside it;
2. CPU of an idle serving process, next to the same process not serving:
   target <= 0.5 % of one core;
3. the app's inproc throughput while a client process polls snapshots every
   100 ms, against no client, in interleaved rounds: target >= 0.95.

Usage: ``.venv/bin/python benchmarks/bench_server.py [--quick] [--strict] [--profile]``.
Prints a table and writes ``benchmarks/results/server.json``; ``--profile``
only prints cProfile's view of one 10,000-socket snapshot.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time

from _harness import finish, raise_fd_limit
from _server import FULL, QUICK
from _server.idle import bench_idle
from _server.polling import bench_polled_throughput
from _server.snapshot import bench_snapshots, profile_snapshot

import zmqscope
from zmqscope.instrument import hooks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    parser.add_argument(
        "--profile", action="store_true", help="only profile one 10,000-socket snapshot"
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    # Every libzmq socket holds a file descriptor (its mailbox).
    raise_fd_limit(settings.large + 1_024)
    if args.profile:
        profile_snapshot(settings.large)
        return 0
    # ZMQSCOPE=1 in the environment would have installed and served already.
    zmqscope.uninstall()
    hooks.reset_registry()
    started = time.perf_counter()
    print(f"bench_server ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    figures = [
        *bench_snapshots(settings),
        *bench_idle(settings),
        *bench_polled_throughput(settings),
    ]
    recorded = dataclasses.asdict(settings) | {"quick": args.quick}
    return finish("server", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
