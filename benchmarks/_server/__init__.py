"""The parts of ``bench_server.py``: what each measures is in its own module.

Every part runs an instrumented process that serves introspection on a
private runtime folder, and asks it through the real client.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import zmq
from _harness import at_depth

# Sockets are made this deep, as in bench_core: their recorded stacks are as
# long as a real application's (12 frames), which is what a snapshot carries.
CALLER_DEPTH = 40


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How much work each part does; ``--quick`` trades precision for time."""

    small: int = 1_000  # open sockets, first snapshot size
    large: int = 10_000  # open sockets, second snapshot size
    small_rounds: int = 21
    large_rounds: int = 7
    idle_seconds: float = 5.0
    idle_sockets: int = 100
    poll_rounds: int = 11  # pairs of throughput rounds, polled and not
    poll_messages: int = 500_000  # per round: ~0.5 s, five polls at 100 ms
    poll_interval: float = 0.1
    poll_sockets: int = 100  # open sockets in the app while it is polled


FULL = Settings()
QUICK = Settings(
    small_rounds=5,
    large_rounds=3,
    idle_seconds=2.0,
    poll_rounds=3,
    poll_messages=200_000,
)


@contextlib.contextmanager
def private_runtime() -> Iterator[Path]:
    """A fresh ``XDG_RUNTIME_DIR`` (short: ipc paths are limited to 107 bytes)."""
    folder = Path(tempfile.mkdtemp(prefix="zsb-"))
    previous = os.environ.get("XDG_RUNTIME_DIR")
    os.environ["XDG_RUNTIME_DIR"] = str(folder)
    try:
        yield folder
    finally:
        if previous is None:
            del os.environ["XDG_RUNTIME_DIR"]
        else:
            os.environ["XDG_RUNTIME_DIR"] = previous
        shutil.rmtree(folder, ignore_errors=True)


def open_sockets(
    ctx: zmq.Context[zmq.Socket[bytes]], count: int, first: int = 0
) -> list[zmq.Socket[bytes]]:
    """``count`` PAIR sockets, each bound to its own inproc address, made deep in the stack."""

    def make() -> list[zmq.Socket[bytes]]:
        made = []
        for n in range(first, first + count):
            sock = ctx.socket(zmq.PAIR)
            sock.bind(f"inproc://zmqscope-bench-{n}")
            made.append(sock)
        return made

    return at_depth(CALLER_DEPTH, make)
