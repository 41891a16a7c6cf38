"""The parts of ``bench_core.py``: what each measures is in its own module.

Every part compares plain pyzmq with ``zmqscope.install()`` in the same
process, in interleaved rounds (see ``_harness.paired_rounds``).
"""

from __future__ import annotations

import dataclasses

import zmq

# Real applications create sockets from inside frameworks: stack walks cost
# more the deeper they start, so the socket-creating code runs this deep.
CALLER_DEPTH = 40


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    """How much work each part does; ``--quick`` trades precision for time."""

    throughput_rounds: int = 21
    messages: int = 200_000
    pair_rounds: int = 31
    pairs: int = 2_000  # per context: well below the registry's closed-record bound
    overflow_rounds: int = 5  # 0 skips the run past MAX_CLOSED_RECORDS
    term_rounds: int = 3
    term_sockets: int = 5_000
    capture_rounds: int = 15
    memory_rounds: int = 3
    sockets: int = 2_000


FULL = Settings()
QUICK = Settings(
    throughput_rounds=5,
    messages=100_000,
    pair_rounds=9,
    pairs=1_000,
    overflow_rounds=0,
    term_rounds=1,
    term_sockets=2_000,
    capture_rounds=5,
    memory_rounds=1,
)


def roomy_context(sockets: int) -> zmq.Context[zmq.Socket[bytes]]:
    """A context that can hold ``sockets`` sockets at once.

    libzmq counts a closed socket against MAX_SOCKETS (default 1023) until
    its reaper thread has freed it, and a tight socket()/close() loop outruns
    the reaper: plain pyzmq fails with "Too many open files" after ~1,500 pairs.
    """
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    ctx.set(zmq.MAX_SOCKETS, sockets + 64)
    return ctx
