"""Requests of extreme shapes: what one costs the application that receives it.

This process serves (uninstrumented: only the server matters here) and
measures its own RSS while an attacker sends: over ipc, a length of
ANNOUNCED bytes followed by SENT_MB MB (zmqscope refuses it from the length,
keeping nothing of it); over tcp, one message of FRAMES frames of 60 KB
(libzmq bounds each frame, not a message, and keeps it whole before the
server sees it: the README states this limit; 16,000 frames took an app to
2 GB, issue #14).
"""

from __future__ import annotations

import os
import time

from _harness import Figure, Target, progress

import zmqscope
from _attack import MiB, Settings, attack, counts_of, private_folder, rss_of
from zmqscope.instrument.answers import ProcessServer as Server


def _peak_while(process_done: object, pid: int, seconds: float) -> float:
    peak = rss_of(pid)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak = max(peak, rss_of(pid))
        time.sleep(0.05)
    return peak / MiB


def bench_shapes(settings: Settings, zmq_ipc: bool) -> list[Figure]:
    me = os.getpid()
    figures: list[Figure] = []
    with private_folder() as folder:
        os.environ["XDG_RUNTIME_DIR"] = str(folder)
        server = zmqscope.serve()
        try:
            progress(
                f"shape, ipc: {settings.sent_mb} MB sent after a length of {settings.announced:,}"
            )
            before = rss_of(me) / MiB
            if zmq_ipc:
                options = ["--mode", "shape", "--zmq", "--frames", str(settings.frames)]
            else:
                options = ["--mode", "shape", "--announced", str(settings.announced)]
                options += ["--sent-mb", str(settings.sent_mb)]
            attacker = attack(server.endpoint, *options, "--seconds", "3")
            peak = _peak_while(attacker, me, 3.5)
            counts = counts_of(attacker)
            after = rss_of(me) / MiB
            label = "ipc: one request of a huge length" if not zmq_ipc else "ipc: frames"
            figures += [
                Figure.of(
                    "shape_ipc_sent",
                    f"{label}, bytes the server took",
                    [counts.get("sent", 0) / MiB],
                    "MiB",
                ),
                Figure.of(
                    "shape_ipc_growth",
                    "  this process's RSS growth (peak)",
                    [peak - before],
                    "MiB",
                    Target("<=", 16.0),
                ),
                Figure.of("shape_ipc_after", "  ... after", [after - before], "MiB"),
            ]
        finally:
            server.stop()
        tcp = Server("tcp://127.0.0.1:0", insecure=True).start()
        try:
            progress(f"shape, tcp: one message of {settings.frames:,} frames of 60 KB")
            before = rss_of(me) / MiB
            attacker = attack(
                tcp.endpoint,
                "--mode",
                "shape",
                "--zmq",
                "--frames",
                str(settings.frames),
                "--seconds",
                "3",
            )
            peak = _peak_while(attacker, me, 3.5)
            counts_of(attacker)
            time.sleep(0.5)
            after = rss_of(me) / MiB
            size = settings.frames * 60_000 / MiB
            figures += [
                Figure.of(
                    "shape_tcp_growth",
                    f"tcp: {settings.frames:,} frames ({size:.0f} MiB), RSS growth (peak)",
                    [peak - before],
                    "MiB",
                ),
                Figure.of(
                    "shape_tcp_after", "  ... after (libzmq's limit)", [after - before], "MiB"
                ),
            ]
        finally:
            tcp.stop()
    return figures
