"""A real process tree for the topology tests: a parent starts a broker and workers.

The parent (``ZMQSCOPE=1 python parent.py``) makes no socket itself. It
starts the broker by ``subprocess``, worker "a" by ``subprocess``, worker
"b" by ``multiprocessing`` spawn and worker "c" by ``multiprocessing`` fork;
all inherit ``ZMQSCOPE=1``. Each diagnosis is provoked for real:

- broker: ROUTER on tcp (the workers' DEALERs and a's REQ), PUB on a
  relative ipc path, a PULL nothing connects to, a PAIR on ``ipc://dup.sock``;
- a: DEALER, a subscribed SUB, a REQ whose request the ROUTER never answers,
  a DEALER to a plain (not instrumented) tcp listener;
- b: DEALER, a SUB without subscription, a PUSH to a port nothing listens on;
- c: DEALER, a PULL connected to the PUB (types that cannot talk), a PAIR
  bound again on ``ipc://dup.sock``.

Each process writes ``ready-<name>`` once wired, and exits when the test
creates ``stop`` (or after a minute).
"""

from __future__ import annotations

from pathlib import Path

from tests.helpers.processes import write_app

COMMON = """
import os, sys, time
import zmq

def wait_for(name):
    deadline = time.monotonic() + 60
    while not os.path.exists(name):
        if time.monotonic() > deadline:
            sys.exit(f"{name} never came")
        time.sleep(0.02)

def ready_and_wait(name):
    open(f"ready-{name}", "w").close()
    deadline = time.monotonic() + 60
    while not os.path.exists("stop") and time.monotonic() < deadline:
        time.sleep(0.05)
"""

BROKER = """
from common import *

ctx = zmq.Context()
router = ctx.socket(zmq.ROUTER)  # broker-router
port = router.bind_to_random_port("tcp://127.0.0.1")
pub = ctx.socket(zmq.PUB)  # broker-pub
pub.bind("ipc://pub.sock")
lonely = ctx.socket(zmq.PULL)  # broker-lonely
lonely.bind("tcp://127.0.0.1:*")
first = ctx.socket(zmq.PAIR)  # broker-pair
first.bind("ipc://dup.sock")
with open("port.tmp", "w") as out:
    out.write(str(port))
os.replace("port.tmp", "port")
ready_and_wait("broker")
ctx.destroy(linger=0)
"""

WORKERS = """
from common import *

def endpoint():
    wait_for("port")
    with open("port") as source:
        return f"tcp://localhost:{source.read()}"

def worker_a():
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)  # a-dealer
    dealer.connect(endpoint())
    sub = ctx.socket(zmq.SUB)  # a-sub
    sub.subscribe(b"")
    sub.connect("ipc://pub.sock")
    req = ctx.socket(zmq.REQ)  # a-req
    req.connect(endpoint().replace("localhost", "127.0.0.1"))
    req.send(b"hello?")
    with open("plain-port") as source:
        plain = ctx.socket(zmq.DEALER)  # a-plain
        plain.connect(f"tcp://127.0.0.1:{source.read()}")
    ready_and_wait("a")
    ctx.destroy(linger=0)

def worker_b():
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)  # b-dealer
    dealer.connect(endpoint())
    deaf = ctx.socket(zmq.SUB)  # b-sub
    deaf.connect("ipc://pub.sock")
    with open("free-port") as source:
        nowhere = ctx.socket(zmq.PUSH)  # b-nowhere
        nowhere.connect(f"tcp://127.0.0.1:{source.read()}")
    ready_and_wait("b")
    ctx.destroy(linger=0)

def worker_c():
    ctx = zmq.Context()
    dealer = ctx.socket(zmq.DEALER)  # c-dealer
    dealer.connect(endpoint())
    wrong = ctx.socket(zmq.PULL)  # c-pull
    wrong.connect("ipc://pub.sock")
    second = ctx.socket(zmq.PAIR)  # c-pair
    second.bind("ipc://dup.sock")
    ready_and_wait("c")
    ctx.destroy(linger=0)

if __name__ == "__main__":
    worker_a()
"""

PARENT = """
import multiprocessing, subprocess
from common import *
import workers

if __name__ == "__main__":
    broker = subprocess.Popen([sys.executable, "broker.py"])
    wait_for("ready-broker")
    a = subprocess.Popen([sys.executable, "workers.py"])
    b = multiprocessing.get_context("spawn").Process(target=workers.worker_b)
    b.start()
    c = multiprocessing.get_context("fork").Process(target=workers.worker_c)
    c.start()
    for name in ("a", "b", "c"):
        wait_for(f"ready-{name}")
    print("ready", file=sys.stderr, flush=True)
    wait_for("stop")
    for child in (broker, a):
        child.wait(timeout=30)
    for child in (b, c):
        child.join(timeout=30)
"""

# A tcp listener that is not instrumented (no ZeroMQ at all).
PLAIN_LISTENER = """
import os, socket, sys, time
listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen()
with open("plain-port.tmp", "w") as out:
    out.write(str(listener.getsockname()[1]))
os.replace("plain-port.tmp", "plain-port")
deadline = time.monotonic() + 60
while not os.path.exists("stop") and time.monotonic() < deadline:
    time.sleep(0.05)
"""


def write_tree(folder: Path) -> Path:
    """The apps above in ``folder``; the parent's path."""
    write_app(folder, COMMON, "common.py")
    write_app(folder, BROKER, "broker.py")
    write_app(folder, WORKERS, "workers.py")
    write_app(folder, PLAIN_LISTENER, "plain_listener.py")
    return write_app(folder, PARENT, "parent.py")
