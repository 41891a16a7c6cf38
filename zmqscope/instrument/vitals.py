"""The process's vital signs (CPU, memory, threads, open descriptors), read cheaply.

The server reads them while the application's threads may be busy, and each
system call that lets go of the GIL can cost it a switch interval (5 ms) or
more to take it back from them. psutil opens three files for these, and
counts descriptors by listing ``/proc/self/fd`` one entry per call (under a
socket churn of eight threads: 2.9 s for one count of ~30 descriptors,
measured). On Linux one read of ``/proc/self/stat`` and one ``stat`` of
``/proc/self/fd`` (whose size is the number of open descriptors since Linux
6.2) say the same; elsewhere, or on older kernels, psutil does.

An application out of descriptors cannot open ``/proc``: then every
descriptor below the limit is taken, which is what is reported, and the
rest is unknown.
"""

from __future__ import annotations

import errno
import os
import resource
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import psutil

from zmqscope._gil_io import read_proc_file

_LINUX = sys.platform.startswith("linux")
_TICKS = os.sysconf("SC_CLK_TCK") if _LINUX else 100
_PAGE = os.sysconf("SC_PAGE_SIZE") if _LINUX else 4096


@dataclass(frozen=True, slots=True)
class Vitals:
    cpu_percent: float = 0.0  # since the previous reading (0 for the first)
    rss: int = 0
    threads: int = 0
    fds: int | None = None
    fd_limit: int | None = None


class VitalSigns:
    """Reads this process's vitals; CPU % is measured between two readings."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._psutil: psutil.Process | None = None
        self._last: tuple[float, float] | None = None  # (wall, CPU seconds)

    def read(self) -> Vitals:
        limit = fd_limit()
        try:
            cpu_seconds, rss, threads = self._stat()
            fds = self._fds()
        except (psutil.Error, OSError) as error:
            # Out of descriptors, every one below the limit is taken.
            return Vitals(fds=limit if _out_of_descriptors(error) else None, fd_limit=limit)
        now = self._clock()
        percent = 0.0
        if self._last is not None and now > self._last[0]:
            percent = max(0.0, (cpu_seconds - self._last[1]) / (now - self._last[0]) * 100)
        self._last = (now, cpu_seconds)
        return Vitals(percent, rss, threads, fds, limit)

    def _stat(self) -> tuple[float, int, int]:
        """(CPU seconds, RSS bytes, threads)."""
        if not _LINUX:
            process = self._process()
            with process.oneshot():
                times = process.cpu_times()
                return times.user + times.system, process.memory_info().rss, process.num_threads()
        data = read_proc_file("/proc/self/stat")  # (keeping the GIL: three calls less)
        # Fields after the command name (which may hold spaces and parentheses):
        # state is field 3, utime 14, stime 15, num_threads 20, rss 24 (proc(5)).
        fields = data.rpartition(b")")[2].split()
        cpu = (int(fields[11]) + int(fields[12])) / _TICKS
        return cpu, int(fields[21]) * _PAGE, int(fields[17])

    def _fds(self) -> int:
        if _LINUX:
            count = os.stat("/proc/self/fd").st_size
            if count > 0:
                return count
        return self._process().num_fds()

    def _process(self) -> psutil.Process:
        if self._psutil is None:
            self._psutil = psutil.Process()
        return self._psutil


def fd_limit() -> int | None:
    """The soft limit on open files; None when there is none."""
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return None if soft == resource.RLIM_INFINITY else soft


def _out_of_descriptors(error: BaseException) -> bool:
    """The OS said "Too many open files" (this process's limit, not the system's)."""
    cause: BaseException | None = error
    while cause is not None:
        if isinstance(cause, OSError) and cause.errno == errno.EMFILE:
            return True
        cause = cause.__cause__ or cause.__context__
    return False
