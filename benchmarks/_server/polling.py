"""The app's message throughput while a client polls snapshots every 100 ms, against none.

This process is the app: instrumented, serving, with open sockets made deep
in the stack, and an inproc PUSH/PULL pair whose throughput is measured as
in bench_core (sender on a thread, pinned to one CPU). The client is another
process, as ``zmqscope attach`` is; it is told to poll or to stay idle
between rounds, which alternate ABBA.
"""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import zmq
from _harness import Figure, Target, one_cpu, progress, push_pull_rate, ratios

import zmqscope
from _server import Settings, open_sockets, private_runtime
from _server.idle import child_env
from zmqscope.instrument import hooks

PAYLOAD = b"x" * 100
ADDRESS = "inproc://zmqscope-bench-polled"

POLLER = """
import sys, threading, time
from zmqscope.remote.client import LiveClient

client = LiveClient(sys.argv[1], timeout=30)
interval = float(sys.argv[2])
polling = threading.Event()
done = 0

def poll():
    global done
    while True:
        polling.wait()
        started = time.monotonic()
        client.snapshot()
        done += 1
        time.sleep(max(0.0, interval - (time.monotonic() - started)))

threading.Thread(target=poll, daemon=True).start()
for line in sys.stdin:
    if line.strip() == "poll":
        done = 0
        polling.set()
    else:
        polling.clear()
    print("ok", done, flush=True)
"""


class Poller:
    """The client process, told to poll or to stay idle."""

    def __init__(self, endpoint: str, interval: float, folder: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", POLLER, endpoint, str(interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=child_env(folder),
        )

    def tell(self, command: str) -> int:
        """Send ``command``; the number of snapshots taken since the last "poll"."""
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()
        _, done = self.process.stdout.readline().split()
        return int(done)

    def close(self) -> None:
        self.process.kill()
        self.process.wait(10)


def throughput_once(ctx: zmq.Context[zmq.Socket[bytes]], messages: int) -> float:
    """Messages per second through a fresh inproc PUSH/PULL pair (sender on a thread).

    A new address each round: libzmq lets go of a closed socket's inproc
    name only when its reaper gets to it, so binding the same name at once
    sometimes failed (EADDRINUSE) and left the benchmark hung in term().
    """
    return push_pull_rate(ctx, f"{ADDRESS}-{next(_ROUNDS)}", PAYLOAD, messages)


_ROUNDS = itertools.count()


def bench_polled_throughput(settings: Settings) -> list[Figure]:
    rounds, n = settings.poll_rounds, settings.poll_messages
    progress(f"throughput while polled: {rounds} x 2 rounds of {n:,} msgs")
    zmqscope.install()
    hooks.reset_registry()
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    held = open_sockets(ctx, settings.poll_sockets)
    quiet: list[float] = []
    polled: list[float] = []
    rates: list[float] = []
    with private_runtime() as folder:
        server = zmqscope.serve()  # before pinning: its thread may use any CPU
        poller = Poller(server.endpoint, settings.poll_interval, folder)
        try:
            poller.tell("idle")  # started and connected
            with one_cpu() as cpu:
                for i in range(rounds + 1):  # the first pair is a warm-up
                    order = (False, True) if i % 2 == 0 else (True, False)
                    results: dict[bool, float] = {}
                    for polling in order:
                        poller.tell("poll" if polling else "idle")
                        started = time.perf_counter()
                        results[polling] = throughput_once(ctx, n)
                        done = poller.tell("idle")
                        if polling:
                            rates.append(done / (time.perf_counter() - started))
                    if i:
                        quiet.append(results[False])
                        polled.append(results[True])
        finally:
            poller.close()
            server.stop()
            for sock in held:
                sock.close(linger=0)
            ctx.term()
            zmqscope.uninstall()
            hooks.reset_registry()
    label = f"inproc PUSH/PULL 100 B, {settings.poll_sockets} sockets open"
    detail = {"pinned_to_cpu": cpu, "messages_per_round": n, "open_sockets": settings.poll_sockets}
    return [
        Figure.of("polled_quiet", f"{label}, no client", quiet, "msg/s", detail=detail),
        Figure.of("polled_busy", f"{label}, client polling", polled, "msg/s"),
        Figure.of("polled_rate", "  snapshots taken per second", rates[1:] or rates, "/s"),
        Figure.of(
            "polled_ratio",
            "throughput polled / not polled",
            ratios(polled, quiet),
            "x",
            Target(">=", 0.95),
        ),
    ]
