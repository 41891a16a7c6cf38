"""A small pyzmq app that forgets to clean up, for ``make demo``.

A ventilator pushes work to a worker thread, which pushes results to a sink.
The sink is closed properly; four sockets are not:

- a heartbeat socket kept in a module global (still open at exit),
- the worker thread's result socket (it returns without closing it),
- the ventilator, bound to a random port (collected when main() returns),
- a status socket dropped on the floor (garbage-collected without close()).

Run it under zmqscope to see each one named with the line that created it::

    zmqscope run -m zmqscope.examples.leaky_app
"""

from __future__ import annotations

import gc
import threading

import zmq

WORK_ITEMS = 10
HEARTBEATS: list[zmq.Socket[bytes]] = []


def worker(
    ctx: zmq.Context[zmq.Socket[bytes]], work_url: str, results_url: str, ready: threading.Event
) -> None:
    tasks = ctx.socket(zmq.PULL)
    tasks.connect(work_url)
    results = ctx.socket(zmq.PUSH)  # leaked: the thread never closes it
    results.connect(results_url)
    ready.set()
    for _ in range(WORK_ITEMS):
        number = int(tasks.recv())
        results.send(str(number * number).encode())
    tasks.close()


def report_status(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    status = ctx.socket(zmq.PUB)  # collected without close() when this returns
    status.bind("inproc://status")
    status.send(b"started")


def start_heartbeat(ctx: zmq.Context[zmq.Socket[bytes]]) -> None:
    heartbeat = ctx.socket(zmq.PUB)  # leaked: kept in a global, open at exit
    heartbeat.bind("inproc://heartbeat")
    HEARTBEATS.append(heartbeat)


def main() -> int:
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context.instance()  # lives until exit
    ventilator = ctx.socket(zmq.PUSH)  # leaked: never closed, collected at return
    port = ventilator.bind_to_random_port("tcp://127.0.0.1")
    sink = ctx.socket(zmq.PULL)
    sink_port = sink.bind_to_random_port("tcp://127.0.0.1")

    ready = threading.Event()  # the worker's sockets come first: ids the same every run
    thread = threading.Thread(
        target=worker,
        args=(ctx, f"tcp://127.0.0.1:{port}", f"tcp://127.0.0.1:{sink_port}", ready),
        name="squarer",
    )
    thread.start()
    ready.wait()
    start_heartbeat(ctx)
    report_status(ctx)
    gc.collect()

    for number in range(WORK_ITEMS):
        ventilator.send(str(number).encode())
    total = sum(int(sink.recv()) for _ in range(WORK_ITEMS))
    thread.join()
    sink.close()
    print(f"sum of squares below {WORK_ITEMS}: {total}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
