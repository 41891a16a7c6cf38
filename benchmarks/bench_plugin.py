"""The pytest plugin's cost per test: ``pytest --zmqscope`` against plain ``pytest``, one run.

Two generated suites of 1,000 tests each:

1. tests that create no socket (what most of a real suite is);
2. tests that create a socket on a shared context and close it.

Each round runs one suite in a fresh ``pytest`` process, with the plugin off
and on in ABBA order; a small timer plugin measures the test loop alone
(``pytest_runtestloop``: from the first test's set-up to the last one's
teardown), so interpreter start-up and collection do not dilute the figure.
The target applies to the loop's CPU time (``time.process_time()``): the
plugin's cost is CPU work, and on a shared machine wall-clock time mostly
measures the neighbours; the wall-clock ratio is shown too. Ratios are per
pair of rounds run back to back; figures are their medians.

Usage: ``.venv/bin/python benchmarks/bench_plugin.py [--quick] [--strict]``.
Prints a table and writes ``benchmarks/results/plugin.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from _harness import Figure, Target, finish, ratios

TESTS = 1_000
TIMER_PLUGIN = """
import json, os, time
import pytest

@pytest.hookimpl(wrapper=True)
def pytest_runtestloop(session):
    cpu, wall = time.process_time(), time.perf_counter()
    try:
        return (yield)
    finally:
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        with open(os.environ["BENCH_TIMING_FILE"], "w") as out:
            json.dump({"cpu": cpu, "wall": wall, "tests": session.testscollected}, out)
"""
SUITES = {
    "no_sockets": f"""
        import pytest

        @pytest.mark.parametrize("i", range({TESTS}))
        def test_no_socket(i):
            assert i >= 0
        """,
    "one_socket": f"""
        import pytest
        import zmq

        CTX = zmq.Context()
        CTX.set(zmq.MAX_SOCKETS, 4096)

        @pytest.mark.parametrize("i", range({TESTS}))
        def test_one_socket(i):
            sock = CTX.socket(zmq.PUSH)
            sock.close()
        """,
}
LABELS = {"no_sockets": "tests without sockets", "one_socket": "tests with one socket"}


@dataclasses.dataclass(frozen=True, slots=True)
class Settings:
    rounds: int = 15
    warmup: int = 1


FULL = Settings()
QUICK = Settings(rounds=3)


def write_suites(folder: Path) -> None:
    (folder / "pytest.ini").write_text("[pytest]\naddopts =\n", encoding="utf-8")
    (folder / "bench_timer.py").write_text(TIMER_PLUGIN, encoding="utf-8")
    (folder / "bench_hooks.py").write_text(HOOKS_PLUGIN, encoding="utf-8")
    for name, source in SUITES.items():
        path = folder / f"test_{name}.py"
        path.write_text(textwrap.dedent(source).lstrip(), encoding="utf-8")


@dataclasses.dataclass(frozen=True, slots=True)
class LoopTime:
    """The test loop of one pytest process, per test."""

    cpu_us: float  # process CPU time: what the plugin's work costs
    wall_us: float  # what a developer waits, noisier on a shared machine


# What each side runs: plain pytest, zmqscope's hooks alone (installed by a
# conftest-less plugin, as ZMQSCOPE=1 would), and the plugin, which installs the
# same hooks and checks every test. on/hooks is the plugin's own share.
ARMS = {
    "off": ["-p", "no:zmqscope"],
    "hooks": ["-p", "no:zmqscope", "-p", "bench_hooks"],
    "on": ["--zmqscope"],
}
HOOKS_PLUGIN = """
import zmqscope

def pytest_configure(config):
    zmqscope.install()
"""


def time_suite(folder: Path, suite: str, arm: str) -> LoopTime:
    """Run ``suite`` in a fresh pytest process; its test loop's time per test."""
    timing = folder / "timing.json"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ZMQSCOPE", "PYTEST_"))}
    env["BENCH_TIMING_FILE"] = str(timing)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(folder), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "bench_timer"]
    command += [*ARMS[arm], f"test_{suite}.py"]
    done = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"pytest failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    result = json.loads(timing.read_text(encoding="utf-8"))
    assert result["tests"] == TESTS, result
    return LoopTime(result["cpu"] / TESTS * 1e6, result["wall"] / TESTS * 1e6)


def bench_suite(folder: Path, suite: str, settings: Settings) -> list[Figure]:
    print(f"  {LABELS[suite]}: {settings.rounds} x {len(ARMS)} rounds", file=sys.stderr, flush=True)
    arms = list(ARMS)
    times: dict[str, list[LoopTime]] = {arm: [] for arm in arms}
    for i in range(settings.warmup + settings.rounds):
        # Rotate the order each round, so that no side always runs first.
        order = arms[i % len(arms) :] + arms[: i % len(arms)]
        results = {arm: time_suite(folder, suite, arm) for arm in order}
        if i >= settings.warmup:
            for arm in arms:
                times[arm].append(results[arm])
    cpu = {arm: [t.cpu_us for t in times[arm]] for arm in arms}
    wall = {arm: [t.wall_us for t in times[arm]] for arm in arms}
    label = f"{TESTS:,} {LABELS[suite]}"
    names = {"off": "plugin off", "hooks": "hooks only", "on": "--zmqscope"}
    figures = [
        Figure.of(f"{suite}_{arm}_cpu_us", f"{label}, {names[arm]}, CPU", cpu[arm], "µs/test")
        for arm in arms
    ]
    return [
        *figures,
        Figure.of(
            f"{suite}_ratio",
            f"{LABELS[suite]}: on/off, CPU",
            ratios(cpu["on"], cpu["off"]),
            "x",
            Target("<=", 1.10),
        ),
        Figure.of(
            f"{suite}_plugin_share",
            f"{LABELS[suite]}: on/hooks only, CPU",
            ratios(cpu["on"], cpu["hooks"]),
            "x",
        ),
        Figure.of(
            f"{suite}_wall_ratio",
            f"{LABELS[suite]}: on/off, wall clock",
            ratios(wall["on"], wall["off"]),
            "x",
            detail={f"{arm}_wall_us": wall[arm] for arm in arms},
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer rounds (~30 s)")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    started = time.perf_counter()
    print(f"bench_plugin ({'quick' if args.quick else 'full'} run)", file=sys.stderr)
    with tempfile.TemporaryDirectory(prefix="zmqscope-bench-plugin-") as tmp:
        folder = Path(tmp)
        write_suites(folder)
        figures = [fig for suite in SUITES for fig in bench_suite(folder, suite, settings)]
    recorded = dataclasses.asdict(settings) | {"quick": args.quick, "tests_per_suite": TESTS}
    return finish("plugin", figures, recorded, started, args.strict)


if __name__ == "__main__":
    sys.exit(main())
