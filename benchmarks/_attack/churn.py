"""Socket churn with a client polling: what serving snapshots takes from the application.

Issue #14: with eight threads making and closing sockets and a client
polling every 10 ms, snapshots took 0.33 s each (max 1.65 s) and the
application made 185k sockets in 30 s against plain pyzmq's 867k.

This process is the application: CHURN_THREADS threads each run
``ctx.socket(zmq.PUSH).close()`` in a loop for CHURN_SECONDS, on a fresh
context per round. Three arms, rotated round by round: plain pyzmq
(zmqscope uninstalled), instrumented and serving with no client, and the
same with a client process polling snapshots (``LiveClient.snapshot()``, as
``zmqscope attach`` does) every POLL_INTERVAL. Targets: the polled rate at
least 0.8 of the unpolled one, the snapshot's median round trip 50 ms.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from typing import Any

import zmq
from _harness import Figure, Target, progress, ratios

import zmqscope
from _attack import Settings, child_env, private_folder
from zmqscope.instrument import hooks

POLLER = """
import json, sys, threading, time
from zmqscope.remote.client import ClientError, LiveClient

client = LiveClient(sys.argv[1], timeout=30)
interval = float(sys.argv[2])
polling = threading.Event()
lock = threading.Lock()
latencies, refused = [], [0]

def poll():
    while True:
        polling.wait()
        started = time.monotonic()
        try:
            client.snapshot()
        except ClientError:
            refused[0] += 1
        took = time.monotonic() - started
        with lock:
            latencies.append(took)
        time.sleep(max(0.0, interval - took))

threading.Thread(target=poll, daemon=True).start()
for line in sys.stdin:
    if line.strip() == "poll":
        with lock:
            latencies.clear()
            refused[0] = 0
        polling.set()
    else:
        polling.clear()
    with lock:
        print(json.dumps({"latencies": latencies, "refused": refused[0]}), flush=True)
"""


class Poller:
    """The client process, told to poll or to stay idle."""

    def __init__(self, endpoint: str, interval: float, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", POLLER, endpoint, str(interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )

    def tell(self, command: str) -> dict[str, Any]:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        result: dict[str, Any] = json.loads(self.process.stdout.readline())
        return result

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)


def churn_rate(threads: int, seconds: float) -> float:
    """Sockets made and closed per second by ``threads`` threads, on a fresh context."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    ctx.set(zmq.MAX_SOCKETS, max(1_024, min(soft - 512, 60_000)))
    stop: list[bool] = []
    counts = [0] * threads

    def work(index: int) -> None:
        make, push = ctx.socket, zmq.PUSH
        made = 0
        while not stop:
            make(push).close()
            made += 1
        counts[index] = made

    workers = [threading.Thread(target=work, args=(n,), name=f"churn-{n}") for n in range(threads)]
    started = time.perf_counter()
    for worker in workers:
        worker.start()
    time.sleep(seconds)
    stop.append(True)
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    ctx.term()
    return sum(counts) / elapsed


def bench_churn(settings: Settings) -> list[Figure]:
    rounds, seconds, threads = settings.churn_rounds, settings.churn_seconds, settings.churn_threads
    progress(f"churn: {threads} threads, {rounds} x 3 rounds of {seconds:g} s")
    rates: dict[str, list[float]] = {"plain": [], "quiet": [], "polled": []}
    latencies: list[float] = []
    refused = 0
    with private_folder() as folder:
        os.environ["XDG_RUNTIME_DIR"] = str(folder)
        zmqscope.install()
        server = zmqscope.serve()
        poller = Poller(server.endpoint, settings.poll_interval, child_env(folder))
        try:
            poller.tell("idle")  # started and connected
            arms = ["plain", "quiet", "polled"]
            for i in range(rounds + 1):  # the first round of each arm is a warm-up
                for arm in arms if i % 2 == 0 else arms[::-1]:
                    hooks.reset_registry()
                    if arm == "plain":
                        zmqscope.uninstall()
                    else:
                        zmqscope.install()
                    if arm == "polled":
                        poller.tell("poll")
                    rate = churn_rate(threads, seconds)
                    if arm == "polled":
                        seen = poller.tell("idle")
                        if i:
                            latencies += seen["latencies"]
                            refused += seen["refused"]
                    if i:
                        rates[arm].append(rate)
        finally:
            poller.close()
            server.stop()
            zmqscope.uninstall()
            hooks.reset_registry()
    ms = sorted(1e3 * t for t in latencies) or [0.0]
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    label = f"{threads} threads socket()+close()"
    per_second = len(latencies) / (rounds * seconds)
    return [
        Figure.of("churn_plain", f"{label}, plain pyzmq", rates["plain"], "/s"),
        Figure.of("churn_quiet", f"{label}, instrumented, no client", rates["quiet"], "/s"),
        Figure.of(
            "churn_polled",
            f"{label}, instrumented, polled every {settings.poll_interval * 1e3:g} ms",
            rates["polled"],
            "/s",
        ),
        Figure.of(
            "churn_ratio",
            "  polled / not polled",
            ratios(rates["polled"], rates["quiet"]),
            "x",
            Target(">=", 0.8),
        ),
        Figure.of(
            "churn_instrumented_ratio",
            "  instrumented / plain",
            ratios(rates["quiet"], rates["plain"]),
            "x",
        ),
        Figure.of(
            "churn_snapshot_ms", "  snapshot round trip under churn", ms, "ms", Target("<=", 50.0)
        ),
        Figure.of("churn_snapshot_p90", "  ... 90th percentile", [p90], "ms"),
        Figure.of("churn_snapshot_max", "  ... slowest", [ms[-1]], "ms"),
        Figure.of(
            "churn_snapshots",
            "  snapshots per second",
            [per_second],
            "/s",
            detail={"refused_busy": refused, "snapshots": len(latencies)},
        ),
    ]
