"""The server's CPU budget: a bucket of CPU seconds, refilled at a share of one core."""

from __future__ import annotations

import pytest

from zmqscope.remote.budget import CpuBudget


class Clocks:
    """A wall clock and a thread CPU clock the test moves by hand."""

    def __init__(self) -> None:
        self.wall = 100.0
        self.cpu = 5.0

    def budget(self, share: float, burst: float) -> CpuBudget:
        return CpuBudget(share, burst, clock=lambda: self.wall, cpu_clock=lambda: self.cpu)

    def work(self, budget: CpuBudget, cpu_seconds: float, wall_seconds: float = 0.0) -> None:
        self.cpu += cpu_seconds
        self.wall += wall_seconds
        budget.charge()


def test_a_burst_is_spent_at_once_then_refused_until_the_share_refills_it() -> None:
    clocks = Clocks()
    budget = clocks.budget(share=0.1, burst=0.5)
    budget.charge()  # the first reading is the baseline
    assert budget.available()
    clocks.work(budget, 0.7)  # one expensive answer: allowed to start, overspent after
    assert not budget.available()
    assert budget.retry_after() == pytest.approx(2.0)  # 0.2 s owed at 0.1 s per second
    clocks.wall += 1.0
    assert not budget.available()
    assert budget.retry_after() == pytest.approx(1.0)
    clocks.wall += 1.01
    assert budget.available()
    assert budget.retry_after() == 0.0


def test_idle_time_refills_no_more_than_the_burst() -> None:
    clocks = Clocks()
    budget = clocks.budget(share=0.1, burst=0.5)
    budget.charge()
    clocks.wall += 3600  # an hour idle
    assert budget.tokens == pytest.approx(0.5)
    clocks.work(budget, 0.6)
    assert not budget.available()


def test_over_time_the_server_gets_its_share_and_no_more() -> None:
    """Asked without pause, it answers at the share of one core: 60 s at 10 % is ~6 s of CPU."""
    clocks = Clocks()
    budget = clocks.budget(share=0.1, burst=0.5)
    budget.charge()
    spent = 0.0
    for _ in range(60_000):  # a millisecond of wall time per turn
        clocks.wall += 0.001
        if budget.available():
            clocks.work(budget, 0.002)  # each answer costs 2 ms of CPU
            spent += 0.002
    assert spent == pytest.approx(0.5 + 60 * 0.1, abs=0.01)
    assert budget.spent == pytest.approx(spent)


def test_new_limits_start_full_and_keep_the_cpu_baseline() -> None:
    clocks = Clocks()
    budget = clocks.budget(share=0.1, burst=0.5)
    budget.charge()
    clocks.work(budget, 1.0)
    budget.set(share=1.0, burst=2.0)
    assert budget.tokens == pytest.approx(2.0)
    clocks.work(budget, 0.5)  # only what was used since the last charge counts
    assert budget.tokens == pytest.approx(1.5)


def test_a_cpu_clock_going_backwards_charges_nothing() -> None:
    clocks = Clocks()
    budget = clocks.budget(share=0.1, burst=0.5)
    budget.charge()
    clocks.work(budget, -1.0)
    assert budget.tokens == pytest.approx(0.5)
