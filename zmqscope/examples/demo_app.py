"""The demo application behind ``zmqscope demo``: a small ZeroMQ system with bugs.

- a pipeline: a ventilator (PUSH) feeds two worker threads (PULL -> PUSH)
  that feed a sink (PULL);
- a PUB/SUB pair publishing ticks;
- a REQ/REP service answering pings;
- one leaked socket (made in a helper and never closed);
- one socket shared across threads (a PUB used by the main thread and by
  the "reporter" thread);
- a worker ("stubborn") that ignores the context's termination and keeps
  its socket open, so shutdown blocks until it gives up.

It runs until SIGUSR1 (or ``--shutdown-after`` seconds), then shuts down:
every well-behaved part closes its sockets and ``ctx.term()`` blocks on the
stubborn worker for ``--hold`` seconds. SIGTERM shuts it down too, with no
hold: the stubborn worker lets go at once (``zmqscope demo`` sends it when
the TUI quits, so that the demo's exit report comes at once).
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import threading
import time
from types import FrameType

import zmq

Ctx = zmq.Context[zmq.Socket[bytes]]
stop = threading.Event()
give_up = threading.Event()  # SIGTERM: the stubborn worker lets go at once
audit_logs: list[zmq.Socket[bytes]] = []


def ventilator(ctx: Ctx, url: str) -> None:
    with ctx.socket(zmq.PUSH) as push:
        push.bind(url)
        number = 0
        while not stop.is_set():
            try:
                push.send(str(number).encode(), zmq.NOBLOCK)
                number += 1
            except zmq.Again:
                pass
            time.sleep(0.05)


def worker(ctx: Ctx, source: str, sink: str) -> None:
    with ctx.socket(zmq.PULL) as pull, ctx.socket(zmq.PUSH) as push:
        pull.connect(source)
        push.connect(sink)
        pull.rcvtimeo = 200
        while not stop.is_set():
            try:
                number = int(pull.recv())
            except zmq.Again:
                continue
            push.send(str(number * number).encode())


def sink(pull: zmq.Socket[bytes]) -> None:
    # Made and bound by the main thread, used only here: a clean hand-off.
    with pull:
        pull.rcvtimeo = 200
        while not stop.is_set():
            try:
                pull.recv()
            except zmq.Again:
                continue


def ticker(ctx: Ctx, url: str) -> None:
    with ctx.socket(zmq.PUB) as pub, ctx.socket(zmq.SUB) as sub:
        pub.bind(url)
        sub.connect(url)
        sub.subscribe(b"tick")
        sub.rcvtimeo = 200
        while not stop.is_set():
            pub.send(b"tick %d" % time.monotonic_ns())
            with contextlib.suppress(zmq.Again):
                sub.recv()
            time.sleep(0.2)


def service(ctx: Ctx, url: str) -> None:
    with ctx.socket(zmq.REP) as rep, ctx.socket(zmq.REQ) as req:
        rep.bind(url)
        # A wildcard port can be bound, not connected to: ask where it landed.
        req.connect(rep.getsockopt_string(zmq.LAST_ENDPOINT))
        rep.rcvtimeo = req.rcvtimeo = 200
        # Well-behaved: a ping still queued at shutdown is dropped, not waited for.
        rep.linger = req.linger = 0
        while not stop.is_set():
            req.send(b"ping")
            request = receive(rep)
            if request is None:
                break
            rep.send(request + b"/pong")
            if receive(req) is None:
                break
            stop.wait(0.3)


def receive(sock: zmq.Socket[bytes]) -> bytes | None:
    """The next message (waiting as long as it takes), or None once the demo stops."""
    while not stop.is_set():
        with contextlib.suppress(zmq.Again):
            return sock.recv()
    return None


def stubborn(ctx: Ctx, hold: float) -> None:
    """The bug: it swallows ContextTerminated and keeps its socket open."""
    dealer = ctx.socket(zmq.DEALER)
    dealer.connect("tcp://127.0.0.1:9")  # nobody answers there
    with contextlib.suppress(zmq.ContextTerminated):
        dealer.recv()
    give_up.wait(hold)  # ...busy with something else, socket still open
    dealer.close(linger=0)


def open_audit_log() -> zmq.Socket[bytes]:
    # Leaked: nobody ever closes it. It lives in the global Context.instance(),
    # which is never terminated, so it shows up as open at exit.
    audit: zmq.Socket[bytes] = zmq.Context.instance().socket(zmq.PUSH)
    audit.bind("inproc://audit")
    audit_logs.append(audit)
    return audit


def reporter(status: zmq.Socket[bytes]) -> None:
    # Shares the main thread's PUB socket: ZeroMQ sockets are not thread-safe.
    while not stop.wait(1.0):
        status.send(b"status ok")


def main() -> int:  # over 50 lines: the demo's whole story, start to shutdown, in order
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shutdown-after", type=float, default=0.0, metavar="SECONDS")
    parser.add_argument("--hold", type=float, default=30.0, metavar="SECONDS")
    options = parser.parse_args()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()
        if signum == signal.SIGTERM:
            give_up.set()

    signal.signal(signal.SIGUSR1, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ctx: Ctx = zmq.Context()
    open_audit_log()
    status = ctx.socket(zmq.PUB)
    status.bind("inproc://status")
    results = ctx.socket(zmq.PULL)
    sink_port = results.bind_to_random_port("tcp://127.0.0.1")
    parts = [
        threading.Thread(target=ventilator, args=(ctx, "inproc://work"), name="ventilator"),
        threading.Thread(target=sink, args=(results,), name="sink"),
        threading.Thread(target=ticker, args=(ctx, "inproc://ticks"), name="ticker"),
        threading.Thread(target=service, args=(ctx, "tcp://127.0.0.1:*"), name="service"),
        threading.Thread(target=reporter, args=(status,), name="reporter"),
    ]
    for index in (1, 2):
        parts.append(
            threading.Thread(
                target=worker,
                args=(ctx, "inproc://work", f"tcp://127.0.0.1:{sink_port}"),
                name=f"worker-{index}",
            )
        )
    parts.append(threading.Thread(target=stubborn, args=(ctx, options.hold), name="stubborn"))
    for thread in parts:
        thread.start()

    deadline = time.monotonic() + options.shutdown_after if options.shutdown_after else None
    while not stop.is_set():
        status.send(b"main alive")
        stop.wait(0.5)
        if deadline is not None and time.monotonic() > deadline:
            stop.set()

    print("demo: shutting down", flush=True)
    for thread in parts:
        if thread.name != "stubborn":
            thread.join()
    status.close()
    ctx.term()  # blocks until "stubborn" gives up its socket
    print("demo: terminated", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
