"""Run every ``bench_*.py`` beside this file, one process each (``make bench``).

Options are passed on to each benchmark (``--quick``, ``--strict``). The exit
status is 1 when a benchmark failed (crashed, or missed a target under
``--strict``), else 0.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent


def benchmarks() -> list[Path]:
    return sorted(BENCH_DIR.glob("bench_*.py"))


def main(argv: list[str]) -> int:
    if any(arg in ("-h", "--help") for arg in argv):
        print(__doc__)
        return 0
    failed: list[str] = []
    for script in benchmarks():
        print(f"== {script.name} {' '.join(argv)}".rstrip(), flush=True)
        started = time.perf_counter()
        # A process per benchmark: each one toggles zmqscope's class-level
        # hooks and must not inherit another's records or patches.
        status = subprocess.call([sys.executable, str(script), *argv], cwd=BENCH_DIR.parent)
        print(f"== {script.name}: exit {status} in {time.perf_counter() - started:.0f} s\n")
        if status:
            failed.append(script.name)
    if failed:
        print("failed: " + ", ".join(failed), file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
