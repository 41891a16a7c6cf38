"""The server's reading of the process's vital signs: what psutil says, read more cheaply."""

from __future__ import annotations

import subprocess
import sys
import threading

import psutil
import pytest

from zmqscope.instrument.vitals import VitalSigns

linux_only = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="elsewhere the numbers come from psutil itself"
)


@linux_only
def test_the_numbers_are_psutils() -> None:
    release = threading.Event()
    workers = [threading.Thread(target=release.wait) for _ in range(3)]
    for worker in workers:
        worker.start()
    try:
        vitals = VitalSigns().read()
        process = psutil.Process()
        assert vitals.threads == process.num_threads()
        # psutil counts the descriptor it opens to list /proc/self/fd.
        assert vitals.fds == process.num_fds() - 1
        assert abs(vitals.rss - process.memory_info().rss) < 0.1 * vitals.rss
    finally:
        release.set()
        for worker in workers:
            worker.join()


def test_cpu_percent_is_the_cpu_time_used_between_two_readings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wall = [100.0]
    signs = VitalSigns(clock=lambda: wall[0])
    cpu = [7.0]
    monkeypatch.setattr(signs, "_stat", lambda: (cpu[0], 1_000_000, 3))
    assert signs.read().cpu_percent == 0.0  # nothing to compare with yet
    wall[0] += 2.0
    cpu[0] += 3.0  # one and a half cores for two seconds
    assert signs.read().cpu_percent == pytest.approx(150.0)
    wall[0] += 1.0
    assert signs.read().cpu_percent == 0.0  # idle


OUT_OF_DESCRIPTORS = """
import os, resource
from zmqscope.instrument.vitals import VitalSigns
signs = VitalSigns()
signs.read()
resource.setrlimit(resource.RLIMIT_NOFILE, (64, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
held = []
while True:
    try:
        held.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        break
vitals = signs.read()
print(vitals.fds, vitals.fd_limit)
"""


def test_out_of_descriptors_every_one_below_the_limit_is_reported_taken() -> None:
    result = subprocess.run(
        [sys.executable, "-c", OUT_OF_DESCRIPTORS], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["64", "64"]
